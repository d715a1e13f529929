"""Binary cross-entropy, fused into single stable ops.

Writing BCE as ``-(t log sigmoid(x) + (1-t) log(1 - sigmoid(x)))`` from primitives overflows and
takes log(0) for large |x|; the fused forms below never do, and their gradients are one line.
Derivations: docs/derivations/activations.md#binary-cross-entropy. Tests: tests/test_loss.py.
"""

import numbers

import numpy as np

from ..backend import get_array_module
from ..tensor import Function, ShapeError, array_of, unbroadcast
from .activations import _sigmoid


def _check_target(op, x, t):
    """The target must have the input's shape (or be one number), as in PyTorch.

    Broadcasting here would be a silent bug: logits of shape (N, 1) against labels of shape (N,)
    would broadcast to an (N, N) loss whose mean is wrong but finite.
    """
    if t.shape != x.shape and t.ndim != 0:
        raise ShapeError(f"{op}: target of shape {tuple(t.shape)} does not match input of shape "
                         f"{tuple(x.shape)}; reshape one of them (only a single number broadcasts)")


def check_unit_interval(value, op, name):
    """Refuse a target or probability outside [0, 1] (or NaN), where BCE is no cross-entropy
    (it is unbounded below) or takes the log of a negative number.

    Checked where it costs no device synchronisation: Python numbers always, NumPy arrays and
    CPU Tensors with one pass over the host memory. A CuPy array is not checked: reading its
    min and max would stop the GPU on every call."""
    data = array_of(value)
    if isinstance(data, (numbers.Real, np.ndarray)):
        data = np.asarray(data)
        if data.size and data.dtype.kind in "biuf" and not (data.min() >= 0 and data.max() <= 1):
            raise ValueError(f"{op}: {name} must lie in [0, 1], got values in "
                             f"[{data.min()}, {data.max()}]")


class BCEWithLogits(Function):
    """l = softplus(x) - t x = max(x, 0) - t x + log1p(e^-|x|), per entry (x a logit, t a target).

    VJP: gx = g (sigma(x) - t),  gt = -g x.
    """

    @staticmethod
    def forward(ctx, x, t):
        _check_target("BCEWithLogits", x, t)
        xp = get_array_module(x, t)
        ctx.save_for_backward(x, t)
        return xp.maximum(x, 0) - t * x + xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved
        gx = g * (_sigmoid(x) - t) if ctx.needs_input_grad[0] else None
        gt = unbroadcast(-g * x, t.shape) if ctx.needs_input_grad[1] else None
        return gx, gt


class BCE(Function):
    """l = -(t log p + (1 - t) log(1 - p)), each log clamped at -100 as PyTorch does.

    VJP: gp = g (p - t) / max(p (1 - p), 1e-12)  (PyTorch's formula; finite at p = 0 or 1),
    gt = g (log(1 - p) - log p) with the same clamped logs.
    """

    @staticmethod
    def forward(ctx, p, t):
        _check_target("BCE", p, t)
        xp = get_array_module(p, t)
        with np.errstate(divide="ignore"):  # log(0) = -inf is expected; the clamp handles it
            log_p = xp.maximum(xp.log(p), -100)
            log_1mp = xp.maximum(xp.log(1 - p), -100)
        ctx.save_for_backward(p, t, log_p, log_1mp)
        return -(t * log_p + (1 - t) * log_1mp)

    @staticmethod
    def backward(ctx, g):
        p, t, log_p, log_1mp = ctx.saved
        xp = get_array_module(g)
        gp = gt = None
        if ctx.needs_input_grad[0]:
            gp = g * (p - t) / xp.maximum(p * (1 - p), p.dtype.type(1e-12))
        if ctx.needs_input_grad[1]:
            gt = unbroadcast(g * (log_1mp - log_p), t.shape)
        return gp, gt


def binary_cross_entropy_with_logits(x, t):
    """Unreduced BCE on logits (see ``minigan.functional`` for the reduced form)."""
    check_unit_interval(t, "binary_cross_entropy_with_logits", "target")
    return BCEWithLogits.apply(x, t)


def binary_cross_entropy(p, t):
    """Unreduced BCE on probabilities (see ``minigan.functional`` for the reduced form)."""
    check_unit_interval(p, "binary_cross_entropy", "input (a probability)")
    check_unit_interval(t, "binary_cross_entropy", "target")
    return BCE.apply(p, t)


# --- softmax cross-entropy ------------------------------------------------------------------
# Derivations: docs/derivations/activations.md#softmax-cross-entropy.
# Tests: tests/test_cross_entropy.py.

def _shifted_logsumexp(x, axis):
    """logsumexp(x) along ``axis`` in two parts, ``(m, s)`` with ``logsumexp = m + s``:
    m = max(x) and s = log sum_j exp(x_j - m), both with ``axis`` kept (size 1). Stable: every
    exponent is <= 0 and the sum lies in [1, C], so s lies in [0, log C]. Kept apart because
    ``(x - m) - s`` is more accurate than ``x - (m + s)`` when |m| >> s (at m = -1e4 in
    float32, m + s would keep only 3 digits of s)."""
    xp = get_array_module(x)
    m = x.max(axis=axis, keepdims=True)
    return m, xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x) along ``axis``: the log of softmax(x)_j = e^(x_j) / sum_k e^(x_k).

    Forward (..., C, ...) -> same shape. VJP: gx = g - softmax(x) * sum(g) (the sum along
    ``axis``), with softmax(x) = e^y from the saved output.
    """

    @staticmethod
    def forward(ctx, x, axis):
        m, s = _shifted_logsumexp(x, axis)
        y = (x - m) - s
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        xp = get_array_module(y)
        return g - xp.exp(y) * g.sum(axis=ctx.axis, keepdims=True)


def _check_class_targets(op, x, target):
    if x.ndim != 2:
        raise ShapeError(f"{op}: expected logits of shape (N, C), got {tuple(x.shape)}")
    if target.shape != x.shape[:1]:
        raise ShapeError(f"{op}: target of shape {tuple(target.shape)} does not match logits of "
                         f"shape {tuple(x.shape)}; expected class indices of shape "
                         f"({x.shape[0]},)")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got {target.dtype}")
    if target.size and (int(target.min()) < 0 or int(target.max()) >= x.shape[1]):
        raise ValueError(f"{op}: class indices must lie in [0, {x.shape[1]}), got "
                         f"[{int(target.min())}, {int(target.max())}]")


class CrossEntropy(Function):
    """l_n = logsumexp(x_n) - x_n[t_n]: softmax cross-entropy of each row, from the logits.

    Forward: logits x (N, C), class indices ``target`` (N,) ints (a keyword setting: it takes no
    gradient) -> (N,), computed as (m - x_t) + s with m = max(x_n), s = log sum e^(x_n - m).
    VJP: gx = g[:, None] * (softmax(x) - onehot(t)).
    """

    @staticmethod
    def forward(ctx, x, target):
        _check_class_targets("CrossEntropy", x, target)
        xp = get_array_module(x)
        rows = xp.arange(x.shape[0])
        m, s = _shifted_logsumexp(x, 1)                           # (N, 1), (N, 1)
        ctx.save_for_backward(x, m, s, target)
        return (m[:, 0] - x[rows, target]) + s[:, 0]              # (N,)

    @staticmethod
    def backward(ctx, g):
        x, m, s, target = ctx.saved
        xp = get_array_module(x)
        gx = xp.exp((x - m) - s)                                  # (N, C) softmax
        gx[xp.arange(x.shape[0]), target] -= 1                    # - onehot(t)
        gx *= g[:, None]
        return gx


def log_softmax(x, axis=-1):
    """log softmax(x) along ``axis`` (see ``minigan.functional.log_softmax``)."""
    return LogSoftmax.apply(x, axis=axis)


def cross_entropy(x, target):
    """Unreduced softmax cross-entropy of logits (N, C) and class indices (N,) ints."""
    return CrossEntropy.apply(x, target=target)
