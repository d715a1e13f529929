"""Reductions sum, mean, max over any axes (None, an int, a tuple, negatives) with keepdims:
forwards against NumPy, gradients by gradcheck, the adjoint identity for the linear ones.

Derivations: docs/derivations/reduction.md.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
from minigan.gradcheck import check_adjoint
from tests.helpers import assert_close, check_grads, t64, vjp_of
from tests.strategies import distinct, normal, seeds, shape_and_axis

REDUCTIONS = {"sum": np.sum, "mean": np.mean, "max": np.max}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@given(geometry=shape_and_axis(), keepdims=st.booleans(), seed=seeds)
def test_reduction(device, name, geometry, keepdims, seed):
    shape, axis = geometry
    a = distinct(seed, shape) if name == "max" else normal(seed, shape)  # no ties for max
    expected = REDUCTIONS[name](a, axis=axis, keepdims=keepdims)
    assert_close(getattr(minigan, name)(t64(a, device), axis, keepdims), expected, rtol=1e-13)
    assert_close(getattr(t64(a, device), name)(axis=axis, keepdims=keepdims), expected,
                 rtol=1e-13)
    check_grads(lambda x: getattr(x, name)(axis=axis, keepdims=keepdims), [a], device)


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(geometry=shape_and_axis(), keepdims=st.booleans())
def test_linear_reduction_backward_is_its_adjoint(device, name, geometry, keepdims):
    shape, axis = geometry
    fn = lambda x: getattr(x, name)(axis=axis, keepdims=keepdims)  # noqa: E731
    out_shape = np.sum(np.zeros(shape), axis=axis, keepdims=keepdims).shape
    check_adjoint(fn, vjp_of(fn, shape, device), shape, out_shape, device=device)


def test_grad_of_sum_is_ones(device):
    x = t64(np.arange(6.0).reshape(2, 3), device)
    x.sum().backward()
    assert_close(x.grad, np.ones((2, 3)))


def test_grad_of_mean_is_one_over_n(device):
    x = t64(np.arange(6.0).reshape(2, 3), device)
    x.mean(axis=-1).sum().backward()
    assert_close(x.grad, np.full((2, 3), 1 / 3))


def test_max_splits_gradient_between_tied_winners(device):
    x = t64([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0]], device)
    x.max(axis=1).backward(np.array([2.0, 8.0]))
    assert_close(x.grad, [[0.0, 1.0, 1.0, 0.0], [2.0, 2.0, 2.0, 2.0]])


def test_zero_d_reductions(device):
    x = t64(3.0, device)
    for name in REDUCTIONS:
        y = getattr(x, name)()
        assert y.shape == () and y.item() == 3.0


def test_duplicate_axis_is_a_shape_error():
    with pytest.raises(minigan.ShapeError, match="Sum"):
        t64(np.zeros((2, 3))).sum(axis=(0, 0))
