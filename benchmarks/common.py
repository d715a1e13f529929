"""Helpers shared by the benchmarks: BLAS threads, timing each framework in its own process,
CPU-bound competitors for a busy machine, the float32 matmul reference, and peak memory.

Import this module *before* NumPy when the thread count matters: OpenBLAS, MKL and OpenMP read
their thread counts from the environment once, when the library is loaded.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def set_threads(n):
    """Ask every BLAS / OpenMP runtime for ``n`` threads. Works only before NumPy is imported."""
    os.environ.update(thread_environment(n))


def thread_environment(n, base=None):
    """A copy of the environment (``base``, default ``os.environ``) with every thread variable
    set to ``n``, or removed when ``n`` is None (each library then picks its own default)."""
    env = dict(os.environ if base is None else base)
    for name in THREAD_VARIABLES:
        if n is None:
            env.pop(name, None)
        else:
            env[name] = str(n)
    return env


def blas_threads():
    """The thread count the BLAS was asked for: the environment's, else one per core."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return os.cpu_count() or 1


def load():
    """The 1-minute load average (the number of runnable processes): on a machine with
    ``os.cpu_count()`` cores, anything above that count means the timings are shared."""
    return round(os.getloadavg()[0], 2)


def summary(seconds):
    """Median and spread of a list of times in seconds, as milliseconds: the median, the
    quartiles (the spread a table shows), the extremes and the count."""
    ms = sorted(1e3 * s for s in seconds)
    q = statistics.quantiles(ms, n=4, method="inclusive") if len(ms) > 1 else [ms[0]] * 3
    return dict(median=statistics.median(ms), p25=q[0], p75=q[2], min=ms[0], max=ms[-1],
                n=len(ms))


def matmul_reference(xp, gen, size=1024):
    """A function doing one square float32 GEMM ``(size, size) @ (size, size)``, and its FLOPs."""
    import numpy as np

    a = gen.standard_normal((size, size), dtype=np.float32)
    b = gen.standard_normal((size, size), dtype=np.float32)
    return (lambda: xp.matmul(a, b)), 2 * size ** 3


# --- a busy machine ---------------------------------------------------------------------------
class Competitors:
    """``n`` CPU-bound processes (a Python busy loop each) for the duration of a ``with`` block:
    what a learner's laptop does while it trains. They are this script's own children, ended by
    their process ids when the block ends."""

    def __init__(self, n):
        self.n, self.procs = n, []

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                       stdin=subprocess.DEVNULL) for _ in range(self.n)]
        if self.procs:
            time.sleep(1.0)  # let them start and take their share of the cores
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        self.procs = []


# --- one framework in its own process ---------------------------------------------------------
class Child:
    """A benchmark subprocess driven one request at a time: a line of text in, a JSON line out.

    Each framework runs in a process of its own because a BLAS or OpenMP runtime that is idle
    still spins its worker threads for a while after each call; two of them in one process
    (NumPy's OpenBLAS and PyTorch's OpenMP) take each other's cores. Only one child computes at
    any moment; the others wait on their stdin, and their workers have gone to sleep.
    """

    def __init__(self, argv, env):
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.hello = self._reply()

    def _reply(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.stderr.seek(0)
            raise RuntimeError(f"benchmark child {self.proc.args[2:]} exited with code "
                               f"{self.proc.returncode}:\n{self.stderr.read()[-3000:]}")
        return json.loads(line)

    def ask(self, request):
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


def serve(handlers, hello):
    """The child's side of :class:`Child`: print ``hello`` (a dict), then answer each request
    line ``NAME ARG...`` with ``handlers[NAME](*ARG)`` as one JSON line, until "quit"."""
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        name, *args = line.split()
        if name == "quit":
            break
        print(json.dumps(handlers[name](*args)), flush=True)


# --- memory -----------------------------------------------------------------------------------
def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def reset_peak_rss():
    """Start a new peak-RSS measurement: the resident set now (KiB) is the baseline.

    On Linux writing "5" to /proc/self/clear_refs resets the peak (VmHWM) to the current
    resident set, so the peak read later belongs to what ran in between, not to an import.
    Elsewhere the peak is ``ru_maxrss``, which may include earlier peaks.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kib("VmRSS")
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_rss_kib():
    """The peak resident set (KiB) since :func:`reset_peak_rss` (or since the start)."""
    try:
        return _status_kib("VmHWM")
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
