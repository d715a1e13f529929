"""Activations: forwards against closed forms (scipy.special.expit, np.logaddexp), gradients by
gradcheck in float64, kinks dodged by the strategy, and stability at +-1e4.

Derivations: docs/derivations/activations.md.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import expit

import minigan
import minigan.functional as F
from tests.helpers import assert_close, away_from, check_grads, host, t64
from tests.strategies import distinct, normal, seeds, shapes


@given(shape=shapes, seed=seeds)
def test_relu(device, shape, seed):
    a = away_from(normal(seed, shape), [0.0], 1e-3)
    assert_close(F.relu(t64(a, device)), np.maximum(a, 0))
    assert_close(t64(a, device).relu(), np.maximum(a, 0))
    check_grads(F.relu, [a], device)


@given(shape=shapes, seed=seeds, slope=st.floats(0.0, 0.5))
def test_leaky_relu(device, shape, seed, slope):
    a = away_from(normal(seed, shape), [0.0], 1e-3)
    assert_close(F.leaky_relu(t64(a, device), slope), np.where(a > 0, a, slope * a))
    check_grads(lambda x: F.leaky_relu(x, slope), [a], device)


def test_relu_subgradient_at_zero_is_zero():
    x = t64([0.0])
    F.relu(x).sum().backward()
    assert host(x.grad).tolist() == [0.0]


@given(shape=shapes, seed=seeds)
def test_sigmoid(device, shape, seed):
    a = normal(seed, shape, scale=3.0)
    assert_close(F.sigmoid(t64(a, device)), expit(a), rtol=1e-14)
    assert_close(t64(a, device).sigmoid(), expit(a), rtol=1e-14)
    check_grads(F.sigmoid, [a], device)


@given(shape=shapes, seed=seeds)
def test_tanh(device, shape, seed):
    a = normal(seed, shape, scale=2.0)
    assert_close(F.tanh(t64(a, device)), np.tanh(a))
    assert_close(t64(a, device).tanh(), np.tanh(a))
    check_grads(F.tanh, [a], device)


@given(shape=shapes, seed=seeds, beta=st.sampled_from([0.5, 1.0, 2.0]),
       threshold=st.sampled_from([20.0, 2.0]))
def test_softplus(device, shape, seed, beta, threshold):
    # scale 4 puts entries on both sides of PyTorch's linear tail (beta x > threshold = 2).
    a = away_from(normal(seed, shape, scale=4.0), [threshold / beta], 1e-3)
    expected = np.where(beta * a > threshold, a, np.logaddexp(0.0, beta * a) / beta)
    assert_close(F.softplus(t64(a, device), beta, threshold), expected)
    check_grads(lambda x: F.softplus(x, beta, threshold), [a], device)


@given(shape=shapes, seed=seeds)
def test_log_sigmoid(device, shape, seed):
    a = normal(seed, shape, scale=4.0)
    assert_close(F.log_sigmoid(t64(a, device)), -np.logaddexp(0.0, -a))
    check_grads(F.log_sigmoid, [a], device)


@st.composite
def maxout_geometry(draw):
    lead = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    units, pieces = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    axis = draw(st.integers(0, len(lead)))
    shape = lead[:axis] + (units * pieces,) + lead[axis:]
    written = draw(st.sampled_from([axis, axis - len(shape)]))  # also as a negative axis
    return shape, units, pieces, axis, written


@given(geometry=maxout_geometry(), seed=seeds)
def test_maxout(device, geometry, seed):
    shape, units, pieces, axis, written = geometry
    a = distinct(seed, shape)  # no ties inside a group
    grouped = a.reshape(shape[:axis] + (units, pieces) + shape[axis + 1:])
    assert_close(F.maxout(t64(a, device), pieces, axis=written), grouped.max(axis=axis + 1))
    check_grads(lambda x: F.maxout(x, pieces, axis=written), [a], device)


def test_maxout_refuses_uneven_groups():
    with pytest.raises(ValueError, match="groups of 2"):
        F.maxout(t64(np.zeros((2, 5))), 2)


# --- stability: no overflow, no log(0), no warnings, at +-1e4 -------------------------------
EXTREMES = np.array([-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4])

STABLE = {  # name -> (function, value at EXTREMES, gradient at EXTREMES)
    "sigmoid": (F.sigmoid, expit(EXTREMES), expit(EXTREMES) * expit(-EXTREMES)),
    "softplus": (F.softplus, np.logaddexp(0.0, EXTREMES), expit(EXTREMES)),
    "log_sigmoid": (F.log_sigmoid, -np.logaddexp(0.0, -EXTREMES), expit(-EXTREMES)),
    "tanh": (F.tanh, np.tanh(EXTREMES), 1 - np.tanh(EXTREMES) ** 2),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(STABLE))
def test_stable_at_extremes(device, name, dtype):
    fn, value, grad = STABLE[name]
    x = minigan.tensor(EXTREMES, requires_grad=True, dtype=dtype, device=device)
    # Overflow, log(0) and 0 * inf raise instead of warning (underflow to 0 is the point).
    with np.errstate(over="raise", divide="raise", invalid="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        y = fn(x)
        y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert np.isfinite(host(y)).all() and np.isfinite(host(x.grad)).all()
    tol = 1e-6 if dtype == np.float32 else 1e-12
    assert_close(y, value.astype(dtype), rtol=tol, atol=tol)
    assert_close(x.grad, grad.astype(dtype), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_flushes_subnormals_to_zero(device, dtype):
    # Across the inputs where e^x falls below the smallest normal float (x < log(tiny): -87.3
    # in float32, -708.4 in float64) down to where it underflows to 0 anyway.
    tiny = np.finfo(dtype).tiny
    x64 = np.linspace(np.log(tiny) - 20, np.log(tiny) + 5, 2001)
    x = minigan.tensor(x64, requires_grad=True, dtype=dtype, device=device)
    y = F.sigmoid(x)
    y.sum().backward()
    for a in (host(y), host(x.grad)):
        assert not ((a != 0) & (np.abs(a) < tiny)).any()       # no subnormals
        assert np.abs(a - expit(x64)).max() < tiny              # off by less than the flush
    assert (host(y)[x64 > np.log(tiny) + 1] > 0).all()          # normal values are kept
