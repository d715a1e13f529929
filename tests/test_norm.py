"""Batch norm: forward against a NumPy closed form, the closed-form backward three ways
(gradcheck in float64, autograd through a composition of primitives, and a planted bug that must
fail), and the running statistics against numbers computed by hand."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan import backend, nn
from minigan.gradcheck import GradcheckError, gradcheck
from minigan.ops import norm
from minigan.tensor import ShapeError

from .helpers import host, t64
from .strategies import normal, seeds


@st.composite
def bn_shapes(draw):
    """(N, C) or (N, C, H, W) with N >= 3 (the batch statistics need several samples)."""
    n, c = draw(st.integers(3, 5)), draw(st.integers(1, 3))
    if draw(st.booleans()):
        return (n, c)
    return (n, c, draw(st.integers(1, 3)), draw(st.integers(1, 3)))


def _axes(shape):
    return (0,) + tuple(range(2, len(shape)))


def _bshape(shape):
    return (1, shape[1]) + (1,) * (len(shape) - 2)


def _reference(x, gamma, beta, eps, mean=None, var=None):
    """The textbook formula in NumPy, float64."""
    axes, bs = _axes(x.shape), _bshape(x.shape)
    mean = x.mean(axis=axes) if mean is None else mean
    var = ((x - mean.reshape(bs)) ** 2).mean(axis=axes) if var is None else var
    return (x - mean.reshape(bs)) / np.sqrt(var.reshape(bs) + eps) * gamma.reshape(bs) \
        + beta.reshape(bs)


def _params(seed, shape, device):
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = t64(rng.normal(1.0, 2.0, size=shape), device)
    gamma = t64(rng.uniform(0.5, 2.0, size=C) * rng.choice([-1, 1], size=C), device)
    beta = t64(rng.normal(size=C), device)
    return x, gamma, beta


@given(shape=bn_shapes(), seed=seeds)
def test_forward_matches_numpy_closed_form(shape, seed, device):
    x, gamma, beta = _params(seed, shape, device)
    y = F.batch_norm(x, None, None, gamma, beta, training=True, eps=1e-5)
    want = _reference(host(x), host(gamma), host(beta), 1e-5)
    np.testing.assert_allclose(host(y), want, rtol=1e-12, atol=1e-12)


@given(shape=bn_shapes(), seed=seeds)
def test_training_gradcheck(shape, seed, device):
    x, gamma, beta = _params(seed, shape, device)
    assert gradcheck(lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True),
                     (x, gamma, beta), seed=seed)


@given(shape=bn_shapes(), seed=seeds)
def test_eval_gradcheck(shape, seed, device):
    x, gamma, beta = _params(seed, shape, device)
    rng = np.random.default_rng(seed + 1)
    rm = backend.to_device(rng.normal(size=shape[1]), device)
    rv = backend.to_device(rng.uniform(0.5, 2.0, size=shape[1]), device)
    assert gradcheck(lambda x, g, b: F.batch_norm(x, rm, rv, g, b, training=False),
                     (x, gamma, beta), seed=seed)
    y = F.batch_norm(x, rm, rv, gamma, beta, training=False)
    want = _reference(host(x), host(gamma), host(beta), 1e-5, host(rm), host(rv))
    np.testing.assert_allclose(host(y), want, rtol=1e-12, atol=1e-12)


@given(shape=bn_shapes(), seed=seeds)
def test_closed_form_matches_autograd_of_primitives(shape, seed, device):
    """The single-Function backward equals autograd through mean, sub, pow, sqrt, div."""
    x, gamma, beta = _params(seed, shape, device)
    g = backend.to_device(normal(seed, shape), device)
    F.batch_norm(x, None, None, gamma, beta, training=True).backward(g)
    fused = [host(t.grad) for t in (x, gamma, beta)]

    x2, gamma2, beta2 = (t64(host(t), device) for t in (x, gamma, beta))
    axes, bs = _axes(shape), _bshape(shape)
    mu = x2.mean(axis=axes, keepdims=True)
    var = ((x2 - mu) ** 2).mean(axis=axes, keepdims=True)
    y = (x2 - mu) / (var + 1e-5).sqrt() * gamma2.reshape(bs) + beta2.reshape(bs)
    y.backward(g)
    for got, t in zip(fused, (x2, gamma2, beta2)):
        np.testing.assert_allclose(got, host(t.grad), rtol=1e-9, atol=1e-11)


def test_no_affine_and_no_input_grad(device):
    x, _, _ = _params(0, (4, 3, 2, 2), device)
    assert gradcheck(lambda x: F.batch_norm(x, None, None, training=True), (x,))
    # Gradients for gamma and beta only (a frozen input): backward skips gx.
    xc = t64(host(x), device, requires_grad=False)
    _, gamma, beta = _params(1, (4, 3, 2, 2), device)
    assert gradcheck(lambda g, b: F.batch_norm(xc, None, None, g, b, training=True),
                     (gamma, beta))


def test_planted_wrong_backward_fails(monkeypatch):
    """The check has teeth: dropping the x_hat term of the closed form must be caught."""
    original = norm.BatchNorm.backward

    def wrong(ctx, g):
        gx, ggamma, gbeta = original(ctx, g)
        x_hat, inv_std, gamma = ctx.saved
        M = g.size // g.shape[1]
        bs = ctx.shape
        return gx + x_hat * (inv_std / M * gamma * ggamma).reshape(bs), ggamma, gbeta

    monkeypatch.setattr(norm.BatchNorm, "backward", staticmethod(wrong))
    x, gamma, beta = _params(0, (4, 2), "cpu")
    with pytest.raises(GradcheckError):
        gradcheck(lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True),
                  (x, gamma, beta))


def test_running_stats_by_hand():
    """Batch [1, 2, 3, 6] for one channel: mean 3, biased var 3.5, unbiased var 14/3."""
    x = minigan.tensor(np.array([[1.0], [2.0], [3.0], [6.0]]), dtype="float64")
    rm, rv = np.array([10.0]), np.array([2.0])
    y = F.batch_norm(x, rm, rv, training=True, momentum=0.25, eps=0.0)
    # Normalised with the BIASED variance 3.5 ...
    np.testing.assert_allclose(host(y)[:, 0], (np.array([1, 2, 3, 6]) - 3) / np.sqrt(3.5),
                               rtol=1e-14)
    # ... running stats updated in place with the UNBIASED variance 14/3.
    np.testing.assert_allclose(rm, [0.75 * 10 + 0.25 * 3], rtol=1e-14)
    np.testing.assert_allclose(rv, [0.75 * 2 + 0.25 * 14 / 3], rtol=1e-14)
    # Eval uses the running statistics: (x - 8.25) / sqrt(2.666... + 0).
    y = F.batch_norm(x, rm, rv, training=False, eps=0.0)
    np.testing.assert_allclose(host(y)[:, 0], (np.array([1, 2, 3, 6]) - 8.25) / np.sqrt(rv[0]),
                               rtol=1e-14)


def test_running_stats_2d_over_n_h_w():
    """For (N, C, H, W) each channel's statistics pool N*H*W entries (M = 2*2*2 = 8 here)."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 2, 2))
    rm, rv = np.zeros(3), np.ones(3)
    F.batch_norm(minigan.tensor(x), rm, rv, training=True, momentum=0.1)
    per_channel = x.transpose(1, 0, 2, 3).reshape(3, 8)
    np.testing.assert_allclose(rm, 0.1 * per_channel.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(rv, 0.9 + 0.1 * per_channel.var(axis=1, ddof=1), rtol=1e-12)


def test_module_momentum_none_is_cumulative_average():
    bn = nn.BatchNorm1d(1, momentum=None, dtype="float64")
    for batch in ([[1.0], [3.0]], [[5.0], [9.0]]):
        bn(minigan.tensor(np.array(batch)))
    assert int(bn.num_batches_tracked.data) == 2
    np.testing.assert_allclose(host(bn.running_mean), [(2 + 7) / 2], rtol=1e-14)
    # Unbiased variances 2 and 8; the first batch has weight 1, so the initial 1 is forgotten.
    np.testing.assert_allclose(host(bn.running_var), [(2 + 8) / 2], rtol=1e-14)


def test_module_train_eval_and_buffers():
    bn = nn.BatchNorm2d(2, dtype="float64")
    x = minigan.tensor(np.random.default_rng(0).normal(3.0, 2.0, size=(4, 2, 3, 3)))
    y = bn(x)
    np.testing.assert_allclose(host(y).mean(axis=(0, 2, 3)), 0, atol=1e-12)
    assert int(bn.num_batches_tracked.data) == 1
    before = host(bn.running_mean).copy()
    bn.eval()
    bn(x)  # eval: no update
    np.testing.assert_array_equal(host(bn.running_mean), before)
    assert int(bn.num_batches_tracked.data) == 1
    # Without running statistics, eval normalises with the batch statistics too.
    free = nn.BatchNorm2d(2, track_running_stats=False, dtype="float64").eval()
    np.testing.assert_allclose(host(free(x)), host(y), rtol=1e-12, atol=1e-12)


def test_float32_stays_float32():
    bn = nn.BatchNorm1d(3)
    y = bn(minigan.tensor(np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)))
    assert y.dtype == np.float32 and bn.running_var.dtype == np.float32


def test_errors_name_the_op_and_shapes():
    x = minigan.tensor(np.zeros((4, 3)))
    with pytest.raises(ShapeError, match=r"BatchNorm.*\(2,\).*\(4, 3\)"):
        F.batch_norm(x, np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(minigan.tensor(np.zeros((1, 3))), None, None, training=True)
    with pytest.raises(ShapeError, match="BatchNorm2d.*4-D"):
        nn.BatchNorm2d(3)(x)
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="batch_norm: running_mean is a read-only array"):
        F.batch_norm(minigan.tensor(np.ones((4, 3))), frozen, np.ones(3), training=True)
    y = F.batch_norm(minigan.tensor(np.ones((4, 3))), frozen, np.ones(3))  # eval only reads it
    assert y.shape == (4, 3)


# --- the per-channel sums: BLAS where the memory is laid out channel by channel -------------

def _layouts(rng, dtype):
    """The same kinds of (N, C, *) arrays in the memory orders a step hands to batch norm."""
    chwn = rng.standard_normal((3, 4, 5, 6)).astype(dtype)            # (C, H, W, N) in memory
    padded = rng.standard_normal((3, 6, 7, 6)).astype(dtype)
    nc_f = np.asfortranarray(rng.standard_normal((6, 7)).astype(dtype))
    return {
        "NCHW": (rng.standard_normal((6, 3, 4, 5)).astype(dtype), False),
        "CHWN": (chwn.transpose(3, 0, 1, 2), True),                    # a convolution's output
        "CHWN cropped": (padded[:, 1:5, 1:6].transpose(3, 0, 1, 2), False),  # col2im's crop
        "NC": (rng.standard_normal((6, 7)).astype(dtype), False),
        "NC column-major": (nc_f, True),                               # a Linear's output
        "N1HW": (rng.standard_normal((6, 1, 4, 5)).astype(dtype), True),
    }


def test_channel_rows_is_a_view_exactly_where_the_memory_allows():
    for name, (a, fits) in _layouts(np.random.default_rng(0), np.float64).items():
        rows = norm._channel_rows(a)
        assert (rows is not None) == fits, name
        if fits:
            assert rows.shape == (a.shape[1], a.size // a.shape[1]) and np.shares_memory(rows, a)
            for c in range(a.shape[1]):  # row c is channel c, entries in any order
                np.testing.assert_array_equal(np.sort(rows[c]), np.sort(a[:, c].ravel()))


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_channel_sums_equal_the_readable_form(dtype, rtol):
    """Every pair of layouts, fast path or not: the sums of a and of a * b over all axes but 1."""
    rng = np.random.default_rng(1)
    arrays = list(_layouts(rng, dtype).values())
    for a, _ in arrays:
        axes = (0,) + tuple(range(2, a.ndim))
        got = norm._channel_sums(a)
        assert got.dtype == dtype and got.shape == (a.shape[1],)
        np.testing.assert_allclose(got, a.astype(np.float64).sum(axis=axes), rtol=rtol,
                                   atol=rtol * a.size)
        for b, _ in arrays:
            if b.shape != a.shape:
                continue
            want = (a.astype(np.float64) * b).sum(axis=axes)
            got = norm._channel_sums(a, b)
            assert got.dtype == dtype
            np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * a.size)


def test_batch_norm_is_the_same_in_every_memory_order():
    """Forward and backward on a channel-by-channel input (the BLAS sums) agree with the same
    values in C order (NumPy's sums) to float64 rounding, and gradcheck passes on it."""
    rng = np.random.default_rng(2)
    x = rng.normal(1.0, 2.0, size=(3, 4, 5, 6))                 # (C, H, W, N)
    g = rng.standard_normal((6, 3, 4, 5))
    results = []
    for data in (x.transpose(3, 0, 1, 2), np.ascontiguousarray(x.transpose(3, 0, 1, 2))):
        xt = minigan.tensor(data, requires_grad=True)
        gamma, beta = t64(rng.uniform(0.5, 2, 3)), t64(rng.normal(size=3))
        gamma.data[:], beta.data[:] = [1.5, -0.7, 2.0], [0.1, 0.2, -0.3]
        y = F.batch_norm(xt, None, None, gamma, beta, training=True)
        y.backward(g)
        results.append([host(y), host(xt.grad), host(gamma.grad), host(beta.grad)])
    assert norm._channel_rows(x.transpose(3, 0, 1, 2)) is not None  # the fast path ran
    for fast, readable in zip(*results):
        np.testing.assert_allclose(fast, readable, rtol=1e-12, atol=1e-12)
    xt = minigan.tensor(x.transpose(3, 0, 1, 2), requires_grad=True)
    assert gradcheck(lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True),
                     (xt, t64(rng.uniform(0.5, 2, 3)), t64(rng.normal(size=3))), seed=3)
