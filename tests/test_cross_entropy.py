"""Softmax cross-entropy and log-softmax: forwards against scipy's logsumexp and a naive
definition, gradients by gradcheck in float64 (random upstream gradient) and against the closed
form softmax - onehot, stability at +-1e4, target checks.

Derivations: docs/derivations/activations.md (section "Softmax cross-entropy").
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.special import log_softmax as sp_log_softmax
from scipy.special import logsumexp, softmax

import minigan
import minigan.functional as F
from minigan.tensor import ShapeError
from tests.helpers import assert_close, check_grads, host, t64
from tests.strategies import normal, seeds

REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}
reductions = st.sampled_from(list(REDUCE))
logit_shapes = st.tuples(st.integers(1, 5), st.integers(1, 6))          # (N, C)


def labels(seed, n, c):
    return np.random.default_rng(seed).integers(0, c, size=n)


@given(shape=logit_shapes, seed=seeds, reduction=reductions)
def test_cross_entropy(device, shape, seed, reduction):
    x, t = normal(seed, shape, scale=3.0), labels(seed ^ 1, *shape)
    naive = -np.log(np.exp(x) / np.exp(x).sum(axis=1, keepdims=True))[np.arange(shape[0]), t]
    expected = REDUCE[reduction](naive)
    fn = lambda x_: F.cross_entropy(x_, t, reduction)  # noqa: E731
    assert_close(fn(t64(x, device)), expected, rtol=1e-10)
    check_grads(fn, [x], device)


@given(shape=logit_shapes, seed=seeds)
def test_cross_entropy_gradient_is_softmax_minus_onehot(device, shape, seed):
    x, t = t64(normal(seed, shape, scale=3.0), device), labels(seed ^ 1, *shape)
    g = normal(seed ^ 2, shape[:1])                       # a random upstream gradient per row
    F.cross_entropy(x, t, reduction="none").backward(minigan.tensor(g, dtype=np.float64,
                                                                    device=device).data)
    expected = g[:, None] * (softmax(host(x), axis=1) - np.eye(shape[1])[t])
    assert_close(x.grad, expected, rtol=1e-10)


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), seed=seeds,
       data=st.data())
def test_log_softmax(device, shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = normal(seed, shape, scale=3.0)
    fn = lambda x_: F.log_softmax(x_, dim=axis)  # noqa: E731
    assert_close(fn(t64(x, device)), sp_log_softmax(x, axis=axis), rtol=1e-10)
    assert_close(fn(t64(x, device)), x - logsumexp(x, axis=axis, keepdims=True), rtol=1e-10)
    check_grads(fn, [x], device)


def test_log_softmax_exp_is_softmax(device):
    x = t64(normal(0, (3, 5)), device)
    p = F.log_softmax(x, dim=1).exp()
    assert_close(p, softmax(host(x), axis=1), rtol=1e-12)
    assert_close(p.sum(axis=1), np.ones(3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_finite_at_extremes(device, dtype):
    # exp(1e4) overflows in either precision; the shifted logsumexp never computes it.
    x = minigan.tensor([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]],
                       requires_grad=True, dtype=dtype, device=device)
    t = np.array([0, 1, 2])
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        loss = F.cross_entropy(x, t, reduction="none")
        loss.sum().backward()
        y = F.log_softmax(x, dim=1)
    third = np.log(3.0)
    assert_close(loss, np.array([0.0, 2e4, third], dtype=dtype), rtol=1e-6)
    assert_close(x.grad, np.array([[0, 0, 0], [1, -1, 0], [1 / 3, 1 / 3, -2 / 3]], dtype=dtype),
                 rtol=1e-6, atol=1e-6)
    assert np.isfinite(host(y)).all()


def test_cross_entropy_keeps_dtype(device):
    x = minigan.tensor(normal(0, (4, 3)), requires_grad=True, dtype=np.float32, device=device)
    loss = F.cross_entropy(x, [0, 1, 2, 0])
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


def test_cross_entropy_targets_as_tensor_list_or_array(device):
    x = t64(normal(0, (3, 4)), device)
    expected = F.cross_entropy(x, np.array([3, 0, 1])).item()
    assert F.cross_entropy(x, [3, 0, 1]).item() == expected
    assert F.cross_entropy(x, minigan.tensor([3, 0, 1], device=device)).item() == expected


@pytest.mark.parametrize("target, error", [
    (np.array([0, 1]), ShapeError),              # wrong length
    (np.array([[0], [1], [2]]), ShapeError),     # (N, 1) instead of (N,)
    (np.array([0, 1, 4]), ValueError),           # class 4 of 4 classes
    (np.array([0, -1, 2]), ValueError),
    (np.array([0.0, 1.5, 2.0]), TypeError),      # not class indices
])
def test_cross_entropy_refuses_bad_targets(target, error):
    x = t64(normal(0, (3, 4)))
    with pytest.raises(error):
        F.cross_entropy(x, target)


def test_cross_entropy_needs_2d_logits():
    with pytest.raises(ShapeError, match="CrossEntropy"):
        F.cross_entropy(t64(normal(0, (3, 4, 2))), np.array([0, 1, 2]))


def test_planted_wrong_backward_fails_gradcheck():
    """The gradcheck used above can fail: drop the onehot term and it must."""
    from minigan.ops.loss import CrossEntropy

    class NoOnehot(CrossEntropy):
        @staticmethod
        def backward(ctx, g):
            x, m, s, _ = ctx.saved
            return np.exp(x - m - s) * g[:, None]

    with pytest.raises(minigan.GradcheckError):
        minigan.gradcheck(lambda x_: NoOnehot.apply(x_, target=np.array([0, 2])),
                          [t64(normal(0, (2, 3)))])
