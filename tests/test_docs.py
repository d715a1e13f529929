"""Every ```python block in README.md and docs/**/*.md runs, so the documentation cannot rot.

How blocks are run:
  * the blocks of one Markdown file run in order, in one shared namespace (a later block may use
    names an earlier one defined), as one test per file;
  * in a fresh temporary working directory, so files a block writes vanish afterwards;
  * with matplotlib's non-interactive backend "Agg" (figures are drawn, never shown);
  * with the network switched off: a block that opens a socket fails.

Markers (the fence's info string):
  ```python           run
  ```python no-run    shown, not run (for a block that needs data, a GPU or a long time)
  ```text, ```bash, ```pycon ...   not Python blocks: never run (use ```text for output)
"""

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
            blocks.append((start + 1, body))
        i += 1
    return blocks


def _label(path):
    return str(path.relative_to(ROOT))


FILES = markdown_files()


@pytest.mark.parametrize(
    "path", FILES or [pytest.param(None, marks=pytest.mark.skip(reason="no Markdown files yet"))],
    ids=[_label(p) for p in FILES] or ["none"])
def test_markdown_python_blocks_run(path, tmp_path, monkeypatch):
    blocks = python_blocks(path.read_text(encoding="utf-8"), _label(path))
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
        for line, source in blocks:
            # The file name and line in tracebacks point at the block in the Markdown source.
            code = compile("\n" * (line - 1) + source, str(path), "exec")
            exec(code, namespace)  # noqa: S102 - running the documentation is the point
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
