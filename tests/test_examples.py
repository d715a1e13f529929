"""The learning examples run, and every relative link in the documentation points at a file.

  * examples/toy2d.py trains for a few steps and writes its frames, its GIF and its mode lines;
  * examples/gradcheck_tour.py passes every row of its table and catches its planted bug;
  * every relative link and image in README.md and docs/**/*.md names an existing file (anchors
    are not checked), so the reading path in docs/index.md cannot silently break.
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


# --- links in the documentation ------------------------------------------------------------------

LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def relative_links(text):
    """``(line number, target)`` of every inline link or image whose target is a relative path.

    Links inside fenced code blocks and inline code are not links. URLs with a scheme
    (https:, mailto:) and pure anchors (#section) are skipped.
    """
    found, in_fence = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        for target in LINK.findall(line):
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
                continue
            found.append((number, target))
    return found


def broken_links(path, root=ROOT):
    """The relative links of a Markdown file that name no existing file or folder."""
    broken = []
    for number, target in relative_links(path.read_text(encoding="utf-8")):
        file_part = target.split("#", 1)[0]
        if not (path.parent / file_part).exists():
            broken.append(f"{path.relative_to(root)}:{number}: {target}")
    return broken


MARKDOWN = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))


@pytest.mark.parametrize("path", MARKDOWN, ids=[str(p.relative_to(ROOT)) for p in MARKDOWN])
def test_every_relative_link_points_to_a_file(path):
    broken = broken_links(path)
    assert not broken, "links to missing files:\n" + "\n".join(broken)


def test_link_finder(tmp_path):
    text = "\n".join([
        "See [the engine](autograd.md#1-the-graph) and ![fig](figures/a.png \"title\").",
        "Not links: `[x](nope.md)`, [web](https://example.com), [top](#top).",
        "```python", "print('[a](inside_code.md)')", "```",
        "[missing](derivations/nowhere.md) and [dir](derivations/)",
    ])
    assert relative_links(text) == [(1, "autograd.md#1-the-graph"), (1, "figures/a.png"),
                                    (6, "derivations/nowhere.md"), (6, "derivations/")]
    (tmp_path / "derivations").mkdir()
    (tmp_path / "autograd.md").write_text("")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(b"")
    page = tmp_path / "page.md"
    page.write_text(text)
    assert broken_links(page, root=tmp_path) == ["page.md:6: derivations/nowhere.md"]
