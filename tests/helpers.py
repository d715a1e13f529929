"""Helpers shared by the test modules: float64 tensors from host arrays, on a chosen device."""

import numpy as np

import minigan
from minigan import backend


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
