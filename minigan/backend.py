"""The one seam between minigan and its array libraries.

Every op in minigan works on raw arrays and asks *this* module which library they belong to::

    xp = get_array_module(x, w)     # numpy, or cupy when the arrays live on a GPU
    y = xp.matmul(x, w)

This is the only file that imports CuPy. Without CuPy (or without a GPU) nothing changes: every
array is a NumPy array and ``get_array_module`` always answers ``numpy``.

Public helpers:
    get_array_module(*arrays)   the library of the arrays (refuses a NumPy/CuPy mix)
    device_of(array)            "cpu" or "cuda"
    to_device(array, device)    move an array ("cpu" or "cuda"); a no-op when it is already there
    to_numpy(array)             a NumPy array, whatever the input
    default_device / set_default_device   the device used by constructors (``minigan.tensor``)
    rng(seed, device)           a seeded random Generator on a device
    flush_subnormals(array)     set the floats below the smallest normal one to 0, in place
    keep_freed_memory()         let the C allocator reuse freed arrays instead of returning them
    cuda_available()            whether CuPy and a GPU are usable
"""

import ctypes
import ctypes.util

import numpy as np

try:  # CuPy is optional: `pip install -e ".[cuda]"`.
    import cupy as _cupy
except Exception:  # ImportError, or a CuPy install without a working CUDA runtime
    _cupy = None

DEVICES = ("cpu", "cuda")
_default_device = "cpu"


class DeviceMismatchError(TypeError):
    """Arrays from different devices (NumPy and CuPy) were given to one op."""


def cuda_available():
    """True when CuPy is importable and at least one CUDA device answers."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def _is_cupy(a):
    return _cupy is not None and isinstance(a, _cupy.ndarray)


def is_array(a):
    """True for a NumPy or CuPy array."""
    return isinstance(a, np.ndarray) or _is_cupy(a)


def device_of(a):
    """"cuda" for a CuPy array, "cpu" for anything else."""
    return "cuda" if _is_cupy(a) else "cpu"


def get_array_module(*arrays, op=None):
    """The array library (``numpy`` or ``cupy``) that owns ``arrays``.

    Anything that is not an array (Python scalars, None, tuples) is ignored. Mixing NumPy and CuPy arrays raises
    :class:`DeviceMismatchError` naming ``op`` and both array types, instead of letting CuPy fail
    later with an implicit-conversion error deep inside a kernel.
    """
    found = None
    for a in arrays:
        if not is_array(a):
            continue
        kind = "cuda" if _is_cupy(a) else "cpu"
        if found is None:
            found = (kind, a)
        elif found[0] != kind:
            where = f" in {op}" if op else ""
            raise DeviceMismatchError(
                f"arrays on different devices{where}: {_describe(found[1])} and {_describe(a)}; "
                f"move them to one device first (Tensor.to / backend.to_device)")
    if found is not None and found[0] == "cuda":
        return _cupy
    return np


def _describe(a):
    t = type(a)
    return f"{t.__module__}.{t.__qualname__} ({device_of(a)})"


def check_device(device):
    """Validate a device name, and that CUDA is usable when it is asked for."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; expected one of {DEVICES}")
    if device == "cuda" and not cuda_available():
        raise RuntimeError("device 'cuda' was requested but CuPy with a working GPU is not "
                           "available; install it with: pip install -e \".[cuda]\"")
    return device


def xp_for(device):
    """The array library that holds arrays on ``device``."""
    return _cupy if check_device(device) == "cuda" else np


def to_device(a, device):
    """``a`` as an array on ``device`` ("cpu" or "cuda"); the same object if already there."""
    check_device(device)
    if device == "cuda":
        return a if _is_cupy(a) else _cupy.asarray(a)
    return to_numpy(a)


def to_numpy(a):
    """A NumPy array with ``a``'s values (copies from the GPU when needed)."""
    if _is_cupy(a):
        return _cupy.asnumpy(a)
    return np.asarray(a)


def default_device():
    """The device that constructors use when no ``device=`` is given."""
    return _default_device


def set_default_device(device):
    """Set the constructors' default device. Ops never consult it: they follow their data."""
    global _default_device
    _default_device = check_device(device)


def rng(seed=None, device="cpu"):
    """A random Generator on ``device``: ``numpy.random.default_rng`` or CuPy's equivalent.

    ``seed`` may be an int or a tuple of ints such as ``(run_seed, step)``: a stream per step
    that a resumed run can recreate without saving any generator state. Random numbers for a GPU
    run are drawn on the GPU, so no host-to-device copy happens in the training loop.
    """
    if isinstance(seed, (tuple, list)):
        seed = int(np.random.SeedSequence([int(s) for s in seed]).generate_state(1, np.uint64)[0])
    return xp_for(device).random.default_rng(seed)


def flush_subnormals(a):
    """Set the entries of float array ``a`` that are *subnormal* (nonzero, below the smallest
    normal float: 1.2e-38 in float32, 2.2e-308 in float64) to 0, in place; returns ``a``.

    Subnormals are exact, but x86 CPUs do arithmetic on them in microcode, up to 100x more
    slowly, and nothing turns that off from NumPy. Two places make them in training: a sigmoid
    output far in its negative tail (minigan.ops.activations._sigmoid), and Adam's second
    moment where a gradient stays 0 (minigan.optim.Adam). Both are that close to 0 only to
    matter as 0. A multiply by the mask, not ``a[a < tiny] = 0``: on an array with many zeros
    the masked write is several times slower (docs/performance.md, "Subnormal numbers").
    """
    a *= a >= get_array_module(a).finfo(a.dtype).tiny
    return a


# glibc's mallopt parameters (malloc.h) and the values keep_freed_memory gives them.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 * 2 ** 20    # glibc's own ceiling for its adaptive threshold (64-bit)
_TRIM_THRESHOLD = 512 * 2 ** 20


def keep_freed_memory():
    """Let the C allocator keep the memory of freed arrays for the next ones (glibc, i.e. Linux;
    elsewhere nothing happens). Returns True if the setting took effect.

    A training step allocates the same arrays every time: activations, im2col columns,
    gradients, a few MB each, all freed by the end of the step. By default glibc hands a block
    of 32 MB or more back to the operating system as soon as it is freed, and trims the heap
    whenever more than twice its adaptive threshold lies free at its top, which the end of
    every step is. So each step's arrays come back as fresh pages that the kernel must fault
    in and zero: thousands of page faults a step, a noticeable share of a convolutional
    step's time (docs/performance.md, "Memory that is freed and faulted in again"). With this
    setting blocks under 32 MB come from the heap and the heap keeps up to 512 MB of freed
    memory, so the next step reuses the same pages. The resident set then stays at the step's
    peak between steps instead of dropping; the peak itself does not change.

    This is a setting of the whole process, as ``set_num_threads`` is, so minigan never makes
    it by itself: the example scripts and the benchmark call it once at start.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc: macOS, Windows, musl
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
