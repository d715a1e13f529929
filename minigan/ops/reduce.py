"""Reductions over any axes: sum, mean, max.

A reduction's VJP spreads the output gradient back over the entries that were reduced: every
entry of a sum contributed with weight 1, so it receives ``g`` broadcast back to the input shape.
Derivations: docs/derivations/reduction.md. Tests: tests/test_reduce.py.
"""

from ..backend import get_array_module
from ..tensor import Function


def _axes(axis, ndim):
    """``axis`` (None, an int or a tuple, negatives allowed) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes)) if ndim else ()


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """y = sum of x over ``axis``.  VJP: gx = g broadcast back over the summed axes."""

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        ctx.shape, ctx.axes = x.shape, _axes(axis, x.ndim)
        return x.sum(axis=ctx.axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        g = g.reshape(_keepdims_shape(ctx.shape, ctx.axes))  # put the reduced axes back, size 1
        return get_array_module(g).broadcast_to(g, ctx.shape)


class Max(Function):
    """y = max of x over ``axis``.

    VJP: g goes to the entries that attain the max; ties share it equally (as ``torch.amax``).
    """

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        axes = _axes(axis, x.ndim)
        y = x.max(axis=axes, keepdims=True)
        winners = x == y
        ctx.save_for_backward(winners)
        ctx.axes = axes
        return y if keepdims else y.reshape([n for i, n in enumerate(y.shape) if i not in axes])

    @staticmethod
    def backward(ctx, g):
        (winners,) = ctx.saved
        g = g.reshape(_keepdims_shape(winners.shape, ctx.axes))
        count = winners.sum(axis=ctx.axes, keepdims=True).astype(g.dtype)
        return winners * (g / count)


def sum(x, axis=None, keepdims=False):
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """The mean over ``axis``: a composition, sum(x) * (1/n), so its gradient is g/n everywhere."""
    n = 1
    for a in _axes(axis, x.ndim):
        n *= x.shape[a]
    return sum(x, axis, keepdims) * (1.0 / n)


def max(x, axis=None, keepdims=False):
    return Max.apply(x, axis=axis, keepdims=keepdims)
