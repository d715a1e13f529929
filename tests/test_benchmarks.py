"""The training-step benchmark runs, and counts the FLOPs that a step really computes.

No timing is asserted: timings depend on the machine and its load.
"""

import json
import os
import subprocess
import sys

import pytest

from minigan import gan, models
from minigan.ops import linalg

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
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, SCRIPT, "--models", "mlp_sigmoid", "--batch-sizes", "2",
         "--repeats", "1", "--threads", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "mlp_sigmoid" in done.stdout
    result = json.loads(out.read_text())
    (row,) = result["rows"]
    assert result["threads"] == 1 and row["batch"] == 2
    assert row["minigan_ms"] > 0 and row["matmul_gflops"] > 0 and row["gflop"] > 0
    assert row["ema_ms"] > 0
    assert row["minigan_mib"] is not None  # the peak-memory subprocess ran

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
    G, D = models.build(name, seed=0, pack=pack)
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

def test_same_padding_matches_keras(train_step_module):
    # 28 -> 14 with a 5x5 kernel at stride 2: 3 pixels of padding, the odd one at the end.
    assert train_step_module.same_pads(28, 5, 2) == (1, 2)
    assert train_step_module.same_pads(7, 5, 1) == (2, 2)
