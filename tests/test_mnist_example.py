"""examples/mnist.py and examples/sample.py end to end on the real MNIST files.

A few dozen steps: the run writes its grids, log, loss curve and checkpoint; an interrupted run
resumed with --resume ends bit-identical to an uninterrupted one; sample.py reads the checkpoint.
A run is never lost: an --out that holds one is refused, divergence never writes a checkpoint,
the log survives a cut line. Every mistake on the command line is one line and a non-zero exit
(checked in-process, without training). Needs MINIGAN_DATA (the directory of the four MNIST
files), as CI sets it.
"""

import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

import minigan
from minigan import backend, checkpoint, models
from tests.helpers import load_example

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("MINIGAN_DATA")
pytestmark = pytest.mark.skipif(not DATA, reason="MINIGAN_DATA (the MNIST directory) is not set")


@pytest.fixture(scope="module")
def script():
    return load_example("mnist")


@pytest.fixture(scope="module")
def sample():
    return load_example("sample")


@pytest.fixture
def train(script, capsys):
    """``train(out, *flags, arch="mlp", steps=24)``: examples/mnist.py in-process, small and
    quick; returns what it printed."""
    def run(out, *extra, arch="mlp", steps=24, recipe=None):
        script.main(["--arch", arch, "--steps", str(steps), "--out", str(out), "--batch-size",
                     "16", "--log-every", "4", "--sample-every", "12", "--checkpoint-every", "8",
                     "--threads", "1", *extra], recipe=recipe)
        printed = capsys.readouterr()
        return printed.out + printed.err
    return run


def fails(script, capsys, *argv, recipe=None):
    """examples/mnist.py refusing ``argv``: its one line (exit status 1 or argparse's 2)."""
    with pytest.raises(SystemExit) as stop:
        script.main(list(map(str, argv)), recipe=recipe)
    code, err = stop.value.code, capsys.readouterr().err
    message = code if isinstance(code, str) else err
    assert code not in (0, None) and len(message.strip().splitlines()) == 1, message
    return message


def assert_same_checkpoints(a, b):
    a, b = minigan.load(a), minigan.load(b)
    assert a["step"] == b["step"] and a["batches"] == b["batches"]
    for part in ("G", "D", "opt_G", "opt_D", "G_ema"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert np.array_equal(a[part][key], b[part][key]), (part, key)


def test_run_writes_outputs_and_resumes_bit_identically(tmp_path, train):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    env = {**os.environ, "MINIGAN_DATA": os.path.abspath(DATA)}
    proc = subprocess.run(                                  # the script itself, as users run it
        [sys.executable, os.path.join(ROOT, "examples", "mnist.py"), "--steps", "24", "--out",
         str(straight), "--batch-size", "16", "--log-every", "4", "--sample-every", "12",
         "--checkpoint-every", "8", "--threads", "1"],      # as the in-process runs below: a
        capture_output=True, text=True, env=env, timeout=600)  # BLAS of 2 threads rounds otherwise
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "D(G(z))" in proc.stderr and "done at step 24" in proc.stdout
    for name in ("samples.png", "samples_000012.png", "samples_000024.png", "losses.png",
                 "log.jsonl", "ckpt.npz"):
        assert (straight / name).stat().st_size > 0, name
    assert not list(straight.glob("ckpt_*.npz"))                   # none kept unless asked
    records = [json.loads(line) for line in open(straight / "log.jsonl")]
    assert [r["step"] for r in records] == list(range(4, 25, 4))
    assert all(np.isfinite(r["loss_d"]) and 0 <= r["d_fake"] <= 1 for r in records)

    train(resumed, steps=10)                       # stops at step 10 (checkpoint at the end)
    log = train(resumed, "--resume")               # continues to step 24
    assert "resumed from" in log and "at step 10" in log
    assert_same_checkpoints(straight / "ckpt.npz", resumed / "ckpt.npz")
    steps = [json.loads(line)["step"] for line in open(resumed / "log.jsonl")]
    # No record lost or repeated by the resume (the interrupted run also logged its last step).
    assert steps == sorted(set(steps)) and set(range(4, 25, 4)) <= set(steps) and 10 in steps
    assert "nothing to do" in train(resumed, "--resume")           # at --steps already


def test_a_recipe_keeps_checkpoints_when_it_says_so(tmp_path, script, train):
    """keep_every, a recipe's setting (examples/recipes/swa.py): ckpt_<step>.npz beside the
    latest, every so many steps, and only those."""
    keeper = script.Recipe(name="swa", arch="mlp", settings=dict(keep_every=12))
    train(tmp_path, recipe=keeper)
    assert sorted(p.name for p in tmp_path.glob("ckpt_*.npz")) == ["ckpt_000012.npz",
                                                                   "ckpt_000024.npz"]
    assert minigan.load(tmp_path / "ckpt_000012.npz")["step"] == 12
    assert_same_checkpoints(tmp_path / "ckpt_000024.npz", tmp_path / "ckpt.npz")
    assert minigan.load(tmp_path / "ckpt.npz")["config"]["recipe"] == "swa"


@pytest.mark.parametrize("arch", ["goodfellow2014", "dcgan_bn"])
def test_resume_is_bit_identical_with_dropout_and_batch_norm(tmp_path, train, arch):
    """Dropout masks (goodfellow2014's D) and batch-norm running statistics (dcgan_bn) must
    come back exactly after a resume too."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(straight, arch=arch, steps=4)
    train(resumed, arch=arch, steps=2)
    train(resumed, "--resume", arch=arch, steps=4)
    assert_same_checkpoints(straight / "ckpt.npz", resumed / "ckpt.npz")


@pytest.mark.parametrize("arch, batch, decay",
                         [("mlp", 64, 0.999), ("goodfellow2014", 100, 0.9999)])
def test_default_batch_size_rates_and_average_are_the_models(tmp_path, script, capsys, arch,
                                                             batch, decay):
    script.main(["--arch", arch, "--steps", "1", "--out", str(tmp_path)])
    assert f"1 steps of batch {batch}" in capsys.readouterr().out
    ckpt, spec = minigan.load(tmp_path / "ckpt.npz"), models.SPECS[arch]
    assert ckpt["config"]["batch_size"] == batch and ckpt["config"]["recipe"] is None
    assert ckpt["G_ema"]["decay"] == decay == spec.ema and ckpt["config"]["ema"] == decay
    assert ckpt["opt_G"]["hparams.lr"] == spec.optimizer["lr"] == ckpt["config"]["lr"]
    assert ckpt["opt_D"]["hparams.lr"] == spec.optimizer.get("lr_d", spec.optimizer["lr"])


def test_resume_takes_the_runs_settings_from_the_checkpoint(tmp_path, script, capsys):
    """Only --out and --steps said again: the architecture, seed, batch, k and G's loss of the
    checkpoint's run, so it ends as the straight run does; the log's time runs on across it.
    A setting of the run given again and different is refused, naming it."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    settings = ["--arch", "dcgan_3x3", "--seed", "3", "--k", "2", "--saturating",
                "--batch-size", "8", "--checkpoint-every", "2", "--log-every", "1"]
    script.main(settings + ["--out", str(straight), "--steps", "4"])
    script.main(settings + ["--out", str(resumed), "--steps", "2"])
    capsys.readouterr()
    script.main(["--out", str(resumed), "--resume", "--steps", "4"])
    log = capsys.readouterr().out
    assert "training dcgan_3x3" in log and "4 steps of batch 8" in log
    assert_same_checkpoints(straight / "ckpt.npz", resumed / "ckpt.npz")
    config = minigan.load(resumed / "ckpt.npz")["config"]
    assert (config["seed"], config["k"], config["saturating"]) == (3, 2, True)
    times = [json.loads(line)["time"] for line in open(resumed / "log.jsonl")]
    assert len(times) == 4 and times == sorted(times)
    for flags, named in ((["--seed", "4"], "--seed 3"), (["--no-saturating"], "--saturating True"),
                         (["--arch", "mlp", "--k", "1"], "--arch dcgan_3x3, --k 2")):
        message = fails(script, capsys, "--out", resumed, "--resume", "--steps", "5", *flags)
        assert f"was trained with {named}; only --steps, --lr" in message
    # The same value again is no conflict.
    script.main(["--out", str(resumed), "--resume", "--steps", "5", "--seed", "3", "--k", "2"])


def test_resume_takes_new_learning_rates_from_the_command_line(tmp_path, train):
    train(tmp_path, steps=2)
    log = train(tmp_path, "--resume", "--lr", "5e-5", "--lr-d", "2e-5", steps=3)
    assert "learning rates from the command line: G 5e-05, D 2e-05" in log
    ckpt = minigan.load(tmp_path / "ckpt.npz")
    assert ckpt["opt_G"]["hparams.lr"] == 5e-5 and ckpt["opt_D"]["hparams.lr"] == 2e-5
    assert ckpt["opt_G"]["hparams.betas"] == [0.5, 0.999]          # the rest as before
    assert (ckpt["config"]["lr"], ckpt["config"]["lr_d"]) == (5e-5, 2e-5)
    train(tmp_path, "--resume", steps=4)                           # and kept on the next resume
    assert minigan.load(tmp_path / "ckpt.npz")["opt_G"]["hparams.lr"] == 5e-5
    train(tmp_path, "--resume", "--lr", "1e-5", steps=5)           # --lr alone: both networks
    ckpt = minigan.load(tmp_path / "ckpt.npz")
    assert ckpt["opt_G"]["hparams.lr"] == ckpt["opt_D"]["hparams.lr"] == 1e-5


def test_resume_keeps_the_checkpoints_average_decay_unless_given(tmp_path, train):
    train(tmp_path, "--ema", "0.99", steps=2)
    train(tmp_path, "--resume", steps=3)                           # no --ema: the checkpoint's
    ckpt = minigan.load(tmp_path / "ckpt.npz")
    assert ckpt["G_ema"]["decay"] == 0.99 and ckpt["config"]["ema"] == 0.99
    log = train(tmp_path, "--resume", "--ema", "0.9", steps=4)
    assert "decay of the average from the command line: 0.9" in log
    ckpt = minigan.load(tmp_path / "ckpt.npz")
    assert ckpt["G_ema"]["decay"] == 0.9 and ckpt["G_ema"]["num_updates"] == 4


def test_label_smoothing_trains_d_differently_and_is_kept_on_resume(tmp_path, train):
    plain, straight, resumed = tmp_path / "plain", tmp_path / "straight", tmp_path / "resumed"
    train(plain, steps=2)
    train(straight, "--label-smoothing", "0.1", steps=4)
    assert minigan.load(straight / "ckpt.npz")["config"]["label_smoothing"] == 0.1
    assert minigan.load(plain / "ckpt.npz")["config"]["label_smoothing"] == 0.0
    train(resumed, "--label-smoothing", "0.1", steps=2)
    # Same seed and data as the plain run: only D's target for real images differs.
    assert not np.array_equal(minigan.load(plain / "ckpt.npz")["D"]["1.weight"],
                              minigan.load(resumed / "ckpt.npz")["D"]["1.weight"])
    train(resumed, "--resume", steps=4)                            # no flag: the checkpoint's
    assert_same_checkpoints(straight / "ckpt.npz", resumed / "ckpt.npz")


def test_checkpoint_holds_the_average_of_g_that_the_scripts_sample(tmp_path, train, sample):
    """--ema (default: the model's, 0.999 for mlp) keeps G_ema in the checkpoint; sample.py draws
    from it unless told --no-average; --ema 0 keeps none, and sample.py then draws from G."""
    train(tmp_path / "avg", steps=3)
    ckpt = minigan.load(tmp_path / "avg" / "ckpt.npz")
    assert ckpt["G_ema"]["num_updates"] == 3 and ckpt["G_ema"]["decay"] == 0.999
    assert not np.array_equal(ckpt["G_ema"]["module.0.weight"], ckpt["G"]["0.weight"])
    drawn = {}
    for flag in ([], ["--no-average"]):
        out = tmp_path / f"s{len(flag)}.npy"
        sample.main(["--checkpoint", str(tmp_path / "avg" / "ckpt.npz"), "--n", "8",
                     "--out", str(out), *flag])
        drawn[bool(flag)] = np.load(out, allow_pickle=False)
    assert np.abs(drawn[False] - drawn[True]).max() > 1e-3        # two different generators

    train(tmp_path / "plain", "--ema", "0", steps=3)
    assert "G_ema" not in minigan.load(tmp_path / "plain" / "ckpt.npz")
    sample.main(["--checkpoint", str(tmp_path / "plain" / "ckpt.npz"), "--n", "8",
                 "--out", str(tmp_path / "plain.npy")])
    # Resumed, such a run stays without an average, unless --ema asks for one: that starts
    # from G where the run stands.
    train(tmp_path / "plain", "--resume", steps=4)
    assert "G_ema" not in minigan.load(tmp_path / "plain" / "ckpt.npz")
    log = train(tmp_path / "plain", "--resume", "--ema", "0.999", steps=6)
    assert "starts here, from G" in log
    assert minigan.load(tmp_path / "plain" / "ckpt.npz")["G_ema"]["num_updates"] == 2


def test_the_average_of_a_batch_norm_generator_has_statistics_of_its_own(tmp_path, train):
    """G's running statistics fit G's weights, not the lagging average's: the checkpoint's
    G_ema holds those of its own weights (models.recompute_batch_norm on the run's noise), not
    G's copied, while G keeps its own."""
    train(tmp_path, arch="dcgan_bn", steps=3)
    ckpt = minigan.load(tmp_path / "ckpt.npz")
    stats = [k.removeprefix("module.") for k in ckpt["G_ema"] if k.endswith("running_mean")]
    assert len(stats) == 2                                         # BatchNorm1d and BatchNorm2d
    for key in stats:
        assert not np.allclose(ckpt["G_ema"]["module." + key], ckpt["G"][key])
    G, _ = checkpoint.load_generator(ckpt)
    fitted = models.recompute_batch_norm("dcgan_bn", G, 16, generator=np.random.default_rng(7))
    assert fitted == 100
    state = G.state_dict()
    for key in stats:                  # other noise, the same population: close, not identical
        key_var = key.replace("mean", "var")
        np.testing.assert_allclose(state[key], ckpt["G_ema"]["module." + key], atol=0.05)
        var, saved = state[key_var], ckpt["G_ema"]["module." + key_var]
        assert np.median(np.abs(var / saved - 1)) < 0.05          # 1,600 samples a feature


def test_a_checkpoint_from_before_the_run_format_resumes(tmp_path, train, script, capsys):
    """Checkpoints written before the settings were recorded as values (lr None: the preset's;
    pack, input_dropout, optimizer, device in the config) resume as they were, bit for bit; one
    whose D was packed or had input dropout names the recipe that trains it now."""
    straight, old = tmp_path / "straight", tmp_path / "old"
    train(straight, steps=4)
    train(old, steps=2)
    ckpt = minigan.load(old / "ckpt.npz")
    config = ckpt["config"]
    for key in ("recipe", "loss", "conditional", "weight_clip", "num_classes"):
        del config[key]
    config.update(lr=None, lr_d=None, beta1=None, optimizer=None, pack=1, input_dropout=0.0,
                  device="cpu")
    minigan.save(old / "ckpt.npz", **ckpt)
    train(old, "--resume", steps=4)
    assert_same_checkpoints(straight / "ckpt.npz", old / "ckpt.npz")
    config["pack"] = 2
    minigan.save(old / "ckpt.npz", **ckpt)
    assert "now the recipe examples/recipes/pacgan.py" in fails(
        script, capsys, "--out", old, "--resume", "--steps", "6")


# --- the conditional GAN and the loss family --------------------------------------------------

def test_a_conditional_run_trains_on_each_images_digit_and_resumes_bit_identically(
        tmp_path, train, script, monkeypatch):
    """--conditional: D sees each real image with its own digit (minigan's classifier agrees
    with the labels D is given), G is asked for digits drawn at random, the grid has one row
    per digit, and --resume goes on bit for bit, labels and all."""
    from minigan.classifier import load_classifier
    seen = []
    discriminator_step = script.gan.discriminator_step

    def watched(G, D, opt_D, real, z, **kwargs):
        seen.append((real.numpy(), kwargs["real_labels"], kwargs["fake_labels"]))
        return discriminator_step(G, D, opt_D, real, z, **kwargs)

    monkeypatch.setattr(script.gan, "discriminator_step", watched)
    grids = []
    monkeypatch.setattr(script, "save_image_grid",
                        lambda images, path, **kw: grids.append((images.shape, kw)))
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    log = train(straight, "--conditional", steps=4)
    assert "training mlp, conditional" in log
    shape, kw = grids[0]                                               # at the last step
    assert shape == (80, 1, 28, 28) and kw.get("nrow", 8) == 8         # 10 rows of 8
    assert "rows: digits 0 to 9" in kw["title"]
    images = np.concatenate([x for x, _, _ in seen])                   # (64, 1, 28, 28) in [-1, 1]
    digits = np.concatenate([y for _, y, _ in seen])
    assert (load_classifier().predict((images + 1) / 2) == digits).mean() > 0.95
    asked = np.concatenate([y for _, _, y in seen])
    assert asked.shape == (64,) and len(set(asked.tolist())) > 5
    ckpt = minigan.load(straight / "ckpt.npz")
    assert ckpt["config"]["conditional"] is True and ckpt["config"]["num_classes"] == 10
    G, info = checkpoint.load_generator(straight / "ckpt.npz", conditional=True)
    assert info["num_classes"] == 10
    train(resumed, "--conditional", steps=2)
    train(resumed, "--resume", steps=4)
    assert_same_checkpoints(straight / "ckpt.npz", resumed / "ckpt.npz")


def settings(script, *argv, recipe=None):
    return script.parse_settings(list(argv), recipe)[0]


def test_each_loss_trains_with_its_papers_settings_unless_given(script):
    """Checked on the settings, without training: WGAN's RMSprop 5e-5, k = 5 and clip 0.01;
    LSGAN's Adam 2e-4, beta1 0.5 over the preset's own; hinge and gan the preset's."""
    s = settings(script, "--arch", "goodfellow2014", "--loss", "lsgan")
    assert (s["lr"], s["lr_d"], s["beta1"], s["k"], s["weight_clip"]) == (2e-4, 2e-4, 0.5, 1, 0)
    s = settings(script, "--arch", "goodfellow2014", "--loss", "hinge")
    assert (s["lr"], s["lr_d"], s["k"]) == (4e-4, 2e-4, 1)
    s = settings(script, "--loss", "wasserstein")
    assert (s["lr"], s["lr_d"], s["beta1"], s["k"], s["weight_clip"]) == (5e-5, 5e-5, None, 5,
                                                                          0.01)
    s = settings(script, "--loss", "wasserstein", "--k", "2", "--weight-clip", "0", "--lr", "1e-4")
    assert (s["lr"], s["lr_d"], s["k"], s["weight_clip"]) == (1e-4, 1e-4, 2, 0)
    swa = load_example("recipes/spectral_norm").RECIPE     # a recipe's rate yields to WGAN's
    assert settings(script, "--loss", "wasserstein", recipe=swa)["lr"] == 5e-5
    assert settings(script, recipe=swa)["lr"] == swa.settings["lr"]


def test_a_wasserstein_run_clips_its_critic_and_logs_raw_scores(tmp_path, train, script,
                                                                capsys, monkeypatch):
    calls = []
    generator_step = script.gan.generator_step
    monkeypatch.setattr(script.gan, "generator_step",
                        lambda *a, **kw: calls.append(1) or generator_step(*a, **kw))
    log = train(tmp_path, "--loss", "wasserstein", steps=4)
    assert "training mlp, wasserstein" in log and "score(G(z))" in log and "D(G(z))" not in log
    ckpt = minigan.load(tmp_path / "ckpt.npz")
    assert ckpt["opt_D"]["optimizer"] == ckpt["opt_G"]["optimizer"] == "RMSprop"
    assert ckpt["opt_D"]["hparams.lr"] == 5e-5 and ckpt["config"]["k"] == 5
    assert len(calls) == 4 and int(ckpt["opt_D"]["state.0.step"]) == 20   # 5 critic updates each
    assert max(np.abs(w).max() for w in ckpt["D"].values()) <= 0.01      # clipped
    assert max(np.abs(w).max() for w in ckpt["G"].values()) > 0.01
    records = [json.loads(line) for line in open(tmp_path / "log.jsonl")]
    # D(x) - D(G(z)) is the critic's estimate of W1, -L_D: scores, not probabilities.
    for r in records:
        np.testing.assert_allclose(r["d_real"] - r["d_fake"], -r["loss_d"], rtol=1e-5,
                                   atol=1e-6)
    message = fails(script, capsys, "--out", tmp_path, "--resume", "--loss", "gan")
    assert "was trained with --loss wasserstein" in message
    train(tmp_path, "--resume", steps=5)                                 # RMSprop resumes
    assert minigan.load(tmp_path / "ckpt.npz")["step"] == 5


def test_a_recipe_with_its_own_d_refuses_conditional(script, capsys, tmp_path):
    pacgan = load_example("recipes/pacgan").RECIPE
    assert "--conditional: the recipe pacgan's D takes no labels" in fails(
        script, capsys, "--out", tmp_path / "run", "--conditional", recipe=pacgan)


def test_sample_script_draws_the_digit_asked_for(tmp_path, train, sample, capsys, monkeypatch):
    train(tmp_path / "cond", "--conditional", steps=2)
    ckpt = str(tmp_path / "cond" / "ckpt.npz")
    asked = []
    load_generator = checkpoint.load_generator

    def watched(*args, **kwargs):                                   # the labels G is given
        G, info = load_generator(*args, **kwargs)
        forward = G.forward
        G.forward = lambda z, labels: asked.append(np.asarray(labels)) or forward(z, labels)
        return G, info

    monkeypatch.setattr(sample.checkpoint, "load_generator", watched)
    grids = []
    monkeypatch.setattr(sample, "save_image_grid",
                        lambda images, path, **kw: grids.append((len(images), kw["nrow"])))
    sample.main(["--checkpoint", ckpt, "--n", "30", "--batch-size", "16", "--out",
                 str(tmp_path / "all.npy"), "--grid", str(tmp_path / "all.png")])
    assert np.array_equal(np.concatenate(asked), np.arange(30) % 10)   # every digit in turn
    assert grids[-1] == (30, 3) and "sample i: digit i % 10" in capsys.readouterr().out
    asked.clear()
    sample.main(["--checkpoint", ckpt, "--n", "12", "--digit", "7", "--out",
                 str(tmp_path / "sevens.npy"), "--grid", str(tmp_path / "sevens.png")])
    assert np.array_equal(np.concatenate(asked), np.full(12, 7)) and grids[-1] == (12, 8)
    assert np.load(tmp_path / "sevens.npy").shape == (12, 1, 28, 28)
    train(tmp_path / "plain", steps=2)
    for path, digit, message in [
            (tmp_path / "plain" / "ckpt.npz", "3", "is an unconditional GAN's checkpoint; its G "
                                                   "draws no digit asked for"),
            (ckpt, "10", "--digit 10: the checkpoint's G draws digits 0 to 9")]:
        with pytest.raises(SystemExit) as stop:
            sample.main(["--checkpoint", str(path), "--n", "4", "--digit", digit, "--out",
                         str(tmp_path / "x.npy")])
        assert message in stop.value.code and "\n" not in stop.value.code
    assert not (tmp_path / "x.npy").exists()


# --- a run is never lost ----------------------------------------------------------------------

def test_an_out_holding_a_run_is_refused_unless_resume_or_overwrite(tmp_path, train, script,
                                                                    capsys):
    train(tmp_path, steps=12)
    before = (tmp_path / "ckpt.npz").read_bytes(), (tmp_path / "log.jsonl").read_text()
    message = fails(script, capsys, "--out", tmp_path, "--steps", "4")
    assert "holds a run already" in message and "--resume" in message and "--overwrite" in message
    assert ((tmp_path / "ckpt.npz").read_bytes(), (tmp_path / "log.jsonl").read_text()) == before
    assert "give one" in fails(script, capsys, "--out", tmp_path, "--resume", "--overwrite")
    # --overwrite: a new run, and none of the old one's files left beside it.
    (tmp_path / "notes.txt").write_text("mine")
    train(tmp_path, "--overwrite", steps=4)
    assert minigan.load(tmp_path / "ckpt.npz")["step"] == 4
    assert sorted(p.name for p in tmp_path.glob("samples_*.png")) == ["samples_000004.png"]
    assert [json.loads(line)["step"] for line in open(tmp_path / "log.jsonl")] == [4]
    assert (tmp_path / "notes.txt").read_text() == "mine"          # not a run's file


@pytest.mark.filterwarnings("ignore::RuntimeWarning")          # the NaN arithmetic, on purpose
def test_divergence_never_writes_a_checkpoint(tmp_path, train, script, capsys):
    """Checked before every checkpoint write, not only on log steps: with a checkpoint every
    step and a log record every 100, the NaN step writes nothing and names the good one."""
    train(tmp_path, steps=2)
    good = ckpt_bytes(tmp_path)
    message = fails(script, capsys, "--out", tmp_path, "--resume", "--steps", "8", "--lr",
                    "1e30", "--checkpoint-every", "1", "--log-every", "100")
    assert "training diverged at step" in message
    assert f"the last good checkpoint is {tmp_path / 'ckpt.npz'} (step " in message
    assert ckpt_bytes(tmp_path) == good and not list(tmp_path.glob(".*.tmp"))
    # A weight gone to NaN is refused by minigan.checkpoint.save itself, before any byte.
    G, _ = models.build("mlp", 8)
    G[0].weight.data[0, 0] = np.nan
    with pytest.raises(checkpoint.NonFiniteError, match="G 0.weight"):
        checkpoint.save(tmp_path / "ckpt.npz", G=G, step=9, config={"arch": "mlp",
                                                                     "latent_dim": 8})
    assert ckpt_bytes(tmp_path) == good


def ckpt_bytes(directory):
    return (directory / "ckpt.npz").read_bytes()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_ctrl_c_after_divergence_keeps_the_good_checkpoint(tmp_path, train, script, capsys,
                                                          monkeypatch):
    train(tmp_path, steps=2)
    good = ckpt_bytes(tmp_path)
    generator_step = script.gan.generator_step
    calls = []

    def interrupted(*args, **kwargs):                  # Ctrl-C during the third step from here
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return generator_step(*args, **kwargs)

    monkeypatch.setattr(script.gan, "generator_step", interrupted)
    message = fails(script, capsys, "--out", tmp_path, "--resume", "--steps", "50", "--lr",
                    "1e30", "--checkpoint-every", "1000", "--log-every", "1000")
    assert "training diverged at step 5" in message and "(step 2)" in message
    assert ckpt_bytes(tmp_path) == good


def test_ctrl_c_saves_and_names_only_the_files_written(tmp_path, script, capsys, monkeypatch):
    generator_step = script.gan.generator_step

    def interrupted(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return generator_step(*args, **kwargs)

    monkeypatch.setattr(script.gan, "generator_step", interrupted)
    script.main(["--out", str(tmp_path), "--steps", "100", "--batch-size", "8"])
    out = capsys.readouterr().out
    assert "stopped at step 1" in out and out.rstrip().endswith(f"ckpt.npz in {tmp_path}")
    assert "samples" not in out.splitlines()[-1] and not (tmp_path / "samples.png").exists()
    assert minigan.load(tmp_path / "ckpt.npz")["step"] == 1


def test_stale_temporary_files_go_and_a_cut_log_line_is_dropped(tmp_path, train):
    train(tmp_path, steps=8)
    stale = [tmp_path / ".ckpt.npz.k1ll3d.tmp", tmp_path / ".ckpt_000008.npz.x.tmp",
             tmp_path / ".log.jsonl.999.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    with open(tmp_path / "log.jsonl", "a") as f:
        f.write('{"step": 9, "time": 1.')                         # a kill in mid-line
    train(tmp_path, "--resume", steps=12)
    assert not any(path.exists() for path in stale)
    steps = [json.loads(line)["step"] for line in open(tmp_path / "log.jsonl")]
    assert steps == [4, 8, 12]


# --- mistakes answered in one line ------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
    (["--batch-size", "-3"], "argument --batch-size: must be at least 1, got -3"),
    (["--batch-size", "8.5"], "argument --batch-size: '8.5' is not a whole number"),
    (["--steps", "0"], "argument --steps: must be at least 1, got 0"),
    (["--lr", "0"], "argument --lr: must be above 0, got 0"),
    (["--lr", "nan"], "argument --lr: must be above 0, got nan"),
    (["--lr-d", "-0.0001"], "argument --lr-d: must be above 0"),
    (["--lr-d", "-1e-4"], "argument --lr-d: expected one argument"),  # argparse: an option?
    (["--beta1", "1.5"], "argument --beta1: must be at least 0 and below 1, got 1.5"),
    (["--label-smoothing", "1"], "argument --label-smoothing: must be at least 0 and below 1"),
    (["--ema", "1"], "argument --ema: must be at least 0 and below 1, got 1"),
    (["--k", "0"], "argument --k: must be at least 1, got 0"),
    (["--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    (["--log-every", "0"], "argument --log-every: must be at least 1, got 0"),
    (["--arch", "resnet"], "argument --arch: invalid choice: 'resnet'"),
    (["--pack", "2"], "unrecognized arguments: --pack 2"),
    (["--threads", "0"], "--threads must be 'auto' or a positive integer, got '0'"),
    (["--threads", "many"], "--threads must be 'auto' or a positive integer, got 'many'"),
    (["--loss", "wgan"], "argument --loss: invalid choice: 'wgan'"),
    (["--loss", "wasserstein", "--beta1", "0.9"], "--beta1 is Adam's; --loss wasserstein "
                                                  "trains with RMSprop"),
    (["--weight-clip", "-0.01"], "argument --weight-clip: must be at least 0, got -0.01"),
    (["--weight-clip", "nan"], "argument --weight-clip: must be at least 0, got nan"),
    (["--conditional", "--arch", "goodfellow2014"], "--conditional: goodfellow2014 has no "
                                                    "conditional form"),
])
def test_bad_flags_are_one_line(script, capsys, tmp_path, argv, message):
    assert message in fails(script, capsys, "--out", tmp_path / "run", *argv)
    assert not (tmp_path / "run").exists()


def test_bad_places_and_files_are_one_line(tmp_path, script, capsys, train):
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert f"--out {a_file} is a file, not a directory" in fails(script, capsys, "--out", a_file)
    assert "--resume: no checkpoint at" in fails(script, capsys, "--out", tmp_path / "none",
                                                 "--resume")
    assert "--batch-size must be at most 50000" in fails(script, capsys, "--out",
                                                         tmp_path / "big", "--batch-size",
                                                         "50001")
    missing = tmp_path / "no_data"
    assert f"--data-dir {missing}: no such directory" in fails(script, capsys, "--out",
                                                              tmp_path / "x", "--data-dir",
                                                              missing)
    assert not missing.exists()                                    # a read never makes it
    bad_data = tmp_path / "bad_data"
    bad_data.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (bad_data / name).write_bytes(b"\x1f\x8b but not gzip")
    assert "bad gzip data" in fails(script, capsys, "--out", tmp_path / "y", "--data-dir",
                                    bad_data)
    if not backend.cuda_available():
        assert "--device cuda: " in fails(script, capsys, "--out", tmp_path / "z", "--device",
                                          "cuda")
    # Checkpoints that cannot be resumed from: cut short, without config, of a removed preset,
    # with another model's weights, of a recipe's run (named with the command that resumes it).
    train(tmp_path / "run", steps=2)
    ckpt = tmp_path / "run" / "ckpt.npz"
    whole_file = ckpt.read_bytes()
    ckpt.write_bytes(whole_file[:len(whole_file) // 2])
    assert "--resume: cannot load checkpoint" in fails(script, capsys, "--out", tmp_path / "run",
                                                       "--resume")
    G, D = models.build("mlp", seed=0)
    minigan.save(ckpt, G=G, D=D, step=2)
    assert "not a training run's checkpoint" in fails(script, capsys, "--out",
                                                      tmp_path / "run", "--resume")
    minigan.save(ckpt, G=G, D=D, step=2, config={"arch": "dcgan_maxout", "latent_dim": 100})
    assert "now the recipe examples/recipes/maxout_d.py" in fails(
        script, capsys, "--out", tmp_path / "run", "--resume")
    ckpt.write_bytes(whole_file)
    swapped = minigan.load(ckpt)
    swapped["G"] = models.build("mlp_sigmoid")[0].state_dict()     # another model's weights
    minigan.save(tmp_path / "run" / "ckpt.npz", **swapped)
    assert "does not fit mlp: Error(s) in loading state_dict for Sequential: missing key" in \
        fails(script, capsys, "--out", tmp_path / "run", "--resume", "--steps", "3")
    ckpt.write_bytes(whole_file)
    pacgan = load_example("recipes/pacgan").RECIPE
    assert ("trained by examples/mnist.py; resume it with python examples/mnist.py --out"
            in fails(script, capsys, "--out", tmp_path / "run", "--resume", recipe=pacgan))
    assert "--batch-size must be a multiple of 2" in fails(
        script, capsys, "--out", tmp_path / "packed", "--batch-size", "15", recipe=pacgan)


def test_sample_script(tmp_path, train, sample, capsys):
    train(tmp_path, arch="mlp", steps=2)
    ckpt = str(tmp_path / "ckpt.npz")
    sample.main(["--checkpoint", ckpt, "--n", "70", "--batch-size", "32",
                 "--out", str(tmp_path / "s.npy"), "--grid", str(tmp_path / "grid.png")])
    samples = np.load(tmp_path / "s.npy", allow_pickle=False)
    assert samples.shape == (70, 1, 28, 28) and samples.dtype == np.float32
    assert samples.min() >= -1 and samples.max() <= 1
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert "wrote (70, 1, 28, 28)" in capsys.readouterr().out
    # --truncation: the same G fed noise with every |z| <= 0.5.
    sample.main(["--checkpoint", ckpt, "--n", "70", "--truncation", "0.5",
                 "--out", str(tmp_path / "t.npy")])
    truncated = np.load(tmp_path / "t.npy", allow_pickle=False)
    assert truncated.shape == (70, 1, 28, 28) and "|z| <= 0.5" in capsys.readouterr().out
    assert not np.array_equal(truncated, samples)


def test_sample_script_answers_mistakes_in_one_line(tmp_path, train, sample, capsys):
    train(tmp_path, steps=2)
    ckpt = str(tmp_path / "ckpt.npz")
    diverged = tmp_path / "diverged.npz"
    broken = minigan.load(ckpt)
    broken["G_ema"]["module.0.weight"][:] = np.inf
    minigan.save(diverged, **broken)
    noise = tmp_path / "noise.npz"
    noise.write_bytes(np.random.default_rng(0).bytes(3000))
    out = str(tmp_path / "s.npy")
    for argv, code, message in [
            (["--n", "0"], 2, "argument --n: must be at least 1, got 0"),
            (["--n", "-5"], 2, "argument --n: must be at least 1"),
            (["--batch-size", "0"], 2, "argument --batch-size: must be at least 1"),
            (["--truncation", "0"], 2, "argument --truncation: must be above 0, got 0"),
            (["--seed", "-2"], 2, "argument --seed: must be at least 0"),
            (["--threads", "-1"], 2, "--threads must be 'auto' or a positive integer"),
            (["--checkpoint", str(tmp_path / "none.npz")], 1, "none.npz: no such file"),
            (["--checkpoint", str(noise)], 1, "noise.npz"),
            (["--checkpoint", str(diverged)], 1, "diverged.npz: its generator has non-finite"),
            (["--out", str(tmp_path / "s.png")], 1, "--out .*s.png: the file name must end in .npy"),
            (["--out", str(tmp_path)], 1, "the file name must end in .npy")]:
        flags = {"--checkpoint": ckpt, "--out": out}
        for i in range(0, len(argv), 2):
            flags[argv[i]] = argv[i + 1]
        with pytest.raises(SystemExit) as stop:
            sample.main([x for kv in flags.items() for x in kv])
        err = capsys.readouterr().err
        text = err if code == 2 else stop.value.code
        assert (stop.value.code == 2) == (code == 2), argv
        assert len(text.strip().splitlines()) == 1 and re.search(message, text), (argv, text)
    assert not os.path.exists(out)                      # nothing written by a refused call


def test_threads_set_the_blas_and_are_not_part_of_the_run(tmp_path, train, monkeypatch):
    """--threads is how the script runs, not what it trains: it sets minigan's thread count
    (auto: from the cores the other processes leave free, looked at again while training), is
    not recorded in the checkpoint, and may differ on --resume."""
    polls = []
    real_poll = minigan.threads.AutoThreads.poll
    monkeypatch.setattr(minigan.threads.AutoThreads, "poll",
                        lambda self: polls.append(1) or real_poll(self))
    train(tmp_path, "--threads", "auto", steps=4)
    assert len(polls) == 4                                 # once a step
    assert 1 <= minigan.get_num_threads() <= minigan.threads.available_cores()
    assert "threads" not in minigan.load(tmp_path / "ckpt.npz")["config"]
    try:
        train(tmp_path, "--resume", "--threads", "2", steps=8)
        assert minigan.get_num_threads() == 2
    finally:
        minigan.set_num_threads(1)                          # as the other runs here use
