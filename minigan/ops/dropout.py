"""Inverted dropout (Srivastava et al., 2014).

In training every entry is kept with probability 1 - p and scaled by 1 / (1 - p), so that
E[y] = x and evaluation needs no rescaling (eval is the identity)::

    y = x * m / (1 - p),   m_i ~ Bernoulli(1 - p)        VJP: gx = g * m / (1 - p)

The op takes the mask ``m`` as a parameter: randomness lives in the wrapper :func:`dropout`,
and for a fixed mask the op is a deterministic (diagonal, linear) map, which is what a gradient
check needs. Derivation: docs/derivations/dropout.md. Tests: tests/test_dropout.py.
"""

from .. import backend
from ..tensor import Function, ShapeError
from . import args


class Dropout(Function):
    """y = x * mask / (1 - p) for a boolean ``mask`` of x's shape (True = kept).

    forward(ctx, x, *, mask, p) -> y (x's shape);  backward(ctx, g) -> gx = g * mask / (1 - p).
    p = 1 keeps nothing: y = 0 (scale 0, not 1/0, so no inf * 0 = NaN).
    """

    @staticmethod
    def forward(ctx, x, mask, p):
        if mask.shape != x.shape:
            raise ShapeError(f"Dropout: mask of shape {tuple(mask.shape)} for input of shape "
                             f"{tuple(x.shape)}")
        ctx.scale = x.dtype.type(0 if p == 1 else 1 / (1 - p))  # in x's dtype: ops keep dtype
        ctx.save_for_backward(mask)
        y = x * mask
        y *= ctx.scale  # in place: one temporary array fewer
        return y

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved
        gx = g * mask
        gx *= ctx.scale
        return gx


def _generator(generator, device):
    """A Generator on ``device`` from a Generator, an int seed, or None (the default one)."""
    if generator is None:
        # The default generators live with the other random defaults, seeded by
        # minigan.nn.init.manual_seed (imported here, not at the top: nn sits above ops).
        from ..nn.init import default_generator
        return default_generator(device)
    if isinstance(generator, int):
        return backend.rng(generator, device)
    return generator


def dropout(x, p=0.5, training=True, generator=None):
    """Inverted dropout, as ``torch.nn.functional.dropout``.

    Args:
        x: a Tensor.
        p: probability of zeroing an entry, in [0, 1].
        training: drop only in training; otherwise return ``x`` unchanged.
        generator: a NumPy/CuPy Generator on ``x``'s device, an int seed, or None for the
            default generator of that device (``minigan.nn.init.manual_seed`` seeds it).

    Returns:
        A Tensor of ``x``'s shape (``x`` itself when nothing is dropped).
    """
    args.tensor(x, "dropout")
    p = args.probability(p, "dropout")
    if not training or p == 0:
        return x
    gen = _generator(generator, x.device)
    # Uniform draws in x's dtype (float32 draws are half the work of float64); keep if >= p.
    mask = gen.random(x.shape, dtype=x.dtype) >= p
    return Dropout.apply(x, mask=mask, p=p)
