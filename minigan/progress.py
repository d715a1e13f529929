"""A one-line progress bar for training loops: step, rate, ETA and any named values.

    bar = Progress(total=5000, start=0)
    for step in range(...):
        ...
        bar.update(step + 1, loss_d=0.69, loss_g=0.71)   # redraws at most a few times a second
    bar.close()

On a terminal the line is redrawn in place; when output goes to a file or pipe, a full line is
printed every ``every_s`` seconds instead, so logs stay readable.
"""

import sys
import time


def _duration(seconds):
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """Progress of a loop from ``start`` to ``total`` steps, written to ``stream``."""

    def __init__(self, total, start=0, stream=None, width=24, every_s=None):
        self.total, self.start, self.width = total, start, width
        self.stream = stream if stream is not None else sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.every_s = every_s if every_s is not None else (0.2 if self.tty else 30.0)
        self.t0 = time.perf_counter()
        self.last_draw = -float("inf")
        self.step = start

    def rate(self):
        """Steps per second since the bar started."""
        elapsed = time.perf_counter() - self.t0
        return (self.step - self.start) / elapsed if elapsed > 0 else 0.0

    def line(self, **values):
        done = self.step / self.total if self.total else 1.0
        filled = int(round(self.width * done))
        bar = "#" * filled + "-" * (self.width - filled)
        rate = self.rate()
        eta = (self.total - self.step) / rate if rate > 0 else 0.0
        shown = " ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                         for k, v in values.items())
        return (f"{self.step:>{len(str(self.total))}}/{self.total} [{bar}] {rate:6.1f} it/s "
                f"eta {_duration(eta)} | {shown}")

    def update(self, step, force=False, **values):
        """Record that ``step`` steps are done; redraw if enough time has passed (or ``force``)."""
        self.step = step
        now = time.perf_counter()
        if force or step >= self.total or now - self.last_draw >= self.every_s:
            self.last_draw = now
            end = "\r" if self.tty else "\n"
            self.stream.write(self.line(**values) + end)
            self.stream.flush()

    def close(self):
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
