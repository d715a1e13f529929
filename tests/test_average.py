"""Uniform averages of saved weights: minigan.averaging.average_state_dicts and examples/average.py.

The oracle is the mean written out in float64 NumPy. The script is run on checkpoints these
tests write themselves (no MNIST needed): what it averages, what it writes, what it refuses.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import minigan
from minigan import checkpoint, models, nn
from minigan.averaging import EMA, average_state_dicts
from tests.helpers import host, load_example

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def snapshots(n, device="cpu", seed=0):
    """State dicts of n EMAs of one small module, each at other random weights and statistics."""
    minigan.nn.init.manual_seed(seed)
    module = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    module = module.to(device)
    rng = np.random.default_rng(seed)
    out = []
    for t in range(n):
        for p in module.parameters():
            p.data[...] = minigan.backend.to_device(rng.normal(size=p.shape).astype(np.float32),
                                                    p.device)
        for b in module.buffers():
            if b.data.dtype.kind == "f":
                b.data[...] = minigan.backend.to_device(rng.uniform(0.5, 2, size=b.shape), b.device)
        ema = EMA(module, decay=0.0)
        ema.update()                                     # decay 0: the average is the module
        ema.num_updates = 1000 * (t + 1)
        out.append(ema.state_dict())
    return out


def test_every_array_is_the_mean_and_the_rest_the_last_snapshots(device):
    sds = snapshots(4, device)
    avg = average_state_dicts(sds)
    assert avg.keys() == sds[0].keys()
    assert avg["num_updates"] == 4000 and avg["decay"] == 0.0       # the last one's
    arrays = [k for k in avg if k.startswith("module.")]
    assert any("running_mean" in k for k in arrays)                  # buffers are averaged too
    for key in arrays:
        expected = np.mean([host(sd[key]).astype(np.float64) for sd in sds], axis=0)
        assert avg[key].dtype == sds[0][key].dtype
        np.testing.assert_allclose(host(avg[key]), expected, rtol=1e-6, atol=1e-7)
        assert type(avg[key]) is type(sds[0][key])                   # stays on its device


def test_one_snapshot_or_identical_ones_average_to_themselves():
    sd = snapshots(1)[0]
    for group in ([sd], [sd, sd, sd]):
        avg = average_state_dicts(group)
        for key, value in sd.items():
            assert np.array_equal(avg[key], value)
    assert avg["module.0.weight"] is not sd["module.0.weight"]       # a new array, not a view


def test_the_average_loads_into_the_module_it_came_from():
    sds = snapshots(3)
    minigan.nn.init.manual_seed(0)
    module = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    ema = EMA(module)
    ema.load_state_dict(average_state_dicts(sds))
    assert np.allclose(host(ema.module[0].weight), np.mean([sd["module.0.weight"] for sd in sds],
                                                           axis=0))


def test_mismatched_snapshots_are_refused_by_name():
    a, b = snapshots(2)
    with pytest.raises(ValueError, match="no state dicts"):
        average_state_dicts([])
    b_extra = {**b, "module.9.weight": np.zeros(2, np.float32)}
    with pytest.raises(ValueError, match=r"state dict 1 has other keys.*module\.9\.weight"):
        average_state_dicts([a, b_extra])
    b_wide = {**b, "module.0.weight": np.zeros((5, 3), np.float32)}
    with pytest.raises(ValueError, match=r"'module\.0\.weight' has shapes \[\(4, 3\), \(5, 3\)\]"):
        average_state_dicts([a, b_wide])


# --- examples/average.py ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def average():
    return load_example("average")


def write_run(directory, steps, seed=0, ema=True, arch="mlp", num_classes=None):
    """Checkpoints of a pretend run, as a run that keeps them writes them (recipes/swa.py)."""
    os.makedirs(directory, exist_ok=True)
    config = {"arch": arch, "latent_dim": 8, "seed": seed, "recipe": "swa", "ema": 0.999,
              "num_classes": num_classes}
    rng = np.random.default_rng(seed)
    for step in steps:
        G, _ = models.build(arch, 8, seed=seed, num_classes=num_classes)
        for p in G.parameters():
            p.data[...] = rng.normal(size=p.shape).astype(np.float32)
        for b in G.buffers():                                          # batch norm statistics
            if b.data.dtype.kind == "f":
                b.data[...] = rng.uniform(0.5, 2, size=b.shape)
        parts = {"G": G}
        if ema:
            average = EMA(G, decay=0.0)
            for p in average.module.parameters():                      # unlike G's own
                p.data[...] = rng.normal(size=p.shape).astype(np.float32)
            parts["G_ema"] = average
        minigan.save(os.path.join(directory, f"ckpt_{step:06d}.npz"), step=step, config=config,
                     **parts)


def test_averages_the_kept_checkpoints_of_a_window(average, tmp_path):
    run = tmp_path / "run"
    write_run(run, [1000, 2000, 3000, 4000])
    out = tmp_path / "new" / "avg.npz"                              # its directory is made
    average.main(["--run", str(run), "--from", "2000", "--to", "3000", "--out", str(out)])
    ckpts = [minigan.load(run / f"ckpt_{s:06d}.npz") for s in (2000, 3000)]
    avg = minigan.load(out)
    assert avg["averaged_steps"] == [2000, 3000] and avg["step"] == 3000
    assert avg["config"] == ckpts[-1]["config"] and "D" not in avg
    for part in ("G", "G_ema"):
        for key, value in avg[part].items():
            if isinstance(value, np.ndarray):
                assert np.allclose(value, (ckpts[0][part][key] + ckpts[1][part][key]) / 2)
    # What evaluate.py and sample.py load: the averaged G_ema, or with --no-average the G's.
    for use_average, part in ((None, "G_ema"), (False, "G")):
        G, info = checkpoint.load_generator(out, average=use_average)
        prefix = "module." if part == "G_ema" else ""
        for name, value in G.state_dict().items():
            assert np.array_equal(value, avg[part][prefix + name]), (part, name)
        assert info["step"] == 3000 and info["average"] == (part == "G_ema")
        assert info["averaged_steps"] == [2000, 3000]
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "sample.py"),
                           "--checkpoint", str(out), "--n", "8", "--out", str(tmp_path / "s.npy"),
                           "--grid", str(tmp_path / "s.png")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "(steps 2000-3000 averaged)" in proc.stdout and os.path.exists(tmp_path / "s.png")
    # Named checkpoints, in any order: the same average.
    named = tmp_path / "named.npz"
    average.main([str(run / "ckpt_003000.npz"), str(run / "ckpt_002000.npz"), "--out", str(named)])
    assert np.array_equal(minigan.load(named)["G_ema"]["module.0.weight"],
                          avg["G_ema"]["module.0.weight"])


def test_batch_norm_statistics_are_the_averaged_weights_own(average, tmp_path):
    """A mean of the snapshots' running statistics does not fit the averaged weights: the script
    recomputes them from noise (models.recompute_batch_norm, with its fixed seed) for G_ema and
    G alike, and keeps the averaged weights as they are."""
    write_run(tmp_path / "bn", [1000, 2000], arch="dcgan_bn")
    out = tmp_path / "avg.npz"
    log = average.main(["--run", str(tmp_path / "bn"), "--out", str(out)])
    assert log == str(out)
    ckpts = [minigan.load(tmp_path / "bn" / f"ckpt_{s:06d}.npz") for s in (1000, 2000)]
    avg = minigan.load(out)
    for part, prefix in (("G", ""), ("G_ema", "module.")):
        weights = {k: (ckpts[0][part][k] + ckpts[1][part][k]) / 2 for k in avg[part]
                   if k.endswith(("weight", "bias"))}
        for key, value in weights.items():
            np.testing.assert_allclose(avg[part][key], value, rtol=1e-6)
        G, _ = models.build("dcgan_bn", 8)
        G.load_state_dict({k.removeprefix(prefix): v for k, v in avg[part].items()
                           if k.startswith(prefix) and k.removeprefix(prefix) in G.state_dict()})
        assert models.recompute_batch_norm("dcgan_bn", G, 64, 8,
                                           minigan.backend.rng(average.BN_SEED)) == 100
        for name, value in G.state_dict().items():
            if "running" in name:
                assert np.array_equal(avg[part][prefix + name], value), (part, name)
                snapshot_mean = (ckpts[0][part][prefix + name] + ckpts[1][part][prefix + name]) / 2
                assert not np.allclose(value, snapshot_mean)


def test_a_conditional_run_is_averaged_into_a_conditional_g(average, tmp_path):
    """Its networks are rebuilt with the classes (and a batch norm G's statistics recomputed
    with every class asked for: tests/test_conditional.py)."""
    write_run(tmp_path / "cond", [1000, 2000], num_classes=10)
    out = average.main(["--run", str(tmp_path / "cond"), "--out", str(tmp_path / "avg.npz")])
    G, info = checkpoint.load_generator(out, conditional=True)
    assert info["num_classes"] == 10 and info["averaged_steps"] == [1000, 2000]
    write_run(tmp_path / "plain", [3000])
    with pytest.raises(SystemExit, match=r"different runs: \{'num_classes': \(10, None\)\}"):
        average.main([str(tmp_path / "cond" / "ckpt_001000.npz"),
                      str(tmp_path / "plain" / "ckpt_003000.npz"), "--out", str(out)])


def test_a_run_without_an_average_gets_its_gs_averaged(average, tmp_path):
    write_run(tmp_path / "plain", [1000, 2000], ema=False)
    out = average.main(["--run", str(tmp_path / "plain"), "--out", str(tmp_path / "avg.npz")])
    assert "G_ema" not in minigan.load(out)
    assert checkpoint.load_generator(out)[1]["average"] is False


def test_refuses_other_runs_mixtures_and_empty_windows(average, tmp_path, capsys):
    write_run(tmp_path / "a", [1000, 2000])
    write_run(tmp_path / "b", [3000], seed=1)
    write_run(tmp_path / "c", [4000], ema=False)
    out = str(tmp_path / "avg.npz")
    ckpt = lambda run, step: str(tmp_path / run / f"ckpt_{step:06d}.npz")  # noqa: E731
    with pytest.raises(SystemExit, match=r"different runs: \{'seed': \(0, 1\)\}"):
        average.main([ckpt("a", 1000), ckpt("b", 3000), "--out", out])
    with pytest.raises(SystemExit, match="some checkpoints have a moving average"):
        average.main([ckpt("a", 1000), ckpt("c", 4000), "--out", out])
    with pytest.raises(SystemExit, match="share a step"):
        average.main([ckpt("a", 1000), ckpt("a", 1000), "--out", out])
    with pytest.raises(SystemExit, match="no ckpt_<step>.npz"):
        average.main(["--run", str(tmp_path / "a"), "--from", "5000", "--out", out])
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    with pytest.raises(SystemExit, match="broken.npz"):
        average.main([str(broken), "--out", out])
    with pytest.raises(SystemExit, match="no checkpoint at .*missing.npz"):
        average.main([str(tmp_path / "missing.npz"), "--out", out])
    with pytest.raises(SystemExit, match="--run .*nowhere: no such directory"):
        average.main(["--run", str(tmp_path / "nowhere"), "--out", out])
    assert not os.path.exists(out)                                  # nothing half written
    run_a = str(tmp_path / "a")
    for argv, message in ((["--run", run_a, "--from", "3000", "--to", "1000", "--out", out],
                           "--to 1000 comes before --from 3000"),
                          (["--run", run_a, "--from", "-5", "--out", out], "at least 0"),
                          (["--run", run_a], "--out"),
                          ([ckpt("a", 1000), "--out", str(tmp_path)], "must be an .npz")):
        with pytest.raises(SystemExit) as stop:                    # argparse's one line
            average.main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
