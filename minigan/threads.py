"""How many CPU threads minigan's array work uses, and a default that holds up on a busy machine.

NumPy runs matrix products in a BLAS (OpenBLAS, MKL, ...) that keeps a pool of threads, one per
core unless told otherwise. One number, set like PyTorch's, governs that pool::

    minigan.set_num_threads(1)      # every BLAS / OpenMP pool in the process, now
    minigan.get_num_threads()       # 1

More threads than there are *free* cores is a trap. A multi-threaded GEMM splits its work in
equal parts and waits for the last one; when another process holds a core, that part waits for
the scheduler, and an idle BLAS worker spins for a while after each call, taking the CPU time
that the others need. On a 2-core machine running other work, two BLAS threads made an
``mlp`` step many times slower than one (docs/performance.md, "Threads"). So the example
scripts ask the machine what it has free::

    policy = minigan.threads.AutoThreads()      # --threads auto: the free cores now ...
    for step in range(steps):
        train_step(...)
        policy.poll()                            # ... and again every 10 s of training
    minigan.threads.configure(2)                 # --threads 2: a fixed count

"auto" counts the cores that the other processes leave idle: the CPU time they used (the
machine's, from ``/proc/stat``, minus this process's own) over a short window, else the load
average; a core counts when three quarters of it are idle; never fewer than 1 thread, nor more
than the cores this process may run on.

The BLAS threads are set through threadpoolctl (the library scikit-learn uses for this): it
finds every BLAS and OpenMP runtime loaded in the process, whatever its build (OpenBLAS under
NumPy's own symbol prefix, MKL, BLIS, libgomp), and sets each through its own API, which no
environment variable can do once NumPy is imported.

Measured figures: docs/performance.md. Tests: tests/test_threads.py.
"""

import argparse
import os
import time

import threadpoolctl

from .ops import args

__all__ = ["set_num_threads", "get_num_threads", "available_cores", "free_cores",
           "auto_num_threads", "configure", "parse", "ThreadsValueError", "AutoThreads"]

_num_threads = None  # what set_num_threads was last given; None: the libraries' own defaults


def set_num_threads(n):
    """Use ``n`` threads for the matrix products (every BLAS / OpenMP pool in the process).

    Like ``torch.set_num_threads``: takes effect at once and stays until the next call.
    """
    n = args.integer(n, "set_num_threads", "the thread count", minimum=1)
    global _num_threads
    threadpoolctl.threadpool_limits(limits=n)
    _num_threads = n


def get_num_threads():
    """The number of threads set by :func:`set_num_threads`; before any call, the BLAS's own
    (the largest pool threadpoolctl finds, 1 if there is none), as it was when first asked."""
    global _num_threads
    if _num_threads is None:  # asked once: threadpoolctl inspects every loaded library
        pools = [info["num_threads"] for info in threadpoolctl.threadpool_info()
                 if info.get("user_api") == "blas"]
        _num_threads = max(pools, default=1)
    return _num_threads


def available_cores():
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return os.cpu_count() or 1


# --- how busy the machine is ----------------------------------------------------------------


def _machine_busy_seconds():
    """CPU seconds that the cores this process may run on have spent busy since boot, from
    ``/proc/stat``: its per-core lines, every field but idle and iowait, in clock ticks. None
    where there is no /proc/stat."""
    try:
        with open("/proc/stat") as f:
            lines = [line.split() for line in f if line.startswith("cpu")]
    except OSError:
        return None
    try:
        mine = {f"cpu{i}" for i in os.sched_getaffinity(0)}
    except (AttributeError, OSError):
        mine = None
    busy = 0
    for fields in lines:
        if (fields[0] in mine) if mine else fields[0] == "cpu":
            ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
            busy += sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def _own_busy_seconds():
    """CPU seconds this process has used, all its threads together."""
    t = os.times()
    return t.user + t.system


class _Window:
    """Counters at one moment; ``others_since(start)`` is the number of cores that the *other*
    processes kept busy in between: the machine's busy time less this process's, per second."""

    def __init__(self, machine=None, own=None, wall=None):
        self.machine = _machine_busy_seconds() if machine is None else machine
        self.own = _own_busy_seconds() if own is None else own
        self.wall = time.monotonic() if wall is None else wall

    def others_since(self, start):
        elapsed = self.wall - start.wall
        if self.machine is None or start.machine is None or elapsed <= 0:
            return None
        others = (self.machine - start.machine) - (self.own - start.own)
        return max(others, 0.0) / elapsed

    def own_since(self, start):
        """The cores this process kept busy since ``start``."""
        elapsed = self.wall - start.wall
        return (self.own - start.own) / elapsed if elapsed > 0 else 0.0


# A core counts as free when the others leave at least this much of it idle. The two mistakes
# cost very differently: one thread too few leaves a core unused, one too many makes a step
# several times slower (docs/performance.md, "Threads").
FREE_CORE = 0.75


def _cores_left(others, cores):
    """The thread count for ``cores`` cores of which the other processes keep ``others`` busy:
    the cores at least FREE_CORE idle, at least 1."""
    return min(max(int(cores - others + (1 - FREE_CORE)), 1), cores)


def free_cores(interval=0.2):
    """How many of this process's cores the other processes leave idle, as a thread count.

    Measured over ``interval`` seconds (the process sleeps meanwhile) from the machine's CPU
    counters where there are some (Linux), else from the 1-minute load average, which lags.
    """
    cores = available_cores()
    start = _Window()
    if start.machine is not None:
        time.sleep(interval)
        others = _Window().others_since(start)
    else:
        try:
            others = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows: nothing to go by
            others = 0.0
    return _cores_left(others, cores)


def auto_num_threads():
    """The thread count "auto" stands for: :func:`free_cores`, between 1 and the cores."""
    return free_cores()


class ThreadsValueError(argparse.ArgumentTypeError, ValueError):
    """A ``--threads`` value that is neither "auto" nor a positive integer. A ValueError, and
    argparse prints its message as it is when :func:`parse` is an argument's ``type``."""


def parse(text):
    """A ``--threads`` value: ``"auto"`` or a positive int (usable as an argparse ``type``)."""
    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        n = int(text)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ThreadsValueError(f"--threads must be 'auto' or a positive integer, got {text!r}")
    return n


def configure(threads="auto"):
    """Set the thread count from a ``--threads`` value (``"auto"`` or an int); return it."""
    threads = parse(threads)
    n = auto_num_threads() if threads == "auto" else threads
    set_num_threads(n)
    return n


class AutoThreads:
    """"auto", kept up to date while training: :meth:`poll` once a step.

    Every ``every`` seconds it looks at how many cores the other processes keep busy while this
    one computes, over a window of at least ``window`` seconds, and sets the thread count to
    the cores they leave free (:func:`set_num_threads`). A window in which this process was
    mostly waiting (less than half a core busy: a pause, a checkpoint being written) tells
    nothing about its steps and is taken again. While this process runs ``n`` threads the
    others get less than they ask for, so their share is a low estimate: with two threads and
    one CPU-bound neighbour on two cores, the neighbour gets 2/3 of a core, which leaves 1
    free core, as it should; when it leaves, the count goes back up at the next look.

    Args:
        every: seconds between looks.
        window: the shortest window a look measures (the counters tick every 10 ms).
        start: the first thread count; None measures it (:func:`auto_num_threads`).
    """

    def __init__(self, every=10.0, window=1.0, start=None):
        self.every, self.window = float(every), float(window)
        self.cores = available_cores()
        self.num_threads = configure("auto" if start is None else start)
        self._next_look = time.monotonic() + self.every
        self._start = None  # the counters where the open window began; None: none open

    def poll(self):
        """Look again when it is time; returns the thread count in use."""
        now = time.monotonic()
        if self._start is None:
            if now >= self._next_look:
                self._start = _Window()
            return self.num_threads
        if now - self._start.wall < self.window:
            return self.num_threads
        end = _Window()
        others, own = end.others_since(self._start), end.own_since(self._start)
        if others is None:  # no machine counters: keep the count
            self._start, self._next_look = None, now + self.every
            return self.num_threads
        if own < 0.5:  # this process mostly waited: measure the next window instead
            self._start = end
            return self.num_threads
        self._start, self._next_look = None, now + self.every
        n = _cores_left(others, self.cores)
        if n != self.num_threads:
            set_num_threads(n)
            self.num_threads = n
        return self.num_threads
