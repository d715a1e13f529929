"""Spectral normalisation of a weight (Miyato et al., 2018): W divided by its largest singular value.

A layer's weight W, of any shape, is read as a matrix W_m with one row per slice along ``dim``
(an output channel of a convolution, an output unit of a linear layer)::

    W_m = moveaxis(W, dim, 0).reshape(h, -1)

Its spectral norm sigma(W) = max over unit x of |W_m x| is the Lipschitz constant of the linear
map, and W / sigma(W) has spectral norm 1. sigma is estimated by power iteration: with unit
vectors u (h,) and v (the rest), one step is

    v <- W_m^T u / |W_m^T u|,    u <- W_m v / |W_m v|,    sigma = u^T W_m v.

u and v converge to the leading singular vectors, and since W barely changes between training
steps, one step per forward pass, continued from the last, keeps them there. They are treated as
constants in the backward pass, as in the paper: sigma = u^T W_m v is then linear in W, with
gradient u v^T, and the quotient rule gives the VJP of W_sn = W / sigma
(docs/derivations/spectral_norm.md)::

    gW = g / sigma - (<g, W> / sigma^2) u v^T        (u v^T laid out as W, along ``dim``)

The first term rescales; the second removes the part of g that would only grow sigma. At
converged u, v it is the exact gradient of W / sigma(W): u v^T is then the derivative of the
largest singular value.

Tests: tests/test_spectral_norm.py.
"""

from ..backend import get_array_module
from ..tensor import Function, ShapeError


def weight_matrix(w, dim=0):
    """W as the (h, rest) matrix whose spectral norm is normalised: slices along ``dim`` as rows."""
    xp = get_array_module(w)
    return xp.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)


def power_iteration(w, u, dim=0, steps=1, eps=1e-12):
    """``steps`` power-iteration steps for the top singular pair of ``weight_matrix(w, dim)``,
    from the unit vector ``u`` (h,); returns the new (u, v). Plain arrays, no graph: u and v are
    constants to the backward pass."""
    xp = get_array_module(w, u)
    w_m = weight_matrix(w, dim)
    for _ in range(steps):
        v = w_m.T @ u
        v = v / xp.maximum(xp.linalg.norm(v), eps)
        u = w_m @ v
        u = u / xp.maximum(xp.linalg.norm(u), eps)
    return u, v


class SpectralNormalize(Function):
    """W_sn = W / sigma with sigma = u^T W_m v, for fixed unit vectors u and v.

    forward(ctx, w (any shape), *, u (h,), v (rest,), dim) -> w_sn (w's shape)
    backward(ctx, g) -> gw = g / sigma - (<g, w> / sigma^2) * (u v^T laid out as w)
    """

    @staticmethod
    def forward(ctx, w, *, u, v, dim=0):
        if w.ndim < 1 or not -w.ndim <= dim < w.ndim:
            raise ShapeError(f"SpectralNormalize: dim {dim} is not an axis of the weight of "
                             f"shape {tuple(w.shape)}")
        w_m = weight_matrix(w, dim)
        if u.shape != (w_m.shape[0],) or v.shape != (w_m.shape[1],):
            raise ShapeError(f"SpectralNormalize: u of shape {tuple(u.shape)} and v of shape "
                             f"{tuple(v.shape)} do not fit the weight of shape {tuple(w.shape)} "
                             f"read as a {w_m.shape[0]} x {w_m.shape[1]} matrix along dim {dim}")
        sigma = u @ w_m @ v
        ctx.save_for_backward(w, u, v)
        ctx.sigma, ctx.dim = sigma, dim
        return w / sigma

    @staticmethod
    def backward(ctx, g):
        w, u, v = ctx.saved
        xp = get_array_module(w)
        sigma, dim = ctx.sigma, ctx.dim
        # u v^T is an (h, rest) matrix; back into W's layout: rows along ``dim``.
        moved = xp.moveaxis(w, dim, 0).shape
        uv = xp.moveaxis(xp.outer(u, v).reshape(moved), 0, dim)
        return (g / sigma - (xp.sum(g * w) / sigma ** 2) * uv,)


def spectral_normalize(w, u, v, dim=0):
    """``w / sigma`` with ``sigma = u^T W_m v`` (a Tensor ``w``; arrays ``u``, ``v``)."""
    return SpectralNormalize.apply(w, u=u, v=v, dim=dim)
