"""Spectral normalisation: power iteration against the SVD, the VJP of W / (u^T W v) three ways
(gradcheck in float64 with a random upstream gradient, autograd through the same expression
written with primitives, and the exact derivative of W / sigma_max(W) taken by finite differences
of NumPy's SVD), a planted wrong backward that must fail, and the nn.SpectralNorm layer.

No adjoint identity: W -> W / sigma(W) is not linear."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
from minigan import models, nn
from minigan.gradcheck import GradcheckError, gradcheck
from minigan.ops import spectral_norm as sn
from minigan.tensor import ShapeError

from .helpers import host, t64
from .strategies import seeds


@st.composite
def weights(draw):
    """A weight shape (Linear's 2-D or a conv's 4-D) and the axis its rows run along."""
    if draw(st.booleans()):
        shape = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    else:
        shape = tuple(draw(st.integers(1, 3)) for _ in range(4))
    return shape, draw(st.sampled_from([0, 1]))


def _with_gap(seed, shape, dim):
    """A weight whose matrix has top singular value 2 and every other one at most 1, so the
    power iteration converges fast (its error shrinks by 1/2 per step)."""
    rng = np.random.default_rng(seed)
    moved = (shape[dim],) + tuple(s for i, s in enumerate(shape) if i != dim)
    h, rest = moved[0], int(np.prod(moved[1:]))
    a, _ = np.linalg.qr(rng.normal(size=(h, h)))
    b, _ = np.linalg.qr(rng.normal(size=(rest, rest)))
    k = min(h, rest)
    s = np.concatenate([[2.0], rng.uniform(0.1, 1.0, size=k - 1)])
    w_m = a[:, :k] * s @ b[:, :k].T
    return np.moveaxis(w_m.reshape(moved), 0, dim)


def _unit(rng, n):
    x = rng.normal(size=n)
    return x / np.linalg.norm(x)


@given(w=weights(), seed=seeds)
def test_power_iteration_finds_the_top_singular_pair(w, seed):
    shape, dim = w
    w = _with_gap(seed, shape, dim)
    rng = np.random.default_rng(seed + 1)
    u, v = sn.power_iteration(w, _unit(rng, shape[dim]), dim, steps=60)
    w_m = sn.weight_matrix(w, dim)
    assert u @ w_m @ v == pytest.approx(2.0, rel=1e-9)
    left, s, right = np.linalg.svd(w_m)
    assert abs(u @ left[:, 0]) == pytest.approx(1.0, abs=1e-9)
    assert abs(v @ right[0]) == pytest.approx(1.0, abs=1e-9)


def test_weight_matrix_reads_rows_along_dim():
    w = np.arange(24.0).reshape(2, 3, 2, 2)
    assert sn.weight_matrix(w, 0).shape == (2, 12)
    np.testing.assert_array_equal(sn.weight_matrix(w, 1)[1], w[:, 1].ravel())


@given(w=weights(), seed=seeds)
def test_gradcheck(w, seed, device):
    """u and v need not be singular vectors for the op to be differentiable: any fixed unit
    vectors with u^T W v away from 0."""
    shape, dim = w
    rng = np.random.default_rng(seed)
    w = rng.normal(size=shape)
    u, v = sn.power_iteration(w, _unit(rng, shape[dim]), dim, steps=3)
    u, v = (minigan.tensor(a, dtype="float64", device=device).data for a in (u, v))
    assert gradcheck(lambda w: sn.spectral_normalize(w, u, v, dim), (t64(w, device),), seed=seed)


@given(w=weights(), seed=seeds)
def test_backward_matches_autograd_of_the_composition(w, seed):
    """W / (u^T W_m v) written with transpose, reshape, matmul and divide: the engine's
    gradient of that graph is the op's closed form."""
    shape, dim = w
    rng = np.random.default_rng(seed)
    w0, g = rng.normal(size=shape), rng.normal(size=shape)
    u, v = sn.power_iteration(w0, _unit(rng, shape[dim]), dim, steps=3)

    w = t64(w0)
    sn.spectral_normalize(w, u, v, dim).backward(g)
    order = (dim,) + tuple(i for i in range(len(shape)) if i != dim)
    w2 = t64(w0)
    w_m = w2.permute(*order).reshape(shape[dim], -1)
    sigma = minigan.tensor(u[None, :]) @ w_m @ minigan.tensor(v[:, None])      # (1, 1)
    (w2 / sigma.reshape(*(1,) * len(shape))).backward(g)
    np.testing.assert_allclose(host(w.grad), host(w2.grad), rtol=1e-10, atol=1e-12)


@given(w=weights(), seed=seeds)
def test_at_converged_vectors_the_vjp_is_that_of_the_true_spectral_norm(w, seed):
    """The oracle: W / sigma_max(W) with sigma_max from NumPy's SVD, differentiated by central
    differences. At the top singular pair, d sigma_max = u^T dW v, so the op (u, v held fixed)
    gives the exact gradient."""
    shape, dim = w
    w0 = _with_gap(seed, shape, dim)
    rng = np.random.default_rng(seed + 1)
    g = rng.normal(size=shape)
    u, v = sn.power_iteration(w0, _unit(rng, shape[dim]), dim, steps=80)

    def loss(w_):
        sigma = np.linalg.svd(sn.weight_matrix(w_, dim), compute_uv=False)[0]
        return np.sum(g * w_ / sigma)

    eps, numeric = 1e-6, np.zeros(shape)
    for i in np.ndindex(*shape):
        step = np.zeros(shape)
        step[i] = eps
        numeric[i] = (loss(w0 + step) - loss(w0 - step)) / (2 * eps)
    w = t64(w0)
    sn.spectral_normalize(w, u, v, dim).backward(g)
    np.testing.assert_allclose(host(w.grad), numeric, rtol=1e-6, atol=1e-8)


def test_planted_wrong_backward_fails(monkeypatch):
    """The check has teeth: the VJP without its second term (only the rescaling) must fail."""
    monkeypatch.setattr(sn.SpectralNormalize, "backward",
                        staticmethod(lambda ctx, g: (g / ctx.sigma,)))
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 4))
    u, v = sn.power_iteration(w, _unit(rng, 3), 0, steps=5)
    with pytest.raises(GradcheckError):
        gradcheck(lambda w: sn.spectral_normalize(w, u, v), (t64(w),))


def test_shape_errors_name_the_op_and_shapes():
    w = t64(np.ones((3, 4)))
    with pytest.raises(ShapeError, match=r"SpectralNormalize.*\(2,\).*\(4,\).*\(3, 4\)"):
        sn.spectral_normalize(w, np.ones(2), np.ones(4))
    with pytest.raises(ShapeError, match="dim 2"):
        sn.spectral_normalize(w, np.ones(3), np.ones(4), dim=2)


# --- the layer ----------------------------------------------------------------------------------

def _randn(*shape, device="cpu"):
    return minigan.tensor(np.random.default_rng(0).normal(size=shape), dtype="float32",
                          device=device)


def _top_singular_value(w, dim):
    return np.linalg.svd(sn.weight_matrix(host(w).astype(np.float64), dim), compute_uv=False)[0]


@pytest.mark.parametrize("make, dim", [
    (lambda: nn.Linear(7, 5, generator=0), 0),
    (lambda: nn.Conv2d(3, 4, 3, padding=1, generator=1), 0),
    (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, generator=2), 1),
])
def test_layer_uses_the_normalised_weight(make, dim, device):
    layer = make().to(device)
    wrapped = nn.SpectralNorm(layer, generator=0)
    assert wrapped.dim == dim
    # 15 power-iteration steps on construction: sigma close to the SVD's already.
    sigma = _top_singular_value(layer.weight.data, dim)
    assert wrapped.sigma() == pytest.approx(sigma, rel=0.05)
    x = _randn(2, 7, device=device) if isinstance(layer, nn.Linear) else \
        _randn(2, 3, 6, 6, device=device)
    wrapped.eval()                                          # u, v as they are
    u, v = host(wrapped.u), host(wrapped.v)
    w_sn = host(layer.weight) / (u @ sn.weight_matrix(host(layer.weight), dim) @ v)
    expected = layer.with_weight(x, minigan.tensor(w_sn, device=device))
    np.testing.assert_allclose(host(wrapped(x)), host(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(host(wrapped.u), u)       # eval: no power iteration


def test_training_refines_sigma_and_normalises_to_one():
    layer = nn.Linear(30, 20, generator=3)
    wrapped = nn.SpectralNorm(layer, generator=0)
    x = _randn(4, 30)
    for _ in range(100):                                    # one power step per pass
        wrapped(x)
    sigma = _top_singular_value(layer.weight.data, 0)
    assert wrapped.sigma() == pytest.approx(sigma, rel=1e-4)
    w_sn = host(layer.weight) / wrapped.sigma()
    assert _top_singular_value(w_sn, 0) == pytest.approx(1.0, rel=1e-4)


def test_gradients_reach_the_wrapped_layer():
    layer = nn.Conv2d(2, 3, 3, generator=4)
    wrapped = nn.SpectralNorm(layer, generator=0)
    wrapped(_randn(2, 2, 5, 5)).sum().backward()
    assert layer.weight.grad is not None and layer.bias.grad is not None
    names = [n for n, _ in wrapped.named_parameters()]
    assert names == ["layer.weight", "layer.bias"]


def test_state_dict_round_trip_keeps_the_singular_vectors():
    a = nn.SpectralNorm(nn.Linear(6, 4, generator=5), generator=0)
    a(_randn(3, 6))
    b = nn.SpectralNorm(nn.Linear(6, 4, generator=6), generator=1)
    b.load_state_dict(a.state_dict())
    assert set(a.state_dict()) == {"u", "v", "layer.weight", "layer.bias"}
    np.testing.assert_array_equal(host(a.u), host(b.u))
    assert a.sigma() == b.sigma()


@pytest.mark.parametrize("steps", [2, 5])
def test_each_forward_runs_power_iterations_steps(steps):
    """power_iterations = k: one training forward continues the iteration by exactly k steps
    (the oracle: k steps of the plain loop from the vectors before the pass)."""
    layer = nn.Linear(6, 5, generator=7)
    wrapped = nn.SpectralNorm(layer, power_iterations=steps, generator=0)
    w = host(layer.weight)
    u = host(wrapped.u) + np.random.default_rng(1).normal(scale=0.3, size=5)  # not converged
    wrapped.u.data[...] = u / np.linalg.norm(u)
    u = host(wrapped.u)
    for _ in range(steps):
        v = w.T @ u
        v /= np.linalg.norm(v)
        u = w @ v
        u /= np.linalg.norm(u)
    wrapped(_randn(2, 6))
    np.testing.assert_allclose(host(wrapped.u), u, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(host(wrapped.v), v, rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="SpectralNorm.*ReLU"):
        nn.SpectralNorm(nn.ReLU())
    with pytest.raises(ValueError, match="power_iterations"):
        nn.SpectralNorm(nn.Linear(2, 2), power_iterations=0)


def assert_every_layer_starts_normalised(D, count):
    """build() re-initialises the weights and then restarts each layer's power iteration, so the
    normalised weights have spectral norm 1 from the first step."""
    layers = [m for m in D.modules() if isinstance(m, nn.SpectralNorm)]
    assert len(layers) == count
    for m in layers:
        w = host(m.layer.weight)
        assert _top_singular_value(w, 0) / m.sigma() == pytest.approx(1.0, rel=0.05)
    assert D(_randn(4, 1, 28, 28)).shape == (4, 1)


def test_dcgan_sn_fc_starts_with_every_layer_normalised():
    assert_every_layer_starts_normalised(models.build("dcgan_sn_fc", seed=0)[1], 4)
