"""The learning examples run.

  * examples/toy2d.py trains for a few steps and writes its frames, its GIF and its mode lines;
  * examples/gradcheck_tour.py passes every row of its table and catches its planted bug.

The documentation's links are checked by tests/test_docs.py.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_example(script, *args, timeout=120):
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return proc


# --- examples/toy2d.py -------------------------------------------------------------------------

def test_toy2d_writes_frames_gif_and_mode_lines(tmp_path):
    from PIL import Image

    proc = run_example("toy2d.py", "--steps", 20, "--frames", 3, "--eval-samples", 500,
                       "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    frames = sorted(p.name for p in tmp_path.glob("frame_*.png"))
    assert frames == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    with Image.open(tmp_path / "toy2d.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == 3
    lines = re.findall(r"^step +(\d+) +modes covered: (\d+)/8", proc.stdout, re.M)
    assert [int(s) for s, _ in lines] == [0, 10, 20]
    assert all(0 <= int(c) <= 8 for _, c in lines)
    assert re.search(r"^final: modes covered: \d+/8 \(best \d+/8\), high-quality samples "
                     r"[\d.]+%$", proc.stdout, re.M), proc.stdout


def test_toy2d_flags_grid_saturating_k(tmp_path):
    proc = run_example("toy2d.py", "--data", "grid", "--saturating", "--k", 2, "--steps", 4,
                       "--frames", 2, "--eval-samples", 200, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "frame_0001.png").exists() and (tmp_path / "toy2d.gif").exists()
    assert re.search(r"^final: modes covered: \d+/25", proc.stdout, re.M), proc.stdout


@pytest.mark.parametrize("flags", [("--loss", "lsgan"), ("--loss", "hinge", "--spectral-norm"),
                                   ("--loss", "wasserstein")])
def test_toy2d_each_loss_of_the_family(tmp_path, flags):
    proc = run_example("toy2d.py", *flags, "--steps", 3, "--frames", 2, "--eval-samples", 200,
                       "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "frame_0001.png").exists() and (tmp_path / "toy2d.gif").exists()
    assert re.search(r"^step +3 +modes covered: \d/8.* L_D \S+ +L_G \S+ +D\(x\) \S+",
                     proc.stdout, re.M), proc.stdout


def test_toy2d_refuses_saturating_outside_the_original_loss(tmp_path):
    proc = run_example("toy2d.py", "--loss", "hinge", "--saturating", "--out", tmp_path)
    assert proc.returncode == 2 and "--loss hinge has none" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_toy2d_rejects_a_single_frame(tmp_path):
    proc = run_example("toy2d.py", "--frames", 1, "--out", tmp_path)
    assert proc.returncode != 0 and "--frames must be at least 2" in proc.stderr


# --- examples/gradcheck_tour.py ----------------------------------------------------------------

def test_gradcheck_tour_every_row_passes_and_the_planted_bug_is_caught():
    proc = run_example("gradcheck_tour.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    table = proc.stdout.split("-" * 90)[1]            # the rows between the two rules
    rows = table.strip().splitlines()
    assert len(rows) >= 50, table
    for row in rows:
        name, abs_err, rel_err, verdict = re.match(r"(.+?)\s+(\S+)\s+(\S+)\s+(PASS|FAIL)$",
                                                   row).groups()
        assert verdict == "PASS", row
        assert float(abs_err) < 1e-6 and float(rel_err) < 1e-6, row  # float64: ~1e-10
    for op in ("conv_transpose2d stride 2, padding 'same'", "batch_norm, eval", "dropout",
               "gan.generator_loss, saturating", "nn.BatchNorm2d(3), training", "maxout"):
        assert op in table, op
    bug = proc.stdout.split("A planted bug")[1]
    assert re.search(r"BadMatMul .*FAIL", bug)
    assert "minigan.gradcheck raises GradcheckError:" in bug
    assert "entries disagree" in bug and "max abs error" in bug
    assert bug.rstrip().endswith("planted bug caught: yes")
