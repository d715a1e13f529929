"""Reductions over any axes: sum, mean, max.

A reduction's VJP spreads the output gradient back over the entries that were reduced: every
entry of a sum contributed with weight 1, so it receives ``g`` broadcast back to the input shape.
Derivations: docs/derivations/reduction.md. Tests: tests/test_reduce.py.
"""

import math

from ..backend import get_array_module
from ..tensor import Function
from . import args


def _keepdims_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """y = sum of x over ``axis`` (a sorted tuple of axes, as :func:`sum` passes it).

    Shapes: x's shape without the summed axes (with them at size 1 if ``keepdims``).
    VJP: gx = g broadcast back over the summed axes, to x's shape."""

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        ctx.shape, ctx.axes = x.shape, axis
        return x.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        g = g.reshape(_keepdims_shape(ctx.shape, ctx.axes))  # put the reduced axes back, size 1
        return get_array_module(g).broadcast_to(g, ctx.shape)


class Max(Function):
    """y = max of x over ``axis`` (a sorted tuple of axes, none of size 0, as :func:`max`
    passes it). Shapes as :class:`Sum`'s.

    VJP: g goes to the entries that attain the max; ties share it equally (as ``torch.amax``).

    The reduced axes are first moved to the front, in one copy: NumPy reduces a short innermost
    axis, such as maxout's groups of 5, one group at a time, much more slowly than it takes the
    elementwise max of whole rows (docs/performance.md).
    """

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        xp = get_array_module(x)
        kept = [n for i, n in enumerate(x.shape) if i not in axis]
        reduced = math.prod(x.shape[a] for a in axis)  # not -1: a kept axis may be empty
        rows = xp.ascontiguousarray(xp.moveaxis(x, axis, range(len(axis)))).reshape(reduced,
                                                                                    *kept)
        y = rows.max(axis=0, keepdims=True).reshape(kept)    # (*kept), an array even if 0-d
        winners = rows == y                                  # (reduced, *kept)
        ctx.save_for_backward(winners)
        ctx.shape, ctx.axes = x.shape, axis
        return y.reshape(_keepdims_shape(x.shape, axis)) if keepdims else y

    @staticmethod
    def backward(ctx, g):
        (winners,) = ctx.saved
        axes = ctx.axes
        g = g.reshape(winners.shape[1:])
        gx = winners * (g / winners.sum(axis=0, dtype=g.dtype))  # ties share g
        gx = gx.reshape([ctx.shape[a] for a in axes] + list(winners.shape[1:]))
        return get_array_module(g).moveaxis(gx, range(len(axes)), axes)


def _reduced_axes(x, axis, op):
    """``axis`` of the Tensor ``x`` as a sorted tuple of axes, checked (see ``args.axes``)."""
    return args.axes(axis, args.tensor(x, op).ndim, op)


def sum(x, axis=None, keepdims=False):
    """The sum over ``axis``: None (all), an int or a tuple of distinct ints."""
    return Sum.apply(x, axis=_reduced_axes(x, axis, "Sum"), keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """The mean over ``axis``: a composition, sum(x) * (1/n), so its gradient is g/n everywhere.

    The mean of no entries (an empty batch) is NaN, as in NumPy and PyTorch; its gradient
    reaches no entry, so it is empty."""
    axes = _reduced_axes(x, axis, "Mean")
    n = math.prod(x.shape[a] for a in axes)
    return sum(x, axes, keepdims) * (1.0 / n if n else float("nan"))


def max(x, axis=None, keepdims=False):
    """The max over ``axis``; over no entries at all there is none, and that is an error."""
    axes = _reduced_axes(x, axis, "Max")
    for a in axes:
        if x.shape[a] == 0:
            raise ValueError(f"Max: cannot take the max over axis {a} of size 0 (input of "
                             f"shape {x.shape}): an empty set has no maximum")
    return Max.apply(x, axis=axes, keepdims=keepdims)
