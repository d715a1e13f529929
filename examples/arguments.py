"""What the example scripts share to check their command lines.

A user's mistake is answered with one line that names the flag or the file and says what is
wrong, and a non-zero exit status; a traceback is left for minigan's own bugs. ``--help`` shows
each default.
"""

import argparse
import math
import sys

from minigan import backend, threads


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and whose --help shows the
    defaults and the script's docstring as written."""

    def __init__(self, **kwargs):
        super().__init__(formatter_class=_Help, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _Help(argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action):
        # As argparse.ArgumentDefaultsHelpFormatter, but silent where there is no default to
        # show (None: the help says where it comes from; False: an off switch).
        if (action.default is None or action.default is False
                or action.default is argparse.SUPPRESS or "%(default)" in action.help):
            return action.help
        return action.help + " (default: %(default)s)"


def whole(at_least=None):
    """An argparse type: a whole number, at least ``at_least``."""
    def whole_number(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if at_least is not None and value < at_least:
            raise argparse.ArgumentTypeError(f"must be at least {at_least}, got {value}")
        return value
    return whole_number


def number(above=None, at_least=None, below=None, at_most=None):
    """An argparse type: a finite real number within the bounds given."""
    bounds = [(f"above {above:g}", lambda v: v > above) if above is not None else None,
              (f"at least {at_least:g}", lambda v: v >= at_least) if at_least is not None else None,
              (f"below {below:g}", lambda v: v < below) if below is not None else None,
              (f"at most {at_most:g}", lambda v: v <= at_most) if at_most is not None else None]
    bounds = [b for b in bounds if b is not None]

    def real_number(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not all(ok(value) for _, ok in bounds):
            wanted = " and ".join(name for name, _ in bounds) or "finite"
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value
    return real_number


def fail(script, message):
    """Stop ``script`` with one line on stderr and exit status 1."""
    sys.exit(f"{script}: {message}")


def device(script, name):
    """``name`` ("cpu" or "cuda") once it is known to work; else one line naming --device."""
    try:
        return backend.check_device(name)
    except RuntimeError as e:
        fail(script, f"--device {name}: {first_line(e)}")


def first_line(error):
    """The first line of an exception's message (library messages may go on to explain)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def add_threads(parser, default="auto"):
    """The --threads flag: how many CPU threads the array work may use."""
    parser.add_argument("--threads", type=threads.parse, default=default,
                        help="CPU threads for the array work: a number, or auto: the cores that "
                             "other processes leave free, looked at again as the script runs "
                             "(docs/performance.md)")


def use_threads(setting):
    """Set the CPU up as --threads says, and let a step's arrays reuse the last step's memory
    (minigan.backend.keep_freed_memory). Returns what to call once a step: for "auto" it looks
    again every few seconds at what the other processes leave free; for a number it does nothing.
    """
    backend.keep_freed_memory()
    if setting == "auto":
        return threads.AutoThreads().poll
    threads.set_num_threads(setting)
    return lambda: None
