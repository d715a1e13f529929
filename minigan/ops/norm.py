"""Batch normalisation (Ioffe & Szegedy, 2015), one op with a closed-form backward.

Legend: N batch, C channels (features), H, W spatial axes; M = N*H*W entries per channel.
Statistics are per channel, over every axis but axis 1, for inputs (N, C), (N, C, L) or
(N, C, H, W)::

    mu = mean(x),  sigma^2 = mean((x - mu)^2)   (biased),   sigma = sqrt(sigma^2 + eps)
    x_hat = (x - mu) / sigma,                    y = gamma x_hat + beta

Written from primitives, the graph would hold a dozen nodes per call; differentiating through
``mu`` and ``sigma`` by hand collapses them into one expression (docs/derivations/batchnorm.md)::

    g_hat = g gamma
    gx    = (1 / (M sigma)) (M g_hat - sum(g_hat) - x_hat sum(g_hat x_hat))     (training)
    gx    = g_hat / sigma                                                       (eval: mu, sigma fixed)
    ggamma = sum(g x_hat),   gbeta = sum(g)

The code evaluates the training gx in the equal form (gamma / sigma)(g - gbeta/M - x_hat ggamma/M),
four passes over the batch into one new array. The per-channel sums (mu, sigma^2, gbeta, ggamma)
go through ``_channel_sums``, a matrix product where the memory allows one.

Tests: tests/test_norm.py.
"""

import numpy as np

from ..backend import get_array_module
from ..tensor import Function, ShapeError, Tensor, array_of
from . import args


def _reduce_axes(ndim):
    """Every axis but the channel axis 1: (0,) for (N, C), (0, 2, 3) for (N, C, H, W)."""
    return (0,) + tuple(range(2, ndim))


def _channel_rows(a):
    """``a`` (N, C, *) as a (C, M) matrix whose row c holds channel c's M entries, as a view
    with unit stride along the rows, or None when ``a``'s memory is not laid out so.

    It is, without a copy, for the layouts minigan's layers hand on: a convolution's output
    (channels outermost in memory, then H, W and the batch) and a Linear's (the transpose of a
    column-major (N, C)).
    """
    # The channel axis first, then the others outermost-in-memory first: (C, H, W, N) for a
    # convolution's output. The per-channel sums do not care in which order they are added.
    others = sorted((i for i in range(a.ndim) if i != 1), key=lambda i: -a.strides[i])
    t = a.transpose([1] + others)  # a view
    run = a.itemsize
    for size, stride in zip(reversed(t.shape[1:]), reversed(t.strides[1:])):
        if size != 1 and stride != run:
            return None
        run *= size
    return t.reshape(t.shape[0], -1)  # (C, M): the trailing axes are one contiguous run


def _channel_sums(a, b=None):
    """The sum over every axis but 1 of ``a``, or of ``a * b``: shape (C,).

    The readable form, and the oracle of tests/test_norm.py, is ``(a * b).sum(axis=axes)``.
    Where both arrays are NumPy arrays laid out channel by channel (:func:`_channel_rows`),
    the same sums are a matrix-vector product (``rows @ 1``) or a dot product per row (a
    batched ``(C, 1, M) @ (C, M, 1)``): BLAS, several times faster than NumPy's reductions on
    these shapes (docs/performance.md) and, for ``a * b``, without a temporary.
    """
    axes = _reduce_axes(a.ndim)
    rows = _channel_rows(a) if type(a) is np.ndarray else None
    if b is None:
        if rows is None:
            return a.sum(axis=axes)
        return rows @ np.ones(rows.shape[1], dtype=a.dtype)  # (C,)
    rows_b = _channel_rows(b) if rows is not None and type(b) is np.ndarray else None
    if rows_b is None:
        return (a * b).sum(axis=axes)
    return (rows[:, None, :] @ rows_b[:, :, None]).reshape(-1)  # (C,)


class BatchNorm(Function):
    """y = gamma (x - mu) / sqrt(sigma^2 + eps) + beta, per channel.

    forward(ctx, x (N, C, *), gamma (C,), beta (C,), *, running_mean, running_var, training,
            momentum, eps) -> y (N, C, *)
    backward(ctx, g (N, C, *)) -> gx (N, C, *), ggamma (C,), gbeta (C,)

    In training, mu and sigma^2 are the batch mean and *biased* variance, and the running
    statistics (arrays of shape (C,), or None) are updated in place with the *unbiased* variance
    sigma^2 M / (M - 1), as in PyTorch: ``running = (1 - momentum) running + momentum batch``.
    In eval, mu and sigma^2 are the running statistics, constants for the backward pass.
    """

    @staticmethod
    def forward(ctx, x, gamma, beta, running_mean, running_var, training, momentum, eps):
        xp = get_array_module(x)
        C = x.shape[1]
        shape = (1, C) + (1,) * (x.ndim - 2)  # per-channel vectors, broadcastable against x
        if training:
            M = x.size // C
            mean = _channel_sums(x) / x.dtype.type(M)
            x_hat = x - mean.reshape(shape)  # centred now, normalised in place below
            var = _channel_sums(x_hat, x_hat) / x.dtype.type(M)  # biased: it normalises
            if running_mean is not None:
                # In place: the module's buffers are these arrays. Unbiased for the estimate.
                running_mean[...] = (1 - momentum) * running_mean + momentum * mean
                running_var[...] = (1 - momentum) * running_var + momentum * var * (M / (M - 1))
        else:
            mean = running_mean.astype(x.dtype, copy=False)
            var = running_var.astype(x.dtype, copy=False)
            x_hat = x - mean.reshape(shape)
        inv_std = 1 / xp.sqrt(var + x.dtype.type(eps))  # (C,)
        x_hat *= inv_std.reshape(shape)  # (N, C, *)
        ctx.save_for_backward(x_hat, inv_std, gamma)
        ctx.training, ctx.shape = training, shape
        y = x_hat * gamma.reshape(shape)
        y += beta.reshape(shape)
        return y

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        x_hat, inv_std, gamma = ctx.saved
        shape = ctx.shape
        gbeta = _channel_sums(g)  # (C,)
        ggamma = _channel_sums(g, x_hat)  # (C,)
        if not ctx.needs_input_grad[0]:
            return None, ggamma, gbeta
        scale = (gamma * inv_std).reshape(shape)  # d y / d x when mu, sigma are constants
        if not ctx.training:  # mu and sigma are constants: a per-channel affine map
            return g * scale, ggamma, gbeta
        M = g.size // g.shape[1]
        # The closed form with gamma / sigma factored out, using sum(g_hat) = gamma * gbeta and
        # sum(g_hat x_hat) = gamma * ggamma:  gx = gamma / sigma (g - gbeta/M - x_hat ggamma/M).
        # Each line is one pass over (N, C, *) into the one new array.
        gx = x_hat * (ggamma / M).reshape(shape)
        gx += (gbeta / M).reshape(shape)
        xp.subtract(g, gx, out=gx)
        gx *= scale
        return gx, ggamma, gbeta



def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalisation of ``input`` (N, C) or (N, C, H, W), as ``torch.nn.functional.batch_norm``.

    Args:
        input: a Tensor with channels on axis 1.
        running_mean, running_var: arrays or Tensors of shape (C,), updated in place when
            ``training``; used instead of the batch statistics when not. Both None: the batch
            statistics are always used.
        weight, bias: gamma and beta, Tensors of shape (C,); None means 1 and 0.
        training: normalise with the batch statistics (and update the running ones).
        momentum: weight of the new batch in the running averages.
        eps: added to the variance before the square root.

    Returns:
        A Tensor of ``input``'s shape. An empty batch (N = 0) gives an empty output and leaves
        the running statistics as they are, as in PyTorch.
    """
    args.tensor(input, "batch_norm")
    momentum = args.real(momentum, "batch_norm", "momentum", 0, 1)
    eps = args.real(eps, "batch_norm", "eps", 0)
    if input.ndim < 2:
        raise ShapeError(f"BatchNorm: input needs a batch and a channel axis, got shape "
                         f"{input.shape}")
    C = input.shape[1]
    running_mean, running_var = array_of(running_mean), array_of(running_var)
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    training = training or running_mean is None
    for name, v in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if v is not None and tuple(v.shape) != (C,):
            raise ShapeError(f"BatchNorm: {name} of shape {tuple(v.shape)} does not match input "
                             f"of shape {input.shape}: expected ({C},)")
    xp = get_array_module(input.data)
    if weight is None:
        weight = Tensor._wrap(xp.ones(C, dtype=input.dtype))
    if bias is None:
        bias = Tensor._wrap(xp.zeros(C, dtype=input.dtype))
    if input.size == 0:  # an empty batch: nothing to normalise, no statistics (as PyTorch)
        shape = (1, C) + (1,) * (input.ndim - 2)
        return input * weight.reshape(shape) + bias.reshape(shape)
    if training and input.size // max(C, 1) < 2:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {input.shape}")
    if training and running_mean is not None:
        for name, v in (("running_mean", running_mean), ("running_var", running_var)):
            if not getattr(v.flags, "writeable", True):
                raise ValueError(f"batch_norm: {name} is a read-only array, but training "
                                 f"updates it in place; pass a writable copy")
    return BatchNorm.apply(input, weight, bias, running_mean=running_mean,
                           running_var=running_var, training=bool(training),
                           momentum=momentum, eps=eps)
