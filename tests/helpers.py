"""Helpers shared by the test modules: float64 tensors from host arrays, on a chosen device, and
the example scripts as importable modules."""

import importlib.util
import os
import sys

import numpy as np

import minigan
from minigan import backend


EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def load_example(name):
    """The script ``examples/<name>.py`` as a module (its ``main`` and helpers), without running it
    as ``__main__``. ``name`` may be a path below examples/, e.g. ``"recipes/pacgan"``; the
    scripts import their siblings (arguments.py, mnist.py), so examples/ goes on the path."""
    if EXAMPLES not in sys.path:
        sys.path.insert(0, EXAMPLES)
    spec = importlib.util.spec_from_file_location(os.path.basename(name),
                                                  os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def t64(array, device="cpu", requires_grad=True):
    """A float64 leaf Tensor on ``device`` from a host array."""
    return minigan.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad,
                          device=device)


def host(x):
    """A NumPy array from a Tensor or array on any device."""
    return backend.to_numpy(getattr(x, "data", x))


def away_from(values, points, margin):
    """Push entries of ``values`` that are within ``margin`` of any of ``points`` (the kinks of
    relu, abs, max, ...) out to ``margin``, so finite differences never straddle a kink."""
    values = np.array(values, dtype=np.float64)
    for p in points:
        near = np.abs(values - p) < margin
        values[near] = p + np.where(values[near] >= p, margin, -margin)
    return values


def assert_close(actual, expected, rtol=1e-12, atol=1e-12):
    """``actual`` (a Tensor or array, any device) equals ``expected`` with the same shape."""
    actual = host(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def check_grads(fn, arrays, device="cpu", **kwargs):
    """``minigan.gradcheck`` of ``fn`` at float64 copies of the host ``arrays`` on ``device``
    (all requiring grad): every entry, random upstream gradient."""
    return minigan.gradcheck(fn, [t64(a, device) for a in arrays], **kwargs)


def vjp_of(fn, x_shape, device="cpu"):
    """The map ``y -> J^T y`` that minigan's *backward* computes for a linear ``fn``.

    For a linear map the Jacobian does not depend on the point, so the VJP is taken at x = 0.
    ``check_adjoint(fn, vjp_of(fn, x_shape), ...)`` then proves the backward is the exact
    transpose of the forward, to roundoff, with no finite differences involved.
    """
    def f_t(y):
        x = t64(np.zeros(x_shape), device)
        fn(x).backward(y.data)
        return x.grad
    return f_t
