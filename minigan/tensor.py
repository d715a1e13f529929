"""Tensor, the graph it records, and the engine that walks it backwards.

The whole of reverse-mode autodiff in three ideas (docs/autograd.md tells the story):

1. Every op is a :class:`Function` with a ``forward`` on raw arrays and a ``backward`` that maps
   the gradient of the output, ``g = dL/dy``, to one gradient per input, ``dL/dx_i = g J_i``
   (a vector-Jacobian product). ``forward`` leaves in a :class:`Context` exactly what
   ``backward`` needs.
2. Calling an op on Tensors that require gradients records a node: the output remembers the
   Function, its context and its input Tensors. The recorded nodes form a DAG.
3. :func:`backward` orders that DAG topologically (iteratively: a 10,000-op chain is fine) and
   visits it from the output back to the leaves, *adding* each VJP into the gradient of the input
   it belongs to. A tensor used twice receives both contributions (the chain rule's sum over
   paths). Leaves keep their gradient in ``.grad``; intermediate gradients are dropped.
"""

import numpy as np

from . import backend

DEFAULT_DTYPE = np.dtype(np.float32)

_grad_enabled = True


class ShapeError(ValueError):
    """An op got inputs whose shapes do not fit together."""


class no_grad:
    """Context manager (and decorator) that records no graph: for evaluation and optimiser steps.

    >>> with no_grad():
    ...     y = x * 2          # y.requires_grad is False, no node is kept
    """

    def __enter__(self):
        global _grad_enabled
        self._prev, _grad_enabled = _grad_enabled, False

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._prev

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)
        wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
        return wrapper


def is_grad_enabled():
    """False inside ``no_grad()``."""
    return _grad_enabled


class Context:
    """Scratch space that ``forward`` fills and ``backward`` reads.

    ``needs_input_grad[i]`` tells whether input ``i`` wants a gradient, so that backward can skip
    work (a frozen weight, a constant target) and forward can skip saving what only that work
    would read. It is set before ``forward`` runs; under ``no_grad`` every entry is False.
    """

    needs_input_grad = ()

    def save_for_backward(self, *arrays):
        self.saved = arrays


class Function:
    """Base class of every differentiable op.

    Subclasses define two static methods on raw arrays (NumPy or CuPy)::

        forward(ctx, *inputs, **params) -> output array
        backward(ctx, g)                -> one gradient per input (None where not needed)

    ``params`` are non-differentiable settings (an axis, a slope, a boolean mask). Call an op
    through ``apply``, which wraps inputs and output in Tensors and records the graph node.
    """

    @staticmethod
    def forward(ctx, *inputs, **params):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, g):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        name = cls.__name__
        tensors = _as_tensors(inputs, name)
        arrays = [t.data for t in tensors]
        xp = backend.get_array_module(*arrays, *params.values(), op=name)
        ctx = Context()
        record = _grad_enabled and any(t.requires_grad for t in tensors)
        # Known before forward runs, so that forward saves only what backward will use.
        ctx.needs_input_grad = tuple(record and t.requires_grad for t in tensors)
        try:
            out = cls.forward(ctx, *arrays, **params)
        except ShapeError:
            raise
        except ValueError as e:  # NumPy's broadcast / matmul complaints, made to name the op
            shapes = " and ".join(str(tuple(a.shape)) for a in arrays)
            raise ShapeError(f"{name}: inputs of shapes {shapes} do not fit: {e}") from None
        if not backend.is_array(out):  # NumPy returns a scalar, not a 0-d array, for 0-d results
            out = xp.asarray(out)
        if out.dtype != tensors[0].dtype:
            raise TypeError(f"{name}.forward returned {out.dtype} for {tensors[0].dtype} "
                            f"inputs; ops must not change dtype")
        result = Tensor._wrap(out)
        if record:
            result.requires_grad = True
            result._node = _Node(cls, ctx, tensors, out)
        return result


class _Node:
    """One recorded op: its Function, its Context, and per input where the backward walk goes.

    ``inputs[i]`` is the input's own node if it was computed, the input Tensor if it is a leaf
    that requires grad, and None if it needs no gradient. A computed input is reached through
    its node, never its Tensor, so the graph keeps no intermediate activation alive: only what
    ``forward`` saved in ``ctx``. ``shape`` and ``dtype`` are those of the op's output, which
    its gradient must have. ``ctx`` becomes None when backward releases the node.
    """

    __slots__ = ("fn", "ctx", "inputs", "shape", "dtype")

    def __init__(self, fn, ctx, tensors, out):
        self.fn, self.ctx = fn, ctx
        self.inputs = tuple(t._node if t._node is not None else t if t.requires_grad else None
                            for t in tensors)
        self.shape, self.dtype = tuple(out.shape), out.dtype


def _as_tensors(inputs, op):
    """Inputs as Tensors: Python scalars and arrays become constants of the Tensors' dtype.

    Tensors must agree on dtype: minigan never promotes silently (a float64 constant would
    otherwise turn a float32 network into float64, twice as slow).
    """
    first = next((x for x in inputs if isinstance(x, Tensor)), None)
    if first is None:
        raise TypeError(f"{op}: at least one input must be a Tensor")
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            if x.dtype != first.dtype:
                raise TypeError(f"{op}: dtype mismatch, {first.dtype} and {x.dtype}; "
                                f"convert one of them explicitly")
            out.append(x)
        else:
            xp = backend.get_array_module(first.data, x, op=op)
            out.append(Tensor._wrap(xp.asarray(x, dtype=first.dtype)))
    return out


class Tensor:
    """An array that remembers how it was computed, so gradients can flow back through it.

    Attributes:
        data: the underlying NumPy or CuPy array.
        grad: the accumulated gradient (an array of the same shape), or None.
        requires_grad: whether gradients are wanted for this tensor.
    """

    __array_priority__ = 1000  # make `ndarray + Tensor` call Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        if isinstance(data, Tensor):
            data = data.data
        if device is None:
            device = backend.device_of(data) if backend.is_array(data) else backend.default_device()
        if dtype is None:
            kind = getattr(getattr(data, "dtype", None), "kind", None)
            dtype = data.dtype if kind == "f" else DEFAULT_DTYPE
        self.data = backend.xp_for(device).asarray(backend.to_device(data, device), dtype=dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, "
                            f"got {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._node = None  # the _Node that computed this tensor; None for a leaf

    @classmethod
    def _wrap(cls, array):
        """A Tensor around an existing array, without copying or converting it."""
        t = cls.__new__(cls)
        t.data, t.requires_grad, t.grad, t._node = array, False, None, None
        return t

    # --- array-like properties -------------------------------------------------------------
    shape = property(lambda self: tuple(self.data.shape))
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: int(self.data.size))
    dtype = property(lambda self: self.data.dtype)
    device = property(lambda self: backend.device_of(self.data))
    is_leaf = property(lambda self: self._node is None)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = np.array2string(backend.to_numpy(self.data), separator=", ", precision=4,
                               prefix="tensor(")
        extra = "" if self.dtype == DEFAULT_DTYPE else f", dtype={self.dtype}"
        extra += "" if self.device == "cpu" else f", device='{self.device}'"
        extra += ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({body}{extra})"

    # --- operators and methods (computed by the ops in minigan/ops) ----------------------
    def __add__(self, other): return _ew.add(self, other)
    def __radd__(self, other): return _ew.add(other, self)
    def __sub__(self, other): return _ew.sub(self, other)
    def __rsub__(self, other): return _ew.sub(other, self)
    def __mul__(self, other): return _ew.mul(self, other)
    def __rmul__(self, other): return _ew.mul(other, self)
    def __truediv__(self, other): return _ew.div(self, other)
    def __rtruediv__(self, other): return _ew.div(other, self)
    def __matmul__(self, other): return _lin.matmul(self, other)
    def __rmatmul__(self, other): return _lin.matmul(other, self)
    def __pow__(self, p): return _ew.pow(self, p)
    def __rpow__(self, base): return _ew.exp(self * float(np.log(base)))
    def __neg__(self): return _ew.neg(self)
    def __getitem__(self, index): return _shape.getitem(self, index)

    def exp(self): return _ew.exp(self)
    def log(self): return _ew.log(self)
    def sqrt(self): return _ew.sqrt(self)
    def abs(self): return _ew.abs(self)
    def clip(self, min=None, max=None): return _ew.clip(self, min, max)
    def relu(self): return _act.relu(self)
    def sigmoid(self): return _act.sigmoid(self)
    def tanh(self): return _act.tanh(self)
    def sum(self, axis=None, keepdims=False): return _reduce.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _reduce.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _reduce.max(self, axis, keepdims)
    def reshape(self, *shape): return _shape.reshape(self, *shape)
    def transpose(self, *axes): return _shape.transpose(self, *axes)
    def permute(self, *axes): return _shape.transpose(self, *axes)
    def flatten(self, start_dim=0, end_dim=-1): return _shape.flatten(self, start_dim, end_dim)
    T = property(lambda self: _shape.transpose(self))

    # --- autograd --------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``. See :func:`backward`."""
        backward([self], None if grad is None else [grad], retain_graph=retain_graph)

    def detach(self):
        """The same data, cut from the graph (no copy)."""
        return Tensor._wrap(self.data)

    def zero_grad(self):
        self.grad = None

    def requires_grad_(self, flag=True):
        if not self.is_leaf:
            raise RuntimeError("requires_grad can only be changed on a leaf tensor")
        self.requires_grad = bool(flag)
        return self

    # --- conversion ------------------------------------------------------------------------
    def numpy(self):
        """The values as a NumPy array (copied from the GPU when needed)."""
        return backend.to_numpy(self.data)

    def item(self):
        """The value of a one-element tensor as a Python float."""
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def to(self, device=None, dtype=None):
        """This tensor on ``device`` and/or as ``dtype``.

        Returns ``self`` when nothing changes, else a new leaf: moves and casts are not recorded
        in the graph (the leaf keeps ``requires_grad``).
        """
        data = self.data if device is None else backend.to_device(self.data, device)
        if dtype is not None and np.dtype(dtype) != data.dtype:
            data = data.astype(dtype)
        if data is self.data:
            return self
        out = Tensor._wrap(data)
        out.requires_grad = self.requires_grad
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def astype(self, dtype):
        return self.to(dtype=dtype)

    def double(self):
        return self.astype(np.float64)

    def float(self):
        return self.astype(np.float32)


def tensor(data, requires_grad=False, dtype=None, device=None):
    """Make a Tensor from a list, scalar or array.

    Args:
        data: values. Floating arrays keep their dtype; anything else becomes float32.
        requires_grad: track gradients for this (leaf) tensor.
        dtype: e.g. ``"float64"`` for gradient checks.
        device: ``"cpu"`` or ``"cuda"``; default: where ``data`` lives, else
            ``backend.default_device()``.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def backward(tensors, grads=None, retain_graph=False):
    """Backpropagate from ``tensors`` (outputs) with upstream gradients ``grads``.

    Each leaf reached that requires grad gets ``leaf.grad += dL/dleaf``, where
    ``L = sum_i <tensors[i], grads[i]>``. Gradients *accumulate*: calling this twice without
    zeroing doubles ``.grad``, exactly as in PyTorch. A scalar output may omit its gradient (1).

    The graph's saved arrays are released as the walk passes each node, unless
    ``retain_graph=True``; walking a released graph again is an error.
    """
    if grads is None:
        grads = [None] * len(tensors)
    # The walk visits nodes (computed tensors) and leaf Tensors: see _Node.
    pending = {}  # id(node or leaf) -> [gradient array, owned]; owned arrays may be added into
    roots = []
    for t, g in zip(tensors, grads):
        if not t.requires_grad:
            raise RuntimeError("backward through a tensor that does not require grad: no input "
                               "of the computation has requires_grad=True (or it ran in no_grad)")
        roots.append(t if t._node is None else t._node)
        _add_grad(pending, roots[-1], _seed_grad(t, g))

    for item in _topological_order(roots):
        entry = pending.pop(id(item), None)
        if entry is None:
            continue
        g, owned = entry
        if isinstance(item, Tensor):  # a leaf: keep the gradient
            if item.grad is None:
                item.grad = g if owned else g.copy()
            else:
                item.grad += g
            continue
        fn, ctx, inputs = item.fn, item.ctx, item.inputs
        if ctx is None:
            raise RuntimeError("backward through a graph that was already released; call "
                               "backward(retain_graph=True) the first time to walk it twice")
        in_grads = fn.backward(ctx, g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if len(in_grads) != len(inputs):
            raise RuntimeError(f"{fn.__name__}.backward returned {len(in_grads)} gradients "
                               f"for {len(inputs)} inputs")
        for i, (x, gx) in enumerate(zip(inputs, in_grads)):
            if x is not None and gx is not None:
                if not backend.is_array(gx):  # a NumPy scalar from 0-d arithmetic
                    gx = backend.get_array_module(g).asarray(gx)
                if gx.shape != x.shape or gx.dtype != x.dtype:
                    raise RuntimeError(
                        f"{fn.__name__}.backward returned a {gx.dtype} gradient of shape "
                        f"{tuple(gx.shape)} for input {i} of shape {x.shape} ({x.dtype})")
                # A fresh array (not a view, not g handed on, not returned twice) belongs to
                # no one else: it may become a leaf's .grad or be added into without a copy.
                fresh = (gx.base is None and gx is not g
                         and not any(gx is other for other in in_grads[:i]))
                _add_grad(pending, x, gx, owned=fresh)
        if not retain_graph:
            item.ctx = None  # frees what forward saved


def _seed_grad(t, g):
    xp = backend.get_array_module(t.data)
    if g is None:
        if t.size != 1:
            raise RuntimeError(f"backward() on a non-scalar tensor of shape {t.shape} needs a "
                               f"gradient: call .backward(grad) with an array of that shape")
        return xp.ones_like(t.data)
    g = g.data if isinstance(g, Tensor) else g
    g = xp.asarray(g, dtype=t.dtype)
    if g.shape != t.data.shape:
        raise ShapeError(f"backward: gradient of shape {tuple(g.shape)} for a tensor of "
                         f"shape {t.shape}")
    return g


def _add_grad(pending, key, g, owned=False):
    """Add the gradient contribution ``g`` to the pending total of ``key`` (a node or a leaf).
    ``owned``: no one else holds ``g``, so later contributions may be added into it in place."""
    entry = pending.get(id(key))
    if entry is None:
        pending[id(key)] = [g, owned]
    elif entry[1]:
        entry[0] += g
    else:  # the first sum makes a fresh array that later contributions may be added into
        total = entry[0] + g
        if not backend.is_array(total):
            total = backend.get_array_module(g).asarray(total)
        pending[id(key)] = [total, True]


def _topological_order(roots, through_released=False):
    """Nodes and leaves reachable from ``roots``, each after every node computed from it.

    An iterative depth-first search: Python's recursion limit would stop a recursive one on
    long graphs (an RNN, a 10,000-op chain). The walk stops at a node that backward released
    (it can pass no gradient on) unless ``through_released``: its inputs are still known, which
    is all that drawing the graph (minigan/graph.py) needs.
    """
    order, seen = [], set()
    stack = [(r, False) for r in roots]
    while stack:
        item, expanded = stack.pop()
        if expanded:
            order.append(item)
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        stack.append((item, True))
        if isinstance(item, _Node) and (item.ctx is not None or through_released):
            stack.extend((x, False) for x in item.inputs if x is not None and id(x) not in seen)
    return reversed(order)


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape``: the adjoint of broadcasting is summation.

    If ``x`` of shape ``shape`` was broadcast to ``g.shape`` in the forward pass, every copy of
    an element contributed to the output, so its gradient is the sum of the copies' gradients:
    over the leading axes broadcasting added, and over the axes where ``x`` had size 1.
    """
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


# The ops import this module for Function and Tensor, so they are imported last.
from .ops import activations as _act  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import linalg as _lin  # noqa: E402
from .ops import reduce as _reduce  # noqa: E402
from .ops import shape as _shape  # noqa: E402
