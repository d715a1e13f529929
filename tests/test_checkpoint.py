"""minigan.checkpoint: the run's checkpoint written, read back and checked, and refused clearly.

What a training script saves (G, D, both optimisers, the average, the step, the data order and
the config) comes back as it was; weights that are not finite are never written; a file that is
not a run's checkpoint, or one of a preset that became a recipe, is refused with a message that
names the file and what to do.
"""

import os

import numpy as np
import pytest

import minigan
from minigan import checkpoint, models, nn
from minigan.averaging import EMA
from minigan.data import mnist
from tests.helpers import load_example

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = {"arch": "mlp", "latent_dim": 8, "seed": 0}


def parts(arch="mlp", latent_dim=8):
    """A small run's state: G, D, their optimisers after one step, the average, the batches."""
    G, D = models.build(arch, latent_dim, seed=0)
    opt_G, opt_D = models.make_optimizers(arch, G, D)
    for net, opt in ((G, opt_G), (D, opt_D)):
        for p in net.parameters():
            p.grad = np.ones_like(p.data)
        opt.step()
    ema = EMA(G, decay=0.5)
    for p in G.parameters():
        p.data *= 0.5
    ema.update()
    batches = mnist.Batches(np.zeros((10, 1, 28, 28), np.float32), batch_size=4, seed=3)
    return dict(G=G, D=D, opt_G=opt_G, opt_D=opt_D, batches=batches.state_dict(), G_ema=ema)


def test_a_run_comes_back_as_it_was_saved(tmp_path):
    run = parts()
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, step=7, config=CONFIG, **run)
    back = checkpoint.load(path, resumable=True)
    assert back["step"] == 7 and back["config"] == CONFIG and back["batches"] == run["batches"]
    for name in ("G", "D", "opt_G", "opt_D", "G_ema"):
        saved = run[name].state_dict()
        assert back[name].keys() == saved.keys()
        for key, value in saved.items():
            assert np.array_equal(back[name][key], value), (name, key)
    # A generator-only file (as an average of checkpoints is) loads for sampling, not resuming.
    checkpoint.save(tmp_path / "g.npz", G=run["G"], step=7, config=CONFIG, averaged_steps=[5, 7])
    assert checkpoint.load(tmp_path / "g.npz")["averaged_steps"] == [5, 7]
    with pytest.raises(minigan.CheckpointError, match="has no D, opt_G, opt_D, batches"):
        checkpoint.load(tmp_path / "g.npz", resumable=True)


def test_save_refuses_half_a_run_and_a_config_without_its_model(tmp_path):
    run = parts()
    with pytest.raises(ValueError, match="D given without batches, opt_D, opt_G"):
        checkpoint.save(tmp_path / "c.npz", G=run["G"], D=run["D"], step=1, config=CONFIG)
    with pytest.raises(ValueError, match="no latent_dim"):
        checkpoint.save(tmp_path / "c.npz", G=run["G"], step=1, config={"arch": "mlp"})
    assert not os.path.exists(tmp_path / "c.npz")


@pytest.mark.parametrize("where", ["G", "D", "G_ema"])
def test_weights_that_are_not_finite_are_never_written(tmp_path, where):
    run = parts()
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, step=1, config=CONFIG, **run)
    before = path.read_bytes()
    module = run["G_ema"].module if where == "G_ema" else run[where]
    next(iter(module.parameters())).data[0, 0] = np.inf
    with pytest.raises(checkpoint.NonFiniteError, match=f"{where} 0.weight|{where} 1.weight"):
        checkpoint.save(path, step=2, config=CONFIG, **run)
    assert path.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))


def test_what_is_not_a_runs_checkpoint_is_refused_by_name(tmp_path):
    G, D = models.build("mlp", 8, seed=0)
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        checkpoint.load(tmp_path / "missing.npz")
    with pytest.raises(minigan.CheckpointError, match="a directory"):
        checkpoint.load(tmp_path)
    cases = [({"G": G}, "not a training run's checkpoint"),
             ({"G": G, "step": 1, "config": {"latent_dim": 8}}, "architecture None"),
             ({"G": G, "step": 1, "config": {"arch": "resnet", "latent_dim": 8}},
              "architecture 'resnet'"),
             ({"G": G, "step": 1, "config": {"arch": "mlp", "latent_dim": 0}},
              "no valid latent_dim"),
             ({"G": G, "step": 1, "config": {"arch": "mlp", "latent_dim": True}},
              "no valid latent_dim"),
             ({"G": G, "step": 1, "config": dict(CONFIG, num_classes=1)},
              "num_classes 1 is not a number of classes"),
             ({"G": G, "step": 1, "config": {"arch": "goodfellow2014", "latent_dim": 8,
                                             "num_classes": 10}},
              "num_classes 10 is not a number of classes that goodfellow2014 can"),
             ({"G": G, "step": -1, "config": CONFIG}, "not a count of steps"),
             ({"G": G, "step": True, "config": CONFIG}, "not a count of steps")]
    for i, (entries, message) in enumerate(cases):
        path = tmp_path / f"bad{i}.npz"
        minigan.save(path, **entries)
        with pytest.raises(minigan.CheckpointError, match=f"bad{i}.npz: .*{message}"):
            checkpoint.load(path)


@pytest.mark.parametrize("arch", sorted(checkpoint.REPLACED_PRESETS))
def test_a_removed_preset_names_the_recipe_that_trains_it_now(tmp_path, arch):
    G, _ = models.build("dcgan_bn", seed=0)
    path = tmp_path / "old.npz"
    minigan.save(path, G=G, step=1, config={"arch": arch, "latent_dim": 100})
    recipe = checkpoint.REPLACED_PRESETS[arch]
    with pytest.raises(minigan.CheckpointError, match=f"preset '{arch}'.* recipe {recipe}"):
        checkpoint.load_generator(path)
    assert os.path.isfile(os.path.join(ROOT, recipe.split()[0]))   # and the recipe is there


def test_load_generator_picks_the_average_or_g(tmp_path):
    run = parts()
    G, ema = run["G"], run["G_ema"]
    checkpoint.save(tmp_path / "both.npz", step=1, config=CONFIG, **run)
    checkpoint.save(tmp_path / "raw.npz", G=G, step=1, config=CONFIG)
    z = minigan.tensor(np.random.default_rng(7).normal(size=(4, 8)).astype(np.float32))
    ema.module.eval(), G.eval()

    def out(module):
        with minigan.no_grad():
            return module(z).numpy()

    for path, average, want, used in [("both.npz", None, ema.module, True),
                                      ("both.npz", True, ema.module, True),
                                      ("both.npz", False, G, False),
                                      ("raw.npz", None, G, False)]:
        got, info = checkpoint.load_generator(tmp_path / path, average=average)
        assert info == {"arch": "mlp", "latent_dim": 8, "step": 1, "average": used,
                        "averaged_steps": None, "recipe": None, "num_classes": None}
        assert not got.training
        np.testing.assert_array_equal(out(got), out(want))
    with pytest.raises(minigan.CheckpointError, match="no moving average"):
        checkpoint.load_generator(tmp_path / "raw.npz", average=True)
    other, _ = models.build("mlp_sigmoid", 8)
    minigan.save(tmp_path / "other.npz", G=other, step=1, config=CONFIG)
    with pytest.raises(minigan.CheckpointError, match="its G does not fit mlp's generator"):
        checkpoint.load_generator(tmp_path / "other.npz")


def test_a_generator_that_is_not_finite_is_refused(tmp_path):
    run = parts()
    minigan.save(tmp_path / "nan.npz", G=run["G"], step=1, config=CONFIG)
    ckpt = minigan.load(tmp_path / "nan.npz")
    ckpt["G"]["2.bias"][:] = np.nan
    minigan.save(tmp_path / "nan.npz", **ckpt)
    with pytest.raises(minigan.CheckpointError, match="non-finite weights .*diverged"):
        checkpoint.load_generator(tmp_path / "nan.npz")


def test_load_discriminator_gives_the_saved_d_in_eval_mode(tmp_path):
    # dcgan_bn's D has batch norm: in eval mode each image's logit is its own, whatever the batch.
    G, D = models.build("dcgan_bn", 8, seed=0)
    for p in D.parameters():
        p.data += 0.01
    config = {"arch": "dcgan_bn", "latent_dim": 8}
    minigan.save(tmp_path / "ckpt.npz", G=G, D=D, step=3, config=config)
    got, info = checkpoint.load_discriminator(tmp_path / "ckpt.npz")
    assert info == {"arch": "dcgan_bn", "recipe": None, "step": 3, "num_classes": None}
    assert not got.training
    x = minigan.tensor(np.random.default_rng(8).uniform(-1, 1, (4, 1, 28, 28)).astype(np.float32))
    D.eval()
    with minigan.no_grad():
        np.testing.assert_array_equal(got(x).numpy(), D(x).numpy())
        np.testing.assert_allclose(got(x[:2]).numpy(), got(x).numpy()[:2], rtol=1e-5)
    minigan.save(tmp_path / "g_only.npz", G=G, step=3, config=config)
    with pytest.raises(minigan.CheckpointError, match="no discriminator"):
        checkpoint.load_discriminator(tmp_path / "g_only.npz")


def test_a_recipes_d_is_rebuilt_by_the_recipe(tmp_path):
    make_d = load_example("recipes/input_dropout").RECIPE.discriminator
    G, D = models.build("dcgan_bn", 8, seed=0, discriminator=lambda: make_d("dcgan_bn"))
    config = {"arch": "dcgan_bn", "latent_dim": 8, "recipe": "input_dropout"}
    minigan.save(tmp_path / "ckpt.npz", G=G, D=D, step=3, config=config)
    got, info = checkpoint.load_discriminator(tmp_path / "ckpt.npz",
                                              discriminator=lambda: make_d("dcgan_bn"))
    assert info["recipe"] == "input_dropout" and isinstance(got[0], nn.Dropout)
    with pytest.raises(minigan.CheckpointError, match="does not fit the recipe 'input_dropout'"):
        checkpoint.load_discriminator(tmp_path / "ckpt.npz")     # without the recipe's D
    assert checkpoint.load_generator(tmp_path / "ckpt.npz")[1]["recipe"] == "input_dropout"
    old = dict(config, recipe=None, input_dropout=0.2)             # before it was a recipe
    minigan.save(tmp_path / "old.npz", G=G, D=D, step=3, config=old)
    with pytest.raises(minigan.CheckpointError, match="examples/recipes/input_dropout.py"):
        checkpoint.load_discriminator(tmp_path / "old.npz")
