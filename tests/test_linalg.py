"""Matrix products (2-D, batched with broadcast batch axes, 1-D on either side) and F.linear:
forwards against NumPy, gradients by gradcheck, and the adjoint identity in each argument.

Derivations: docs/derivations/matmul.md.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan.gradcheck import check_adjoint
from tests.helpers import assert_close, check_grads, t64
from tests.strategies import broadcastable_pair, normal, seeds

KINDS = ["vector", "matrix", "batched"]


@st.composite
def matmul_shapes(draw):
    """Shapes of x and y for x @ y: each a vector (k,), a matrix or a batch of matrices whose
    batch axes broadcast against the other's."""
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    kx, ky = draw(st.sampled_from(KINDS)), draw(st.sampled_from(KINDS))
    bx, by = draw(broadcastable_pair(max_dims=2))
    x = {"vector": (k,), "matrix": (n, k), "batched": bx + (n, k)}[kx]
    y = {"vector": (k,), "matrix": (k, m), "batched": by + (k, m)}[ky]
    return x, y


@given(geometry=matmul_shapes(), seed=seeds)
def test_matmul(device, geometry, seed):
    xs, ys = geometry
    a, b = normal(seed, xs), normal(seed ^ 1, ys)
    expected = np.matmul(a, b)
    assert_close(t64(a, device) @ t64(b, device), expected)
    assert_close(minigan.matmul(t64(a, device), t64(b, device)), expected)
    check_grads(lambda x, y: x @ y, [a, b], device)


@given(geometry=matmul_shapes())
def test_matmul_backward_is_the_adjoint_in_each_argument(device, geometry):
    xs, ys = geometry
    w = t64(normal(7, ys), device, requires_grad=False)
    v = t64(normal(8, xs), device, requires_grad=False)
    out = np.matmul(np.zeros(xs), np.zeros(ys)).shape

    def vjp_x(g):  # y -> backward of (x -> x @ w)
        x = t64(np.zeros(xs), device)
        (x @ w).backward(g.data)
        return x.grad

    def vjp_w(g):  # y -> backward of (w -> v @ w)
        u = t64(np.zeros(ys), device)
        (v @ u).backward(g.data)
        return u.grad

    check_adjoint(lambda x: x @ w, vjp_x, xs, out, device=device)
    check_adjoint(lambda u: v @ u, vjp_w, ys, out, device=device)


def test_matmul_shape_error_names_op_and_both_shapes():
    with pytest.raises(minigan.ShapeError, match=r"MatMul.*\(2, 3\).*\(4, 5\)"):
        t64(np.zeros((2, 3))) @ t64(np.zeros((4, 5)))
    with pytest.raises(minigan.ShapeError, match="MatMul"):
        t64(np.zeros((2, 2, 3))) @ t64(np.zeros((3, 3, 4)))  # batch axes 2 and 3 do not broadcast
    with pytest.raises(minigan.ShapeError, match="MatMul"):
        t64(2.0) @ t64(np.zeros(3))


@st.composite
def linear_geometry(draw):
    batch = draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return batch + (n_in,), (n_out, n_in), draw(st.booleans())


@given(geometry=linear_geometry(), seed=seeds)
def test_linear(device, geometry, seed):
    xs, ws, bias = geometry
    a, w, b = normal(seed, xs), normal(seed ^ 1, ws), normal(seed ^ 2, ws[:1])
    if bias:
        assert_close(F.linear(t64(a, device), t64(w, device), t64(b, device)), a @ w.T + b)
        check_grads(F.linear, [a, w, b], device)
    else:
        assert_close(F.linear(t64(a, device), t64(w, device)), a @ w.T)
        check_grads(F.linear, [a, w], device)


@pytest.mark.parametrize("order", ["C", "F"])
def test_linear_computed_as_w_times_x_transposed_is_the_oracle(order):
    """Linear computes y = x W^T as (W x^T)^T, a column-major view of a fresh array, and its
    input gradient likewise. Checked against the readable form on inputs in both memory orders
    (the column-major one is what the previous Linear hands on), for fresh, unaliased results
    that an in-place op may write to."""
    rng = np.random.default_rng(0)
    a = np.asarray(rng.standard_normal((5, 7)), order=order)
    w, b, g = rng.standard_normal((3, 7)), rng.standard_normal(3), rng.standard_normal((5, 3))
    x, W, B = (minigan.tensor(v, requires_grad=True) for v in (a, w, b))
    y = F.linear(x, W, B)
    np.testing.assert_allclose(y.data, a @ w.T + b, rtol=1e-13, atol=1e-13)
    # The op's own gW, before the engine copies it into W.grad (a copy is C-ordered anyway).
    _, gw, _ = y._node.fn.backward(y._node.ctx, g)
    assert gw.flags.c_contiguous  # born in W's layout
    y.backward(g)
    np.testing.assert_allclose(x.grad, g @ w, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(W.grad, g.T @ a, rtol=1e-13, atol=1e-13)
    for out in (y.data, x.grad):
        assert not any(np.shares_memory(out, v) for v in (a, w, b, g, W.grad))
    y.data += 1  # an in-place op on the output touches nothing else
    np.testing.assert_array_equal(x.data, a)
    np.testing.assert_array_equal(W.data, w)
