"""Binary cross-entropy, on logits and on probabilities, with reductions mean / sum / none:
forwards against closed forms, gradients by gradcheck (input and target), stability at +-1e4,
PyTorch's clamp of the logs at -100.

Derivations: docs/derivations/activations.md (section "Binary cross-entropy").
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import expit

import minigan
import minigan.functional as F
from tests.helpers import assert_close, check_grads, host, t64
from tests.strategies import normal, seeds, shapes, uniform

REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}
reductions = st.sampled_from(list(REDUCE))


@given(shape=shapes, seed=seeds, reduction=reductions)
def test_bce_with_logits(device, shape, seed, reduction):
    x, t = normal(seed, shape, scale=3.0), uniform(seed ^ 1, shape, 0.0, 1.0)
    p = expit(x)
    expected = REDUCE[reduction](-(t * np.log(p) + (1 - t) * np.log(1 - p)))
    fn = lambda x_, t_: F.binary_cross_entropy_with_logits(x_, t_, reduction)  # noqa: E731
    assert_close(fn(t64(x, device), t64(t, device)), expected, rtol=1e-10)
    check_grads(fn, [x, t], device)


@given(shape=shapes, seed=seeds)
def test_bce_with_logits_gradient_is_sigmoid_minus_target(device, shape, seed):
    x, t = t64(normal(seed, shape), device), t64(uniform(seed ^ 1, shape, 0, 1), device, False)
    F.binary_cross_entropy_with_logits(x, t, reduction="sum").backward()
    assert_close(x.grad, expit(host(x)) - host(t))


@given(shape=shapes, seed=seeds, reduction=reductions)
def test_bce_on_probabilities(device, shape, seed, reduction):
    p, t = uniform(seed, shape, 0.05, 0.95), uniform(seed ^ 1, shape, 0.0, 1.0)
    expected = REDUCE[reduction](-(t * np.log(p) + (1 - t) * np.log(1 - p)))
    fn = lambda p_, t_: F.binary_cross_entropy(p_, t_, reduction)  # noqa: E731
    assert_close(fn(t64(p, device), t64(t, device)), expected, rtol=1e-10)
    check_grads(fn, [p, t], device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_finite_at_extremes(device, dtype):
    x = minigan.tensor([-1e4, -1e4, 1e4, 1e4], requires_grad=True, dtype=dtype, device=device)
    t = minigan.tensor([0.0, 1.0, 0.0, 1.0], dtype=dtype, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        loss.sum().backward()
    assert_close(loss, np.array([0.0, 1e4, 1e4, 0.0], dtype=dtype))
    assert_close(x.grad, np.array([0.0, -1.0, 1.0, 0.0], dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_clamps_log_at_minus_100_like_pytorch(device, dtype):
    p = minigan.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True, dtype=dtype, device=device)
    t = minigan.tensor([1.0, 0.0, 0.0, 1.0], dtype=dtype, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy(p, t, reduction="none")
        loss.sum().backward()
    assert_close(loss, np.array([100.0, 100.0, 0.0, 0.0], dtype=dtype))
    # PyTorch's gradient (p - t) / max(p (1 - p), 1e-12): large but finite.
    assert np.isfinite(host(p.grad)).all()
    assert_close(p.grad, np.array([-1e12, 1e12, 0.0, 0.0], dtype=dtype), rtol=1e-6)


def test_scalar_target_broadcasts(device):
    x = t64([0.5, -1.0], device)
    loss = F.binary_cross_entropy_with_logits(x, 1.0, reduction="sum")
    assert_close(loss, np.sum(np.logaddexp(0, -np.array([0.5, -1.0]))))


@pytest.mark.parametrize("fn", [F.binary_cross_entropy_with_logits, F.binary_cross_entropy])
def test_mismatched_target_shape_is_refused(fn):
    # (N, 1) outputs against (N,) labels would silently broadcast to an (N, N) loss.
    with pytest.raises(minigan.ShapeError, match=r"\(4,\).*\(4, 1\)"):
        fn(t64(np.full((4, 1), 0.5)), t64(np.ones(4), requires_grad=False))


def test_unknown_reduction_is_refused():
    with pytest.raises(ValueError, match="reduction"):
        F.binary_cross_entropy_with_logits(t64([0.0]), t64([1.0]), reduction="avg")
