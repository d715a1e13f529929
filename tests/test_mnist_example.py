"""examples/mnist.py and examples/sample.py end to end on the real MNIST files.

A few dozen steps: the run writes its grids, log, loss curve and checkpoint; an interrupted run
resumed with --resume ends bit-identical to an uninterrupted one; sample.py reads the checkpoint.
Needs MINIGAN_DATA (the directory of the four MNIST files), as CI sets it.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import minigan
from minigan import models

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("MINIGAN_DATA")
pytestmark = pytest.mark.skipif(not DATA, reason="MINIGAN_DATA (the MNIST directory) is not set")


def launch(script, *args):
    env = {**os.environ, "MINIGAN_DATA": os.path.abspath(DATA) if DATA else ""}
    return subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), *args],
                          capture_output=True, text=True, env=env, timeout=600)


def run(script, *args):
    proc = launch(script, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def train(out, *extra, arch="mlp", steps=24):
    return run("mnist.py", "--arch", arch, "--steps", str(steps), "--out", str(out),
               "--batch-size", "16", "--log-every", "4", "--sample-every", "12",
               "--checkpoint-every", "8", *extra)


def assert_same_checkpoints(a, b):
    a, b = minigan.load(a), minigan.load(b)
    assert a["step"] == b["step"] and a["batches"] == b["batches"]
    for part in ("G", "D", "opt_G", "opt_D", "G_ema"):
        assert a[part].keys() == b[part].keys()
        for key in a[part]:
            assert np.array_equal(a[part][key], b[part][key]), (part, key)


def test_run_writes_outputs_and_resumes_bit_identically(tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    log = train(straight, "--keep-every", "12")
    assert "D(G(z))" in log and "done at step 24" in log
    for name in ("samples.png", "samples_000012.png", "samples_000024.png", "losses.png",
                 "log.jsonl", "ckpt.npz"):
        assert (straight / name).stat().st_size > 0, name
    # --keep-every: the checkpoints of steps 12 and 24 kept beside the latest, and only those.
    assert sorted(p.name for p in straight.glob("ckpt_*.npz")) == ["ckpt_000012.npz",
                                                                    "ckpt_000024.npz"]
    assert minigan.load(straight / "ckpt_000012.npz")["step"] == 12
    assert_same_checkpoints(straight / "ckpt_000024.npz", straight / "ckpt.npz")
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


@pytest.mark.parametrize("arch", ["goodfellow2014", "dcgan_bn"])
def test_resume_is_bit_identical_with_dropout_and_batch_norm(tmp_path, arch):
    """Dropout masks (goodfellow2014's D) and batch-norm running statistics (dcgan_bn) must
    come back exactly after a resume too."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(straight, arch=arch, steps=4)
    train(resumed, arch=arch, steps=2)
    train(resumed, "--resume", arch=arch, steps=4)
    assert_same_checkpoints(straight / "ckpt.npz", resumed / "ckpt.npz")


@pytest.mark.parametrize("arch, batch, decay",
                         [("mlp", 64, 0.999), ("goodfellow2014", 100, 0.9999)])
def test_default_batch_size_rates_and_average_are_the_models(tmp_path, arch, batch, decay):
    log = run("mnist.py", "--arch", arch, "--steps", "1", "--out", str(tmp_path))
    assert f"1 steps of batch {batch}" in log
    ckpt, spec = minigan.load(tmp_path / "ckpt.npz"), models.SPECS[arch]
    assert ckpt["config"]["batch_size"] == batch
    assert ckpt["G_ema"]["decay"] == decay == spec.ema and ckpt["config"]["ema"] == decay
    assert ckpt["opt_G"]["hparams.lr"] == spec.optimizer["lr"]
    assert ckpt["opt_D"]["hparams.lr"] == spec.optimizer.get("lr_d", spec.optimizer["lr"])


def fails(*args):
    """Run examples/mnist.py expecting it to refuse; its error message."""
    proc = launch("mnist.py", *args)
    assert proc.returncode != 0
    return proc.stderr


def test_resume_refuses_other_settings(tmp_path):
    train(tmp_path, arch="dcgan_bn", steps=2)
    assert "other settings" in fails("--arch", "mlp", "--out", str(tmp_path), "--resume",
                                     "--steps", "4")


def test_resume_takes_the_runs_settings_from_the_checkpoint(tmp_path):
    """Only --out and --steps said again: the architecture, seed, batch, k and G's loss of the
    checkpoint's run, so it ends as the straight run does; the log's time runs on across it."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    settings = ("--arch", "dcgan_3x3", "--seed", "3", "--k", "2", "--saturating",
                "--batch-size", "8", "--checkpoint-every", "2", "--log-every", "1")
    run("mnist.py", *settings, "--out", str(straight), "--steps", "4")
    run("mnist.py", *settings, "--out", str(resumed), "--steps", "2")
    log = run("mnist.py", "--out", str(resumed), "--resume", "--steps", "4")
    assert "training dcgan_3x3" in log and "4 steps of batch 8" in log
    assert_same_checkpoints(straight / "ckpt.npz", resumed / "ckpt.npz")
    config = minigan.load(resumed / "ckpt.npz")["config"]
    assert (config["seed"], config["k"], config["saturating"]) == (3, 2, True)
    times = [json.loads(line)["time"] for line in open(resumed / "log.jsonl")]
    assert len(times) == 4 and times == sorted(times)
    # Said again and different: refused, naming the setting with both values.
    message = fails("--out", str(resumed), "--resume", "--steps", "5", "--seed", "4")
    assert "'seed': (3, 4)" in message
    assert "--log-every must be a positive number of steps, got 0" in fails(
        "--out", str(tmp_path / "none"), "--log-every", "0")
    # --no-saturating switches G's loss from here on, as --lr does the learning rate.
    run("mnist.py", "--out", str(resumed), "--resume", "--steps", "5", "--no-saturating")
    assert minigan.load(resumed / "ckpt.npz")["config"]["saturating"] is False


def test_pack_trains_a_packed_discriminator_and_resumes_only_packed(tmp_path):
    train(tmp_path, "--pack", "4", steps=2)
    ckpt = minigan.load(tmp_path / "ckpt.npz")
    assert ckpt["config"]["pack"] == 4
    assert ckpt["D"]["1.1.weight"].shape == (512, 4 * 784)       # Pack, then mlp's D
    train(tmp_path, "--pack", "4", "--resume", steps=3)
    train(tmp_path, "--resume", steps=4)                           # no --pack: the checkpoint's
    assert minigan.load(tmp_path / "ckpt.npz")["config"]["pack"] == 4
    assert "'pack': (4, 1)" in fails("--out", str(tmp_path), "--resume", "--steps", "5",
                                     "--pack", "1")
    assert "divisor of the batch size 16" in fails("--out", str(tmp_path / "odd"), "--pack", "3",
                                                    "--batch-size", "16")


def test_input_dropout_is_recorded_and_kept_on_resume(tmp_path):
    train(tmp_path, "--input-dropout", "0.2", steps=2)
    ckpt = minigan.load(tmp_path / "ckpt.npz")
    assert ckpt["config"]["input_dropout"] == 0.2
    assert "1.1.weight" in ckpt["D"]                               # Dropout, then mlp's D
    train(tmp_path, "--resume", steps=3)                           # no flag: the checkpoint's
    assert minigan.load(tmp_path / "ckpt.npz")["config"]["input_dropout"] == 0.2
    assert "'input_dropout': (0.2, 0.0)" in fails("--out", str(tmp_path), "--resume", "--steps",
                                                   "5", "--input-dropout", "0")
    assert "--input-dropout must lie in [0, 1), got 1.0" in fails(
        "--out", str(tmp_path / "all"), "--input-dropout", "1")


def test_checkpoints_from_before_pack_resume_unpacked(tmp_path):
    train(tmp_path, steps=2)
    path = tmp_path / "ckpt.npz"
    ckpt = minigan.load(path)
    del ckpt["config"]["pack"]
    minigan.save(path, **ckpt)
    assert "resumed from" in train(tmp_path, "--resume", steps=3)


def test_resume_takes_new_learning_rates_from_the_command_line(tmp_path):
    train(tmp_path, steps=2)
    log = train(tmp_path, "--resume", "--lr", "5e-5", "--lr-d", "2e-5", steps=3)
    assert "learning rates from the command line: G 5e-05, D 2e-05" in log
    ckpt = minigan.load(tmp_path / "ckpt.npz")
    assert ckpt["opt_G"]["hparams.lr"] == 5e-5 and ckpt["opt_D"]["hparams.lr"] == 2e-5
    assert ckpt["opt_G"]["hparams.betas"] == [0.5, 0.999]          # the rest as before
    train(tmp_path, "--resume", steps=4)                           # and kept on the next resume
    assert minigan.load(tmp_path / "ckpt.npz")["opt_G"]["hparams.lr"] == 5e-5


def test_resume_keeps_the_checkpoints_average_decay_unless_given(tmp_path):
    train(tmp_path, "--ema", "0.99", steps=2)
    train(tmp_path, "--resume", steps=3)                           # no --ema: the checkpoint's
    ckpt = minigan.load(tmp_path / "ckpt.npz")
    assert ckpt["G_ema"]["decay"] == 0.99 and ckpt["config"]["ema"] == 0.99
    log = train(tmp_path, "--resume", "--ema", "0.9", steps=4)
    assert "decay of the average from the command line: 0.9" in log
    ckpt = minigan.load(tmp_path / "ckpt.npz")
    assert ckpt["G_ema"]["decay"] == 0.9 and ckpt["G_ema"]["num_updates"] == 4


def test_label_smoothing_trains_d_differently_and_is_kept_on_resume(tmp_path):
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
    assert minigan.load(resumed / "ckpt.npz")["config"]["label_smoothing"] == 0.1
    assert "--label-smoothing must lie in [0, 1)" in fails("--out", str(tmp_path / "bad"),
                                                           "--label-smoothing", "1")


def test_checkpoint_holds_the_average_of_g_that_the_scripts_sample(tmp_path):
    """--ema (default: the model's, 0.999 for mlp) keeps G_ema in the checkpoint; sample.py draws
    from it unless told --no-average; --ema 0 keeps none, and sample.py then draws from G."""
    train(tmp_path / "avg", steps=3)
    ckpt = minigan.load(tmp_path / "avg" / "ckpt.npz")
    assert ckpt["G_ema"]["num_updates"] == 3 and ckpt["G_ema"]["decay"] == 0.999
    assert not np.array_equal(ckpt["G_ema"]["module.0.weight"], ckpt["G"]["0.weight"])
    drawn = {}
    for flag in ([], ["--no-average"]):
        out = tmp_path / f"s{len(flag)}.npy"
        run("sample.py", "--checkpoint", str(tmp_path / "avg" / "ckpt.npz"), "--n", "8",
            "--out", str(out), *flag)
        drawn[bool(flag)] = np.load(out, allow_pickle=False)
    assert np.abs(drawn[False] - drawn[True]).max() > 1e-3        # two different generators

    train(tmp_path / "plain", "--ema", "0", steps=3)
    assert "G_ema" not in minigan.load(tmp_path / "plain" / "ckpt.npz")
    run("sample.py", "--checkpoint", str(tmp_path / "plain" / "ckpt.npz"), "--n", "8",
        "--out", str(tmp_path / "plain.npy"))
    # Resumed, such a run stays without an average, unless --ema asks for one: that starts
    # from G where the run stands.
    train(tmp_path / "plain", "--resume", steps=4)
    assert "G_ema" not in minigan.load(tmp_path / "plain" / "ckpt.npz")
    log = train(tmp_path / "plain", "--resume", "--ema", "0.999", steps=6)
    assert "starts here, from G" in log
    assert minigan.load(tmp_path / "plain" / "ckpt.npz")["G_ema"]["num_updates"] == 2


def test_the_average_of_a_batch_norm_generator_has_statistics_of_its_own(tmp_path):
    """G's running statistics fit G's weights, not the lagging average's: the checkpoint's
    G_ema holds those of its own weights (models.recompute_batch_norm on the run's noise), not
    G's copied, while G keeps its own."""
    train(tmp_path, arch="dcgan_bn", steps=3)
    ckpt = minigan.load(tmp_path / "ckpt.npz")
    stats = [k.removeprefix("module.") for k in ckpt["G_ema"] if k.endswith("running_mean")]
    assert len(stats) == 2                                         # BatchNorm1d and BatchNorm2d
    for key in stats:
        assert not np.allclose(ckpt["G_ema"]["module." + key], ckpt["G"][key])
    G, _ = models.load_generator(ckpt)
    fitted = models.recompute_batch_norm("dcgan_bn", G, 16, generator=np.random.default_rng(7))
    assert fitted == 100
    state = G.state_dict()
    for key in stats:                  # other noise, the same population: close, not identical
        key_var = key.replace("mean", "var")
        np.testing.assert_allclose(state[key], ckpt["G_ema"]["module." + key], atol=0.05)
        var, saved = state[key_var], ckpt["G_ema"]["module." + key_var]
        assert np.median(np.abs(var / saved - 1)) < 0.05          # 1,600 samples a feature


def test_sample_script(tmp_path):
    train(tmp_path, arch="mlp", steps=2)
    out = run("sample.py", "--checkpoint", str(tmp_path / "ckpt.npz"), "--n", "70",
              "--batch-size", "32", "--out", str(tmp_path / "s.npy"),
              "--grid", str(tmp_path / "grid.png"))
    samples = np.load(tmp_path / "s.npy", allow_pickle=False)
    assert samples.shape == (70, 1, 28, 28) and samples.dtype == np.float32
    assert samples.min() >= -1 and samples.max() <= 1
    assert (tmp_path / "grid.png").stat().st_size > 0 and "wrote (70, 1, 28, 28)" in out
    # --truncation: the same G fed noise with every |z| <= 0.5; a bound must be positive.
    out = run("sample.py", "--checkpoint", str(tmp_path / "ckpt.npz"), "--n", "70",
              "--truncation", "0.5", "--out", str(tmp_path / "t.npy"))
    truncated = np.load(tmp_path / "t.npy", allow_pickle=False)
    assert truncated.shape == (70, 1, 28, 28) and "|z| <= 0.5" in out
    assert not np.array_equal(truncated, samples)
    bad = launch("sample.py", "--checkpoint", str(tmp_path / "ckpt.npz"), "--n", "2",
                 "--truncation", "0", "--out", str(tmp_path / "bad.npy"))
    assert bad.returncode == 2 and "positive bound" in bad.stderr
