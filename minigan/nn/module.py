"""Module, Parameter and Sequential: the bookkeeping that turns ops into models.

A :class:`Module` is an object whose attributes may be :class:`Parameter` s (learned tensors),
buffers (state such as batch norm's running mean, registered with ``register_buffer``) and other
Modules. Assigning one of these to an attribute records it, in assignment order, exactly as in
PyTorch; everything else about a model (parameter lists, names, train/eval, moving to a device,
saving and loading) is a walk over that tree::

    class MLP(Module):
        def __init__(self):
            super().__init__()
            self.fc = Linear(2, 3)          # recorded as a child module named "fc"
        def forward(self, x):
            return self.fc(x)

    list(dict(MLP().named_parameters()))  # ['fc.weight', 'fc.bias']

Tests: tests/test_nn.py.
"""

from collections import OrderedDict, namedtuple

import numpy as np

from .. import backend
from ..tensor import Tensor, array_of


class Parameter(Tensor):
    """A Tensor that a Module learns: ``requires_grad=True`` by default, recorded on assignment.

    Ops on a Parameter return plain Tensors; only the leaf itself is a Parameter.
    """

    def __init__(self, data, requires_grad=True, dtype=None, device=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, device=device)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictError(RuntimeError):
    """``load_state_dict`` found missing, unexpected or wrongly shaped entries.

    Attributes ``missing_keys``, ``unexpected_keys`` and ``mismatched`` (a list of
    ``(key, checkpoint shape, model shape)``) say what; the message lists all of them.
    """

    def __init__(self, message, missing_keys, unexpected_keys, mismatched):
        super().__init__(message)
        self.missing_keys, self.unexpected_keys, self.mismatched = (
            missing_keys, unexpected_keys, mismatched)


class Module:
    """Base class of every layer and model. Subclasses call ``super().__init__()`` first, assign
    their Parameters, buffers and sub-Modules as attributes, and define ``forward``."""

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these dicts to exist already.
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- registration ----------------------------------------------------------------------
    def _check_init(self, name):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called; "
                                 f"call super().__init__() first")

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._check_init(name)
            self._forget(name, keep=self._parameters)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._check_init(name)
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                f"(a Parameter or None expected)")
            self._parameters[name] = None
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module "
                                f"{name!r} (a Module or None expected)")
            self._modules[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            self._buffers[name] = None if value is None else _as_buffer(value)
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep=None):
        """Remove ``name`` from every store but ``keep``, where reassignment keeps its place."""
        for d in (self.__dict__, self._parameters, self._buffers, self._modules):
            if d is not keep:
                d.pop(name, None)
        self._non_persistent.discard(name)

    def __getattr__(self, name):
        # Only called when normal lookup fails: the registered things live in the dicts.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Record ``param`` (a Parameter, or None for an absent one such as ``bias=False``)."""
        self._check_init(name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot register {type(param).__name__} as parameter {name!r} "
                            f"(a Parameter or None expected)")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Record state that is not learned (e.g. running statistics).

        Buffers move with ``to()`` and, when ``persistent``, are saved in ``state_dict()``.
        ``tensor`` may be a Tensor, an array or None.
        """
        self._check_init(name)
        self._forget(name)
        self._buffers[name] = None if tensor is None else _as_buffer(tensor)
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        self._check_init(name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module")
        self._forget(name)
        self._modules[name] = module

    # --- walking the tree ------------------------------------------------------------------
    def named_modules(self, prefix=""):
        """(name, module) for this module ("") and every descendant, depth first, each once."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = [(f"{name}.{k}" if name else k, c)
                        for k, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store, recurse=True):
        seen = set()
        modules = self.named_modules() if recurse else [("", self)]
        for prefix, m in modules:
            for name, v in getattr(m, store).items():
                if v is None or id(v) in seen:
                    continue
                seen.add(id(v))  # a shared (tied) parameter is listed once, under its first name
                yield (f"{prefix}.{name}" if prefix else name), v

    def named_parameters(self, recurse=True):
        """(dotted name, Parameter), in registration order: e.g. ("0.weight", ...)."""
        return self._named_members("_parameters", recurse)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse):
            yield p

    def named_buffers(self, recurse=True):
        return self._named_members("_buffers", recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse):
            yield b

    # --- modes and gradients ---------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (dropout drops, batch norm uses batch statistics) on the whole tree."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Forget accumulated gradients: ``.grad = None`` (or zero them in place)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def requires_grad_(self, requires_grad=True):
        """Switch gradient tracking of every parameter (e.g. freeze D while training G)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant and then on this module (custom init)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # --- devices and dtypes ----------------------------------------------------------------
    def to(self, device=None, dtype=None):
        """Move (and/or cast) parameters and buffers in place and return ``self``.

        The Parameter objects stay the same, so an optimiser built before the move still holds
        the right ones. ``dtype`` casts floating tensors only (a step counter stays an integer).
        """
        if device is not None:
            backend.check_device(device)
        if dtype is not None:
            _float_dtype(dtype, f"{type(self).__name__}.to")
        for t in list(self.parameters()) + list(self.buffers()):
            t.data = _convert(t.data, device, dtype)
            if t.grad is not None:
                t.grad = _convert(t.grad, device, dtype)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def double(self):
        return self.to(dtype=np.float64)

    def float(self):
        return self.to(dtype=np.float32)

    # --- saving and loading ----------------------------------------------------------------
    def state_dict(self):
        """An ordered dict ``name -> array`` of every parameter and persistent buffer.

        Names are dotted paths ("0.weight", "1.running_mean"); per module, its parameters come
        first, then its buffers, then its children's entries, as in PyTorch. The arrays are the
        module's own (no copy, like PyTorch): copy them to keep a snapshot while training on.
        """
        state = OrderedDict()
        for prefix, m in self.named_modules():
            dot = f"{prefix}." if prefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    state[dot + name] = p.data
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    state[dot + name] = b.data
        return state

    def _state_tensors(self):
        out = OrderedDict()
        for prefix, m in self.named_modules():
            dot = f"{prefix}." if prefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    out[dot + name] = p
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    out[dot + name] = b
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy ``state_dict``'s arrays into this module's parameters and buffers, in place.

        Every name and shape is checked before anything is copied: missing and unexpected
        names (when ``strict``) and shape mismatches (always) are all reported in one
        :class:`StateDictError`, and the module is left untouched. Values keep the dtype and
        device of the existing tensor.

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)`` (both empty when ``strict``).
        """
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        for k, t in own.items():
            if k in state_dict:
                shape = tuple(np.shape(array_of(state_dict[k])))
                if shape != t.shape:
                    mismatched.append((k, shape, t.shape))
        if mismatched or (strict and (missing or unexpected)):
            lines = [f"Error(s) in loading state_dict for {type(self).__name__}:"]
            if strict and missing:
                lines.append("  missing key(s): " + ", ".join(repr(k) for k in missing))
            if strict and unexpected:
                lines.append("  unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
            for k, got, want in mismatched:
                lines.append(f"  size mismatch for {k!r}: the checkpoint has shape {got}, "
                             f"the model has shape {want}")
            raise StateDictError("\n".join(lines), missing, unexpected, mismatched)
        for k, t in own.items():
            if k in state_dict:
                t.data[...] = backend.to_device(array_of(state_dict[k]), t.device)
                t._changed()  # changed in place: see Tensor._version
        return IncompatibleKeys(missing, unexpected)

    # --- printing --------------------------------------------------------------------------
    def extra_repr(self):
        """The text between the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        main = type(self).__name__ + "("
        if not self._modules and len(lines) <= 1:
            return main + (lines[0] if lines else "") + ")"
        return main + "\n  " + "\n  ".join(lines) + "\n)"


def _float_dtype(dtype, who):
    """``dtype`` as a NumPy dtype, if it is a floating-point one: parameters are learned by
    gradients, which only floats have. Else a TypeError naming ``who``."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{who}: dtype must be a floating-point dtype (parameters are learned "
                        f"by gradients), got {dtype}")
    return dtype


def _as_buffer(value):
    if isinstance(value, Tensor):
        return value
    return Tensor(value, dtype=getattr(value, "dtype", None))


def _convert(a, device, dtype):
    if device is not None:
        a = backend.to_device(a, device)
    if dtype is not None and a.dtype.kind == "f" and np.dtype(dtype) != a.dtype:
        a = a.astype(dtype)
    return a


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Linear(2, 3), ReLU())``.

    Children are named "0", "1", ... (or by an OrderedDict's keys); indexable (a slice gives a
    Sequential), iterable, and ``len()`` counts the layers.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        if not -len(items) <= index < len(items):
            raise IndexError(f"index {index} is out of range for a Sequential of length "
                             f"{len(items)}")
        return items[index][1]

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self
