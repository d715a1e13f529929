"""Matrix products.

For Z = X Y the VJPs are gX = G Y^T and gY = X^T G (docs/derivations/matmul.md derives them
from dL = <G, dZ> = <G, dX Y + X dY>). Batched products work the same on the last two axes; a
batch axis that was broadcast gets its gradient summed back. Tests: tests/test_linalg.py.
"""

from ..backend import get_array_module
from ..tensor import Function, ShapeError, unbroadcast


class MatMul(Function):
    """z = x @ y, 2-D or batched ``(..., n, k) @ (..., k, m) -> (..., n, m)``; 1-D operands are
    treated as a row (left) or column (right) vector, as in NumPy.

    VJP: gx = g @ y^T, gy = x^T @ g (transposes of the last two axes).
    """

    @staticmethod
    def forward(ctx, x, y):
        if x.ndim == 0 or y.ndim == 0 or x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
            raise ShapeError(f"MatMul: cannot multiply shapes {tuple(x.shape)} @ "
                             f"{tuple(y.shape)}: inner dimensions differ")
        ctx.save_for_backward(x, y)
        return get_array_module(x, y).matmul(x, y)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved
        # Lift vectors to matrices so one rule covers every case: x (k,) -> (1, k), y (k,) -> (k, 1).
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        g2 = g[..., None] if y.ndim == 1 else g
        g2 = g2[..., None, :] if x.ndim == 1 else g2
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = unbroadcast(g2 @ y2.swapaxes(-1, -2), x2.shape).reshape(x.shape)
        if ctx.needs_input_grad[1]:
            gy = unbroadcast(x2.swapaxes(-1, -2) @ g2, y2.shape).reshape(y.shape)
        return gx, gy


def matmul(x, y):
    return MatMul.apply(x, y)
