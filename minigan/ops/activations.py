"""Activation functions, each written to stay finite for any input.

All are elementwise, so each VJP is ``g * f'(x)``. Where ``f'`` is cheaper from the output
(sigmoid, tanh) the output is saved instead of the input; ReLU-like ops save a boolean mask.
Derivations: docs/derivations/activations.md. Tests: tests/test_activations.py.
"""

from ..backend import flush_subnormals, get_array_module
from ..tensor import Function
from . import args


def _sigmoid(x):
    """sigma(x) = 1 / (1 + e^-x) without overflow: only e^-|x| <= 1 is ever computed.

    Below x = log(smallest normal float), -87.3 in float32, e^-|x| is *subnormal*: correct,
    but x86 CPUs compute with subnormal numbers many times more slowly, and a sigmoid's output
    is the next layer's input: a trained goodfellow2014 generator puts some of its pixels
    there, which slowed the matrix product in D's first layer down (docs/performance.md,
    "Subnormal numbers"). So such e is set to 0, an
    absolute error below 1.2e-38 in float32 (docs/derivations/activations.md; test:
    test_sigmoid_flushes_subnormals_to_zero).
    """
    xp = get_array_module(x)
    e = flush_subnormals(xp.exp(-xp.abs(x)))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(x):
    """log(1 + e^x), stable: max(x, 0) + log1p(e^-|x|)."""
    xp = get_array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class ReLU(Function):
    """y = max(x, 0).  VJP: gx = g [x > 0] (the subgradient 0 at the kink, as in PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        mask = x > 0
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        return g * mask


class LeakyReLU(Function):
    """y = x if x > 0 else a x.  VJP: gx = g (1 if x > 0 else a).

    Written as arithmetic on the mask rather than ``where(mask, x, a x)``: on a random mask
    NumPy's ``where`` mispredicts a branch per entry and is much slower than a multiply.
    """

    @staticmethod
    def forward(ctx, x, negative_slope):
        xp = get_array_module(x)
        mask = x > 0
        ctx.save_for_backward(mask)
        ctx.slope = a = x.dtype.type(negative_slope)
        if 0 < a <= 1:  # then max(x, a x) is x for x > 0 and a x for x <= 0 (a = 0: inf * 0)
            return xp.maximum(x, x * a)
        return xp.where(mask, x, x * a)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        a = ctx.slope
        gx = mask * (1 - a)  # the slope, minus a: 1 - a where x > 0, 0 elsewhere
        gx += a
        gx *= g
        return gx


class Sigmoid(Function):
    """y = 1 / (1 + e^-x).  VJP: gx = g y (1 - y)."""

    @staticmethod
    def forward(ctx, x):
        y = _sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * y * (1 - y)


class Tanh(Function):
    """y = tanh x.  VJP: gx = g (1 - y^2)."""

    @staticmethod
    def forward(ctx, x):
        y = get_array_module(x).tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved
        return g * (1 - y * y)


class Softplus(Function):
    """y = log(1 + e^(b x)) / b, and y = x where b x > threshold (PyTorch's linear tail).

    VJP: gx = g sigma(b x) (and g on the linear tail).
    """

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = get_array_module(x)
        bx = x * x.dtype.type(beta)
        linear = bx > threshold
        ctx.save_for_backward(bx, linear)
        return xp.where(linear, x, _softplus(bx) / x.dtype.type(beta))

    @staticmethod
    def backward(ctx, g):
        bx, linear = ctx.saved
        return get_array_module(g).where(linear, g, g * _sigmoid(bx))


class LogSigmoid(Function):
    """y = log sigma(x) = -softplus(-x) = min(x, 0) - log1p(e^-|x|).

    VJP: gx = g (1 - sigma(x)) = g sigma(-x). Finite where log(sigmoid(x)) would give -inf.
    """

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        ctx.save_for_backward(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g * _sigmoid(-x)


def relu(x):
    return ReLU.apply(x)


def leaky_relu(x, negative_slope=0.01):
    negative_slope = args.real(negative_slope, "leaky_relu", "negative_slope")
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def sigmoid(x):
    return Sigmoid.apply(x)


def tanh(x):
    return Tanh.apply(x)


def softplus(x, beta=1.0, threshold=20.0):
    beta = args.real(beta, "softplus", "beta", low=0, low_open=True)
    threshold = args.real(threshold, "softplus", "threshold")
    return Softplus.apply(x, beta=beta, threshold=threshold)


def log_sigmoid(x):
    return LogSigmoid.apply(x)


def maxout(x, pieces, axis=1):
    """Maxout (Goodfellow et al. 2013): the max over groups of ``pieces`` consecutive features.

    ``x`` of shape ``(N, units * pieces)`` gives ``(N, units)``: feature ``j`` of the output is
    ``max(x[:, j*pieces : (j+1)*pieces])``. A composition of reshape and max, so its gradient
    (g routed to each group's winner) comes from theirs.
    """
    pieces = args.integer(pieces, "maxout", "pieces", minimum=1)
    shape = args.tensor(x, "maxout").shape
    axis = args.axis(axis, len(shape), "maxout")
    if not shape:
        raise ValueError("maxout: a 0-d tensor has no features to group")
    if shape[axis] % pieces:
        raise ValueError(f"maxout: {shape[axis]} features along axis {axis} do not split into "
                         f"groups of {pieces} pieces")
    grouped = x.reshape(shape[:axis] + (shape[axis] // pieces, pieces) + shape[axis + 1:])
    return grouped.max(axis=axis + 1)
