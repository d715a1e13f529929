"""Every ```python block in README.md and docs/**/*.md runs, so the documentation cannot rot.

How blocks are run:
  * the blocks of one Markdown file run in order, in one shared namespace (a later block may use
    names an earlier one defined), as one test per file;
  * in a fresh temporary working directory, so files a block writes vanish afterwards;
  * with matplotlib's non-interactive backend "Agg" (figures are drawn, never shown);
  * with the network switched off: a block that opens a socket fails.

Printed output is checked too: a ```text block right after a ```python block (with nothing
between them but blank lines or one short line of prose such as "prints") is that block's
expected standard output. Trailing spaces are ignored, and a line holding only "..." stands for
any number of lines.

Markers (the fence's info string):
  ```python           run
  ```python no-run    shown, not run (for a block that needs data, a GPU or a long time)
  ```text, ```bash, ```pycon ...   not Python blocks: never run (use ```text for output)
"""

import contextlib
import io
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NO_RUN = "no-run"


def markdown_files():
    files = [ROOT / "README.md"] if (ROOT / "README.md").exists() else []
    files += sorted((ROOT / "docs").rglob("*.md")) if (ROOT / "docs").is_dir() else []
    return files


def python_blocks(text, name="<markdown>"):
    """The runnable ```python blocks of a Markdown text as ``(first line number, source)``.

    Blocks marked ``no-run`` and blocks in other languages are left out. An unclosed fence is an
    error (it would silently swallow the rest of the page).
    """
    return [(line, source) for line, source, _ in python_blocks_with_output(text, name)]


def python_blocks_with_output(text, name="<markdown>"):
    """Like :func:`python_blocks`, with each block's expected output (or None) as a third item."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped.startswith("```"):
            i += 1
            continue
        fence = stripped[:len(stripped) - len(stripped.lstrip("`"))]
        info = stripped[len(fence):].split()
        indent = len(lines[i]) - len(lines[i].lstrip())
        start, i = i + 1, i + 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            i += 1
        if i == len(lines):
            raise ValueError(f"{name}:{start}: code fence {fence}{' '.join(info)} is never closed")
        if info[:1] == ["python"] and NO_RUN not in info[1:]:
            # A fence indented inside a list item: strip that indentation from the body.
            body = "\n".join(line[indent:] if not line[:indent].strip() else line.lstrip()
                             for line in lines[start:i])
            blocks.append((start + 1, body, _expected_output(lines, i + 1)))
        i += 1
    return blocks


def _expected_output(lines, i):
    """The body of a ```text fence starting at or just after line ``i`` (see the module doc)."""
    prose = 0
    while i < len(lines) and not lines[i].strip().startswith("```"):
        if lines[i].strip():
            prose += 1
            if prose > 1 or len(lines[i].split()) > 3:
                return None
        i += 1
    if i == len(lines) or lines[i].strip() != "```text":
        return None
    end = i + 1
    while end < len(lines) and lines[end].strip() != "```":
        end += 1
    return "\n".join(lines[i + 1:end])


def output_matches(printed, expected):
    """True when ``printed`` is ``expected``, where a "..." line in expected matches any lines."""
    got = [line.rstrip() for line in printed.rstrip().splitlines()]
    want = [line.rstrip() for line in expected.rstrip().splitlines()]
    if "..." not in want:
        return got == want
    pieces, k = [], []
    for line in want + ["..."]:
        if line == "...":
            pieces.append(k)
            k = []
        else:
            k.append(line)
    if got[:len(pieces[0])] != pieces[0]:
        return False
    at = len(pieces[0])
    for piece in pieces[1:]:
        while at <= len(got) - len(piece) and got[at:at + len(piece)] != piece:
            at += 1
        if at > len(got) - len(piece):
            return False
        at += len(piece)
    return not pieces[-1] or at == len(got)


def _label(path):
    return str(path.relative_to(ROOT))


FILES = markdown_files()


@pytest.mark.parametrize(
    "path", FILES or [pytest.param(None, marks=pytest.mark.skip(reason="no Markdown files yet"))],
    ids=[_label(p) for p in FILES] or ["none"])
def test_markdown_python_blocks_run(path, tmp_path, monkeypatch):
    blocks = python_blocks_with_output(path.read_text(encoding="utf-8"), _label(path))
    if not blocks:
        pytest.skip(f"{_label(path)} has no ```python blocks")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def no_network(*args, **kwargs):
        raise RuntimeError("documentation blocks must not use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    try:
        for line, source, expected in blocks:
            # The file name and line in tracebacks point at the block in the Markdown source.
            code = compile("\n" * (line - 1) + source, str(path), "exec")
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(code, namespace)  # noqa: S102 - running the documentation is the point
            if expected is not None:
                assert output_matches(printed.getvalue(), expected), (
                    f"{_label(path)}:{line}: the block printed\n{printed.getvalue()}\n"
                    f"but the page shows\n{expected}")
    finally:
        plt.close("all")


def test_block_parser():
    text = "\n".join([
        "Intro", "```python", "a = 1", "```", "```text", "not python", "```",
        "```python no-run", "download()", "```", "- item", "  ```python", "  b = a + 1",
        "  ```", "````python", "c = '```'", "````", "```python", "class A:", "    d = 1", "```",
    ])
    assert python_blocks(text) == [(3, "a = 1"), (13, "b = a + 1"), (16, "c = '```'"),
                                   (19, "class A:\n    d = 1")]
    with pytest.raises(ValueError, match="never closed"):
        python_blocks("```python\nx = 1\n", "page.md")


def test_expected_output_parser():
    text = "\n".join(["```python", "print(1)", "```", "prints", "", "```text", "1", "```",
                      "```python", "x = 2", "```", "A longer paragraph of prose here.",
                      "```text", "not output", "```"])
    assert [b[2] for b in python_blocks_with_output(text)] == ["1", None]
    assert output_matches("a\nb\nc\nd\n", "a\n...\nd")
    assert output_matches("a  \nb\n", "a\nb")
    assert not output_matches("a\nb\n", "a\nc")
    assert not output_matches("a\nb\n", "a\n...\nc")
