"""The GAN objective and its hand-derived gradients (docs/derivations/gan_loss.md), three ways:
against autograd through F.binary_cross_entropy_with_logits, against float64 central differences
(minigan.gradcheck), and against the closed-form bounds; then the training step against the same
step written with autograd-composed BCE losses. The family (least squares, hinge, Wasserstein;
docs/derivations/gan_family.md) the same ways, with weight clipping and n_critic = k."""

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy import optimize

import minigan
import minigan.functional as F
from minigan import gan, nn, optim
from minigan.backend import get_array_module
from minigan.tensor import Function
from tests.helpers import away_from, host, t64
from tests.strategies import seeds

sizes = st.integers(1, 6)
smoothings = st.floats(0.0, 0.5)  # one-sided label smoothing: real examples' target 1 - s
FAMILY = ("lsgan", "hinge", "wasserstein")
scales = st.sampled_from([1.0, 10.0, 1e4])  # the spread of D's outputs: up to large ones


def logits(seed, n, scale=3.0):
    return np.random.default_rng(seed).normal(scale=scale, size=(n, 1))


def bce(x, target):
    xp = get_array_module(x.data)
    return F.binary_cross_entropy_with_logits(x, xp.full(x.shape, float(target)))


# --- the hand-derived gradients as ops, so minigan.gradcheck can test them ------------------------

class DiscriminatorLoss(Function):
    """L_D(r, f) with the backward of gan.discriminator_loss_grad."""

    @staticmethod
    def forward(ctx, r, f, label_smoothing=0.0, loss="gan"):
        ctx.save_for_backward(r, f)
        ctx.label_smoothing, ctx.loss = label_smoothing, loss
        return gan.discriminator_loss(r, f, label_smoothing, loss=loss)

    @staticmethod
    def backward(ctx, g):
        g_real, g_fake = gan.discriminator_loss_grad(*ctx.saved, ctx.label_smoothing, ctx.loss)
        return g * g_real, g * g_fake


class GeneratorLoss(Function):
    """L_G(f) with the backward of gan.generator_loss_grad."""

    @staticmethod
    def forward(ctx, f, saturating, loss="gan"):
        ctx.save_for_backward(f)
        ctx.saturating, ctx.loss = saturating, loss
        return gan.generator_loss(f, saturating, loss=loss)

    @staticmethod
    def backward(ctx, g):
        return g * gan.generator_loss_grad(ctx.saved[0], ctx.saturating, ctx.loss)


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


# --- the family: least squares, hinge, Wasserstein ------------------------------------------------

def family_logits(seed, n, scale, loss):
    """D's outputs for the family's tests; the hinge's kinks at +-1 dodged by 1e-3, so that
    central differences (eps 1e-6) never straddle one (the kinks have their own test)."""
    a = logits(seed, n, scale)
    return away_from(a, [-1.0, 1.0], 1e-3) if loss == "hinge" else a


def reference_d_loss(loss, r, f):
    """L_D composed from minigan's ops the plain way, for autograd to differentiate."""
    if loss == "gan":
        return bce(r, 1) + bce(f, 0)
    if loss == "lsgan":
        return ((r - 1) * (r - 1)).sum() / (2 * r.size) + (f * f).sum() / (2 * f.size)
    if loss == "hinge":
        return F.relu(1 - r).sum() / r.size + F.relu(f + 1).sum() / f.size
    return f.sum() / f.size - r.sum() / r.size


def reference_g_loss(loss, f):
    """L_G (the non-saturating one for "gan") composed the same way."""
    if loss == "gan":
        return bce(f, 1)
    if loss == "lsgan":
        return ((f - 1) * (f - 1)).sum() / (2 * f.size)
    return -f.sum() / f.size


@pytest.mark.parametrize("loss", FAMILY)
@given(n=sizes, m=sizes, seed=seeds, scale=scales)
def test_family_grads_match_gradcheck(loss, n, m, seed, scale):
    r = t64(family_logits(seed, n, scale, loss))
    f = t64(family_logits(seed + 1, m, scale, loss))
    minigan.gradcheck(lambda r, f: DiscriminatorLoss.apply(r, f, loss=loss), [r, f])
    minigan.gradcheck(lambda f: GeneratorLoss.apply(f, saturating=False, loss=loss), [f])


@pytest.mark.parametrize("loss", FAMILY)
@given(n=sizes, m=sizes, seed=seeds, scale=scales)
def test_family_grads_match_autograd(device, loss, n, m, seed, scale):
    """The hand-derived gradients against autograd through the losses composed the plain way,
    and through gan.py's own Tensor form of them; the values against both."""
    r_np, f_np = family_logits(seed, n, scale, loss), family_logits(seed + 1, m, scale, loss)
    r, f = t64(r_np, device), t64(f_np, device)
    loss_d, loss_g = reference_d_loss(loss, r, f), reference_g_loss(loss, f)
    loss_d.backward()
    g_real, g_fake = gan.discriminator_loss_grad(r, f, loss=loss)
    g_gen = gan.generator_loss_grad(f, loss=loss)
    assert get_array_module(g_real) is get_array_module(r.data)
    np.testing.assert_allclose(host(g_real), host(r.grad), rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(host(g_fake), host(f.grad), rtol=1e-14, atol=1e-17)
    f.grad = None
    loss_g.backward()
    np.testing.assert_allclose(host(g_gen), host(f.grad), rtol=1e-14, atol=1e-17)
    r2, f2, f3 = t64(r_np, device), t64(f_np, device), t64(f_np, device)
    ours_d, ours_g = gan.discriminator_loss(r2, f2, loss=loss), gan.generator_loss(f3, loss=loss)
    np.testing.assert_allclose(host(ours_d.data), host(loss_d.data), rtol=1e-14)
    np.testing.assert_allclose(host(ours_g.data), host(loss_g.data), rtol=1e-14)
    ours_d.backward()
    ours_g.backward()
    np.testing.assert_allclose(host(g_real), host(r2.grad), rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(host(g_fake), host(f2.grad), rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(host(g_gen), host(f3.grad), rtol=1e-14, atol=1e-17)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_family_losses_and_gradients_in_closed_form(dtype):
    """The definitions written out in NumPy, on arrays, in the logits' dtype."""
    r, f = logits(0, 7).astype(dtype), logits(1, 5).astype(dtype)
    n, m = len(r), len(f)
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    tol = dict(rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-7)
    expected = {
        "lsgan": (np.mean((r - 1.0) ** 2) / 2 + np.mean(f ** 2) / 2, np.mean((f - 1.0) ** 2) / 2,
                  (r - 1.0) / n, f / m, (f - 1.0) / m),
        "hinge": (np.mean(relu(1.0 - r)) + np.mean(relu(1.0 + f)), -np.mean(f),
                  -1.0 * (r < 1) / n, 1.0 * (f > -1) / m, np.full(f.shape, -1 / m)),
        "wasserstein": (np.mean(f) - np.mean(r), -np.mean(f),
                        np.full(r.shape, -1 / n), np.full(f.shape, 1 / m),
                        np.full(f.shape, -1 / m)),
    }
    for loss, (l_d, l_g, g_real, g_fake, g_gen) in expected.items():
        got = (gan.discriminator_loss(r, f, loss=loss), gan.generator_loss(f, loss=loss),
               *gan.discriminator_loss_grad(r, f, loss=loss), gan.generator_loss_grad(f, loss=loss))
        for name, value, want in zip(("L_D", "L_G", "g_real", "g_fake", "g_gen"), got,
                                     (l_d, l_g, g_real, g_fake, g_gen)):
            assert value.dtype == dtype and value.shape == np.shape(want), (loss, name)
            np.testing.assert_allclose(value, want, err_msg=f"{loss} {name}", **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hinge_subgradient_at_the_kinks(dtype):
    """Closed-form oracle at exactly r = 1 and f = -1, where relu(1 - r) and relu(1 + f) have
    kinks: the subgradient 0 is chosen (relu's at 0), by the hand-derived gradient and by
    autograd through F.relu alike; a step either side of the kink has the one-sided slope."""
    below, above = np.nextafter(dtype(1), dtype(0)), np.nextafter(dtype(1), dtype(2))
    r = np.array([[below], [1.0], [above]], dtype=dtype)
    f = -r[::-1]                                          # -above, -1, -below
    g_real, g_fake = gan.discriminator_loss_grad(r, f, loss="hinge")
    assert g_real.dtype == g_fake.dtype == dtype
    assert g_real[:, 0].tolist() == [-dtype(1 / 3), 0.0, 0.0]   # below the margin: pushed up
    assert g_fake[:, 0].tolist() == [0.0, 0.0, dtype(1 / 3)]    # above -1: pushed down
    rt, ft = minigan.tensor(r, requires_grad=True), minigan.tensor(f, requires_grad=True)
    (F.relu(1 - rt).mean() + F.relu(1 + ft).mean()).backward()
    assert host(rt.grad).tolist() == g_real.tolist()
    assert host(ft.grad).tolist() == g_fake.tolist()
    # Only the two entries inside their margins cost anything, 1 - below each.
    np.testing.assert_allclose(gan.discriminator_loss(r, f, loss="hinge"),
                               2 * (1 - np.float64(below)) / 3, rtol=1e-6)


@pytest.mark.parametrize("loss", FAMILY)
@given(n=sizes, m=sizes, seed=seeds)
def test_family_signs_and_bounds(loss, n, m, seed):
    """Each gradient moves D towards its targets and G towards D's real side."""
    r, f = family_logits(seed, n, 10, loss), family_logits(seed + 1, m, 10, loss)
    g_real, g_fake = gan.discriminator_loss_grad(r, f, loss=loss)
    g_gen = gan.generator_loss_grad(f, loss=loss)
    if loss == "lsgan":        # towards the targets: real -> 1, fake -> 0; G's samples -> 1
        assert np.all(np.sign(g_real) == np.sign(r - 1)) and np.all(np.sign(g_fake) == np.sign(f))
        assert np.all(np.sign(g_gen) == np.sign(f - 1))
    elif loss == "hinge":      # only inside the margins, by the same amount whatever the score
        assert set(np.unique(g_real)) <= {-1 / n, 0.0} and set(np.unique(g_fake)) <= {0.0, 1 / m}
        assert np.array_equal(g_real < 0, r < 1) and np.array_equal(g_fake > 0, f > -1)
    else:                      # everywhere, whatever the score: never saturates
        assert np.all(g_real == -1 / n) and np.all(g_fake == 1 / m)
    if loss != "lsgan":
        assert np.all(g_gen == -1 / m)
    assert gan.discriminator_loss(r, f, loss=loss) >= (0 if loss != "wasserstein" else -np.inf)


@pytest.mark.parametrize("loss", FAMILY)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_family_finite_at_extreme_logits(device, loss, dtype):
    extreme = np.array([[1e4], [-1e4], [0.0], [1.0], [-1.0]], dtype=dtype)
    r = minigan.tensor(extreme, requires_grad=True, device=device)
    f = minigan.tensor(-extreme, requires_grad=True, device=device)
    for value in (gan.discriminator_loss(r, f, loss=loss), gan.generator_loss(f, loss=loss)):
        assert value.dtype == dtype and np.isfinite(host(value.data))
    for g in (*gan.discriminator_loss_grad(r, f, loss=loss), gan.generator_loss_grad(f, loss=loss)):
        assert g.dtype == dtype and g.shape == extreme.shape and np.all(np.isfinite(host(g)))
    gan.discriminator_loss(r, f, loss=loss).backward()
    assert np.all(np.isfinite(host(r.grad))) and np.all(np.isfinite(host(f.grad)))


@pytest.mark.parametrize("loss", FAMILY)
def test_gan_only_options_and_unknown_losses_are_refused(loss):
    r, f = logits(0, 3), logits(1, 3)
    G, D = models(0)
    opt_G, opt_D = optimizers(G, D, "sgd")
    real, z = batches(0, steps=1, k=1, device="cpu")
    before = [p.data.copy() for p in D.parameters()]
    with pytest.raises(ValueError, match=f"generator_loss: saturating=True .* loss='{loss}'"):
        gan.generator_loss(f, saturating=True, loss=loss)
    with pytest.raises(ValueError, match="generator_loss_grad: saturating"):
        gan.generator_loss_grad(f, saturating=True, loss=loss)
    with pytest.raises(ValueError, match=f"discriminator_loss: label_smoothing .* loss='{loss}'"):
        gan.discriminator_loss(r, f, label_smoothing=0.1, loss=loss)
    with pytest.raises(ValueError, match="discriminator_loss_grad: label_smoothing"):
        gan.discriminator_loss_grad(r, f, label_smoothing=0.1, loss=loss)
    with pytest.raises(ValueError, match="train_step: saturating"):
        gan.train_step(G, D, opt_G, opt_D, real[0][0], z[0][0], saturating=True, loss=loss)
    with pytest.raises(ValueError, match="train_step: label_smoothing"):
        gan.train_step(G, D, opt_G, opt_D, real[0][0], z[0][0], label_smoothing=0.1, loss=loss)
    with pytest.raises(ValueError, match="loss must be one of 'gan', 'lsgan', 'hinge', "
                                         "'wasserstein', got 'wgan'"):
        gan.train_step(G, D, opt_G, opt_D, real[0][0], z[0][0], loss="wgan")
    with pytest.raises(ValueError, match="discriminator_loss: loss must be one of"):
        gan.discriminator_loss(r, f, loss="WASSERSTEIN")
    assert all(np.array_equal(a, p.data) for a, p in zip(before, D.parameters()))


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
    if kind == "rmsprop":
        return (optim.RMSprop(G.parameters(), lr=1e-2), optim.RMSprop(D.parameters(), lr=1e-2))
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


def reference_step(G, D, opt_G, opt_D, reals, zs, k, saturating, label_smoothing=0.0,
                   loss="gan", weight_clip=None):
    """Algorithm 1 written the usual way: autograd through composed losses (BCE for "gan"),
    and WGAN's clipping as a plain NumPy clip after each of D's updates."""
    for real, z in zip(reals, zs[:k]):
        fake = G(z).detach()
        opt_D.zero_grad()
        if loss == "gan":
            loss_D = bce(D(real), 1 - label_smoothing) + bce(D(fake), 0)
        else:
            loss_D = reference_d_loss(loss, D(real), D(fake))
        loss_D.backward()
        opt_D.step()
        if weight_clip is not None:
            for p in D.parameters():
                p.data[...] = get_array_module(p.data).clip(p.data, -weight_clip, weight_clip)
    opt_G.zero_grad()
    fake_logits = D(G(zs[k]))
    if saturating:
        loss_G = -bce(fake_logits, 0)
    else:
        loss_G = reference_g_loss(loss, fake_logits)
    loss_G.backward()
    D.zero_grad()  # D received gradients from G's loss: clear them
    opt_G.step()


@pytest.mark.parametrize("k, saturating, kind, batch_norm, smoothing, loss, clip", [
    (1, False, "adam", False, 0.0, "gan", None), (2, True, "adam", False, 0.0, "gan", None),
    (3, False, "sgd", False, 0.0, "gan", None),
    (1, False, "adam", False, 0.1, "gan", None), (2, False, "sgd", False, 0.25, "gan", None),
    # With batch norm in D, some of G's parameters (its output bias) shift every fake example
    # alike, which D's batch norm removes: their exact gradient is 0 and what is computed is
    # rounding noise, which Adam would normalise into full-size steps. SGD keeps it at noise.
    (2, False, "sgd", True, 0.0, "gan", None),
    (1, False, "adam", False, 0.0, "lsgan", None), (2, False, "sgd", False, 0.0, "hinge", None),
    (1, False, "adam", False, 0.0, "wasserstein", None),
    # WGAN's Algorithm 1: n_critic = 5 RMSprop updates of the critic, each one clipped.
    (5, False, "rmsprop", False, 0.0, "wasserstein", 0.05),
    (2, False, "sgd", False, 0.0, "hinge", 0.3)])
def test_train_step_matches_autograd(device, k, saturating, kind, batch_norm, smoothing, loss,
                                     clip):
    G1, D1 = models(0, device, batch_norm)
    G2, D2 = models(0, device, batch_norm)
    opts1, opts2 = optimizers(G1, D1, kind), optimizers(G2, D2, kind)
    real, z = batches(1, steps=4, k=k, device=device)
    for step in range(4):
        out = gan.train_step(G1, D1, *opts1, real[step], z[step], k=k, saturating=saturating,
                             label_smoothing=smoothing, loss=loss, weight_clip=clip)
        reference_step(G2, D2, *opts2, real[step], z[step], k, saturating, smoothing, loss,
                       clip)
    for (name, p1), (_, p2) in zip([*G1.named_parameters(), *D1.named_parameters()],
                                   [*G2.named_parameters(), *D2.named_parameters()]):
        np.testing.assert_allclose(host(p1.data), host(p2.data), rtol=1e-12, atol=1e-12,
                                   err_msg=name)
    assert not np.allclose(host(G1[0].weight.data), host(models(0)[0][0].weight.data))
    for b1, b2 in zip(D1.buffers(), D2.buffers()):
        np.testing.assert_allclose(host(b1.data), host(b2.data), rtol=1e-12)
    if clip is not None:   # D's weights in the box; G's are not clipped
        assert all(np.abs(host(p.data)).max() <= clip for p in D1.parameters())
        assert max(np.abs(host(p.data)).max() for p in G1.parameters()) > clip
    # The losses come back as 0-d arrays on the models' device, not as Python floats.
    xp = get_array_module(G1[0].weight.data)
    for value in out:
        assert isinstance(value, xp.ndarray) and value.shape == ()
    if loss == "gan":
        assert 0 < float(out.d_real) < 1 and 0 < float(out.d_fake) < 1


@pytest.mark.parametrize("loss", gan.LOSSES)
def test_train_step_returns_the_losses_it_stepped_on(loss):
    """L_D, L_G, and mean D(x), D(G(z)): probabilities for "gan", D's raw scores otherwise."""
    G, D = models(3)
    opt_G, opt_D = optimizers(G, D, "adam")
    real, z = batches(4, steps=1, k=1, device="cpu")
    with minigan.no_grad():
        real_logits, fake_logits = D(real[0][0]).data, D(G(z[0][0])).data
    out = gan.train_step(G, D, opt_G, opt_D, real[0][0], z[0][0], loss=loss)
    np.testing.assert_allclose(out.d_loss, gan.discriminator_loss(real_logits, fake_logits,
                                                                  loss=loss))
    d = (lambda a: 1 / (1 + np.exp(-a))) if loss == "gan" else (lambda a: a)
    np.testing.assert_allclose(out.d_real, d(real_logits).mean())
    np.testing.assert_allclose(out.d_fake, d(fake_logits).mean())
    if loss == "wasserstein":  # the critic's estimate of W1 is -L_D
        np.testing.assert_allclose(out.d_real - out.d_fake, -out.d_loss, rtol=1e-14)


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


def test_clip_weights_clips_in_place_and_refuses_a_bad_bound():
    G, D = models(11)
    arrays = [p.data for p in D.parameters()]
    before = [a.copy() for a in arrays]
    gan.clip_weights(D.parameters(), 0.2)
    for p, a, b in zip(D.parameters(), arrays, before):
        assert p.data is a and p.dtype == np.float64            # in place
        np.testing.assert_array_equal(p.data, np.clip(b, -0.2, 0.2))
    w = minigan.tensor(np.array([-3.0, -0.5, 0.0, 0.5, 3.0], np.float32), requires_grad=True)
    gan.clip_weights([w], 1)
    assert w.dtype == np.float32 and w.data.tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    for bad in (0, -0.01, float("nan"), "0.01", True):
        with pytest.raises(ValueError, match="clip_weights: the weight clip c must be a number"):
            gan.clip_weights([w], bad)
    with pytest.raises(TypeError, match="single Tensor"):
        gan.clip_weights(w, 0.01)
    opt_G, opt_D = optimizers(G, D, "rmsprop")
    real, z = batches(12, steps=1, k=1, device="cpu")
    d0 = [p.data.copy() for p in D.parameters()]
    with pytest.raises(ValueError, match="train_step: the weight clip c must be a number > 0"):
        gan.train_step(G, D, opt_G, opt_D, real[0][0], z[0][0], weight_clip=0.0)
    with pytest.raises(ValueError, match="discriminator_step: the weight clip c"):
        gan.discriminator_step(G, D, opt_D, real[0][0], z[0][0], weight_clip=-1)
    assert all(np.array_equal(a, p.data) for a, p in zip(d0, D.parameters()))  # nothing moved


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
