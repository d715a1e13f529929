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

    The reduced axes are first moved to the front, in one copy: NumPy reduces a short innermost
    axis, such as maxout's groups of 5, one group at a time, about ten times slower than it takes
    the elementwise max of whole rows.
    """

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        xp = get_array_module(x)
        axes = _axes(axis, x.ndim)
        kept = [n for i, n in enumerate(x.shape) if i not in axes]
        rows = xp.ascontiguousarray(xp.moveaxis(x, axes, range(len(axes)))).reshape(-1, *kept)
        y = rows.max(axis=0, keepdims=True).reshape(kept)    # (*kept), an array even if 0-d
        winners = rows == y                                  # (reduced, *kept)
        ctx.save_for_backward(winners)
        ctx.shape, ctx.axes = x.shape, axes
        return y.reshape(_keepdims_shape(x.shape, axes)) if keepdims else y

    @staticmethod
    def backward(ctx, g):
        (winners,) = ctx.saved
        axes = ctx.axes
        g = g.reshape(winners.shape[1:])
        gx = winners * (g / winners.sum(axis=0, dtype=g.dtype))  # ties share g
        gx = gx.reshape([ctx.shape[a] for a in axes] + list(winners.shape[1:]))
        return get_array_module(g).moveaxis(gx, range(len(axes)), axes)


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
