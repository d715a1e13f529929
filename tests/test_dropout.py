"""Dropout: the fixed-mask op three ways (gradcheck, adjoint identity, closed form), train/eval
behaviour, edge probabilities, and the statistics of the random mask."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan import backend, nn
from minigan.gradcheck import check_adjoint, gradcheck
from minigan.ops.dropout import Dropout

from .helpers import host, t64
from .strategies import normal, seeds, shapes

probabilities = st.sampled_from([0.1, 0.25, 0.5, 0.8])


def _mask(seed, shape, p, device):
    return backend.to_device(np.random.default_rng(seed).random(shape) >= p, device)


@given(shape=shapes, p=probabilities, seed=seeds)
def test_fixed_mask_gradcheck_and_closed_form(shape, p, seed, device):
    x = t64(normal(seed, shape), device)
    mask = _mask(seed + 1, shape, p, device)
    assert gradcheck(lambda x: Dropout.apply(x, mask=mask, p=p), (x,), seed=seed)
    g = normal(seed + 2, shape)
    x.grad = None
    Dropout.apply(x, mask=mask, p=p).backward(backend.to_device(g, device))
    np.testing.assert_allclose(host(x.grad), g * host(mask) / (1 - p), rtol=1e-15)


@given(shape=shapes, p=probabilities, seed=seeds)
def test_fixed_mask_is_self_adjoint(shape, p, seed, device):
    """For a fixed mask dropout is a diagonal linear map, so it is its own adjoint."""
    mask = _mask(seed, shape, p, device)
    f = lambda x: Dropout.apply(x, mask=mask, p=p)  # noqa: E731
    check_adjoint(f, f, shape, shape, seed=seed, device=device)


def test_eval_and_p0_are_the_identity(device):
    x = minigan.tensor(np.arange(6.0).reshape(2, 3), device=device)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0, training=True) is x
    layer = nn.Dropout(0.5).eval()
    assert layer(x) is x


def test_p1_gives_zeros_without_nan(device):
    x = t64(np.array([[1.0, -2.0], [np.float64(1e300), 3.0]]), device)
    y = F.dropout(x, 1.0, training=True, generator=0)
    assert np.array_equal(host(y), np.zeros((2, 2)))
    y.backward(backend.to_device(np.ones((2, 2)), device))
    assert np.array_equal(host(x.grad), np.zeros((2, 2)))


def test_mean_preserved_and_drop_rate(device):
    """Each output is x/(1-p) with probability 1-p, else 0: mean x, variance x^2 p/(1-p).
    Over n entries the sample mean has std sqrt(p/(1-p)/n); allow 5 of them (and 5 binomial
    standard deviations for the fraction dropped)."""
    n, p = 200_000, 0.3
    x = minigan.tensor(np.ones(n), device=device)
    y = host(F.dropout(x, p, training=True, generator=1234))
    assert abs(y.mean() - 1) < 5 * np.sqrt(p / (1 - p) / n)
    dropped = (y == 0).mean()
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[y != 0], 1 / (1 - p), rtol=1e-6)  # float32 scale


def test_reproducible_with_a_seed(device):
    x = minigan.tensor(np.ones((8, 8)), device=device)
    a = host(F.dropout(x, 0.5, generator=7))
    b = host(F.dropout(x, 0.5, generator=7))
    assert np.array_equal(a, b)
    nn.init.manual_seed(3)
    c = host(F.dropout(x, 0.5))
    nn.init.manual_seed(3)
    assert np.array_equal(c, host(F.dropout(x, 0.5)))
    # The mask is drawn by a generator of the data's device.
    gen = backend.rng(5, device)
    assert host(F.dropout(x, 0.5, generator=gen)).shape == (8, 8)
    layer = nn.Dropout(0.5, generator=11)
    assert not np.array_equal(host(layer(x)), host(layer(x)))  # one stream, not one mask


def test_dtype_kept_and_p_validated():
    x = minigan.tensor(np.ones((3, 4), dtype=np.float32))
    assert F.dropout(x, 0.5, generator=0).dtype == np.float32
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout(x, p)
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(p)
