"""The functional API, used as ``import minigan.functional as F``.

Names, arguments and results follow ``torch.nn.functional``, so a learner can compare the two
line by line. Each function applies an op from ``minigan/ops``; read the op for its forward and
backward.
"""

from .ops import args
from .ops.activations import leaky_relu, log_sigmoid, maxout, relu, sigmoid, softplus, tanh
from .ops.conv import conv2d, conv_transpose2d
from .ops.dropout import dropout
from .ops.linalg import linear as _linear
from .ops.linalg import matmul
from .ops.loss import BCE, BCEWithLogits, CrossEntropy, LogSoftmax, check_unit_interval
from .ops.norm import batch_norm
from .ops.shape import flatten, pad

__all__ = [
    "relu", "leaky_relu", "sigmoid", "tanh", "softplus", "log_sigmoid", "maxout",
    "linear", "binary_cross_entropy_with_logits", "binary_cross_entropy", "pad", "flatten",
    "conv2d", "conv_transpose2d",
    "batch_norm", "dropout",
    "log_softmax", "cross_entropy",
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
    check_unit_interval(target, "binary_cross_entropy_with_logits", "target")
    loss = BCEWithLogits.apply(input, target)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def binary_cross_entropy(input, target, reduction="mean"):
    """BCE between probabilities ``input`` in [0, 1] and ``target`` in [0, 1] (both checked
    unless on a GPU); logs clamped at -100 like PyTorch, so a saturated probability gives a
    large finite loss instead of inf."""
    check_unit_interval(input, "binary_cross_entropy", "input (a probability)")
    check_unit_interval(target, "binary_cross_entropy", "target")
    return _reduce(BCE.apply(input, target), reduction, "binary_cross_entropy")


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
    from . import backend
    from .tensor import array_of

    args.tensor(input, "cross_entropy")
    target = backend.to_device(array_of(target),
                               input.device)
    if target.dtype.kind == "f":  # a Tensor of labels is stored as floats; they must be whole
        xp = backend.get_array_module(target)
        if not bool(xp.all(target == xp.round(target))):
            raise TypeError("cross_entropy: target must hold class indices, got non-integer "
                            "values")
        target = target.astype(xp.int64)
    return _reduce(CrossEntropy.apply(input, target=target), reduction, "cross_entropy")
