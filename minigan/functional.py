"""The functional API, used as ``import minigan.functional as F``.

Names, arguments and results follow ``torch.nn.functional``, so a learner can compare the two
line by line. Each function applies an op from ``minigan/ops``; read the op for its forward and
backward.
"""

from .ops.activations import leaky_relu, log_sigmoid, maxout, relu, sigmoid, softplus, tanh
from .ops.conv import conv2d, conv_transpose2d
from .ops.dropout import dropout
from .ops.elementwise import add
from .ops.linalg import matmul
from .ops.loss import BCE, BCEWithLogits
from .ops.norm import batch_norm
from .ops.shape import flatten, pad

__all__ = [
    "relu", "leaky_relu", "sigmoid", "tanh", "softplus", "log_sigmoid", "maxout",
    "linear", "binary_cross_entropy_with_logits", "binary_cross_entropy", "pad", "flatten",
    "conv2d", "conv_transpose2d",
    "batch_norm", "dropout",
]


def linear(input, weight, bias=None):
    """y = x W^T + b, with ``weight`` of shape ``(out_features, in_features)`` as in PyTorch.

    A composition of matmul, transpose and a broadcast add, so its VJP is theirs:
    gx = g W, gW = g^T x, gb = sum of g over the batch.
    """
    y = matmul(input, weight.T)
    return y if bias is None else add(y, bias)


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
        target: same shape, values in [0, 1] (a Tensor, array or number).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
    """
    loss = BCEWithLogits.apply(input, target)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def binary_cross_entropy(input, target, reduction="mean"):
    """BCE between probabilities ``input`` in [0, 1] and ``target``; logs clamped at -100 like
    PyTorch, so a saturated probability gives a large finite loss instead of inf."""
    return _reduce(BCE.apply(input, target), reduction, "binary_cross_entropy")
