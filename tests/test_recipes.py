"""The recipes of examples/recipes/: a preset's G against another D, or with other settings.

Each recipe is a readable file with its finding and its command; its D is built from library
parts, has the shape and the properties its docstring claims, and it trains, saves and resumes
through examples/mnist.py (a two-step smoke run each, on the real MNIST files).
"""

import glob
import os

import numpy as np
import pytest

import minigan
from minigan import checkpoint, models, nn
from tests.helpers import EXAMPLES, load_example
from tests.test_models import patch_interaction
from tests.test_spectral_norm import assert_every_layer_starts_normalised

NAMES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(EXAMPLES, "recipes", "*.py"))
               if not p.endswith("__init__.py"))
DATA = os.environ.get("MINIGAN_DATA")


def recipe(name):
    return load_example(f"recipes/{name}").RECIPE


def discriminator(name, arch=None):
    """The recipe's D as its run builds it: ``(G, D)`` from minigan.models.build."""
    r = recipe(name)
    arch = arch or r.arch
    make_d = None if r.discriminator is None else (lambda: r.discriminator(arch))
    return models.build(arch, seed=0, discriminator=make_d, d_init=r.d_init)


def test_there_are_recipes():
    assert {"spectral_norm", "maxout_d", "conv_maxout_d", "no_input_dropout", "pacgan",
            "input_dropout", "swa"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_recipe_names_itself_its_finding_and_its_command(name):
    r = recipe(name)
    assert r.name == name and r.arch in models.names()
    assert f"python examples/recipes/{name}.py" in r.doc
    first_paragraphs = r.doc.split("python examples/")[0]
    assert len(first_paragraphs.split()) > 25               # a finding, not just a title
    assert set(r.settings) <= {"steps", "lr", "lr_d", "ema", "batch_size", "keep_every", "beta1"}


COUNTS = {  # recipe (arch): G and D trainable parameters, as the presets they replace had them
    ("spectral_norm", "dcgan_bn"): (778_305, 138_561),    # dcgan_bn's D less its batch norms
    ("maxout_d", "dcgan_bn"): (778_305, 1_231_441),       # goodfellow2014's D
    ("maxout_d", "dcgan_tf"): (2_305_472, 1_231_441),
    ("conv_maxout_d", "dcgan_bn"): (778_305, 7_660_129),  # convolutions, then maxout
    ("no_input_dropout", "goodfellow2014"): (2_503_984, 1_231_441),
    ("pacgan", "mlp"): (1_486_352, 934_913),              # D's first layer takes two images
    ("input_dropout", "dcgan_bn"): (778_305, 138_945),    # a layer without parameters
    ("swa", "goodfellow2014"): (2_503_984, 1_231_441),    # the preset's D
}


@pytest.mark.parametrize("name, arch", sorted(COUNTS))
def test_each_recipes_d_judges_images(name, arch):
    G, D = discriminator(name, arch)
    assert (models.parameter_count(G), models.parameter_count(D)) == COUNTS[name, arch]
    D.eval()
    x = minigan.tensor(np.random.default_rng(0).uniform(-1, 1, (4, 1, 28, 28)).astype(np.float32))
    with minigan.no_grad():
        logits = D(x)
    assert logits.shape == ((2, 1) if name == "pacgan" else (4, 1))


def test_spectral_norm_d_starts_normalised_and_scores_a_sum_of_patches():
    _, D = discriminator("spectral_norm")
    assert_every_layer_starts_normalised(D, 3)
    assert patch_interaction(D).max() < 1e-9
    assert patch_interaction(discriminator("conv_maxout_d")[1]).min() > 1e-2


def test_maxout_ds_start_as_goodfellow2014s():
    """U(-0.005, 0.005) weights and zero biases, whatever G's scheme."""
    for name in ("maxout_d", "conv_maxout_d"):
        _, D = discriminator(name)
        weights = [m.weight.data for m in D.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        assert all(0 < np.abs(w).max() <= 0.005 for w in weights)


def test_no_input_dropout_is_goodfellow2014s_d_less_its_input_dropout():
    _, D0 = models.build("goodfellow2014", seed=4)
    _, D1 = discriminator("no_input_dropout")
    rates = lambda d: [m.p for m in d.modules() if isinstance(m, nn.Dropout)]  # noqa: E731
    assert rates(D0) == [0.2, 0.5, 0.5] and rates(D1) == [0.5, 0.5]
    assert [v.shape for v in D0.state_dict().values()] == [v.shape for v in
                                                           D1.state_dict().values()]


@pytest.mark.parametrize("arch", ["mlp", "dcgan_bn", "goodfellow2014"])
def test_pacgan_judges_pairs_of_samples(arch):
    """D takes the same images and returns one logit per pair of them; only its first layer
    grows (twice the inputs), and a pair's logit depends on both of its samples and no other."""
    _, D = discriminator("pacgan", arch)
    _, D1 = models.build(arch, seed=0)
    assert isinstance(D[0], nn.Pack) and D[0].m == 2
    first = lambda d: next(m for m in d.modules() if getattr(m, "weight", None) is not None)  # noqa
    assert first(D).weight.shape[1] == 2 * first(D1).weight.shape[1]
    grown = models.parameter_count(D) - models.parameter_count(D1)
    assert grown == first(D).weight.size - first(D1).weight.size
    D.eval()
    x = minigan.tensor(np.random.default_rng(0).uniform(-1, 1, size=(6, 1, 28, 28))
                       .astype(np.float32), requires_grad=True)
    logits = D(x)
    assert logits.shape == (3, 1)
    logits[1].sum().backward()
    moved = np.abs(minigan.backend.to_numpy(x.grad)).reshape(6, -1).max(axis=1) > 0
    assert moved.tolist() == [False, False, True, True, False, False]


def test_input_dropout_drops_pixels_before_d_in_training_only():
    """An nn.Dropout(0.2) in front of the preset's D, nothing else changed: the same logits in
    eval mode, and in training about a fifth of the pixels that D's logits no longer see."""
    _, D = discriminator("input_dropout")
    assert isinstance(D[0], nn.Dropout) and D[0].p == 0.2
    assert [m for m in D[1].modules() if isinstance(m, nn.Dropout)] == []   # the only one
    x = minigan.tensor(np.random.default_rng(1).uniform(-1, 1, (64, 1, 28, 28))
                       .astype(np.float32), requires_grad=True)
    D.eval()
    with minigan.no_grad():
        np.testing.assert_array_equal(D(x).numpy(), D[1](x).numpy())
    D.train()
    nn.init.manual_seed(0)
    D(x).sum().backward()
    dropped = np.mean(minigan.backend.to_numpy(x.grad) == 0)
    assert abs(dropped - 0.2) < 0.01           # 50,176 pixels: the standard error is 0.002


@pytest.mark.skipif(not DATA, reason="MINIGAN_DATA (the MNIST directory) is not set")
@pytest.mark.parametrize("name", NAMES)
def test_each_recipe_trains_saves_and_resumes(name, tmp_path, capsys):
    """Two steps, then one more after --resume; the checkpoint names the recipe, its G loads as
    the preset's and its D is rebuilt from the recipe (as examples/evaluate.py does). Without
    the average, whose batch norm refit would take most of the time."""
    script, r = load_example("mnist"), recipe(name)
    flags = ["--out", str(tmp_path), "--batch-size", "8", "--sample-every", "2", "--ema", "0"]
    script.main(flags + ["--steps", "2"], recipe=r)
    script.main(flags + ["--steps", "3", "--resume"], recipe=r)
    assert "resumed from" in capsys.readouterr().out
    run = checkpoint.load(tmp_path / "ckpt.npz", resumable=True)
    assert run["step"] == 3 and run["config"]["recipe"] == name
    assert run["config"]["arch"] == r.arch
    for key, value in r.settings.items():
        assert run["config"][key] == value or key in ("steps", "ema")
    G, info = checkpoint.load_generator(tmp_path / "ckpt.npz")
    assert info["recipe"] == name and (tmp_path / "samples_000002.png").exists()
    evaluate = load_example("evaluate")
    D, _ = checkpoint.load_discriminator(tmp_path / "ckpt.npz",
                                         discriminator=evaluate.recipe_discriminator(info))
    assert not D.training
