"""The training-step benchmark runs, and counts the FLOPs that a step really computes.

No timing is asserted: timings depend on the machine and its load.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from minigan import gan, models, nn
from minigan.ops import linalg
from tests.helpers import load_example

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "train_step.py")

@pytest.fixture(scope="module")
def train_step_module():
    sys.path.insert(0, os.path.dirname(SCRIPT))
    try:
        import train_step
        yield train_step
    finally:
        sys.path.remove(os.path.dirname(SCRIPT))

def test_script_runs_one_tiny_configuration(tmp_path):
    """Every thread setting and competitor count is a table; each row's step ran in a child
    process of its own, and the thread count it reports is the one it was given."""
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, SCRIPT, "--models", "mlp_sigmoid", "--batch-sizes", "2",
         "--repeats", "2", "--threads", "1", "default", "--busy", "0", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "mlp_sigmoid" in done.stdout and "1 CPU-bound competitor" in done.stdout
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [(r["busy"], r["threads"]) for r in rows] == [(0, "1"), (0, "default"), (1, "1"),
                                                         (1, "default")]
    for row in rows:
        assert row["batch"] == 2 and row["gflop"] > 0 and row["minigan_steps"] == 2
        lo, hi = row["minigan_spread_ms"]
        assert 0 < lo <= row["minigan_ms"] <= hi
        assert row["minigan_gflops"] > 0 and row["minigan_matmul_gflops"] > 0
        assert row["minigan_mib"] is not None
        assert "torch_ms" not in row
    assert rows[0]["minigan_threads"] == 1
    assert 1 <= rows[1]["minigan_threads"] <= (os.cpu_count() or 1)


def test_competitors_end_with_their_block(train_step_module):
    common = sys.modules["common"]
    with common.Competitors(2) as busy:
        procs = list(busy.procs)
        assert len(procs) == 2 and all(p.poll() is None for p in procs)
    assert all(p.poll() is not None for p in procs)


def test_a_failing_child_names_its_error(train_step_module):
    common = sys.modules["common"]
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        common.Child([sys.executable, "-c", "1 / 0", "x"], dict(os.environ))


def test_compare_torch_runs_both_frameworks_in_their_own_processes(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, SCRIPT, "--models", "mlp_sigmoid", "--batch-sizes", "2",
         "--repeats", "1", "--threads", "1", "--compare", "torch", "--json", str(out)],
        capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(out.read_text())["rows"]
    assert row["torch_threads"] == 1 and row["torch_ms"] > 0 and row["ratio"] > 0
    assert row["torch_mib"] is not None
    # The twins start from the same weights on the same batch: the same first D loss.
    assert row["minigan_first_d_loss"] == pytest.approx(row["torch_first_d_loss"], rel=1e-5)


def test_cuda_without_a_gpu_is_a_clear_skip():
    from minigan import backend
    if backend.cuda_available():
        pytest.skip("a GPU is present")
    done = subprocess.run([sys.executable, SCRIPT, "--device", "cuda", "--models", "mlp"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and "skipped" in done.stdout

@pytest.mark.parametrize("pack", [1, 2])
def test_flop_count_is_what_a_train_step_computes(train_step_module, monkeypatch, pack):
    """Count the GEMMs the Linear op actually runs during one train_step (forward, and in
    backward only the gradients asked for) and compare with the formula from layer shapes;
    with a packed D too, whose layers sit one Sequential deeper."""
    N, name = 4, "mlp_sigmoid"
    counted = []
    forward, backward = linalg.Linear.forward, linalg.Linear.backward

    def counting_forward(ctx, x, w, b=None):
        counted.append(2 * x.shape[0] * w.size)
        return forward(ctx, x, w, b)

    def counting_backward(ctx, g):
        x, w = ctx.saved
        counted.append(2 * x.shape[0] * w.size * sum(ctx.needs_input_grad[:2]))
        return backward(ctx, g)

    monkeypatch.setattr(linalg.Linear, "forward", staticmethod(counting_forward))
    monkeypatch.setattr(linalg.Linear, "backward", staticmethod(counting_backward))
    packed = lambda: nn.Sequential(nn.Pack(pack), models.SPECS[name].discriminator(pack))  # noqa
    G, D = models.build(name, seed=0, discriminator=packed if pack != 1 else None)
    opt_G, opt_D = models.make_optimizers(name, G, D)
    real = models.sample_noise(name, N, 784).reshape(N, 1, 28, 28)
    z = models.sample_noise(name, N)
    g_layers = train_step_module.trace(G, z)
    d_layers = train_step_module.trace(D, real)
    counted.clear()
    gan.train_step(G, D, opt_G, opt_D, real, z)
    expected = train_step_module.step_flops(train_step_module.gemm_flops(g_layers),
                                            train_step_module.gemm_flops(d_layers))
    assert sum(counted) == expected


def test_spectrally_normalised_layers_count_as_the_layers_they_wrap(train_step_module):
    """The spectral_norm recipe's D is dcgan_bn's with each GEMM layer wrapped in
    nn.SpectralNorm (and no batch norm): the same products with the batch, so the same FLOPs."""
    x = models.sample_noise("dcgan_bn", 4, 784).reshape(4, 1, 28, 28)
    spectral = load_example("recipes/spectral_norm").discriminator("dcgan_bn")
    flops = {name: train_step_module.gemm_flops(train_step_module.trace(D, x)) for name, D in
             (("dcgan_bn", models.build("dcgan_bn", seed=0)[1]), ("spectral", spectral))}
    assert len(flops["spectral"]) == 3 and flops["spectral"] == flops["dcgan_bn"]


def test_same_padding_matches_keras(train_step_module):
    # 28 -> 14 with a 5x5 kernel at stride 2: 3 pixels of padding, the odd one at the end.
    assert train_step_module.same_pads(28, 5, 2) == (1, 2)
    assert train_step_module.same_pads(7, 5, 1) == (2, 2)


TORCH_TRAIN = os.path.join(ROOT, "benchmarks", "torch_train.py")
DATA = os.environ.get("MINIGAN_DATA")


def _has_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def test_torch_train_without_pytorch_is_a_clear_skip():
    if _has_torch():
        pytest.skip("PyTorch is installed")
    done = subprocess.run([sys.executable, TORCH_TRAIN, "--steps", "1"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "skipped" in done.stdout and "pip install torch" in done.stdout


@pytest.mark.skipif(not DATA, reason="MINIGAN_DATA (the MNIST directory) is not set")
def test_torch_train_writes_samples_and_a_log(tmp_path):
    pytest.importorskip("torch")
    done = subprocess.run(
        [sys.executable, TORCH_TRAIN, "--arch", "mlp_sigmoid", "--steps", "4", "--keep-every",
         "2", "--n", "30", "--log-every", "1", "--threads", "1", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    for step in (2, 4):
        x = np.load(tmp_path / f"samples_{step:06d}.npy", allow_pickle=False)
        assert x.shape == (30, 1, 28, 28) and x.dtype == np.float32
        assert 0 <= x.min() and x.max() <= 1                  # mlp_sigmoid's data range
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert all(np.isfinite(r["loss_d"]) and np.isfinite(r["loss_g"]) for r in records)


def test_torch_twin_starts_where_minigan_starts(train_step_module):
    """The twin has minigan's initial weights, so both frameworks' first D loss agree, and
    the optimisers have the model's rates, D's own where it differs (goodfellow2014)."""
    torch = pytest.importorskip("torch")
    name = "dcgan_bn"
    G, D = models.build(name, seed=0)
    z = models.sample_noise(name, 8, generator=np.random.default_rng(0))
    real = models.sample_noise(name, 8 * 784, 1, generator=np.random.default_rng(1))
    real = real.reshape(8, 1, 28, 28)
    tG, tD = train_step_module.torch_twin(G, z), train_step_module.torch_twin(D, real)
    opt_G, opt_D = models.make_optimizers(name, G, D)
    ours = float(gan.train_step(G, D, opt_G, opt_D, real, z).d_loss)
    topt_G, topt_D = train_step_module.torch_optimizers(name, tG, tD)
    theirs = float(train_step_module.torch_train_step(
        tG, tD, topt_G, topt_D, torch.from_numpy(real.numpy()), torch.from_numpy(z.numpy()))[0])
    assert ours == pytest.approx(theirs, rel=1e-5)
    G, D = models.build("goodfellow2014", seed=0)
    twins = train_step_module.torch_twin(G, z), train_step_module.torch_twin(D, G(z))
    topt_G, topt_D = train_step_module.torch_optimizers("goodfellow2014", *twins)
    settings = models.SPECS["goodfellow2014"].optimizer
    assert topt_G.param_groups[0]["lr"] == settings["lr"]
    assert topt_D.param_groups[0]["lr"] == settings["lr_d"]
    # --lr and --lr-d of torch_train.py, as make_optimizers takes them: a new lr sets both.
    for given, rates in (({"lr": 1e-3}, (1e-3, 1e-3)), ({"lr": 2e-4, "lr_d": 1e-4}, (2e-4, 1e-4))):
        topt_G, topt_D = train_step_module.torch_optimizers("goodfellow2014", *twins, **given)
        assert (topt_G.param_groups[0]["lr"], topt_D.param_groups[0]["lr"]) == rates
