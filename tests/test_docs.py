"""Every ```python block in README.md and docs/**/*.md runs, and every relative link in them
leads somewhere, so the documentation cannot rot.

How blocks are run:
  * the blocks of one Markdown file run in order, in one shared namespace (a later block may use
    names an earlier one defined), as one test per file;
  * in a fresh temporary working directory, so files a block writes vanish afterwards;
  * with matplotlib's non-interactive backend "Agg" (figures are drawn, never shown);
  * with the network switched off: a block that opens a socket fails;
  * with ``MINIGAN_STEPS=20`` in the environment: a program that trains reads how many steps from
    it (``int(os.environ.get("MINIGAN_STEPS", ...))``), and says so, so that its test is quick;
  * with ``MINIGAN_DATA`` made absolute (blocks run in another directory). A page whose blocks
    read MNIST marks them ``mnist``, and is skipped where ``MINIGAN_DATA`` is not set.

Printed output is checked too: a ```text block right after a ```python block (with nothing
between them but blank lines or one short line of prose such as "prints") is that block's
expected standard output. Trailing spaces are ignored, and a line holding only "..." stands for
any number of lines.

Links: a relative link ``[text](path)`` must name a file or folder that exists, and one with
``#anchor`` into a Markdown file must name one of its headings, slugged as GitHub does
(lower case, punctuation dropped, spaces to hyphens, a repeated heading gets ``-1``, ``-2``...).
Links inside code blocks and code spans are not links.

Markers (the fence's info string):
  ```python           run
  ```python no-run    shown, not run (for a block that needs a GPU or a long time)
  ```python mnist     run where MINIGAN_DATA names the MNIST files; the page is skipped elsewhere
  ```text, ```bash, ```pycon ...   not Python blocks: never run (use ```text for output)
"""

import contextlib
import io
import os
import re
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NO_RUN = "no-run"
MNIST = "mnist"
DOC_STEPS = "20"


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


def needs_mnist(text):
    """Whether any ```python block of a Markdown text is marked ``mnist``."""
    return any(line.strip().startswith("```python") and MNIST in line.split()[1:]
               for line in text.splitlines())


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
    text = path.read_text(encoding="utf-8")
    blocks = python_blocks_with_output(text, _label(path))
    if not blocks:
        pytest.skip(f"{_label(path)} has no ```python blocks")
    if needs_mnist(text):
        if not os.environ.get("MINIGAN_DATA"):
            pytest.skip(f"{_label(path)} reads MNIST and MINIGAN_DATA is not set")
        monkeypatch.setenv("MINIGAN_DATA", os.path.abspath(os.environ["MINIGAN_DATA"]))
    monkeypatch.setenv("MINIGAN_STEPS", DOC_STEPS)
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
    assert not needs_mnist(text) and needs_mnist("```python mnist\nx = 1\n```")
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


# --- links --------------------------------------------------------------------------------------
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")        # [text](target) and ![alt](target)


def prose_lines(text, code_spans=False, raw=False):
    """``(line number, line)`` of the text outside fenced blocks, code spans blanked out unless
    ``code_spans`` (then only their backticks are dropped) or ``raw`` (the line as it is)."""
    out, fence = [], None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if fence is None and stripped.startswith("```"):
            fence = stripped[:len(stripped) - len(stripped.lstrip("`"))]
        elif fence is not None and stripped.startswith(fence):
            fence = None
        elif fence is None:
            out.append((number, line if raw else line.replace("`", "") if code_spans
                         else re.sub(r"`[^`]*`", "``", line)))
    return out


def slug(heading):
    """GitHub's anchor for a heading: lower case, only letters, digits, '-', '_' and spaces
    kept, then each space a hyphen."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text):
    """Every heading anchor of a Markdown text, with GitHub's -1, -2 suffixes for repeats."""
    seen, out = {}, set()
    for _, line in prose_lines(text, code_spans=True):
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            out.add(base if count == 0 else f"{base}-{count}")
            seen[base] = count + 1
    return out


def broken_links(path, root=ROOT):
    """The relative links of one Markdown file that lead nowhere, as messages."""
    bad, label = [], str(path.relative_to(root))
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):             # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            where = (path.parent / file_part).resolve() if file_part else path
            if not where.exists():
                bad.append(f"{label}:{number}: {target} (no such file)")
            elif anchor and where.suffix == ".md" and \
                    anchor not in anchors(where.read_text(encoding="utf-8")):
                bad.append(f"{label}:{number}: {target} (no such heading)")
    return bad


@pytest.mark.parametrize(
    "path", FILES or [pytest.param(None, marks=pytest.mark.skip(reason="no Markdown files yet"))],
    ids=[_label(p) for p in FILES] or ["none"])
def test_markdown_links_lead_somewhere(path):
    assert broken_links(path) == []


def test_link_checker(tmp_path):
    (tmp_path / "a.md").write_text("\n".join([
        "# Title", "## 1. Parzen (Goodfellow et al., 2014)", "## Packing (`--pack`)", "## Title",
        "[ok](b.md#fréchet-distance) [ok](#1-parzen-goodfellow-et-al-2014) [ok](#title-1)",
        "[ok](#packing---pack) [ok](https://example.org/x#y) `[code](nowhere.md)`",
        "[bad](missing.md) [bad](b.md#nowhere) [bad](#title-2)",
        "```", "[code](nowhere.md)", "# not a heading", "```", "[bad](#not-a-heading)"]),
        encoding="utf-8")
    (tmp_path / "b.md").write_text("## Fréchet distance\n", encoding="utf-8")
    assert broken_links(tmp_path / "a.md", root=tmp_path) == [
        "a.md:7: missing.md (no such file)", "a.md:7: b.md#nowhere (no such heading)",
        "a.md:7: #title-2 (no such heading)", "a.md:12: #not-a-heading (no such heading)"]


# --- the tests a page names exist ----------------------------------------------------------


def missing_tests(path, tests_dir=ROOT / "tests"):
    """The ``test_...`` names in backticks on a page that no test module defines (a test
    function, or a test module by its file name)."""
    defined = set()
    for module in tests_dir.glob("*.py"):
        defined.add(module.stem)
        defined |= set(re.findall(r"^\s*def (test_\w+)", module.read_text(encoding="utf-8"),
                                  re.M))
    named = re.findall(r"`(test_\w+)", path.read_text(encoding="utf-8"))
    return sorted(set(named) - defined)


@pytest.mark.parametrize(
    "path", FILES or [pytest.param(None, marks=pytest.mark.skip(reason="no Markdown files yet"))],
    ids=[_label(p) for p in FILES] or ["none"])
def test_the_tests_a_page_names_exist(path):
    """A derivation page names the tests that prove it; a renamed test must not leave it lying."""
    assert missing_tests(path) == []


def test_missing_tests_are_found(tmp_path):
    (tmp_path / "test_a.py").write_text("def test_there():\n    pass\n", encoding="utf-8")
    (tmp_path / "page.md").write_text("`test_there`, `test_a.py`, `test_gone` and `test_a`.\n",
                                      encoding="utf-8")
    assert missing_tests(tmp_path / "page.md", tests_dir=tmp_path) == ["test_gone"]
