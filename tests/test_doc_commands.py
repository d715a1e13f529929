"""Every command the documentation shows is one its script accepts.

The runs in README.md and docs/ train for minutes or hours, so the tests cannot run them; they
can check that each ``python examples/X.py ...`` (or ``benchmarks/``) command still parses with
that script's own argparse parser, so that a renamed or removed flag cannot leave a stale
command behind. Each script is run up to its ``parse_args`` call and stopped there. The commands
are those of the Markdown files' ```bash blocks, their inline code spans that start with
``python examples/`` or ``python benchmarks/`` (the results table's, say), and the command
lines of the example scripts' and recipes' own docstrings. Continued lines (``\\``) are joined
and ``# comments`` dropped; ``[--flag value]`` marks an optional part, and both forms are checked.
"""

import argparse
import ast
import contextlib
import io
import os
import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest

from tests.test_docs import prose_lines

ROOT = Path(__file__).resolve().parent.parent
SCRIPT_DIRS = ("examples", "benchmarks")


def bash_commands(text):
    """``(line number, argv)`` of each command in the ```bash blocks of a Markdown text."""
    commands, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].strip() != "```bash":
            i += 1
            continue
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            start, line = i + 1, lines[i]
            while line.rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line.rstrip()[:-1] + " " + lines[i].strip()
            for variant in _optional_variants(line):
                argv = shlex.split(variant, comments=True)
                if argv:
                    commands.append((start, argv))
            i += 1
        i += 1
    return commands


def _optional_variants(line):
    """The line without its ``[...]`` parts and with them, brackets removed."""
    if not re.search(r"\[[^\]]*\]", line):
        return [line]
    return [re.sub(r"\s*\[[^\]]*\]", "", line), re.sub(r"\[([^\]]*)\]", r"\1", line)]


def script_commands(argv):
    """``(script path, its arguments)`` where ``argv`` runs one of minigan's scripts, else None."""
    if len(argv) < 2 or argv[0] not in ("python", "python3"):
        return None
    if not argv[1].endswith(".py") or not argv[1].startswith(tuple(d + "/" for d in SCRIPT_DIRS)):
        return None
    return ROOT / argv[1], argv[2:]


class _Parsed(Exception):
    """Raised in place of the script's work once its arguments have parsed."""


def parse_with_script(script, args, monkeypatch):
    """Run ``script`` up to its ``parse_args``; return the error text, or None if it parsed."""
    real_parse_args = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        raise _Parsed(real_parse_args(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    monkeypatch.setattr(sys, "argv", [str(script), *args])
    monkeypatch.syspath_prepend(str(script.parent))
    stderr, environ = io.StringIO(), dict(os.environ)    # some scripts set thread counts
    try:
        with contextlib.redirect_stderr(stderr):
            runpy.run_path(str(script), run_name="__main__")
    except _Parsed:
        return None
    except SystemExit as stop:
        if stop.code == 0:                                  # --help: printed, and parsed
            return None
        return stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue() else "exited"
    finally:
        os.environ.clear()
        os.environ.update(environ)
    return "the script finished without calling parse_args"


INLINE = re.compile(r"`(python3? (?:examples|benchmarks)/[^`]+)`")


def inline_commands(text):
    """``(line number, argv)`` of each inline code span outside fences that runs a script."""
    return [(number, shlex.split(span)) for number, line in prose_lines(text, raw=True)
            for span in INLINE.findall(line)]


def docstring_commands(path):
    """``(line number, argv)`` of the command lines in a script's docstring (indented lines
    that start with ``python examples/`` or ``python benchmarks/``)."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    lines, continued = [], False
    for line in doc.splitlines():
        if continued or re.match(r"\s*python3? (examples|benchmarks)/", line):
            lines.append(line.strip())
            continued = line.rstrip().endswith("\\")
    return bash_commands("\n".join(["```bash", *lines, "```"]))


def documented_commands():
    found = []
    for path in [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for line, argv in bash_commands(text) + inline_commands(text):
            command = script_commands(argv)
            if command is not None:
                found.append((f"{path.relative_to(ROOT)}:{line}", *command))
    for path in sorted((ROOT / "examples").rglob("*.py")):
        for _, argv in docstring_commands(path):
            command = script_commands(argv)
            if command is not None:
                found.append((f"{path.relative_to(ROOT)} docstring", *command))
    return found


COMMANDS = documented_commands()


def test_the_docs_have_commands_to_check():
    scripts = {script.name for _, script, _ in COMMANDS}
    assert {"mnist.py", "evaluate.py", "pacgan.py", "swa.py", "average.py"} <= scripts, scripts
    assert any(where.startswith("docs/results.md") for where, _, _ in COMMANDS)


def test_inline_and_docstring_commands_are_found(tmp_path):
    text = "\n".join(["| run | `python examples/mnist.py --steps 10` |", "```",
                      "`python examples/not_this.py`", "```",
                      "see `python benchmarks/train_step.py --threads 1` and `pip install x`"])
    assert inline_commands(text) == [(1, ["python", "examples/mnist.py", "--steps", "10"]),
                                     (5, ["python", "benchmarks/train_step.py", "--threads", "1"])]
    script = tmp_path / "s.py"
    script.write_text('"""Doc.\n\n    python examples/mnist.py --steps 5   # note\n'
                      '    python examples/average.py --run out \\\n        --out a.npz\n"""\n')
    assert docstring_commands(script) == [
        (2, ["python", "examples/mnist.py", "--steps", "5"]),
        (3, ["python", "examples/average.py", "--run", "out", "--out", "a.npz"])]


@pytest.mark.parametrize("where, script, args", COMMANDS, ids=[w for w, _, _ in COMMANDS])
def test_documented_command_parses(where, script, args, monkeypatch):
    assert script.exists(), f"{where}: no such script {script.relative_to(ROOT)}"
    error = parse_with_script(script, args, monkeypatch)
    assert error is None, f"{where}: {script.name} {' '.join(args)}\n  {error}"


def test_a_stale_flag_is_caught(monkeypatch):
    mnist = ROOT / "examples" / "mnist.py"
    assert parse_with_script(mnist, ["--steps", "10"], monkeypatch) is None
    error = parse_with_script(mnist, ["--no-such-flag", "1"], monkeypatch)
    assert error is not None and "--no-such-flag" in error


def test_command_extraction():
    text = "\n".join([
        "```bash",
        "python examples/mnist.py --steps 10   # a comment",
        "python examples/evaluate.py --checkpoint a.npz \\",
        "    --no-average",
        "python examples/mnist.py --resume [--ema 0.9999]",
        "pip install -e .",
        "```",
        "```python",
        "print('python examples/mnist.py --not-a-command')",
        "```",
    ])
    commands = bash_commands(text)
    assert commands == [
        (2, ["python", "examples/mnist.py", "--steps", "10"]),
        (3, ["python", "examples/evaluate.py", "--checkpoint", "a.npz", "--no-average"]),
        (5, ["python", "examples/mnist.py", "--resume"]),
        (5, ["python", "examples/mnist.py", "--resume", "--ema", "0.9999"]),
        (6, ["pip", "install", "-e", "."]),
    ]
    assert script_commands(commands[-1][1]) is None
    assert script_commands(commands[0][1]) == (ROOT / "examples" / "mnist.py", ["--steps", "10"])
