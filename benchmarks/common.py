"""Helpers shared by the benchmarks: BLAS threads, interleaved median timing, the float32 matmul
reference, and peak memory of a child process.

Import this module *before* NumPy when the thread count matters: OpenBLAS, MKL and OpenMP read
their thread counts from the environment once, when the library is loaded.
"""

import os
import statistics
import time

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def set_threads(n):
    """Ask every BLAS / OpenMP runtime for ``n`` threads. Works only before NumPy is imported."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(n)


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


def median_seconds(fns, repeats, sync=lambda: None, warmup=1):
    """The median time of each of ``fns``, run in turn (interleaved) ``repeats`` times.

    Interleaving makes every function see the same machine load: on a shared machine, timing
    one function's runs and then the other's compares two different machines.
    """
    times = [[] for _ in fns]
    for i in range(warmup + repeats):
        for fn, ts in zip(fns, times):
            sync()
            start = time.perf_counter()
            fn()
            sync()
            if i >= warmup:  # the first rounds warm the allocator, BLAS threads, caches
                ts.append(time.perf_counter() - start)
    return [statistics.median(ts) for ts in times]


def matmul_reference(xp, gen, size=1024):
    """A function doing one square float32 GEMM ``(size, size) @ (size, size)``, and its FLOPs."""
    import numpy as np

    a = gen.standard_normal((size, size), dtype=np.float32)
    b = gen.standard_normal((size, size), dtype=np.float32)
    return (lambda: xp.matmul(a, b)), 2 * size ** 3


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
