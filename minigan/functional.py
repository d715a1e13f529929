"""The functional API, used as ``import minigan.functional as F``.

Names, arguments and results follow ``torch.nn.functional``, so a learner can compare the two
line by line. Each function applies an op from ``minigan/ops``; read the op for its forward and
backward.
"""

import numpy as np

from . import backend
from .ops import args
from .ops.activations import leaky_relu, log_sigmoid, maxout, relu, sigmoid, softplus, tanh
from .ops.conv import conv2d, conv_transpose2d
from .ops.dropout import dropout
from .ops.linalg import linear as _linear
from .ops.linalg import matmul  # noqa: F401  (F.matmul)
from .ops.loss import CrossEntropy, LogSoftmax
from .ops.loss import binary_cross_entropy as _binary_cross_entropy
from .ops.loss import binary_cross_entropy_with_logits as _binary_cross_entropy_with_logits
from .ops.norm import batch_norm
from .ops.shape import flatten, pad
from .tensor import DEFAULT_DTYPE, Tensor, array_of

__all__ = [
    "relu", "leaky_relu", "sigmoid", "tanh", "softplus", "log_sigmoid", "maxout",
    "linear", "binary_cross_entropy_with_logits", "binary_cross_entropy", "pad", "flatten",
    "conv2d", "conv_transpose2d",
    "batch_norm", "dropout",
    "log_softmax", "cross_entropy", "one_hot",
]


def linear(input, weight, bias=None):
    """y = x W^T + b, with ``weight`` of shape ``(out_features, in_features)`` as in PyTorch.

    Mathematically the composition ``matmul(input, weight.T) + bias``, so its VJP is theirs:
    gx = g W, gW = g^T x, gb = sum of g over the batch; computed by one fused op
    (``minigan.ops.linalg.Linear``) that skips the composition's temporaries.
    """
    return _linear(input, weight, bias)


def _reduce(loss, reduction, op):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """BCE between ``sigmoid(input)`` and ``target``, computed from the logits without overflow.

    Args:
        input: logits, any shape.
        target: same shape, values in [0, 1] (a Tensor, array or number); checked unless it
            lives on a GPU (see ``minigan.ops.loss.check_unit_interval``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """
    loss = _binary_cross_entropy_with_logits(input, target)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def binary_cross_entropy(input, target, reduction="mean"):
    """BCE between probabilities ``input`` in [0, 1] and ``target`` in [0, 1] (both checked
    unless on a GPU); logs clamped at -100 like PyTorch, so a saturated probability gives a
    large finite loss instead of inf."""
    loss = _binary_cross_entropy(input, target)
    return _reduce(loss, reduction, "binary_cross_entropy")


def log_softmax(input, dim=-1):
    """``log softmax(input)`` along ``dim``: ``x - logsumexp(x)``, stable for any logits (the
    max is shifted out before exponentiating). ``log_softmax(x).exp()`` is the softmax."""
    input = args.tensor(input, "log_softmax")
    return LogSoftmax.apply(input, axis=args.axis(dim, input.ndim, "log_softmax", "dim"))


def cross_entropy(input, target, reduction="mean"):
    """Softmax cross-entropy between logits ``input`` (N, C) and class indices ``target`` (N,).

    ``l_n = logsumexp(x_n) - x_n[t_n] = -log softmax(x_n)[t_n]``, computed in one fused op whose
    gradient is ``softmax(x) - onehot(t)``; finite for any logits.

    Args:
        input: logits (N, C).
        target: integer class indices in [0, C), shape (N,): a Tensor, array or list; moved to
            the logits' device.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """
    args.tensor(input, "cross_entropy")
    target = backend.to_device(array_of(target), input.device)
    if target.dtype.kind == "f":  # a Tensor of labels is stored as floats; they must be whole
        xp = backend.get_array_module(target)
        if not bool(xp.all(target == xp.round(target))):
            raise TypeError("cross_entropy: target must hold class indices, got non-integer "
                            "values")
        target = target.astype(xp.int64)
    return _reduce(CrossEntropy.apply(input, target=target), reduction, "cross_entropy")


def one_hot(labels, num_classes, dtype=None, device=None):
    """The one-hot code of class labels: row i of the result is all zeros but a 1 at column
    ``labels[i]``.

    As ``torch.nn.functional.one_hot``, but the code is a floating-point Tensor (float32 unless
    ``dtype`` says otherwise), since it is an input to a network, concatenated to its data
    (``nn.Conditional``). It is a constant: no gradient flows to the labels, which are classes,
    not numbers that could change a little.

    Args:
        labels: N class indices in [0, num_classes): a list, an integer array or a Tensor of
            whole numbers (minigan stores a Tensor made from integers as floats), shape (N,).
        num_classes: K, the number of classes.
        dtype: the code's dtype (default float32).
        device: where the code lives (default: where the labels are).

    Returns:
        A Tensor of shape (N, K) that does not require grad. Labels on a GPU are not checked
        against the range: reading them would stop the GPU (as ``check_unit_interval``).
    """
    num_classes = args.integer(num_classes, "one_hot", "num_classes", minimum=1)
    y = array_of(labels)
    device = device or (backend.device_of(y) if backend.is_array(y) else "cpu")
    y = backend.to_device(y, device)
    xp = backend.get_array_module(y)
    if y.ndim != 1:
        raise ValueError(f"one_hot: labels must be a vector of class indices (N,), got shape "
                         f"{y.shape}")
    whole = y.dtype.kind in "iu" or (y.dtype.kind == "f" and (
        device == "cuda" or bool(np.all(y == np.round(y)))))
    if not whole:
        raise TypeError(f"one_hot: labels must be class indices (whole numbers), got "
                        f"{y.dtype} values {y[:4].tolist()}")
    if device == "cpu" and y.size and not (y.min() >= 0 and y.max() < num_classes):
        raise ValueError(f"one_hot: labels must lie in [0, {num_classes}), got values in "
                         f"[{y.min():g}, {y.max():g}]")
    code = y[:, None] == xp.arange(num_classes)             # (N, K) booleans
    return Tensor(code.astype(DEFAULT_DTYPE if dtype is None else dtype))
