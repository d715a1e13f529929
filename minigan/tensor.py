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

What ``forward`` saved must still hold the values it saw when ``backward`` reads them. Every
Tensor carries a version counter that in-place changes made through minigan advance (an
optimiser's step, ``Tensor.add_`` and friends, ``nn.init``, ``load_state_dict``); a node
remembers the versions of the tensors whose memory it saved, and the walk refuses to use a
node whose saved tensor has changed since (docs/autograd.md, "Changing a tensor in place").
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
            if tensors[0].dtype.kind != "f":
                raise TypeError(f"{name}: computes on floating-point tensors, got "
                                f"{tensors[0].dtype}; convert with .float() or .double()")
            raise TypeError(f"{name}.forward returned {out.dtype} for {tensors[0].dtype} "
                            f"inputs; ops must not change dtype")
        # Which array owns the memory of each input and of the output, found once per op: an
        # output that views an input's memory (reshape, indexing) shares its version counter,
        # and the node remembers the versions of those whose memory forward saved.
        memories = [_memory_of(a) for a in arrays] + [_memory_of(out)]
        result = Tensor._wrap(out, _counter_of_memory(memories, tensors))
        if record:
            result.requires_grad = True
            result._node = _Node(cls, ctx, tensors, result, memories)
        return result


class _Node:
    """One recorded op: its Function, its Context, and per input where the backward walk goes.

    ``inputs[i]`` is the input's own node if it was computed, the input Tensor if it is a leaf
    that requires grad, and None if it needs no gradient. A computed input is reached through
    its node, never its Tensor, so the graph keeps no intermediate activation alive: only what
    ``forward`` saved in ``ctx``. ``shape`` and ``dtype`` are those of the op's output, which
    its gradient must have. ``ctx`` becomes None when backward releases the node.

    ``saved_versions`` lists ``(counter, version, input index or None for the output, shape)``
    for every tensor whose memory ``forward`` saved: the walk checks that none has been changed
    in place since (see :class:`_Version`).
    """

    __slots__ = ("fn", "ctx", "inputs", "shape", "dtype", "saved_versions")

    def __init__(self, fn, ctx, tensors, result, memories):
        self.fn, self.ctx = fn, ctx
        self.inputs = tuple(t._node if t._node is not None else t if t.requires_grad else None
                            for t in tensors)
        self.shape, self.dtype = result.shape, result.dtype
        self.saved_versions = _saved_versions(ctx, tensors, result, memories)

    def check_saved_versions(self):
        """Refuse to run backward on arrays that were changed in place after forward saved them."""
        for counter, version, index, shape in self.saved_versions:
            if counter.count != version:
                what = "its output" if index is None else f"its input {index}"
                raise RuntimeError(
                    f"{self.fn.__name__}: {what} (shape {shape}) was changed in place after the "
                    f"forward pass saved it for backward (it is at version {counter.count}, "
                    f"saved at version {version}), so the gradient would be wrong. Call "
                    f"backward before changing it (an optimiser's step() changes every "
                    f"parameter it updates), or change a copy")


class _Version:
    """How many times a tensor's memory has been changed in place: ``Tensor._version``.

    minigan advances it wherever it changes a tensor's data in place: an optimiser's step, the
    in-place Tensor methods (``add_``, ``sub_``, ``mul_``, ``copy_``, ``fill_``, ``zero_``),
    ``nn.init``, ``Module.load_state_dict`` and ``averaging.EMA.update``. Tensors that share
    memory (an op's output that views its input, ``detach()``) share one counter. A write straight into ``t.data`` (a raw
    array) bypasses it: minigan cannot see that (docs/autograd.md).
    """

    __slots__ = ("count",)

    def __init__(self):
        self.count = 0


def _memory_of(a):
    """The array that owns ``a``'s memory: ``a`` itself, or the array it is a view of."""
    base = a.base
    while base is not None and backend.is_array(base):  # NumPy keeps the chain one link long
        a, base = base, base.base
    return a


def _counter_of_memory(memories, tensors):
    """The version counter of the input whose memory the output views, or a new counter.

    ``memories``: :func:`_memory_of` each input's array and, last, the output's."""
    *inputs, output = memories
    for t, memory in zip(tensors, inputs):
        if memory is output:
            return t._version_counter
    return _Version()


def _saved_versions(ctx, tensors, result, memories):
    """``(counter, version, input index or None, shape)`` of each input, and of the output,
    whose memory ``ctx.save_for_backward`` holds (``memories`` as in :func:`_counter_of_memory`).
    Arrays kept in other ``ctx`` attributes are not tracked: save what backward reads with
    ``save_for_backward``."""
    saved = {id(_memory_of(a)) for a in getattr(ctx, "saved", ()) if backend.is_array(a)}
    if not saved:
        return ()
    owners = [*enumerate(tensors), (None, result)]
    return tuple((t._version_counter, t._version, i, t.shape)
                 for (i, t), memory in zip(owners, memories) if id(memory) in saved)


def _as_tensors(inputs, op):
    """Inputs as Tensors: Python numbers and arrays become constants of the Tensors' dtype.

    Tensors must agree on dtype: minigan never promotes silently (a float64 constant would
    otherwise turn a float32 network into float64, twice as slow). Anything that is not a real
    number, a rectangular array of them or a Tensor is refused with the op's name.
    """
    first = next((x for x in inputs if isinstance(x, Tensor)), None)
    if first is None:
        got = ", ".join(type(x).__name__ for x in inputs) or "nothing"
        raise TypeError(f"{op}: at least one input must be a Tensor, got {got}")
    out = []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor):
            if x.dtype != first.dtype:
                raise TypeError(f"{op}: dtype mismatch, {first.dtype} and {x.dtype}; "
                                f"convert one of them explicitly")
            out.append(x)
        else:
            out.append(Tensor._wrap(_constant(x, first, op, i)))
    return out


def _constant(x, like, op, position):
    """A non-Tensor input of an op as an array of ``like``'s dtype, on its device."""
    xp = backend.get_array_module(like.data, x, op=op)
    a = None
    if x is not None and not isinstance(x, (str, bytes)):
        try:
            a = xp.asarray(x)
        except (TypeError, ValueError):  # a ragged list, an object that is not a number
            pass
    if a is None or a.dtype.kind not in "biuf":
        what = f"a {a.dtype} array" if a is not None and a.dtype.kind != "O" else \
            f"{type(x).__name__} {_short_repr(x)}"
        raise TypeError(f"{op}: input {position} is {what}; expected a Tensor, a real number "
                        f"or a rectangular array of real numbers")
    if a.dtype.kind == "f" and like.dtype.kind != "f":
        raise TypeError(f"{op}: a floating-point constant for a {like.dtype} tensor would be "
                        f"truncated; convert the tensor with .float() or .double()")
    return a.astype(like.dtype, copy=False)


def _short_repr(x):
    r = repr(x)
    return r if len(r) <= 40 else r[:37] + "..."


class Tensor:
    """An array that remembers how it was computed, so gradients can flow back through it.

    Attributes:
        data: the underlying NumPy or CuPy array.
        grad: the accumulated gradient (an array of the same shape), or None.
        requires_grad: whether gradients are wanted for this tensor.
    """

    __array_priority__ = 1000  # make `ndarray + Tensor` call Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        source = data if isinstance(data, Tensor) else None
        if source is not None:
            data = data.data
        if device is None:
            device = backend.device_of(data) if backend.is_array(data) else backend.default_device()
        self.data = _as_data(data, dtype, device)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, "
                            f"got {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._node = None  # the _Node that computed this tensor; None for a leaf
        # A tensor made from another without a copy shares its memory, so its version counter.
        shared = source is not None and _memory_of(self.data) is _memory_of(source.data)
        self._version_counter = source._version_counter if shared else _Version()

    @classmethod
    def _wrap(cls, array, version_counter=None):
        """A Tensor around an existing array, without copying or converting it."""
        t = cls.__new__(cls)
        t.data, t.requires_grad, t.grad, t._node = array, False, None, None
        t._version_counter = _Version() if version_counter is None else version_counter
        return t

    # --- array-like properties -------------------------------------------------------------
    shape = property(lambda self: tuple(self.data.shape))
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: int(self.data.size))
    dtype = property(lambda self: self.data.dtype)
    device = property(lambda self: backend.device_of(self.data))
    is_leaf = property(lambda self: self._node is None)
    _version = property(lambda self: self._version_counter.count,
                        doc="How many times this tensor's memory was changed in place "
                            "(see _Version).")

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        """The sub-tensors along the first axis, as PyTorch (each ``self[i]``, in the graph)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        """The truth of a one-element tensor's value, as in PyTorch; ambiguous otherwise."""
        if self.size != 1:
            raise RuntimeError(f"bool() of a tensor with {self.size} elements (shape "
                               f"{self.shape}) is ambiguous; compare its values explicitly, "
                               f"e.g. bool((t.numpy() > 0).all())")
        return bool(self.data.item())

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
    def __rpow__(self, base): return _ew.rpow(base, self)
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
        """The same data, cut from the graph (no copy; it shares the version counter)."""
        return Tensor._wrap(self.data, self._version_counter)

    def zero_grad(self):
        self.grad = None

    def requires_grad_(self, flag=True):
        if not self.is_leaf:
            raise RuntimeError("requires_grad can only be changed on a leaf tensor")
        self.requires_grad = bool(flag)
        return self

    # --- in place, outside the graph ------------------------------------------------------
    # For updates that no gradient flows through (an optimiser's step, a re-initialisation),
    # run under no_grad. Each advances the version counter, so a graph that saved this tensor
    # refuses to run backward on the changed values.
    def add_(self, other):
        """``self += other`` in place; ``other`` a Tensor, array or number. Returns self."""
        self._before_inplace("add_")
        self.data += self._operand(other, "add_")
        return self._changed()

    def sub_(self, other):
        """``self -= other`` in place. Returns self."""
        self._before_inplace("sub_")
        self.data -= self._operand(other, "sub_")
        return self._changed()

    def mul_(self, other):
        """``self *= other`` in place. Returns self."""
        self._before_inplace("mul_")
        self.data *= self._operand(other, "mul_")
        return self._changed()

    def copy_(self, src):
        """Overwrite the values with ``src`` (broadcast to this shape, cast to this dtype)."""
        self._before_inplace("copy_")
        self.data[...] = self._operand(src, "copy_")
        return self._changed()

    def fill_(self, value):
        """Set every entry to the number ``value``. Returns self."""
        return self.copy_(value)

    def zero_(self):
        """Set every entry to 0. Returns self."""
        return self.copy_(0)

    def _before_inplace(self, op):
        if self.requires_grad and _grad_enabled:
            if self.is_leaf:
                raise RuntimeError(f"{op}: a leaf tensor that requires grad cannot be changed in "
                                   f"place while gradients are recorded; do it under "
                                   f"minigan.no_grad(), as an optimiser step does")
            raise RuntimeError(f"{op}: in-place changes are not recorded in the graph, so a "
                               f"tensor computed with gradients cannot be changed in place; "
                               f"use the out-of-place op (e.g. y = y + 1)")
        if not getattr(self.data.flags, "writeable", True):
            raise ValueError(f"{op}: this tensor's data is a read-only array; copy it first "
                             f"(minigan.tensor(np.array(a)))")

    def _operand(self, other, op):
        return _constant(array_of(other), self, f"Tensor.{op}", 0)

    def _changed(self):
        self._version_counter.count += 1
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
            dtype = _check_dtype(dtype, "Tensor.to")
            if self.requires_grad and dtype.kind != "f":
                raise TypeError(f"Tensor.to: a {dtype} tensor cannot require gradients, and "
                                f"this one does; convert t.detach() instead")
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


def _check_dtype(dtype, op):
    """``dtype`` as a NumPy dtype of real numbers (bool, integer or floating point)."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: {dtype!r} is not a dtype") from None
    if dtype.kind not in "biuf":
        raise TypeError(f"{op}: minigan tensors hold real numbers (bool, integer or floating "
                        f"point), not {dtype}")
    return dtype


def _as_data(data, dtype, device):
    """``data`` as an array on ``device``: floating arrays keep their dtype unless ``dtype``
    says otherwise, everything else becomes ``DEFAULT_DTYPE``. A read-only NumPy array is
    copied, so that the tensor can be updated in place like any other."""
    if data is None or isinstance(data, (str, bytes)):
        raise TypeError(f"tensor: data must be a number, a (nested) list or an array, got "
                        f"{type(data).__name__} {_short_repr(data)}")
    try:
        array = backend.to_device(data, device)
    except ValueError as e:  # NumPy's complaint about nested lists of different lengths
        raise ValueError(f"tensor: the data is not a rectangular array of numbers ({e})") \
            from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"tensor: minigan tensors hold real numbers, got {array.dtype} data"
                        + (" (complex numbers would lose their imaginary part)"
                           if array.dtype.kind == "c" else ""))
    if dtype is None:  # a floating *array* keeps its dtype; numbers and lists become float32
        floating = getattr(getattr(data, "dtype", None), "kind", None) == "f"
        dtype = array.dtype if floating else DEFAULT_DTYPE
    array = backend.xp_for(device).asarray(array, dtype=_check_dtype(dtype, "tensor"))
    if not getattr(array.flags, "writeable", True):
        array = array.copy()
    return array


def tensor(data, requires_grad=False, dtype=None, device=None):
    """Make a Tensor from a list, scalar or array.

    Args:
        data: values: a number, a (nested) list of numbers, an array or a Tensor. Floating
            arrays keep their dtype; anything else becomes float32. An array of the right dtype
            on the right device is used as it is, without a copy (a read-only one is copied);
            complex, string and object data are refused.
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
    zeroing doubles ``.grad``, exactly as in PyTorch. A one-element output may omit its
    gradient (None: 1). ``tensors`` may be one Tensor (and ``grads`` one gradient) or a
    sequence; there must be one gradient (or None) per tensor.

    ``.grad`` never shares memory with an array passed in (``grads``) or with an op's
    gradient: a leaf's first gradient is copied unless the walk itself allocated it (a sum of
    contributions), so later accumulation writes only into minigan's own arrays.

    The graph's saved arrays are released as the walk passes each node, unless
    ``retain_graph=True``; walking a released graph again is an error, and so is walking a node
    whose saved tensors were changed in place since its forward pass.
    """
    tensors, grads = _backward_arguments(tensors, grads)
    # The walk visits nodes (computed tensors) and leaf Tensors: see _Node.
    # pending: id(node or leaf) -> [gradient, summed]. ``summed``: the array is a sum that this
    # walk allocated and no one else holds, so later contributions may be added into it.
    pending = {}
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
        g, summed = entry
        if isinstance(item, Tensor):  # a leaf: keep the gradient, in an array of its own
            if item.grad is None:
                item.grad = g if summed else g.copy()
            else:
                item.grad += g
            continue
        fn, ctx, inputs = item.fn, item.ctx, item.inputs
        if ctx is None:
            raise RuntimeError("backward through a graph that was already released; call "
                               "backward(retain_graph=True) the first time to walk it twice")
        item.check_saved_versions()
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
                _add_grad(pending, x, gx)
        if not retain_graph:
            item.ctx = None  # frees what forward saved


def _backward_arguments(tensors, grads):
    """``tensors`` and ``grads`` as two lists of one length (grads: None for each by default)."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
        if grads is not None:
            grads = [grads]
    tensors = list(tensors)
    if not tensors:
        raise ValueError("backward: no tensors to backpropagate from")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward: tensors[{i}] is a {type(t).__name__}, not a Tensor")
    grads = [None] * len(tensors) if grads is None else list(grads)
    if len(grads) != len(tensors):
        raise ValueError(f"backward: {len(tensors)} tensors but {len(grads)} gradients; give "
                         f"one gradient per tensor (None for a one-element tensor)")
    return tensors, grads


def _seed_grad(t, g):
    """The upstream gradient of ``t``: ``g`` as an array of t's dtype on t's device, or 1."""
    if g is None:
        if t.size != 1:
            raise RuntimeError(f"backward() on a non-scalar tensor of shape {t.shape} needs a "
                               f"gradient: call .backward(grad) with an array of that shape")
        return backend.get_array_module(t.data).ones_like(t.data)
    g = _constant(array_of(g), t, "backward", 0)
    if g.shape != t.data.shape:
        raise ShapeError(f"backward: gradient of shape {tuple(g.shape)} for a tensor of "
                         f"shape {t.shape}")
    return g


def _add_grad(pending, key, g):
    """Add the gradient contribution ``g`` to the pending total of ``key`` (a node or a leaf).

    The first contribution is kept as it is: it may be an array that someone else holds (the
    caller's seed, an op's upstream gradient handed on unchanged). The second makes a new array,
    the sum, which this walk owns; only such sums are ever added into in place."""
    entry = pending.get(id(key))
    if entry is None:
        pending[id(key)] = [g, False]
    elif entry[1]:
        entry[0] += g
    else:
        total = entry[0] + g
        if not backend.is_array(total):  # NumPy returns a scalar for 0-d operands
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


def array_of(x):
    """The array inside a Tensor; an array (or anything else) as it is.

    The one way the library unwraps a value that may or may not be a Tensor. (Not
    ``getattr(x, "data", x)``: NumPy and CuPy arrays have a ``.data`` too, their raw buffer.)
    """
    return x.data if isinstance(x, Tensor) else x


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
