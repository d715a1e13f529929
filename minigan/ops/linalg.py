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


class Linear(Function):
    """y = x W^T + b, the linear layer, as one op: ``matmul(x, W.T) + b`` fused.

    forward(x (..., in), w (out, in)[, b (out,)]) -> y (..., out)
    backward(g (..., out)) -> gx = g W (..., in),  gW = g^T x (out, in),  gb = sum of g over the
    batch (out,)

    The VJPs are those of the composition (MatMul's, the transpose's and broadcasting's), written
    out so that the step does not pay for them: the bias is added in place, and gW comes out of
    its GEMM already in W's layout, where the composition yields it transposed.
    tests/test_linalg.py checks this op against both the composition's formula and float64
    gradcheck.
    """

    @staticmethod
    def forward(ctx, x, w, b=None):
        if x.ndim == 0 or x.shape[-1] != w.shape[-1] or w.ndim != 2:
            raise ShapeError(f"Linear: input of shape {tuple(x.shape)} does not fit weight of "
                             f"shape {tuple(w.shape)} (out_features, in_features)")
        if x.ndim == 2:
            # The same product as y^T = W x^T: OpenBLAS runs that arrangement faster for a
            # small batch (docs/performance.md). y is the transpose of a fresh (out, N) array,
            # and the next layer's x.T is then contiguous.
            y = (w @ x.T).T  # (N, out), column-major
        else:
            y = x @ w.T  # (..., out)
        if b is not None:
            y += b
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved
        g2 = g.reshape(-1, w.shape[0])  # (batch, out), every leading axis a batch axis
        gx = None
        if ctx.needs_input_grad[0]:  # (..., in); column-major like forward's y, for 2-D g
            gx = (w.T @ g.T).T if g.ndim == 2 else g @ w
        gw = g2.T @ x.reshape(-1, w.shape[1]) if ctx.needs_input_grad[1] else None  # (out, in)
        if not ctx.has_bias:
            return gx, gw
        return gx, gw, g2.sum(axis=0)


def matmul(x, y):
    return MatMul.apply(x, y)


def linear(x, weight, bias=None):
    """y = x W^T + b, ``weight`` of shape ``(out_features, in_features)``: see :class:`Linear`."""
    if bias is None:
        return Linear.apply(x, weight)
    return Linear.apply(x, weight, bias)
