"""examples/evaluate.py on known cases, with small (off-protocol) --n to stay fast.

Real held-out images as "samples" must look like the real-data ceiling (small FID, ten modes);
a set of one digit must give one mode and an Inception Score near 1; the JSON must hold every
metric; the checkpoint path must generate and measure; bad ranges must be refused.
Runs in-process (main(argv)), so the reference data and test features are loaded once.
Needs MINIGAN_DATA (the directory of the four MNIST files), as CI sets it.
"""

import json
import os

import numpy as np
import pytest

import minigan
from minigan import metrics, models
from minigan.data import mnist
from tests.helpers import load_example

DATA = os.environ.get("MINIGAN_DATA")
pytestmark = pytest.mark.skipif(not DATA, reason="MINIGAN_DATA (the MNIST directory) is not set")

METRIC_KEYS = {"n", "parzen_mean", "parzen_sem", "parzen_sigma", "parzen_validation", "fid",
               "is_mean", "is_std", "doubt", "doubted", "modes", "digit_histogram",
               "kl_to_uniform", "nn_median", "nn_test_median", "nn_ratio", "parzen_by_digit",
               "accuracy", "accuracy_by_digit", "seconds"}


@pytest.fixture(scope="module")
def evaluate():
    return load_example("evaluate")


@pytest.fixture(scope="module")
def held_out():
    """Images and labels of train[50000:60000], as uint8."""
    images, labels = mnist.load_mnist("train", data_dir=DATA)
    return images[50000:60000], labels[50000:60000]


def save_samples(path, images, data_range=(-1.0, 1.0)):
    np.save(path, mnist.scale(images, data_range))                   # (n, 1, 28, 28) float32
    return str(path)


def test_real_images_score_like_the_ceiling_and_json_has_every_key(evaluate, held_out,
                                                                   tmp_path):
    images, _ = held_out
    pick = np.random.default_rng(1).choice(len(images), 400, replace=False)
    path = save_samples(tmp_path / "real.npy", images[pick])
    out = tmp_path / "eval.json"
    result = evaluate.main(["--samples", path, "--range", "-1,1", "--n", "400",
                            "--json", str(out)])
    saved = json.loads(out.read_text())
    assert saved["protocol"]["off_protocol"] is True and saved["protocol"]["n"] == 400
    for row in ("samples", "real"):
        assert set(saved[row]) == METRIC_KEYS
        assert saved[row]["n"] == 400
    s, r = result["samples"], result["real"]
    assert s["modes"] == 10 and r["modes"] == 10
    assert s["kl_to_uniform"] < 0.05
    # 400 real images against the test set: FID is the small-sample bias only, about the
    # ceiling's own; far below the FID of a single digit (test below: hundreds).
    assert s["fid"] < 2 * r["fid"] + 1.0
    assert s["is_mean"] > 5.0                         # 40 images per split: below 10, well above 1
    assert s["doubt"] < 0.1 and s["doubted"] < 0.05   # the classifier is sure of real digits
    assert abs(s["parzen_mean"] - r["parzen_mean"]) < 5 * (s["parzen_sem"] + r["parzen_sem"])
    assert 0.5 * r["nn_median"] < s["nn_median"] < 2 * r["nn_median"]
    # Held-out images are nearer the (5x larger) training set than the test set, by about 0.9.
    assert 0.8 < s["nn_ratio"] < 1.0 and 0.8 < r["nn_ratio"] < 1.0


def test_parzen_by_digit_shows_the_digits_the_samples_cover(evaluate, held_out, tmp_path):
    images, labels = held_out
    path = save_samples(tmp_path / "sevens.npy", images[labels == 7][:300], (0.0, 1.0))
    result = evaluate.main(["--samples", path, "--range", "0,1", "--n", "300"])
    s = result["samples"]
    assert int(np.argmax(s["parzen_by_digit"])) == 7
    # The digits' means, weighted by how many test images each has, are the overall mean.
    _, test_labels = mnist.load_mnist("test", data_dir=DATA)
    counts = np.bincount(test_labels, minlength=10)
    assert np.isclose(counts @ s["parzen_by_digit"] / counts.sum(), s["parzen_mean"])
    assert "Parzen by test digit" in evaluate.table(s, result["real"])
    # The validation score, which chooses among checkpoints without the test set: the mean
    # log-density of the validation images under the window of the chosen sigma.
    validation = evaluate.load_reference()["validation"]
    density = metrics.parzen_log_density(validation, np.load(path), s["parzen_sigma"])
    assert np.isclose(s["parzen_validation"], density.mean())


def test_blends_of_two_digits_are_doubted(evaluate, held_out, tmp_path):
    # Half one digit, half another: what a generator draws between two kinds of digit. The
    # classifier hedges on many of them, so the Inception Score loses to doubt, not to spread.
    images, labels = held_out
    first, second = images[labels == 4][:300], images[labels == 9][:300]
    blends = ((first.astype(np.int32) + second) // 2).astype(np.uint8)
    path = save_samples(tmp_path / "blends.npy", blends, (0.0, 1.0))
    result = evaluate.main(["--samples", path, "--range", "0,1", "--n", "300", "--skip-parzen"])
    s, r = result["samples"], result["real"]
    assert s["doubted"] > 0.2 and s["doubt"] > 5 * r["doubt"]


def test_copies_of_training_images_are_caught(evaluate, tmp_path):
    train, _ = mnist.load_mnist("train", data_dir=DATA)
    path = save_samples(tmp_path / "copies.npy", train[:300], (0.0, 1.0))
    s = evaluate.main(["--samples", path, "--range", "0,1", "--n", "300", "--skip-parzen"])
    s = s["samples"]
    assert s["nn_median"] == 0.0 and s["nn_ratio"] == 0.0 and s["nn_test_median"] > 3.0


def test_one_digit_gives_one_mode_and_is_near_one(evaluate, held_out, tmp_path):
    images, labels = held_out
    sevens = images[labels == 7][:300]
    path = save_samples(tmp_path / "sevens.npy", sevens, (0.0, 1.0))
    result = evaluate.main(["--samples", path, "--range", "0,1", "--n", "300", "--skip-parzen"])
    s = result["samples"]
    assert s["modes"] == 1 and s["digit_histogram"][7] >= 297
    assert s["is_mean"] < 1.2
    assert s["kl_to_uniform"] > 0.9 * np.log(10)
    assert s["fid"] > 10 * result["real"]["fid"]
    assert s["parzen_mean"] is None and result["real"]["parzen_mean"] is None


def test_checkpoint_is_sampled_and_measured(evaluate, tmp_path):
    G, D = models.build("mlp_sigmoid", latent_dim=8, seed=0)
    ckpt = tmp_path / "ckpt.npz"
    minigan.save(ckpt, G=G, D=D, step=0, config={"arch": "mlp_sigmoid", "latent_dim": 8})
    result = evaluate.main(["--checkpoint", str(ckpt), "--n", "100", "--skip-parzen"])
    assert result["source"]["arch"] == "mlp_sigmoid" and not result["source"]["averaged_G"]
    assert set(result["samples"]) == METRIC_KEYS and result["samples"]["n"] == 100

    # With a moving average of G in the checkpoint, it is what gets measured unless told not to.
    ema = minigan.averaging.EMA(G, decay=0.5)
    for p in G.parameters():
        p.data *= 0.5
    ema.update()
    minigan.save(ckpt, G=G, D=D, G_ema=ema, step=1,
                 config={"arch": "mlp_sigmoid", "latent_dim": 8})
    averaged = evaluate.main(["--checkpoint", str(ckpt), "--n", "100", "--skip-parzen"])
    own = evaluate.main(["--checkpoint", str(ckpt), "--n", "100", "--skip-parzen",
                         "--no-average"])
    assert averaged["source"]["averaged_G"] and not own["source"]["averaged_G"]
    assert averaged["samples"]["fid"] != own["samples"]["fid"]


def brightness_judge(scale):
    """A D whose logit is ``scale`` times the sum of an image's pixels."""
    D = minigan.nn.Sequential(minigan.nn.Flatten(), minigan.nn.Linear(784, 1))
    D[1].weight.data[...] = scale
    D[1].bias.data[...] = 0.0
    return D.eval()


def test_rejection_keeps_the_samples_d_favours(evaluate, tmp_path, monkeypatch):
    G, D = models.build("mlp_sigmoid", latent_dim=8, seed=0)
    ckpt = tmp_path / "ckpt.npz"
    minigan.save(ckpt, G=G, D=D, step=0, config={"arch": "mlp_sigmoid", "latent_dim": 8})
    plain, _, _ = evaluate.generate(ckpt, 300, 0, "cpu")
    # The checkpoint's own D is loaded, in eval mode, and the draws are counted.
    _, source, _ = evaluate.generate(ckpt, 300, 0, "cpu", rejection=0.5)
    assert source["rejection"]["drawn"] > 300 and source["rejection"]["kept"] >= 300

    judge = brightness_judge(0.05)
    monkeypatch.setattr(evaluate.checkpoint, "load_discriminator",
                        lambda *args, **kwargs: (judge, {}))
    # Cap at the smallest logit: every sample is kept, so they are the plain samples, in order.
    every, source, _ = evaluate.generate(ckpt, 300, 0, "cpu", rejection=0.0)
    np.testing.assert_array_equal(every, plain)
    assert source["rejection"]["drawn"] == 300
    # Cap at the largest: the brighter a sample, the likelier it stays.
    bright, source, _ = evaluate.generate(ckpt, 300, 0, "cpu", rejection=1.0)
    assert bright.mean() > plain.mean()
    # ... and the share kept is E exp(a - max a) (mlp_sigmoid draws in [0, 1], as measured).
    with minigan.no_grad():
        a = judge(minigan.Tensor(plain)).numpy().ravel()
    rate = np.mean(np.exp(a - a.max()))
    r = source["rejection"]
    assert r["cap"] == pytest.approx(a.max(), rel=1e-6)
    assert r["kept"] / r["drawn"] == pytest.approx(rate, rel=0.25)


class DigitCopier(minigan.nn.Module):
    """A conditional 'G' that draws held-out images of the digit ``label + shift`` (mod 10)."""

    def __init__(self, images, labels, shift):
        super().__init__()
        self.by_digit = [mnist.scale(images[labels == d], (-1.0, 1.0)) for d in range(10)]
        self.shift, self.drawn = shift, 0

    def forward(self, z, labels):
        x = np.stack([self.by_digit[(y + self.shift) % 10][(self.drawn + i) % 500]
                      for i, y in enumerate(np.asarray(labels))])
        self.drawn += len(x)
        return minigan.tensor(x)                                       # (n, 1, 28, 28)


@pytest.mark.parametrize("shift", [0, 1])
def test_a_conditional_checkpoint_is_scored_on_the_digits_asked_for(evaluate, held_out,
                                                                     tmp_path, capsys,
                                                                     monkeypatch, shift):
    """Real images of the digit asked for score ~100% by digit, of the next digit ~0%; the
    real row is the classifier's accuracy on the held-out images of each digit."""
    G, D = models.build("mlp", latent_dim=8, seed=0, num_classes=10)
    ckpt = tmp_path / "ckpt.npz"
    minigan.save(ckpt, G=G, D=D, step=0, config={"arch": "mlp", "latent_dim": 8,
                                                 "num_classes": 10})
    info = {"arch": "mlp", "latent_dim": 8, "step": 0, "average": False, "averaged_steps": None,
            "recipe": None, "num_classes": 10}
    monkeypatch.setattr(evaluate.checkpoint, "load_generator",
                        lambda *a, **kw: (DigitCopier(*held_out, shift), info))
    result = evaluate.main(["--checkpoint", str(ckpt), "--n", "200", "--skip-parzen",
                            "--digits", "3,8"])
    s, r = result["samples"], result["real"]
    assert result["source"]["digits"] == [3, 8]
    asked = [a for a in s["accuracy_by_digit"] if a is not None]
    assert [d for d, a in enumerate(s["accuracy_by_digit"]) if a is not None] == [3, 8]
    assert all(a > 0.95 for a in asked) if shift == 0 else all(a < 0.05 for a in asked)
    assert s["digit_histogram"][3 + shift] + s["digit_histogram"][8 + shift] > 190
    assert min(r["accuracy_by_digit"]) > 0.9 and r["accuracy"] > 0.97
    out = capsys.readouterr().out
    assert "accuracy (%) by digit" in out and "digits 3, 8 in turn: 100 samples of each" in out
    monkeypatch.undo()
    # D keeps or drops each sample judged with the digit it was asked for; the kept keep theirs.
    x, source, labels = evaluate.generate(ckpt, 60, 0, "cpu", rejection=0.5, digits=[1, 2])
    assert x.shape == (60, 1, 28, 28) and labels.shape == (60,) and set(labels) == {1, 2}
    assert source["rejection"]["kept"] >= 60 and source["digits"] == [1, 2]
    # An unconditional checkpoint has no digit to ask for.
    plain = tmp_path / "plain.npz"
    minigan.save(plain, G=models.build("mlp", latent_dim=8)[0], step=0,
                 config={"arch": "mlp", "latent_dim": 8})
    with pytest.raises(SystemExit, match="--digits: .*plain.npz is an unconditional GAN's"):
        evaluate.main(["--checkpoint", str(plain), "--n", "10", "--skip-parzen", "--digits", "3"])
    assert evaluate.main(["--checkpoint", str(plain), "--n", "10",
                          "--skip-parzen"])["samples"]["accuracy_by_digit"] is None


def test_truncation_feeds_g_the_truncated_noise(evaluate, tmp_path):
    """--truncation T: G is fed models.sample_noise(..., truncation=T), recorded in the source;
    it needs a checkpoint and a positive bound."""
    G, D = models.build("mlp_sigmoid", latent_dim=8, seed=0)
    ckpt = tmp_path / "ckpt.npz"
    minigan.save(ckpt, G=G, D=D, step=0, config={"arch": "mlp_sigmoid", "latent_dim": 8})
    x, source, _ = evaluate.generate(ckpt, 50, 3, "cpu", truncation=0.5)
    assert source["truncation"] == 0.5
    G.eval()
    with minigan.no_grad():
        z = models.sample_noise("mlp_sigmoid", 50, 8, np.random.default_rng(3), truncation=0.5)
        expected = G(z).numpy()
    np.testing.assert_allclose(x, expected, atol=1e-6)         # mlp_sigmoid draws in [0, 1]
    plain, source, _ = evaluate.generate(ckpt, 50, 3, "cpu")
    assert source["truncation"] is None and not np.allclose(plain, x)


def test_rejection_uses_a_recipes_d_and_refuses_a_packed_one(evaluate, tmp_path):
    """A recipe's checkpoint: G is the preset's; D is rebuilt by the recipe's file."""
    for recipe in ("input_dropout", "pacgan"):
        make_d = load_example(f"recipes/{recipe}").RECIPE.discriminator
        G, D = models.build("mlp_sigmoid", latent_dim=8, seed=0,
                            discriminator=lambda: make_d("mlp_sigmoid"))
        ckpt = tmp_path / f"{recipe}.npz"
        minigan.save(ckpt, G=G, D=D, step=0,
                     config={"arch": "mlp_sigmoid", "latent_dim": 8, "recipe": recipe})
        if recipe == "pacgan":
            with pytest.raises(ValueError, match="packs of 2"):
                evaluate.generate(ckpt, 100, 0, "cpu", rejection=0.5)
        else:
            _, source, _ = evaluate.generate(ckpt, 100, 0, "cpu", rejection=0.5)
            assert source["recipe"] == recipe and source["rejection"]["kept"] >= 100
    minigan.save(tmp_path / "odd.npz", G=G, D=D, step=0,
                 config={"arch": "mlp_sigmoid", "latent_dim": 8, "recipe": "../mnist"})
    with pytest.raises(ValueError, match="not a file of examples/recipes"):
        evaluate.generate(tmp_path / "odd.npz", 100, 0, "cpu", rejection=0.5)


def test_ceiling_cache_round_trip(evaluate, held_out, tmp_path):
    images, _ = held_out
    path = save_samples(tmp_path / "s.npy", images[:100])
    cache = tmp_path / "ceiling.npz"
    argv = ["--samples", path, "--range", "-1,1", "--n", "100", "--skip-parzen",
            "--ceiling-cache", str(cache)]
    first = evaluate.main(argv)["real"]
    assert cache.exists()
    evaluate._memo["ceiling"].clear()                # forget the in-memory copy: read the file
    assert evaluate.main(argv)["real"] == first


def test_samples_outside_the_declared_range_are_refused(evaluate, held_out, tmp_path):
    path = save_samples(tmp_path / "tanh.npy", held_out[0][:50], (-1.0, 1.0))
    with pytest.raises(SystemExit, match="outside the declared range .*--range"):
        evaluate.main(["--samples", path, "--range", "0,1", "--n", "50", "--skip-parzen"])


@pytest.mark.parametrize("argv, message", [
    (["--held-out", "--n", "0"], "argument --n: must be at least 10, got 0"),
    (["--held-out", "--n", "20000"], "argument --n: must be at most 10000"),
    (["--held-out", "--n", "ten"], "argument --n: 'ten' is not a whole number"),
    (["--held-out", "--blur", "-1"], "argument --blur: must be at least 0"),
    (["--held-out", "--blur", "nan"], "argument --blur: must be at least 0"),
    (["--held-out", "--truncation", "1"], "--truncation needs --checkpoint"),
    (["--checkpoint", "c.npz", "--truncation", "-1"], "argument --truncation: must be above 0, "
                                                      "got -1"),
    (["--samples", "x.npy", "--range", "0,1", "--rejection", "0.5"], "--rejection needs "
                                                                     "--checkpoint"),
    (["--samples", "x.npy", "--n", "50"], "--samples needs --range: -1,1 for a tanh generator"),
    (["--held-out", "--range", "0,1"], "--range goes with --samples"),
    (["--samples", "x.npy", "--range", "1,0"], "--range must be two increasing numbers"),
    (["--samples", "x.npy", "--range", "a,b"], "--range must be two increasing numbers"),
    (["--held-out", "--digits", "3"], "--digits needs --checkpoint"),
    (["--checkpoint", "c.npz", "--digits", "3,3"], "argument --digits: must be distinct digits"),
    (["--checkpoint", "c.npz", "--digits", "1,x"], "argument --digits: '1,x' is not a list"),
    (["--checkpoint", "c.npz", "--rejection", "1.5"], "argument --rejection: must be at least 0 "
                                                       "and at most 1"),
])
def test_bad_arguments_are_one_line(evaluate, capsys, argv, message):
    with pytest.raises(SystemExit) as stop:
        evaluate.main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_bad_files_are_one_line_naming_the_file(evaluate, tmp_path):
    """Missing, random-byte, wrong-shape and all-NaN sample files; missing, damaged and
    non-finite checkpoints; a --data-dir that is not there (and is not made)."""
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((20, 1, 28, 28), np.nan, np.float32))
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((20, 3, 5), np.float32))
    noise = tmp_path / "noise.npy"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    text = tmp_path / "text.npy"                  # numpy would suggest unpickling this one
    text.write_text("root:x:0:0:root:/root:/bin/bash\n")
    few = tmp_path / "few.npy"
    np.save(few, np.zeros((5, 784), np.float32))
    G, D = models.build("mlp_sigmoid", latent_dim=8, seed=0)
    diverged = tmp_path / "diverged.npz"
    minigan.save(diverged, G=G, D=D, step=3, config={"arch": "mlp_sigmoid", "latent_dim": 8})
    broken = minigan.load(diverged)
    broken["G"]["0.weight"][0, 0] = np.nan
    minigan.save(diverged, **broken)
    cases = [(["--samples", str(tmp_path / "none.npy")], "--samples .*none.npy: no such file"),
             (["--samples", str(noise)], "noise.npy: not a .npy array file"),
             (["--samples", str(text)], "text.npy: not a .npy array file \\(it does not start"),
             (["--samples", str(wrong)], r"wrong.npy: holds a float32 array of shape \(20, 3, 5\)"),
             (["--samples", str(nan)], "nan.npy: holds NaN"),
             (["--samples", str(few)], "few.npy holds 5 images, fewer than --n 10"),
             (["--checkpoint", str(noise)], "noise.npy"),
             (["--checkpoint", str(diverged)], "diverged.npz: its generator has non-finite"),
             (["--held-out", "--data-dir", str(tmp_path / "no_data")], "no such directory")]
    for argv, message in cases:
        extra = ["--range", "0,1"] if "--samples" in argv else []
        with pytest.raises(SystemExit, match=message) as stop:
            evaluate.main(argv + extra + ["--n", "10", "--skip-parzen"])
        assert "\n" not in str(stop.value.code), argv
    assert not (tmp_path / "no_data").exists()


def test_held_out_images_measure_as_the_ceiling(evaluate):
    result = evaluate.main(["--held-out", "--n", "200"])
    s, r = dict(result["samples"]), dict(result["real"])
    s.pop("seconds"), r.pop("seconds")
    assert s == r                        # the same images, measured the same way
    assert result["source"] == {"held_out": "train[50000:60000]"}


def test_blur_is_rewarded_by_parzen_and_punished_by_fid(evaluate, tmp_path):
    # The Parzen window's bias (docs/metrics.md): a blurred copy of the real images scores
    # tens of nats *above* the real images, while FID sees the blur as a loss.
    out = tmp_path / "blurred.json"
    result = evaluate.main(["--held-out", "--n", "400", "--blur", "0.7", "--json", str(out)])
    s, r = result["samples"], result["real"]
    assert s["parzen_mean"] > r["parzen_mean"] + 10 * (s["parzen_sem"] + r["parzen_sem"])
    assert s["fid"] > r["fid"] + 5.0
    saved = json.loads(out.read_text())["protocol"]
    assert saved["blur"] == 0.7 and saved["off_protocol"] is True
