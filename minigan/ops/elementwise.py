"""Elementwise arithmetic: z = f(x, y) applied entry by entry, with NumPy broadcasting.

For an elementwise op the Jacobian is diagonal, so the vector-Jacobian product is a product of
arrays: ``gx = g * df/dx``. When an input was broadcast, its gradient is summed back to its
shape by ``unbroadcast`` (the adjoint of broadcasting is summation).
Derivations: docs/derivations/elementwise.md. Tests: tests/test_elementwise.py.
"""

import numpy as np

from ..backend import get_array_module
from ..tensor import Function, Tensor, _constant, array_of, unbroadcast
from . import args


class Add(Function):
    """z = x + y.  VJP: gx = g, gy = g (each summed to its input's shape)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.shapes = x.shape, y.shape
        return x + y

    @staticmethod
    def backward(ctx, g):
        xs, ys = ctx.shapes
        return unbroadcast(g, xs), unbroadcast(g, ys)


class Sub(Function):
    """z = x - y.  VJP: gx = g, gy = -g."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.shapes = x.shape, y.shape
        return x - y

    @staticmethod
    def backward(ctx, g):
        xs, ys = ctx.shapes
        return unbroadcast(g, xs), unbroadcast(-g, ys) if ctx.needs_input_grad[1] else None


class Mul(Function):
    """z = x * y.  VJP: gx = g * y, gy = g * x."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        gx = unbroadcast(g * y, x.shape) if ctx.needs_input_grad[0] else None
        gy = unbroadcast(g * x, y.shape) if ctx.needs_input_grad[1] else None
        return gx, gy


class Div(Function):
    """z = x / y.  VJP: gx = g / y, gy = -g x / y^2 = -g z / y."""

    @staticmethod
    def forward(ctx, x, y):
        z = x / y
        ctx.save_for_backward(x, y, z)
        return z

    @staticmethod
    def backward(ctx, g):
        x, y, z = ctx.saved
        gx = unbroadcast(g / y, x.shape) if ctx.needs_input_grad[0] else None
        gy = unbroadcast(-g * z / y, y.shape) if ctx.needs_input_grad[1] else None
        return gx, gy


class Neg(Function):
    """z = -x.  VJP: gx = -g."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    """z = x ** p for a constant exponent p.  VJP: gx = g p x^(p-1) (and 0 for p = 0)."""

    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        return x ** x.dtype.type(p)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        if ctx.p == 0:  # x^0 = 1 is constant; g * 0 * x^-1 would be 0 * inf = nan at x = 0
            return get_array_module(g).zeros_like(g)
        p = x.dtype.type(ctx.p)
        return g * p * x ** (p - 1)


class Rpow(Function):
    """z = b ** x for a constant base b (a number or array) and a tensor exponent x.

    VJP: gx = g z ln b, summed to x's shape where b broadcast x; where b = 0 it is 0.

    ``b ** x = exp(x ln b)`` holds only for b > 0. The forward is ``xp.power(b, x)``, the
    real power for every base: ``0 ** x`` is 0 for x > 0, 1 at x = 0 and inf for x < 0;
    a negative base gives the real value at integer x (``(-2) ** 3 = -8``) and NaN elsewhere,
    where no real power exists. The gradient follows from ``d(b^x)/dx = b^x ln b``:
    for b = 0 the function is piecewise constant, so its gradient is 0 (the subgradient 0
    at the jump x = 0, as PyTorch's); for b < 0, b^x is real only at the integers and has no
    derivative in x, so the gradient is NaN, as PyTorch's. docs/derivations/elementwise.md.
    """

    @staticmethod
    def forward(ctx, x, base):
        xp = get_array_module(x)
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 = inf, (-2) ** 0.5 = nan
            z = xp.power(base, x)
        ctx.save_for_backward(z)
        ctx.base, ctx.shape = base, x.shape
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved
        xp = get_array_module(g)
        b = ctx.base
        with np.errstate(divide="ignore", invalid="ignore"):  # ln 0 = -inf, ln(-2) = nan
            gx = g * z * xp.log(b)
        gx = xp.where(b == 0, gx.dtype.type(0), gx)  # 0^x is piecewise constant
        return unbroadcast(gx, ctx.shape)


class Exp(Function):
    """z = e^x.  VJP: gx = g z (the output is saved, not the input)."""

    @staticmethod
    def forward(ctx, x):
        z = get_array_module(x).exp(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved
        return g * z


class Log(Function):
    """z = ln x.  VJP: gx = g / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return get_array_module(x).log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return g / x


class Sqrt(Function):
    """z = sqrt(x).  VJP: gx = g / (2 z)."""

    @staticmethod
    def forward(ctx, x):
        z = get_array_module(x).sqrt(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved
        return g / (2 * z)


class Abs(Function):
    """z = |x|.  VJP: gx = g sign(x) (0 at x = 0, as in PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        xp = get_array_module(x)
        ctx.save_for_backward(xp.sign(x))
        return xp.abs(x)

    @staticmethod
    def backward(ctx, g):
        (sign,) = ctx.saved
        return g * sign


class Clip(Function):
    """z = min(max(x, lo), hi).  VJP: gx = g where lo <= x <= hi, else 0."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = get_array_module(x)
        inside = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        ctx.save_for_backward(inside)
        return xp.clip(x, lo, hi).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved
        return g * inside


class Maximum(Function):
    """z = max(x, y) entrywise.  VJP: g goes to the larger input; ties split it half and half."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return get_array_module(x, y).maximum(x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        share = (x > y) + 0.5 * (x == y)  # 1 where x wins, 0.5 on a tie, 0 where y wins
        share = share.astype(g.dtype, copy=False)
        return unbroadcast(g * share, x.shape), unbroadcast(g * (1 - share), y.shape)


class Minimum(Function):
    """z = min(x, y) entrywise.  VJP: g goes to the smaller input; ties split it half and half."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return get_array_module(x, y).minimum(x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        share = ((x < y) + 0.5 * (x == y)).astype(g.dtype, copy=False)
        return unbroadcast(g * share, x.shape), unbroadcast(g * (1 - share), y.shape)


class Where(Function):
    """z = x where cond else y (cond is a constant boolean array).

    VJP: gx = g where cond else 0; gy = g where not cond else 0.
    """

    @staticmethod
    def forward(ctx, x, y, cond):
        xp = get_array_module(x, y, cond)
        ctx.cond, ctx.shapes = cond, (x.shape, y.shape)
        return xp.where(cond, x, y)

    @staticmethod
    def backward(ctx, g):
        xp = get_array_module(g)
        zero = g.dtype.type(0)
        xs, ys = ctx.shapes
        return (unbroadcast(xp.where(ctx.cond, g, zero), xs),
                unbroadcast(xp.where(ctx.cond, zero, g), ys))


# --- functional forms -----------------------------------------------------------------------

def add(x, y):
    return Add.apply(x, y)


def sub(x, y):
    return Sub.apply(x, y)


def mul(x, y):
    return Mul.apply(x, y)


def div(x, y):
    return Div.apply(x, y)


def neg(x):
    return Neg.apply(x)


def pow(x, p):
    """x ** p for a constant (Python number) exponent p."""
    if not isinstance(p, (int, float)):
        raise TypeError(f"pow: the exponent must be a Python number, got {type(p).__name__}; "
                        f"for a tensor exponent write exp(p * log(x))")
    return Pow.apply(x, p=p)


def rpow(base, x):
    """``base ** x`` for a constant base (a number or an array) and a Tensor exponent ``x``:
    what ``2.0 ** x`` calls. See :class:`Rpow` for 0 and negative bases."""
    if isinstance(base, Tensor):
        raise TypeError("rpow: the base must be a constant (a number or an array); for a "
                        "tensor base and exponent write exp(x * log(base))")
    args.tensor(x, "rpow", "the exponent")
    return Rpow.apply(x, base=_constant(base, x, "Rpow", 0))


def exp(x):
    return Exp.apply(x)


def log(x):
    return Log.apply(x)


def sqrt(x):
    return Sqrt.apply(x)


def abs(x):
    return Abs.apply(x)


def clip(x, min=None, max=None):
    """Clamp to [min, max] (either may be None), like ``torch.clamp``; ``min`` must not
    exceed ``max`` (PyTorch would silently return ``max`` everywhere)."""
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and args.number(bound, "clip", name) != bound:  # NaN
            raise TypeError(f"clip: {name} must be a real number or None, got {bound!r}")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min={min} is greater than max={max}")
    return Clip.apply(x, lo=min, hi=max)


def maximum(x, y):
    return Maximum.apply(x, y)


def minimum(x, y):
    return Minimum.apply(x, y)


def where(cond, x, y):
    """``x`` where ``cond`` is true, else ``y``; ``cond`` is a boolean array or Tensor."""
    return Where.apply(x, y, cond=array_of(cond))
