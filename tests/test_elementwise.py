"""Elementwise arithmetic: forwards against NumPy, gradients by gradcheck in float64 (random
upstream gradient), with broadcasting, size-1 axes and 0-d tensors, on every device.

Derivations: docs/derivations/elementwise.md.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigan
from tests.helpers import assert_close, away_from, check_grads, host, t64
from tests.strategies import broadcastable_pair, normal, off_grid, seeds, shapes

# name -> (minigan form, NumPy reference, how to make the second operand valid)
BINARY = {
    "add": (lambda x, y: x + y, np.add, None),
    "sub": (lambda x, y: x - y, np.subtract, None),
    "mul": (lambda x, y: x * y, np.multiply, None),
    "truediv": (lambda x, y: x / y, np.divide, lambda b: away_from(b, [0.0], 0.5)),
}


@pytest.mark.parametrize("name", list(BINARY))
@given(pair=broadcastable_pair(), seed=seeds)
def test_binary_op(device, name, pair, seed):
    fn, ref, valid = BINARY[name]
    a, b = normal(seed, pair[0]), normal(seed ^ 1, pair[1])
    b = valid(b) if valid else b
    assert_close(fn(t64(a, device), t64(b, device)), ref(a, b))
    check_grads(fn, [a, b], device)


@pytest.mark.parametrize("fn, ref", [(minigan.maximum, np.maximum), (minigan.minimum, np.minimum)])
@given(pair=broadcastable_pair(), seed=seeds, swap=st.booleans())
def test_maximum_minimum(device, fn, ref, pair, seed, swap):
    # One operand on the integer grid, the other half a step off it: never a tie.
    a, b = off_grid(seed, pair[0], half=swap), off_grid(seed ^ 1, pair[1], half=not swap)
    assert_close(fn(t64(a, device), t64(b, device)), ref(a, b))
    check_grads(fn, [a, b], device)


@pytest.mark.parametrize("fn", [minigan.maximum, minigan.minimum])
def test_maximum_minimum_split_ties(device, fn):
    x, y = t64([1.0, 2.0, 3.0], device), t64([1.0, 0.0, 5.0], device)
    fn(x, y).backward(np.array([2.0, 2.0, 2.0]))
    win_x = [1.0, 2.0, 0.0] if fn is minigan.maximum else [1.0, 0.0, 2.0]
    assert_close(x.grad, win_x)
    assert_close(y.grad, 2.0 - np.array(win_x))


@given(shape=shapes, seed=seeds)
def test_binary_op_constant_operand_gets_no_gradient(device, shape, seed):
    a, b = normal(seed, shape), away_from(normal(seed ^ 1, shape), [0.0], 0.5)
    x, y = t64(a, device), t64(b, device, requires_grad=False)
    ((x - y) * y / y).sum().backward()
    assert y.grad is None
    assert_close(x.grad, np.ones(shape))


def _positive(v):
    return np.abs(v) + 0.1


UNARY = {
    "neg": (lambda x: -x, np.negative, None),
    "exp": (minigan.exp, np.exp, None),
    "log": (minigan.log, np.log, _positive),
    "sqrt": (minigan.sqrt, np.sqrt, _positive),
    "abs": (minigan.abs, np.abs, lambda v: away_from(v, [0.0], 1e-3)),
}


@pytest.mark.parametrize("name", list(UNARY))
@given(shape=shapes, seed=seeds)
def test_unary_op(device, name, shape, seed):
    fn, ref, valid = UNARY[name]
    a = normal(seed, shape)
    a = valid(a) if valid else a
    assert_close(fn(t64(a, device)), ref(a))
    check_grads(fn, [a], device)


@pytest.mark.parametrize("method", ["exp", "log", "sqrt", "abs"])
def test_unary_methods_match_functions(method):
    a = np.array([0.5, 2.0])
    assert_close(getattr(t64(a), method)(), getattr(np, method)(a))


@given(shape=shapes, seed=seeds,
       p=st.sampled_from([0, 1, 2, 3, -1, -2, 0.5, 1.5, -0.5, 2.5]))
def test_pow_scalar_exponent(device, shape, seed, p):
    a = normal(seed, shape)
    if p != int(p):
        a = np.abs(a) + 0.2  # a real power of a negative number is not real
    elif p < 0:
        a = away_from(a, [0.0], 0.3)
    assert_close(t64(a, device) ** p, np.power(a, p))
    check_grads(lambda x: x ** p, [a], device)


def test_pow_zero_exponent_has_zero_gradient_at_zero(device):
    # Regression: the VJP p x^(p-1) was computed as 0 * inf = nan (with a warning) at x = 0.
    x = t64([0.0, 2.0], device)
    (x ** 0).sum().backward()
    assert_close(x.grad, [0.0, 0.0])


def test_pow_refuses_tensor_exponent():
    with pytest.raises(TypeError, match="exponent"):
        t64([1.0]) ** t64([2.0])


@given(shape=shapes, seed=seeds,
       lo=st.one_of(st.none(), st.floats(-1.5, 0.0)), hi=st.one_of(st.none(), st.floats(0.0, 1.5)))
def test_clip(device, shape, seed, lo, hi):
    a = away_from(normal(seed, shape), [v for v in (lo, hi) if v is not None], 1e-3)
    assert_close(t64(a, device).clip(lo, hi), np.clip(a, lo, hi))
    check_grads(lambda x: minigan.clip(x, lo, hi), [a], device)


def test_clip_gradient_is_zero_outside_and_keeps_float32(device):
    x = minigan.tensor([-2.0, 0.5, 3.0], requires_grad=True, device=device)
    y = x.clip(np.float64(-1.0), np.float64(1.0))  # float64 bounds must not upcast
    assert y.dtype == np.float32
    y.backward(np.array([1.0, 1.0, 1.0]))
    assert_close(x.grad, np.array([0.0, 1.0, 0.0], dtype=np.float32))


@given(shapes3=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=4),
       seed=seeds)
def test_where(device, shapes3, seed):
    c_shape, a_shape, b_shape = shapes3.input_shapes
    cond = np.random.default_rng(seed).random(c_shape) > 0.5
    a, b = normal(seed, a_shape), normal(seed ^ 1, b_shape)
    cond_d = minigan.tensor(cond.astype(np.float64), device=device).data > 0.5
    assert_close(minigan.where(cond_d, t64(a, device), t64(b, device)), np.where(cond, a, b))
    check_grads(lambda x, y: minigan.where(cond_d, x, y), [a, b], device)


def test_where_accepts_scalar_branch_and_tensor_condition(device):
    x = t64([1.0, -2.0, 3.0], device)
    cond = minigan.tensor([True, False, True], device=device)
    y = minigan.where(cond.data > 0, x, 0.0)
    y.backward(np.array([1.0, 2.0, 3.0]))
    assert_close(y, [1.0, 0.0, 3.0])
    assert_close(x.grad, [1.0, 0.0, 3.0])
    assert host(minigan.where(cond, x, 0.0)).tolist() == [1.0, 0.0, 3.0]


def test_abs_subgradient_at_zero_is_zero(device):
    # The kink itself, which the property tests dodge: sign(0) = 0, as in PyTorch (a backward
    # written as g / sign(x) would give inf there).
    x = t64([-1.5, 0.0, 2.0, -0.0], device)
    x.abs().backward(np.array([3.0, 5.0, 7.0, 11.0]))
    assert_close(x.grad, [-3.0, 0.0, 7.0, 0.0])


# --- b ** x: a constant base, a tensor exponent ---------------------------------------------

@pytest.mark.parametrize("base", [0.5, 2.0, 10.0, np.array([[0.5], [3.0]])])
def test_rpow(device, base):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3,))
    assert_close(base ** t64(x, device), np.power(base, x), rtol=1e-14)
    check_grads(lambda t: base ** t, [x], device)
    # The closed form g b^x ln b, summed over the rows an array base broadcast x to.
    z = np.power(base, x)
    g = rng.normal(size=z.shape)
    xt = t64(x, device)
    (base ** xt).backward(g)
    assert_close(xt.grad, (g * z * np.log(base)).reshape(-1, 3).sum(axis=0), rtol=1e-13)


def test_rpow_at_base_zero_and_negative_bases(device):
    """0 ** x is 0, 1 or inf, never NaN, with gradient 0; a negative base has its real value at
    integer x and NaN elsewhere, where no real power exists; its gradient is NaN (b^x has no
    derivative in x for b < 0)."""
    x = t64([-1.0, 0.0, 0.5, 2.0], device)
    z = 0.0 ** x
    assert_close(z, [np.inf, 1.0, 0.0, 0.0])
    z.backward(np.ones(4))
    assert_close(x.grad, [0.0, 0.0, 0.0, 0.0])
    x = t64([1.0, 2.0, 3.0, 0.5], device)
    z = (-2.0) ** x
    assert_close(z, [-2.0, 4.0, -8.0, np.nan])
    z.backward(np.ones(4))
    assert np.isnan(host(x.grad)).all()
    # An array base with a 0 among its entries: the 0 row passes no gradient, the other its own.
    x = t64([-1.0, 0.0, 2.0], device)
    (np.array([[0.0], [3.0]]) ** x).backward(np.ones((2, 3)))
    assert_close(x.grad, 3.0 ** host(x) * np.log(3.0))
    assert (2.0 ** minigan.tensor([1.0, 3.0])).dtype == np.float32  # the base takes x's dtype


def test_rpow_refuses_what_is_not_a_constant_base():
    x = t64([1.0])
    with pytest.raises(TypeError, match="rpow: the base must be a constant"):
        minigan.ops.elementwise.rpow(t64([2.0]), x)
    with pytest.raises(TypeError, match="Rpow: input 0 is str"):
        "2" ** x
    with pytest.raises(TypeError, match="Rpow: input 0 is a complex128"):
        (1 + 1j) ** x
