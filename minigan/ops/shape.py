"""Ops that move entries around without changing them: reshape, transpose, indexing, concatenate,
stack, pad.

Each is a linear map that only permutes, copies or drops entries, so its VJP is the inverse
movement: reshape back, transpose with the inverse permutation, scatter into zeros, split.
Derivations: docs/derivations/shape.md. Tests: tests/test_shape.py.
"""

import numbers

from ..backend import get_array_module
from ..tensor import Function, ShapeError, Tensor
from . import args


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
        try:
            return x[index]
        except IndexError as e:  # out of range, or more indices than axes
            shown = index[0] if len(index) == 1 else index
            raise IndexError(f"GetItem: index {shown!r} does not fit a tensor of shape "
                             f"{tuple(x.shape)}: {e}") from None

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
    x = args.tensor(x, "Transpose")
    axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
    if not axes:
        axes = tuple(reversed(range(x.ndim)))
    axes = tuple(args.axis(a, x.ndim, "Transpose", "axes") for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"Transpose: {axes} is not a permutation of the {x.ndim} axes of a "
                         f"tensor of shape {x.shape}")
    return Transpose.apply(x, axes=axes)


permute = transpose


def swapaxes(x, a, b):
    x = args.tensor(x, "swapaxes")
    a, b = args.axis(a, x.ndim, "swapaxes"), args.axis(b, x.ndim, "swapaxes")
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, *axes)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes ``start_dim..end_dim`` into one, like ``torch.flatten``: a reshape."""
    x = args.tensor(x, "flatten")
    start = args.axis(start_dim, x.ndim, "flatten", "start_dim")
    end = args.axis(end_dim, x.ndim, "flatten", "end_dim")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a "
                         f"tensor of shape {x.shape}")
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


def _tensor_list(tensors, op):
    """``tensors`` as a non-empty list; a single Tensor is refused (it would be unpacked)."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of Tensors, got "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    return list(tensors)


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis (``torch.cat``)."""
    tensors = _tensor_list(tensors, "Concatenate")
    ndim = max(getattr(t, "ndim", 0) for t in tensors)
    if ndim == 0:
        raise ShapeError("Concatenate: 0-d tensors have no axis to join along; use stack")
    return Concatenate.apply(*tensors, axis=args.axis(axis, ndim, "Concatenate"))


cat = concatenate


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis."""
    tensors = _tensor_list(tensors, "Stack")
    shapes = {getattr(t, "shape", ()) for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(f"Stack: all inputs need one shape, got {sorted(shapes)}")
    ndim = len(next(iter(shapes))) + 1
    return Stack.apply(*tensors, axis=args.axis(axis, ndim, "Stack"))


def pad(x, pad, value=0.0):
    """Constant padding with PyTorch's ``F.pad`` convention: ``pad`` lists (before, after) pairs
    starting from the *last* axis, e.g. ``(left, right, top, bottom)`` for an image. Widths
    are ints >= 0 (PyTorch's negative widths, which crop, are refused: slice instead)."""
    x = args.tensor(x, "Pad")
    if not isinstance(pad, (tuple, list)) or len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ShapeError(f"Pad: {pad!r} must hold (before, after) pairs for at most {x.ndim} "
                         f"axes")
    pad = [args.integer(p, "Pad", "each padding width", minimum=0) for p in pad]
    args.number(value, "Pad", "value")
    pairs = [(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]
    pad_width = [(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1]
    return Pad.apply(x, pad_width=tuple(pad_width), value=value)
