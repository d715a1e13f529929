"""Optimisers: SGD (with momentum and Nesterov), Adam and RMSprop, with PyTorch's update rules.

An optimiser holds a list of parameters (Tensors with ``requires_grad=True``) and, after
``loss.backward()`` has filled their ``.grad``, moves them a small step downhill::

    opt = minigan.optim.Adam(model.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt.zero_grad()            # every .grad = None
    loss.backward()            # fills .grad
    opt.step()                 # p.data updated in place

Three design points:

* The update runs *outside* the graph, on raw arrays, in place (``p.data -= ...``): an update is
  not something to differentiate, and a new array per step would break anyone holding ``p.data``.
  Each updated parameter's version counter advances (``Optimizer._grads``), so backward through
  a graph built before the step is refused rather than silently wrong.
* State (moments, momentum buffers) is created next to each parameter with the parameter's own
  array library, dtype and device (``xp.zeros_like(p.data)``). Hyperparameters are cast to the
  parameter's dtype before they touch an array, so a float32 network gets float32 updates.
* A parameter whose ``.grad`` is None (it took no part in the loss) is skipped: no update, no
  state change, and its step counter does not advance -- exactly as in PyTorch.

``state_dict()`` is a flat ``{str: number | str | list | array}`` dict, so it fits in an .npz
file as it is; see :meth:`Optimizer.state_dict`.
Derivations: docs/derivations/adam.md. Tests: tests/test_optim.py.
"""

import math
import numbers

import numpy as np

from . import backend
from .ops import args
from .tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop"]


class Optimizer:
    """Base class: a list of parameters, per-parameter state, ``zero_grad`` and (de)serialisation.

    Subclasses set ``hyperparameters`` (the names of the attributes that ``state_dict`` saves),
    ``state_keys`` (the per-parameter arrays they keep) and implement ``step``.
    """

    hyperparameters = ()
    state_keys = ()

    def __init__(self, params):
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors, got "
                            f"a single Tensor; wrap it in a list")
        try:
            self.params = list(params)
        except TypeError:
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors "
                            f"(e.g. model.parameters()), got {type(params).__name__}") from None
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a "
                                f"{type(p).__name__}, not a Tensor")
            if not p.requires_grad:
                raise ValueError(f"{type(self).__name__}: parameter {i} (shape {p.shape}) has "
                                 f"requires_grad=False, so it would never get a gradient")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{type(self).__name__}: a parameter appears more than once")
        # state[i]: {"step": int, <state_keys>: arrays}; empty until parameter i gets a step.
        self.state = [{} for _ in self.params]
        self._scratch_buffers = {}  # (device, dtype) -> flat array, see _scratch

    def zero_grad(self):
        """Forget every parameter's gradient (``.grad = None``, as PyTorch's default)."""
        for p in self.params:
            p.grad = None

    def step(self):
        raise NotImplementedError

    def _scratch(self, p):
        """A temporary array shaped like ``p``, for the intermediate terms of an update.

        One flat buffer per device and dtype, as large as the largest parameter, is reused by
        every parameter at every step: an update allocates nothing (a fresh temporary of a few
        MB costs page faults on every step).
        """
        return _scratch(self._scratch_buffers, p, self.params)

    def _grads(self):
        """(index, parameter, gradient) for every parameter that has a gradient."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            if p.grad.shape != p.data.shape:
                raise ValueError(f"{type(self).__name__}: parameter {i} has shape {p.shape} but "
                                 f"its gradient has shape {tuple(p.grad.shape)}")
            backend.get_array_module(p.data, p.grad, op=f"{type(self).__name__}.step")
            self._follow(i, p)
            # The caller changes p.data in place: a graph that saved it may no longer run
            # backward (see Tensor._version).
            p._changed()
            yield i, p, p.grad

    def _follow(self, i, p):
        """Keep parameter ``i``'s state on its device and dtype, also after ``model.to(...)``
        moved or cast the parameter in place."""
        st = self.state[i]
        for key, value in st.items():
            if key != "step" and (backend.device_of(value) != p.device or value.dtype != p.dtype):
                st[key] = backend.to_device(value, p.device).astype(p.dtype, copy=False)

    # --- serialisation -------------------------------------------------------------------
    def state_dict(self):
        """Everything needed to continue training bit-identically, as a flat dict.

        Layout (string keys, so it can be stored in an .npz file as it is)::

            "optimizer"          class name, e.g. "Adam"
            "num_params"         number of parameters
            "hparams.<name>"     each hyperparameter (lr, betas, eps, ...)
            "state.<i>.step"     steps taken by parameter i (absent if it never had a gradient)
            "state.<i>.<key>"    parameter i's state arrays (exp_avg, momentum_buffer, ...)

        Arrays are copies, on the parameters' device: training on after ``state_dict()`` does
        not change the dict.
        """
        out = {"optimizer": type(self).__name__, "num_params": len(self.params)}
        for name in self.hyperparameters:
            value = getattr(self, name)
            out[f"hparams.{name}"] = list(value) if isinstance(value, tuple) else value
        for i, st in enumerate(self.state):
            for key, value in st.items():
                out[f"state.{i}.{key}"] = value if key == "step" else value.copy()
        return out

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state saved by :meth:`state_dict`.

        Validates everything first and raises one ``ValueError`` listing every problem (wrong
        optimiser class, different number of parameters, missing or unexpected keys, shapes that
        do not match the parameters); nothing is changed unless all is well. Arrays are copied
        onto each parameter's device and cast to its dtype.
        """
        name = type(self).__name__
        problems = []
        sd = dict(state_dict)
        kind = sd.pop("optimizer", None)
        if kind is None:
            problems.append("missing key 'optimizer' (is this an optimizer's state dict?)")
        elif kind != name:
            problems.append(f"state dict is for optimizer {kind!r}, not {name!r}")
        num = sd.pop("num_params", None)
        if num != len(self.params):
            problems.append(f"state dict has {num} parameters, this optimizer has "
                            f"{len(self.params)}")
        hparams = {}
        for h in self.hyperparameters:
            if f"hparams.{h}" in sd:
                hparams[h] = sd.pop(f"hparams.{h}")
            else:
                problems.append(f"missing key 'hparams.{h}'")
        state = [{} for _ in self.params]
        unexpected = []
        for key, value in sd.items():
            parts = key.split(".")
            if (len(parts) != 3 or parts[0] != "state" or not parts[1].isdigit()
                    or parts[2] not in ("step",) + self.state_keys):
                unexpected.append(key)
                continue
            i, field = int(parts[1]), parts[2]
            if i >= len(self.params):
                problems.append(f"{key!r}: there is no parameter {i} (this optimizer has "
                                f"{len(self.params)})")
                continue
            p = self.params[i]
            if field == "step":
                if backend.is_array(value) and value.shape == () and value.dtype.kind in "iu":
                    value = int(value)
                if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                    problems.append(f"{key!r} must be an integer, got {value!r}")
                    continue
                state[i]["step"] = int(value)
            elif not backend.is_array(value):
                problems.append(f"{key!r} must be an array, got {type(value).__name__}")
            elif tuple(value.shape) != p.shape:
                problems.append(f"{key!r} has shape {tuple(value.shape)}, parameter {i} has "
                                f"shape {p.shape}")
            else:
                state[i][field] = value
        if unexpected:
            problems.append("unexpected keys " + ", ".join(repr(k) for k in unexpected))
        for i, st in enumerate(state):
            need = {"step", *self._required_state(hparams)} if st else set()
            missing, extra = sorted(need - set(st)), sorted(set(st) - need)
            if missing:
                problems.append(f"parameter {i}: missing " +
                                ", ".join(f"'state.{i}.{k}'" for k in missing))
            if extra:
                problems.append(f"parameter {i}: unexpected " +
                                ", ".join(f"'state.{i}.{k}'" for k in extra))
        if problems:
            raise ValueError(f"{name}.load_state_dict: " + "; ".join(problems))

        self._set_hyperparameters(**hparams)
        for i, st in enumerate(state):
            p = self.params[i]
            xp = backend.get_array_module(p.data)
            self.state[i] = {k: v if k == "step" else
                             xp.array(backend.to_device(v, p.device), dtype=p.dtype, copy=True)
                             for k, v in st.items()}

    def _required_state(self, hparams):
        """The state arrays parameter ``i`` must have once it has taken a step."""
        return self.state_keys

    def _set_hyperparameters(self, **hparams):
        raise NotImplementedError

    def __repr__(self):
        hp = ", ".join(f"{h}={getattr(self, h)!r}" for h in self.hyperparameters)
        return f"{type(self).__name__}({len(self.params)} parameters, {hp})"


def _scratch(buffers, p, params):
    """A view shaped like ``p`` into the flat buffer ``buffers[(device, dtype)]``, created as
    large as the largest of ``params`` the first time."""
    key = (p.device, p.dtype)
    buf = buffers.get(key)
    if buf is None or buf.size < p.size:
        size = max(q.size for q in params)
        buf = buffers[key] = backend.xp_for(p.device).empty(size, dtype=p.dtype)
    return buf[:p.size].reshape(p.shape)


def _scalar(value, p):
    """A Python number as a scalar of ``p``'s dtype: float32 arrays stay float32."""
    return p.dtype.type(value)


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum and weight decay.

    With ``g = grad + weight_decay * p`` and momentum ``mu``, PyTorch's rule::

        b = g                      (first step)
        b = mu * b + g             (later steps)
        g = g + mu * b   if nesterov else   g = b
        p = p - lr * g

    Args:
        params: iterable of Tensors with ``requires_grad=True``.
        lr: learning rate.
        momentum: ``mu`` in [0, 1); 0 is plain SGD (no buffer is kept).
        nesterov: use the Nesterov form (needs ``momentum > 0``).
        weight_decay: L2 penalty coefficient, added to the gradient.
    """

    hyperparameters = ("lr", "momentum", "nesterov", "weight_decay")
    state_keys = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params)
        self._set_hyperparameters(lr=lr, momentum=momentum, nesterov=nesterov,
                                  weight_decay=weight_decay)

    def _set_hyperparameters(self, lr, momentum, nesterov, weight_decay):
        lr = args.real(lr, "SGD", "lr (the learning rate)", 0)
        momentum = args.real(momentum, "SGD", "momentum", 0, 1, high_open=True)
        weight_decay = args.real(weight_decay, "SGD", "weight_decay", 0)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"SGD: nesterov must be True or False, got {nesterov!r}")
        if nesterov and momentum == 0:
            raise ValueError("SGD: Nesterov momentum needs momentum > 0")
        self.lr, self.momentum = lr, momentum
        self.nesterov, self.weight_decay = bool(nesterov), weight_decay

    def _required_state(self, hparams):
        return ("momentum_buffer",) if hparams.get("momentum", self.momentum) else ()

    def step(self):
        """Update every parameter that has a gradient, in place."""
        for i, p, g in self._grads():
            xp = backend.get_array_module(p.data)
            if self.weight_decay:
                g = g + _scalar(self.weight_decay, p) * p.data  # a new array: .grad stays as is
            st = self.state[i]
            st["step"] = st.get("step", 0) + 1
            if self.momentum:
                mu = _scalar(self.momentum, p)
                buf = st.get("momentum_buffer")
                if buf is None:
                    buf = st["momentum_buffer"] = xp.array(g, copy=True)
                else:
                    xp.multiply(buf, mu, out=buf)
                    buf += g
                g = g + mu * buf if self.nesterov else buf
            update = xp.multiply(g, _scalar(self.lr, p), out=self._scratch(p))
            p.data -= update


class Adam(Optimizer):
    """Adam with bias correction, in PyTorch's form (``eps`` outside the square root).

    With ``g = grad + weight_decay * p`` (L2 penalty, as ``torch.optim.Adam``) at step ``t``::

        m = beta1 * m + (1 - beta1) * g            first moment, an EMA of g
        v = beta2 * v + (1 - beta2) * g * g        second moment, an EMA of g^2
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    The first step moves each parameter by about ``lr * sign(g)``.

    Args:
        params: iterable of Tensors with ``requires_grad=True``.
        lr: learning rate (the size of the first step).
        betas: ``(beta1, beta2)``, the EMA coefficients of the two moments.
        eps: added to the denominator, for parameters whose gradient is ~0; it must be 0 or a
            normal number of every parameter's dtype (the default 1e-8 is too small for
            float16: pass eps >= 6.1e-05 there; docs/derivations/adam.md).
        weight_decay: L2 penalty coefficient, added to the gradient.
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    state_keys = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params)
        self._set_hyperparameters(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _set_hyperparameters(self, lr, betas, eps, weight_decay):
        lr = args.real(lr, "Adam", "lr (the learning rate)", 0)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        betas = tuple(args.real(b, "Adam", f"betas[{i}]", 0, 1, high_open=True)
                      for i, b in enumerate(betas))
        eps = args.real(eps, "Adam", "eps", 0)
        weight_decay = args.real(weight_decay, "Adam", "weight_decay", 0)
        _check_eps(self, eps)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay

    def step(self):
        """Update every parameter that has a gradient, in place."""
        beta1, beta2 = self.betas
        for i, p, g in self._grads():
            xp = backend.get_array_module(p.data)
            if self.weight_decay:
                g = g + _scalar(self.weight_decay, p) * p.data  # a new array: .grad stays as is
            if p.dtype not in self._eps_dtypes:  # cast since construction (model.to)
                _check_eps(self, self.eps, i)
            st = self.state[i]
            if not st:
                st.update(step=0, exp_avg=xp.zeros_like(p.data), exp_avg_sq=xp.zeros_like(p.data))
            st["step"] += 1
            t, m, v = st["step"], st["exp_avg"], st["exp_avg_sq"]

            # In place, every temporary in one reused buffer ``s``: m = beta1 m + (1 - beta1) g
            s = xp.multiply(g, _scalar(1 - beta1, p), out=self._scratch(p))
            xp.multiply(m, _scalar(beta1, p), out=m)
            m += s
            # v = beta2 v + (1 - beta2) g g
            xp.multiply(g, _scalar(1 - beta2, p), out=s)
            s *= g
            xp.multiply(v, _scalar(beta2, p), out=v)
            v += s
            # Where g stays 0 (a pixel G never draws, an input pixel that is always 0), v decays
            # by beta2 a step down through the subnormal floats, on which x86 arithmetic is
            # many times slower, for thousands of steps (docs/performance.md, "Subnormal
            # numbers"). Such v counts for nothing in the update (sqrt(v) < 1.1e-19 in float32,
            # against eps = 1e-8), so it is set to 0. Every 100 steps: the pass is not free.
            if t % 100 == 0:
                backend.flush_subnormals(v)

            # Bias corrections in float64 Python arithmetic (beta2^t is close to 1), then cast.
            step_size = _scalar(self.lr / (1 - beta1 ** t), p)
            denom = xp.sqrt(v, out=s)
            denom /= _scalar(math.sqrt(1 - beta2 ** t), p)
            denom += _scalar(self.eps, p)
            xp.divide(m, denom, out=denom)
            denom *= step_size
            p.data -= denom


def _check_eps(opt, eps, i=None):
    """Adam and RMSprop divide by ``sqrt(v) + eps``, with ``v`` 0 where the gradient has been
    0: ``eps`` must be a normal number of the parameter's dtype, or the division overflows (a
    subnormal eps) or is 0/0 = NaN (an eps that rounds to 0). The default 1e-8 is below
    float16's smallest normal number, 6.1e-05: half-precision parameters need a larger eps.
    (eps = 0, allowed as in PyTorch for exact experiments, gives 0/0 where a gradient has always
    been 0.)

    Checks parameter ``i`` of the optimiser ``opt``, or all of them where ``i`` is None (a new
    eps), and records the dtypes that passed in ``opt._eps_dtypes``, so that a step checks a
    parameter again only once it has been cast (``model.to``)."""
    checked = set() if i is None else opt._eps_dtypes
    for j, p in enumerate(opt.params) if i is None else [(i, opt.params[i])]:
        tiny = float(np.finfo(p.dtype).tiny)
        if 0 < eps < tiny:  # eps = 0 is asked for explicitly: then 0/0 is the user's choice
            raise ValueError(f"{type(opt).__name__}: eps={eps:g} is below the smallest normal "
                             f"{p.dtype} number ({tiny:.2g}), so parameter {j} (shape {p.shape}) "
                             f"could be moved by 0/0 = NaN or by an overflow where its gradient "
                             f"is 0; pass eps >= {tiny:.2g}, or train in float32")
        checked.add(p.dtype)
    opt._eps_dtypes = checked


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), in PyTorch's form: each step divided by a running RMS of
    the gradient; optionally centred, with momentum, and with L2 weight decay.

    With ``g = grad + weight_decay * p`` (L2 penalty, as ``torch.optim.RMSprop``)::

        v = alpha * v + (1 - alpha) * g * g        an EMA of g^2 (no bias correction)
        g_avg = alpha * g_avg + (1 - alpha) * g    centered only: an EMA of g
        d = sqrt(v) + eps                          or sqrt(v - g_avg^2) + eps when centered
        b = momentum * b + g / d; p = p - lr * b   with momentum (b starts at 0)
        p = p - lr * g / d                         without

    Adam is this with a first-moment EMA in place of ``g`` and bias corrections
    (docs/derivations/adam.md). WGAN trains its critic with RMSprop at lr 5e-5: a method without
    momentum, which the paper found steadier against a moving opponent.

    Args:
        params: iterable of Tensors with ``requires_grad=True``.
        lr: learning rate.
        alpha: the EMA coefficient of the squared gradient, in [0, 1).
        eps: added to the denominator, for parameters whose gradient is ~0.
        weight_decay: L2 penalty coefficient, added to the gradient.
        momentum: in [0, 1); 0 keeps no buffer.
        centered: divide by an estimate of the gradient's standard deviation instead of its
            RMS (Graves 2013), which keeps a second EMA, of ``g``.
    """

    hyperparameters = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")
    state_keys = ("square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        super().__init__(params)
        self._set_hyperparameters(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                  momentum=momentum, centered=centered)

    def _set_hyperparameters(self, lr, alpha, eps, weight_decay, momentum, centered):
        lr = args.real(lr, "RMSprop", "lr (the learning rate)", 0)
        alpha = args.real(alpha, "RMSprop", "alpha", 0, 1, high_open=True)
        eps = args.real(eps, "RMSprop", "eps", 0)
        weight_decay = args.real(weight_decay, "RMSprop", "weight_decay", 0)
        momentum = args.real(momentum, "RMSprop", "momentum", 0, 1, high_open=True)
        _check_eps(self, eps)
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.weight_decay, self.momentum = weight_decay, momentum
        self.centered = bool(centered)

    def _required_state(self, hparams):
        momentum = hparams.get("momentum", self.momentum)
        centered = hparams.get("centered", self.centered)
        return (("square_avg",) + (("momentum_buffer",) if momentum else ())
                + (("grad_avg",) if centered else ()))

    def step(self):
        """Update every parameter that has a gradient, in place."""
        alpha = self.alpha
        for i, p, g in self._grads():
            xp = backend.get_array_module(p.data)
            if p.dtype not in self._eps_dtypes:  # cast since construction (model.to)
                _check_eps(self, self.eps, i)
            if self.weight_decay:
                g = g + _scalar(self.weight_decay, p) * p.data  # a new array: .grad stays as is
            st = self.state[i]
            if not st:
                st.update(step=0, square_avg=xp.zeros_like(p.data))
            # Buffers are made when first needed, so momentum or centering switched on later
            # (or by load_state_dict) starts them at 0, as PyTorch's first step does.
            if self.momentum and "momentum_buffer" not in st:
                st["momentum_buffer"] = xp.zeros_like(p.data)
            if self.centered and "grad_avg" not in st:
                st["grad_avg"] = xp.zeros_like(p.data)
            st["step"] += 1
            v = st["square_avg"]

            # In place, every temporary in one reused buffer ``s``: v = alpha v + (1 - alpha) g g
            s = xp.multiply(g, _scalar(1 - alpha, p), out=self._scratch(p))
            s *= g
            xp.multiply(v, _scalar(alpha, p), out=v)
            v += s
            if self.centered:
                g_avg = st["grad_avg"]                    # g_avg = alpha g_avg + (1 - alpha) g
                xp.multiply(g, _scalar(1 - alpha, p), out=s)
                xp.multiply(g_avg, _scalar(alpha, p), out=g_avg)
                g_avg += s
                xp.multiply(g_avg, g_avg, out=s)          # v - g_avg^2 >= 0 in exact arithmetic
                xp.subtract(v, s, out=s)                  # (the EMAs' weights sum to < 1), but
                xp.maximum(s, 0, out=s)                   # may round below 0: sqrt would be nan
                denom = xp.sqrt(s, out=s)
            else:
                denom = xp.sqrt(v, out=s)
            # As in Adam: where g stays 0, v decays by alpha a step through the subnormal floats
            # (1,600 steps at alpha = 0.99), slow on x86 and worth nothing beside eps. Not with
            # eps = 0, where 0 / sqrt(subnormal) = 0 would become 0 / 0.
            if st["step"] % 100 == 0 and self.eps:
                backend.flush_subnormals(v)
                if self.centered:
                    backend.flush_subnormals(st["grad_avg"])
            denom += _scalar(self.eps, p)
            if self.momentum:
                b = st["momentum_buffer"]                  # b = momentum b + g / d
                xp.multiply(b, _scalar(self.momentum, p), out=b)
                xp.divide(g, denom, out=denom)
                b += denom
                p.data -= xp.multiply(b, _scalar(self.lr, p), out=denom)
            else:
                xp.divide(g, denom, out=denom)             # p = p - lr g / d
                denom *= _scalar(self.lr, p)
                p.data -= denom

