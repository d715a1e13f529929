"""Ops that move entries around without changing them: reshape, transpose, indexing, concatenate,
stack, pad.

Each is a linear map that only permutes, copies or drops entries, so its VJP is the inverse
movement: reshape back, transpose with the inverse permutation, scatter into zeros, split.
Derivations: docs/derivations/shape.md. Tests: tests/test_shape.py.
"""

import numbers

from ..backend import get_array_module
from ..tensor import Function, ShapeError


class Reshape(Function):
    """y = x viewed with a new shape (one entry may be -1).  VJP: gx = g reshaped to x's shape."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Transpose(Function):
    """y = x with its axes permuted: y.shape[i] = x.shape[axes[i]].

    VJP: gx = g permuted by the inverse permutation (argsort of ``axes``).
    """

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        inverse = sorted(range(len(ctx.axes)), key=ctx.axes.__getitem__)
        return g.transpose(inverse)


class GetItem(Function):
    """y = x[index] for basic indexing (ints, slices, None, Ellipsis).

    VJP: gx = zeros like x, with g written at ``index``. Basic indexing never selects an entry
    twice, so plain assignment is exact (no scatter-add is needed).
    """

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        return x[index]

    @staticmethod
    def backward(ctx, g):
        gx = get_array_module(g).zeros(ctx.shape, dtype=g.dtype)
        gx[ctx.index] = g
        return gx


class Concatenate(Function):
    """y = the inputs joined along ``axis``.  VJP: g cut back into the inputs' pieces."""

    @staticmethod
    def forward(ctx, *xs, axis):
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        return get_array_module(*xs).concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        grads, start = [], 0
        for n in ctx.sizes:
            index = [slice(None)] * g.ndim
            index[ctx.axis] = slice(start, start + n)
            grads.append(g[tuple(index)])
            start += n
        return tuple(grads)


class Stack(Function):
    """y = the inputs (all one shape) stacked along a new ``axis``.  VJP: gx_i = g taken at i."""

    @staticmethod
    def forward(ctx, *xs, axis):
        ctx.axis = axis
        return get_array_module(*xs).stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        g = get_array_module(g).moveaxis(g, ctx.axis, 0)
        return tuple(g)


class Pad(Function):
    """y = x surrounded by a constant: ``pad_width[i] = (before, after)`` for axis i.

    VJP: gx = g with the padding sliced away.
    """

    @staticmethod
    def forward(ctx, x, pad_width, value):
        ctx.inner = tuple(slice(a, a + n) for (a, _), n in zip(pad_width, x.shape))
        return get_array_module(x).pad(x, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.inner]


def reshape(x, *shape):
    """Reshape; ``shape`` as separate ints or one tuple, one entry may be -1."""
    shape = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
    return Reshape.apply(x, shape=shape)


def transpose(x, *axes):
    """Permute axes (``x.transpose(1, 0)``); no axes reverses them, as in NumPy."""
    axes = tuple(axes[0]) if len(axes) == 1 and not isinstance(axes[0], int) else axes
    axes = tuple(a % x.ndim for a in axes) if axes else tuple(reversed(range(x.ndim)))
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"Transpose: {axes} is not a permutation of the {x.ndim} axes of a "
                         f"tensor of shape {x.shape}")
    return Transpose.apply(x, axes=axes)


permute = transpose


def swapaxes(x, a, b):
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, *axes)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes ``start_dim..end_dim`` into one, like ``torch.flatten``: a reshape."""
    start, end = start_dim % max(x.ndim, 1), end_dim % max(x.ndim, 1)
    n = 1
    for d in x.shape[start:end + 1]:
        n *= d
    return reshape(x, x.shape[:start] + (n,) + x.shape[end + 1:])


def getitem(x, index):
    index = index if isinstance(index, tuple) else (index,)
    for i in index:
        if not (i is None or i is Ellipsis or isinstance(i, (numbers.Integral, slice))):
            raise TypeError(f"GetItem: only basic indexing (ints, slices, None, ...) is "
                            f"supported, got {type(i).__name__}")
    return GetItem.apply(x, index=index)


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis (``torch.cat``)."""
    return Concatenate.apply(*tensors, axis=axis)


cat = concatenate


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis."""
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"Stack: all inputs need one shape, got {sorted(shapes)}")
    return Stack.apply(*tensors, axis=axis)


def pad(x, pad, value=0.0):
    """Constant padding with PyTorch's ``F.pad`` convention: ``pad`` lists (before, after) pairs
    starting from the *last* axis, e.g. ``(left, right, top, bottom)`` for an image."""
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ShapeError(f"Pad: {pad} must hold (before, after) pairs for at most {x.ndim} axes")
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]
    pad_width = [(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1]
    return Pad.apply(x, pad_width=tuple(pad_width), value=value)
