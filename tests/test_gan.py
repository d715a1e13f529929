"""The GAN objective and its hand-derived gradients (docs/derivations/gan_loss.md), three ways:
against autograd through F.binary_cross_entropy_with_logits, against float64 central differences
(minigan.gradcheck), and against the closed-form bounds; then the training step against the same
step written with autograd-composed BCE losses."""

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy import optimize

import minigan
import minigan.functional as F
from minigan import gan, nn, optim
from minigan.backend import get_array_module
from minigan.tensor import Function
from tests.helpers import host, t64
from tests.strategies import seeds

sizes = st.integers(1, 6)
smoothings = st.floats(0.0, 0.5)  # one-sided label smoothing: real examples' target 1 - s


def logits(seed, n, scale=3.0):
    return np.random.default_rng(seed).normal(scale=scale, size=(n, 1))


def bce(x, target):
    xp = get_array_module(x.data)
    return F.binary_cross_entropy_with_logits(x, xp.full(x.shape, float(target)))


# --- the hand-derived gradients as ops, so minigan.gradcheck can test them ------------------------

class DiscriminatorLoss(Function):
    """L_D(r, f) with the backward of gan.discriminator_loss_grad."""

    @staticmethod
    def forward(ctx, r, f, label_smoothing=0.0):
        ctx.save_for_backward(r, f)
        ctx.label_smoothing = label_smoothing
        return gan.discriminator_loss(r, f, label_smoothing)

    @staticmethod
    def backward(ctx, g):
        g_real, g_fake = gan.discriminator_loss_grad(*ctx.saved, ctx.label_smoothing)
        return g * g_real, g * g_fake


class GeneratorLoss(Function):
    """L_G(f) with the backward of gan.generator_loss_grad."""

    @staticmethod
    def forward(ctx, f, saturating):
        ctx.save_for_backward(f)
        ctx.saturating = saturating
        return gan.generator_loss(f, saturating)

    @staticmethod
    def backward(ctx, g):
        return g * gan.generator_loss_grad(ctx.saved[0], ctx.saturating)


@given(n=sizes, m=sizes, seed=seeds)
def test_discriminator_grad_matches_gradcheck(n, m, seed):
    r, f = t64(logits(seed, n)), t64(logits(seed + 1, m))
    minigan.gradcheck(lambda r, f: DiscriminatorLoss.apply(r, f), [r, f])


@given(n=sizes, m=sizes, seed=seeds, s=smoothings)
def test_smoothed_discriminator_grad_matches_gradcheck(n, m, seed, s):
    r, f = t64(logits(seed, n)), t64(logits(seed + 1, m))
    minigan.gradcheck(lambda r, f: DiscriminatorLoss.apply(r, f, label_smoothing=s), [r, f])


@pytest.mark.parametrize("saturating", [False, True])
@given(m=sizes, seed=seeds)
def test_generator_grad_matches_gradcheck(saturating, m, seed):
    f = t64(logits(seed, m))
    minigan.gradcheck(lambda f: GeneratorLoss.apply(f, saturating=saturating), [f])


def test_planted_wrong_gradient_fails():
    """The check can fail: the saturating gradient passed off as the non-saturating one."""
    class Wrong(GeneratorLoss):
        @staticmethod
        def backward(ctx, g):
            return g * gan.generator_loss_grad(ctx.saved[0], saturating=True)
    with pytest.raises(minigan.GradcheckError):
        minigan.gradcheck(lambda f: Wrong.apply(f, saturating=False), [t64(logits(0, 4))])


@given(n=sizes, m=sizes, seed=seeds)
def test_discriminator_grad_matches_autograd_bce(device, n, m, seed):
    r, f = t64(logits(seed, n), device), t64(logits(seed + 1, m), device)
    loss = bce(r, 1) + bce(f, 0)  # mean BCE of "real is real" plus "fake is fake"
    loss.backward()
    g_real, g_fake = gan.discriminator_loss_grad(r, f)
    assert get_array_module(g_real) is get_array_module(r.data)
    np.testing.assert_allclose(host(g_real), host(r.grad), rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(host(g_fake), host(f.grad), rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(host(gan.discriminator_loss(r, f).data), host(loss.data),
                               rtol=1e-14)
    # ... and through the Tensor form of the loss, built from log_sigmoid.
    r2, f2 = t64(host(r), device), t64(host(f), device)
    gan.discriminator_loss(r2, f2).backward()
    np.testing.assert_allclose(host(g_real), host(r2.grad), rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(host(g_fake), host(f2.grad), rtol=1e-14, atol=1e-17)


@given(n=sizes, m=sizes, seed=seeds, s=smoothings)
def test_smoothed_discriminator_grad_matches_autograd_bce(device, n, m, seed, s):
    r, f = t64(logits(seed, n), device), t64(logits(seed + 1, m), device)
    loss = bce(r, 1 - s) + bce(f, 0)  # real examples' target 1 - s; generated ones keep 0
    loss.backward()
    g_real, g_fake = gan.discriminator_loss_grad(r, f, label_smoothing=s)
    np.testing.assert_allclose(host(g_real), host(r.grad), rtol=1e-13, atol=1e-17)
    np.testing.assert_allclose(host(g_fake), host(f.grad), rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(host(gan.discriminator_loss(host(r), host(f), s)),
                               host(loss.data), rtol=1e-14)
    r2, f2 = t64(host(r), device), t64(host(f), device)
    smoothed = gan.discriminator_loss(r2, f2, label_smoothing=s)
    np.testing.assert_allclose(host(smoothed.data), host(loss.data), rtol=1e-14)
    smoothed.backward()
    np.testing.assert_allclose(host(g_real), host(r2.grad), rtol=1e-13, atol=1e-17)
    np.testing.assert_allclose(host(g_fake), host(f2.grad), rtol=1e-14, atol=1e-17)


@given(n=sizes, m=sizes, seed=seeds, s=st.floats(0.01, 0.5))
def test_smoothed_signs_and_bounds(n, m, seed, s):
    """g_real = (sigma(r) - t)/N lies in (-t/N, s/N): it changes sign where D(x) = t, so D is
    pushed back down when it is surer than t that an example is real."""
    r, f = logits(seed, n, scale=10), logits(seed + 1, m, scale=10)
    g_real, _ = gan.discriminator_loss_grad(r, f, label_smoothing=s)
    t = 1 - s
    assert np.all((-t / n <= g_real) & (g_real <= s / n))
    d = 1 / (1 + np.exp(-r))
    assert np.all(np.sign(g_real)[np.abs(d - t) > 1e-9] == np.sign(d - t)[np.abs(d - t) > 1e-9])


@pytest.mark.parametrize("s", [0.0, 0.1, 0.3])
def test_smoothed_loss_and_gradient_in_closed_form(s):
    """Against the definitions written out in NumPy: L_D = mean[t softplus(-r) + s softplus(r)]
    + mean softplus(f), g_real = (sigma(r) - t)/N; at s = 0 the unsmoothed loss and gradient."""
    r, f = logits(0, 7), logits(1, 5)
    t, n = 1 - s, len(r)
    softplus = lambda a: np.logaddexp(0, a)  # noqa: E731  -log sigma(-a)
    expected = np.mean(t * softplus(-r) + s * softplus(r)) + np.mean(softplus(f))
    np.testing.assert_allclose(gan.discriminator_loss(r, f, s), expected, rtol=1e-14)
    g_real, _ = gan.discriminator_loss_grad(r, f, s)
    np.testing.assert_allclose(g_real, (1 / (1 + np.exp(-r)) - t) / n, rtol=1e-13, atol=1e-17)
    # Where D(x) rounds to 1 (or 0), full relative precision: s - sigma(-40) is not 1 - 1 = 0.
    g_ends, _ = gan.discriminator_loss_grad(np.array([[40.0], [-800.0]]), f, s)
    sigma_minus_40 = np.exp(-40.0) / (1 + np.exp(-40.0))
    np.testing.assert_allclose(g_ends[:, 0], [(s - sigma_minus_40) / 2, -t / 2], rtol=1e-15)


@pytest.mark.parametrize("s", [-0.1, 1.0, 1.5])
def test_label_smoothing_outside_0_1_is_refused(s):
    r, f = logits(0, 3), logits(1, 3)
    with pytest.raises(ValueError, match="label_smoothing must lie in"):
        gan.discriminator_loss(r, f, label_smoothing=s)
    with pytest.raises(ValueError, match="label_smoothing must lie in"):
        gan.discriminator_loss_grad(r, f, label_smoothing=s)
    G, D = models(0)
    real, z = batches(0, steps=1, k=1, device="cpu")
    with pytest.raises(ValueError, match="label_smoothing must lie in"):
        gan.train_step(G, D, *optimizers(G, D, "sgd"), real[0][0], z[0][0], label_smoothing=s)


@given(seed=seeds, s=smoothings)
def test_smoothed_optimal_discriminator_is_t_p_data_over_p_data_plus_p_g(seed, s):
    """Closed-form oracle: on a finite set of points, with a free logit per point, the minimiser
    of the smoothed L_D found with the hand-derived gradient is D* = t p_data / (p_data + p_g)."""
    gen = np.random.default_rng(seed)
    k = 6
    real_idx = np.repeat(np.arange(k), gen.integers(1, 6, k))  # each point seen 1..5 times
    fake_idx = np.repeat(np.arange(k), gen.integers(1, 6, k))
    p_data = np.bincount(real_idx, minlength=k) / real_idx.size
    p_g = np.bincount(fake_idx, minlength=k) / fake_idx.size

    def loss_and_grad(theta):
        r, f = theta[real_idx], theta[fake_idx]
        g_real, g_fake = gan.discriminator_loss_grad(r, f, label_smoothing=s)
        grad = (np.bincount(real_idx, g_real, minlength=k)
                + np.bincount(fake_idx, g_fake, minlength=k))  # shared logits: gradients add
        return float(gan.discriminator_loss(r, f, label_smoothing=s)), grad

    theta = optimize.minimize(loss_and_grad, np.zeros(k), jac=True, method="BFGS",
                              options={"gtol": 1e-12}).x
    np.testing.assert_allclose(1 / (1 + np.exp(-theta)), (1 - s) * p_data / (p_data + p_g),
                               rtol=1e-6)


@pytest.mark.parametrize("saturating", [False, True])
@given(m=sizes, seed=seeds)
def test_generator_grad_matches_autograd_bce(device, saturating, m, seed):
    f = t64(logits(seed, m), device)
    # non-saturating: -E log D(G(z)) = BCE(f, 1);  saturating: E log(1 - D(G(z))) = -BCE(f, 0)
    loss = -bce(f, 0) if saturating else bce(f, 1)
    loss.backward()
    np.testing.assert_allclose(host(gan.generator_loss_grad(f, saturating)), host(f.grad),
                               rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(host(gan.generator_loss(f, saturating).data), host(loss.data),
                               rtol=1e-14)
    f2 = t64(host(f), device)
    gan.generator_loss(f2, saturating).backward()
    np.testing.assert_allclose(host(gan.generator_loss_grad(f, saturating)), host(f2.grad),
                               rtol=1e-14, atol=1e-17)


@given(n=sizes, m=sizes, seed=seeds)
def test_signs_and_bounds(n, m, seed):
    r, f = logits(seed, n, scale=10), logits(seed + 1, m, scale=10)  # |logit| < ~36: sigma < 1
    g_real, g_fake = gan.discriminator_loss_grad(r, f)
    assert np.all((-1 / n < g_real) & (g_real < 0))  # D wants larger logits on real data
    assert np.all((0 < g_fake) & (g_fake < 1 / m))   # ... and smaller ones on generated data
    for saturating in (False, True):
        g = gan.generator_loss_grad(f, saturating)
        assert np.all((-1 / m < g) & (g < 0))       # G always wants D to say "real"
    # The two generator gradients sum to -1/M: -sigma(-f)/M - sigma(f)/M.
    np.testing.assert_allclose(gan.generator_loss_grad(f) + gan.generator_loss_grad(f, True),
                               -1 / m, rtol=1e-14)
    # V is a log-probability sum: never positive; L_D >= 0.
    assert gan.value(r, f) <= 0 and gan.discriminator_loss(r, f) >= 0


def test_vanishing_gradient_of_the_saturating_loss():
    """When D rejects the samples (f very negative), the minimax loss gives G ~no gradient."""
    f = np.array([-10.0, -20.0, -40.0])
    saturating = np.abs(gan.generator_loss_grad(f, saturating=True)) * len(f)
    non_saturating = np.abs(gan.generator_loss_grad(f)) * len(f)
    np.testing.assert_allclose(saturating, 1 / (1 + np.exp(-f)), rtol=1e-14)  # sigma(f) -> 0
    assert saturating.max() < 5e-5
    np.testing.assert_allclose(non_saturating, 1.0, atol=5e-5)                # -> 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_at_extreme_logits(device, dtype):
    extreme = np.array([[1e4], [-1e4], [0.0], [30.0], [-30.0]], dtype=dtype)
    r = minigan.tensor(extreme, requires_grad=True, device=device)
    f = minigan.tensor(-extreme, requires_grad=True, device=device)
    for loss in (gan.discriminator_loss(r, f), gan.generator_loss(f),
                 gan.generator_loss(f, saturating=True)):
        assert loss.dtype == dtype and np.isfinite(host(loss.data))
    g_real, g_fake = gan.discriminator_loss_grad(r, f)
    for g in (g_real, g_fake, gan.generator_loss_grad(f), gan.generator_loss_grad(f, True)):
        assert g.dtype == dtype and g.shape == extreme.shape and np.all(np.isfinite(host(g)))
    n = len(extreme)
    np.testing.assert_allclose(host(g_real)[:2, 0], [0.0, -1 / n], rtol=1e-6)
    np.testing.assert_allclose(host(g_fake)[:2, 0], [0.0, 1 / n], rtol=1e-6)
    np.testing.assert_allclose(float(host(gan.value(extreme, -extreme))), -2 * (1e4 + 30) / n
                               - 2 * np.log(2) / n - 2 * np.log1p(np.exp(-30.0)) / n, rtol=1e-5)
    gan.discriminator_loss(r, f).backward()
    assert np.all(np.isfinite(host(r.grad))) and np.all(np.isfinite(host(f.grad)))


# --- the training step ---------------------------------------------------------------------------

Z, X = 3, 4  # noise and data dimensions of the toy models


def models(seed, device="cpu", batch_norm=False):
    gen = np.random.default_rng(seed)
    kw = dict(dtype="float64", device=device, generator=gen)
    G = nn.Sequential(nn.Linear(Z, 8, **kw), nn.LeakyReLU(0.2), nn.Linear(8, X, **kw))
    # No bias before batch norm (which removes it): its exact gradient is 0, and Adam would
    # turn the rounding noise left in its place into full-size steps.
    D_layers = [nn.Linear(X, 8, bias=not batch_norm, **kw)]
    if batch_norm:
        D_layers.append(nn.BatchNorm1d(8, dtype="float64", device=device))
    D = nn.Sequential(*D_layers, nn.LeakyReLU(0.2), nn.Linear(8, 1, **kw))
    return G, D


def optimizers(G, D, kind):
    if kind == "adam":
        return (optim.Adam(G.parameters(), lr=1e-2, betas=(0.5, 0.999)),
                optim.Adam(D.parameters(), lr=1e-2, betas=(0.5, 0.999)))
    return (optim.SGD(G.parameters(), lr=0.1, momentum=0.9),
            optim.SGD(D.parameters(), lr=0.1, momentum=0.9))


def batches(seed, steps, k, device, n=5):
    """Real batches and noise for ``steps`` iterations: k real batches and k + 1 noise batches."""
    gen = np.random.default_rng(seed)
    real = [[t64(gen.normal(1.0, 0.5, (n, X)), device, False) for _ in range(k)]
            for _ in range(steps)]
    z = [[t64(gen.normal(size=(n, Z)), device, False) for _ in range(k + 1)]
         for _ in range(steps)]
    return real, z


def reference_step(G, D, opt_G, opt_D, reals, zs, k, saturating, label_smoothing=0.0):
    """Algorithm 1 written the usual way: autograd through composed BCE losses."""
    for real, z in zip(reals, zs[:k]):
        fake = G(z).detach()
        opt_D.zero_grad()
        loss_D = bce(D(real), 1 - label_smoothing) + bce(D(fake), 0)
        loss_D.backward()
        opt_D.step()
    opt_G.zero_grad()
    fake_logits = D(G(zs[k]))
    loss_G = -bce(fake_logits, 0) if saturating else bce(fake_logits, 1)
    loss_G.backward()
    D.zero_grad()  # D received gradients from G's loss: clear them
    opt_G.step()


@pytest.mark.parametrize("k, saturating, kind, batch_norm, smoothing", [
    (1, False, "adam", False, 0.0), (2, True, "adam", False, 0.0), (3, False, "sgd", False, 0.0),
    (1, False, "adam", False, 0.1), (2, False, "sgd", False, 0.25),
    # With batch norm in D, some of G's parameters (its output bias) shift every fake example
    # alike, which D's batch norm removes: their exact gradient is 0 and what is computed is
    # rounding noise, which Adam would normalise into full-size steps. SGD keeps it at noise.
    (2, False, "sgd", True, 0.0)])
def test_train_step_matches_autograd_bce(device, k, saturating, kind, batch_norm, smoothing):
    G1, D1 = models(0, device, batch_norm)
    G2, D2 = models(0, device, batch_norm)
    opts1, opts2 = optimizers(G1, D1, kind), optimizers(G2, D2, kind)
    real, z = batches(1, steps=4, k=k, device=device)
    for step in range(4):
        out = gan.train_step(G1, D1, *opts1, real[step], z[step], k=k, saturating=saturating,
                             label_smoothing=smoothing)
        reference_step(G2, D2, *opts2, real[step], z[step], k, saturating, smoothing)
    for (name, p1), (_, p2) in zip([*G1.named_parameters(), *D1.named_parameters()],
                                   [*G2.named_parameters(), *D2.named_parameters()]):
        np.testing.assert_allclose(host(p1.data), host(p2.data), rtol=1e-12, atol=1e-12,
                                   err_msg=name)
    assert not np.allclose(host(G1[0].weight.data), host(models(0)[0][0].weight.data))
    for b1, b2 in zip(D1.buffers(), D2.buffers()):
        np.testing.assert_allclose(host(b1.data), host(b2.data), rtol=1e-12)
    # The losses come back as 0-d arrays on the models' device, not as Python floats.
    xp = get_array_module(G1[0].weight.data)
    for value in out:
        assert isinstance(value, xp.ndarray) and value.shape == ()
    assert 0 < float(out.d_real) < 1 and 0 < float(out.d_fake) < 1


def test_train_step_returns_the_losses_it_stepped_on():
    G, D = models(3)
    opt_G, opt_D = optimizers(G, D, "adam")
    real, z = batches(4, steps=1, k=1, device="cpu")
    with minigan.no_grad():
        real_logits, fake_logits = D(real[0][0]).data, D(G(z[0][0])).data
    out = gan.train_step(G, D, opt_G, opt_D, real[0][0], z[0][0])
    np.testing.assert_allclose(out.d_loss, gan.discriminator_loss(real_logits, fake_logits))
    np.testing.assert_allclose(out.d_real, (1 / (1 + np.exp(-real_logits))).mean())
    np.testing.assert_allclose(out.d_fake, (1 / (1 + np.exp(-fake_logits))).mean())


def test_each_update_moves_only_its_own_model():
    G, D = models(5)
    opt_G, opt_D = optimizers(G, D, "sgd")
    real, z = batches(6, steps=1, k=1, device="cpu")
    snapshot = lambda m: [p.data.copy() for p in m.parameters()]  # noqa: E731
    g0 = snapshot(G)
    gan.discriminator_step(G, D, opt_D, real[0][0], z[0][0])
    assert all(np.array_equal(a, p.data) for a, p in zip(g0, G.parameters()))
    d0, d_grads = snapshot(D), [p.grad.copy() for p in D.parameters()]
    gan.generator_step(G, D, opt_G, z[0][1])
    assert all(np.array_equal(a, p.data) for a, p in zip(d0, D.parameters()))
    # D was frozen: G's backward left D's gradients exactly as they were, and D is unfrozen after.
    assert all(np.array_equal(a, p.grad) for a, p in zip(d_grads, D.parameters()))
    assert all(p.requires_grad for p in D.parameters())
    assert not all(np.array_equal(a, p.data) for a, p in zip(g0, G.parameters()))


def test_a_frozen_parameter_of_D_stays_frozen():
    G, D = models(7)
    opt_G, opt_D = optimizers(G, D, "sgd")
    D[0].bias.requires_grad_(False)
    real, z = batches(8, steps=1, k=1, device="cpu")
    gan.generator_step(G, D, opt_G, z[0][0])
    assert not D[0].bias.requires_grad and D[-1].bias.requires_grad


def test_noise_forms():
    """A callable is called k + 1 times; a list must have k + 1 entries; one Tensor is reused."""
    G, D = models(9)
    opt_G, opt_D = optimizers(G, D, "sgd")
    real, z = batches(10, steps=1, k=2, device="cpu")
    calls = []

    def noise():
        calls.append(1)
        return z[0][len(calls) - 1]

    gan.train_step(G, D, opt_G, opt_D, real[0], noise, k=2)
    assert len(calls) == 3
    gan.train_step(G, D, opt_G, opt_D, real[0][0], z[0][0], k=2)
    with pytest.raises(ValueError, match="list of 2 batches, expected 3"):
        gan.train_step(G, D, opt_G, opt_D, real[0], z[0][:2], k=2)
    with pytest.raises(ValueError, match="k must be at least 1"):
        gan.train_step(G, D, opt_G, opt_D, real[0][0], z[0][0], k=0)


def test_acceptance_probability_stays_on_the_logits_device(device):
    logits = np.array([-3.0, -0.5, 0.0, 0.5, 4.0])
    a = minigan.backend.to_device(logits, device)
    p = gan.acceptance_probability(a, 0.5)
    assert minigan.backend.device_of(p) == device
    np.testing.assert_allclose(host(p), np.minimum(1.0, np.exp(logits - 0.5)), rtol=1e-15)
