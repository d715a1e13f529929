"""The theory of section 4 of Goodfellow et al. (2014), on distributions with known densities
(docs/theory.md): D* = p_data / (p_data + p_g) maximises V; V(D*, G) = -log 4 + 2 JSD; the
minimum -log 4 is reached iff p_g = p_data; and training a minigan discriminator reaches D*.
Then the family (docs/derivations/gan_family.md): LSGAN's D* and its chi^2, the hinge's
D* = sign(p_data - p_g), and the Wasserstein critic whose value is W1."""

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy import integrate, optimize, stats
from scipy.spatial.distance import jensenshannon

import minigan
import minigan.functional as F
from minigan import gan, nn, optim
from tests.helpers import load_example
from tests.strategies import seeds

LOG4 = np.log(4.0)
theory = load_example("theory")


def discrete(seed, k, zeros=False):
    """A random distribution on k outcomes (some with probability 0 when ``zeros``)."""
    gen = np.random.default_rng(seed)
    p = gen.dirichlet(np.ones(k))
    if zeros:
        p[gen.random(k) < 0.3] = 0.0
        if p.sum() == 0:
            p[0] = 1.0
        p /= p.sum()
    return p


def log(p):
    with np.errstate(divide="ignore"):  # log 0 = -inf is meant
        return np.log(p)


# --- Proposition 1: the optimal discriminator ----------------------------------------------------

@given(k=st.integers(2, 8), seed=seeds)
def test_optimal_discriminator_maximises_v(k, seed):
    p, q = discrete(seed, k), discrete(seed + 1, k)
    a_star = gan.optimal_logit(log(p), log(q))
    np.testing.assert_allclose(1 / (1 + np.exp(-a_star)), p / (p + q), rtol=1e-13)
    v_star = gan.expected_value(a_star, p, q)
    # dV/da = p sigma(-a) - q sigma(a) vanishes at a*, and any other D does worse.
    grad = p / (1 + np.exp(a_star)) - q / (1 + np.exp(-a_star))
    np.testing.assert_allclose(grad, 0, atol=1e-15)
    gen = np.random.default_rng(seed + 2)
    for a in (a_star + gen.normal(scale=0.5, size=k), gen.normal(scale=3, size=k)):
        assert gan.expected_value(a, p, q) < v_star


# --- Theorem 1: V(D*, G) = -log 4 + 2 JSD, minimal iff p_g = p_data ------------------------------

@given(k=st.integers(1, 8), seed=seeds, zeros=st.booleans())
def test_value_at_optimum_is_jsd_discrete(k, seed, zeros):
    p, q = discrete(seed, k, zeros), discrete(seed + 1, k, zeros)
    v_star = gan.expected_value(gan.optimal_logit(log(p), log(q)), p, q)
    np.testing.assert_allclose(v_star, -LOG4 + 2 * jensenshannon(p, q) ** 2, rtol=1e-12,
                               atol=1e-14)
    assert v_star >= -LOG4 - 1e-14
    assert v_star <= 0.0  # at most 2 JSD <= 2 log 2: disjoint supports give V = 0


@given(k=st.integers(1, 8), seed=seeds)
def test_minimum_is_reached_iff_p_g_equals_p_data(k, seed):
    p = discrete(seed, k)
    np.testing.assert_allclose(gan.expected_value(gan.optimal_logit(log(p), log(p)), p, p),
                               -LOG4, rtol=1e-14)
    if k > 1:
        q = 0.9 * p + 0.1 * discrete(seed + 1, k)  # close to p, but not p
        v_star = gan.expected_value(gan.optimal_logit(log(p), log(q)), p, q)
        assert v_star > -LOG4 + 1e-9


def test_disjoint_supports_give_zero():
    p, q = np.array([0.5, 0.5, 0, 0]), np.array([0, 0, 0.25, 0.75])
    assert gan.expected_value(gan.optimal_logit(log(p), log(q)), p, q) == 0.0  # 2 JSD = 2 log 2


@pytest.mark.parametrize("case", list(theory.CASES))
def test_value_at_optimum_is_jsd_continuous(case):
    """On densities: V(D*, G) on the grid against -log 4 + 2 JSD integrated by scipy.quad, an
    independent computation (adaptive quadrature of the JSD integrand, not the grid)."""
    log_p, log_q = theory.CASES[case]
    x, dx = theory.grid()
    v_star = theory.optimal_value(log_p(x), log_q(x), dx)

    def integrand(t):
        lp, lq = float(log_p(np.array(t))), float(log_q(np.array(t)))
        lm = np.logaddexp(lp, lq) - np.log(2)
        return 0.5 * (np.exp(lp) * (lp - lm) + np.exp(lq) * (lq - lm))

    js, _ = integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)
    np.testing.assert_allclose(v_star, -LOG4 + 2 * js, rtol=1e-9, atol=1e-11)
    p, q = np.exp(log_p(x)), np.exp(log_q(x))
    np.testing.assert_allclose(v_star, -LOG4 + 2 * theory.jsd(p, q), rtol=1e-11, atol=1e-12)


def test_criterion_is_minimal_at_p_data():
    """C(G) = V(D*, G) over p_g = N(mu, 1) with p_data = N(0, 1): smallest at mu = 0, = -log 4."""
    x, dx = theory.grid(-15, 15, 3001)
    mus = np.linspace(-2, 2, 41)
    lp = theory.gaussian_logpdf(x, 0, 1)
    c = np.array([theory.optimal_value(lp, theory.gaussian_logpdf(x, mu, 1), dx) for mu in mus])
    assert mus[np.argmin(c)] == 0.0
    np.testing.assert_allclose(c.min(), -LOG4, rtol=1e-12)
    assert np.all(np.diff(c[mus >= 0]) > 0) and np.all(np.diff(c[mus <= 0]) < 0)


def test_optimal_logit_in_log_space_keeps_the_tails():
    """N(0,1) against N(2,1): log p_data - log p_g = 2 - 2x exactly, also at x = +-60 where both
    densities underflow to 0 and p_data / (p_data + p_g) would be 0/0."""
    x = np.linspace(-60, 60, 241)
    lp, lq = theory.gaussian_logpdf(x, 0, 1), theory.gaussian_logpdf(x, 2, 1)
    assert np.exp(lp[0]) == 0.0 and np.exp(lq[-1]) == 0.0
    np.testing.assert_allclose(gan.optimal_logit(lp, lq), 2 - 2 * x, rtol=1e-13, atol=1e-12)
    assert np.isfinite(gan.expected_value(gan.optimal_logit(lp, lq), np.exp(lp), np.exp(lq),
                                          x[1] - x[0]))


# --- rejection sampling with D*: the kept samples have density min(p_g, e^-c p_data) ------------

# p_g = N(0, 2^2), p_data = N(1, 1): a*(x) = log 2 + x^2/8 - (x-1)^2/2, largest at x = 4/3.
A_MAX = np.log(2.0) + 1.0 / 6.0


def kept_by_optimal_d(cap, n=400_000, seed=30):
    x = np.random.default_rng(seed).normal(0.0, 2.0, n)                  # samples of p_g
    a = gan.optimal_logit(theory.gaussian_logpdf(x, 1.0, 1.0),
                          theory.gaussian_logpdf(x, 0.0, 2.0))
    keep = np.random.default_rng(seed + 1).random(n) < gan.acceptance_probability(a, cap)
    return x[keep], keep.mean()


def test_optimal_logit_of_the_gaussian_pair_peaks_at_a_max():
    x = np.linspace(-10, 10, 200_001)
    a = gan.optimal_logit(theory.gaussian_logpdf(x, 1.0, 1.0),
                          theory.gaussian_logpdf(x, 0.0, 2.0))
    assert a.max() == pytest.approx(A_MAX, abs=1e-9)
    assert x[a.argmax()] == pytest.approx(4 / 3, abs=1e-4)


def test_rejection_with_the_optimal_logit_and_a_cap_at_its_max_gives_p_data():
    kept, rate = kept_by_optimal_d(A_MAX)
    assert rate == pytest.approx(np.exp(-A_MAX), abs=3e-3)               # e^-c of the samples
    ks = stats.kstest(kept, stats.norm(1.0, 1.0).cdf)
    assert ks.pvalue > 0.01, ks
    assert stats.kstest(kept, stats.norm(0.0, 2.0).cdf).pvalue < 1e-12   # not p_g any more


@pytest.mark.parametrize("cap", [-1.0, 0.0, 0.5])
def test_rejection_below_the_max_gives_the_normalised_min_of_p_g_and_scaled_p_data(cap):
    # The closed-form oracle: kept density min(p_g, e^-cap p_data) / Z, Z = the acceptance rate.
    grid = np.linspace(-14, 14, 280_001)
    density = np.minimum(np.exp(theory.gaussian_logpdf(grid, 0.0, 2.0)),
                         np.exp(-cap + theory.gaussian_logpdf(grid, 1.0, 1.0)))
    cdf = integrate.cumulative_trapezoid(density, grid, initial=0.0)
    z = cdf[-1]
    kept, rate = kept_by_optimal_d(cap)
    assert rate == pytest.approx(z, abs=3e-3)
    ks = stats.kstest(kept, lambda t: np.interp(t, grid, cdf / z))
    assert ks.pvalue > 0.01, ks
    assert stats.kstest(kept, stats.norm(1.0, 1.0).cdf).pvalue < 1e-6   # a blend, not p_data


def test_a_lower_cap_keeps_more_and_no_cap_keeps_everything():
    a = np.linspace(-5, 5, 11)
    p = gan.acceptance_probability(a, 0.0)
    assert np.all(np.diff(p) >= 0) and p.max() == 1.0 and np.all(p[a >= 0] == 1.0)
    assert np.all(gan.acceptance_probability(a, -np.inf) == 1.0)
    assert np.all(gan.acceptance_probability(a, 1.0) <= p)


# --- training reaches D* -------------------------------------------------------------------------

@given(k=st.integers(2, 6), seed=seeds)
def test_trained_logit_table_reaches_optimum(k, seed):
    p, q = discrete(seed, k), discrete(seed + 1, k)
    a = theory.train_logit_table(p, q, steps=250, lr=0.2)
    dense = theory.where_dense(p, q, 0.05)
    np.testing.assert_allclose((1 / (1 + np.exp(-a)))[dense], (p / (p + q))[dense], atol=2e-3)


def test_trained_logistic_discriminator_reaches_optimum():
    """For N(0,1) against N(1,1), D*'s logit is 1/2 - x: linear, so one nn.Linear(1, 1) can
    represent D* exactly, and training by SGD on the exact expected loss must find it."""
    x, dx = theory.grid(-10, 11, 2101)
    p, q = np.exp(theory.gaussian_logpdf(x, 0, 1)), np.exp(theory.gaussian_logpdf(x, 1, 1))
    D = nn.Linear(1, 1, dtype="float64", generator=0)
    opt = optim.SGD(D.parameters(), lr=2.0, momentum=0.9)
    inputs = minigan.tensor(x[:, None], dtype="float64")  # (n, 1)
    w_data = minigan.tensor(p[:, None] * dx, dtype="float64")
    w_g = minigan.tensor(q[:, None] * dx, dtype="float64")
    for _ in range(300):
        opt.zero_grad()
        logits = D(inputs)
        loss = -(w_data * F.log_sigmoid(logits)).sum() - (w_g * F.log_sigmoid(-logits)).sum()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(D.weight.numpy().ravel(), [-1.0], atol=1e-6)
    np.testing.assert_allclose(D.bias.numpy(), [0.5], atol=1e-6)


def test_trained_mlp_reaches_optimum():
    """A small MLP on the mixture case: close to D* wherever there is density."""
    log_p, log_q = theory.CASES["mixture vs N(0,2)"]
    x = np.linspace(-8, 8, 101)
    p, q = np.exp(log_p(x)), np.exp(log_q(x))
    d = theory.train_discriminator(x, p, q, steps=400, hidden=16, lr=3e-2, seed=0)
    dense = theory.where_dense(p, q)
    d_star = p / (p + q)
    assert np.abs(d - d_star)[dense].max() < 0.03
    assert np.abs(0.5 - d_star)[dense].max() > 0.4  # D* is far from constant: the fit is real


# --- the family: least squares -------------------------------------------------------------------

def counts_and_masses(seed, k):
    """Two empirical distributions on k points: indices of real and of generated examples (each
    point seen 1..5 times) and their masses, so that a mean over a batch of those examples *is*
    the expectation under the masses."""
    gen = np.random.default_rng(seed)
    real_idx = np.repeat(np.arange(k), gen.integers(1, 6, k))
    fake_idx = np.repeat(np.arange(k), gen.integers(1, 6, k))
    return (real_idx, fake_idx, np.bincount(real_idx, minlength=k) / real_idx.size,
            np.bincount(fake_idx, minlength=k) / fake_idx.size)


@given(seed=seeds, a=st.floats(-2.0, 0.5), width=st.floats(0.5, 3.0))
def test_lsgan_optimal_discriminator_minimises_the_library_loss(seed, a, width):
    """Closed-form oracle: a free output per point, minimised by BFGS with the hand-derived
    gradient of gan.discriminator_loss(loss="lsgan") (targets 0 and 1), lands on
    p_data / (p_data + p_g). Targets a, b are the same loss in u = (d - a) / (b - a) (scaled by
    (b - a)^2), so D*_ab = a + (b - a) u*: theory.lsgan_optimal_d."""
    k, b = 6, a + width
    real_idx, fake_idx, p, q = counts_and_masses(seed, k)

    def loss_and_grad(u):
        g_real, g_fake = gan.discriminator_loss_grad(u[real_idx], u[fake_idx], loss="lsgan")
        grad = (np.bincount(real_idx, g_real, minlength=k)
                + np.bincount(fake_idx, g_fake, minlength=k))  # shared outputs: gradients add
        return float(gan.discriminator_loss(u[real_idx], u[fake_idx], loss="lsgan")), grad

    u = optimize.minimize(loss_and_grad, np.zeros(k), jac=True, method="BFGS",
                          options={"gtol": 1e-12}).x
    np.testing.assert_allclose(u, p / (p + q), rtol=1e-7)
    np.testing.assert_allclose(a + (b - a) * u, theory.lsgan_optimal_d(log(p), log(q), a, b),
                               rtol=1e-7, atol=1e-9)
    # ... and no other D does better on the a, b loss itself.
    d_star = theory.lsgan_optimal_d(log(p), log(q), a, b)
    expected = lambda d: 0.5 * np.sum(p * (d - b) ** 2 + q * (d - a) ** 2)  # noqa: E731
    gen = np.random.default_rng(seed)
    assert all(expected(d_star) < expected(d_star + gen.normal(scale=0.1, size=k))
               for _ in range(5))


@given(k=st.integers(1, 8), seed=seeds, zeros=st.booleans())
def test_lsgan_generator_value_is_half_pearson_chi2_discrete(k, seed, zeros):
    """With a = -1, b = 1, c = 0, C(G) at D* = 1/2 sum (2 q - (p + q))^2 / (p + q): against the
    sum written out, and against SciPy's Pearson chi^2 statistic."""
    p, q = discrete(seed, k, zeros), discrete(seed + 1, k, zeros)
    value = theory.lsgan_generator_value(log(p), log(q), 1.0)
    both = p + q > 0
    direct = 0.5 * np.sum((2 * q[both] - (p + q)[both]) ** 2 / (p + q)[both])
    np.testing.assert_allclose(value, direct, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(value, theory.half_pearson_chi2(p, q), rtol=1e-12, atol=1e-15)
    assert 0 <= value <= 1 + 1e-12  # at most 1: disjoint supports
    if np.array_equal(p, q):
        assert value == 0


@pytest.mark.parametrize("case", list(theory.CASES))
def test_lsgan_generator_value_is_half_pearson_chi2_continuous(case):
    """On densities, the grid value against the chi^2 integral by scipy.quad (in log space)."""
    log_p, log_q = theory.CASES[case]
    x, dx = theory.grid()
    value = theory.lsgan_generator_value(log_p(x), log_q(x), dx)

    def integrand(t):  # (p - q)^2 / (p + q) = (p + q) tanh((log p - log q) / 2)^2
        lp, lq = float(log_p(np.array(t))), float(log_q(np.array(t)))
        return np.exp(np.logaddexp(lp, lq)) * np.tanh((lp - lq) / 2) ** 2

    chi2, _ = integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)
    np.testing.assert_allclose(value, chi2 / 2, rtol=1e-9, atol=1e-12)


# --- the family: hinge ---------------------------------------------------------------------------

@given(k=st.integers(1, 8), seed=seeds, zeros=st.booleans())
def test_hinge_optimal_discriminator_is_the_sign_of_p_data_minus_p_g(k, seed, zeros):
    """Oracle: the expected hinge loss minimised exactly as a linear programme (HiGHS): min
    sum p s + q t with s >= 1 - d, t >= 1 + d, s, t >= 0. Its minimum is reached at
    D* = sign(p - q) and is 2 - 2 TV; where both p, q > 0 and differ, D* is the only minimiser."""
    p, q = discrete(seed, k, zeros), discrete(seed + 1, k, zeros)
    eye, zero = np.eye(k), np.zeros((k, k))
    lp = optimize.linprog(np.concatenate([np.zeros(k), p, q]),
                          A_ub=np.block([[-eye, -eye, zero], [eye, zero, -eye]]),
                          b_ub=-np.ones(2 * k),
                          bounds=[(None, None)] * k + [(0, None)] * (2 * k), method="highs")
    assert lp.status == 0
    d_star = theory.hinge_optimal_d(log(p), log(q))
    np.testing.assert_array_equal(d_star, np.sign(p - q))
    np.testing.assert_allclose(theory.hinge_expected_loss(d_star, p, q), lp.fun, atol=1e-9)
    np.testing.assert_allclose(lp.fun, 2 - 2 * 0.5 * np.abs(p - q).sum(), atol=1e-9)
    unique = (p > 0) & (q > 0) & (np.abs(p - q) > 1e-9)
    np.testing.assert_allclose(lp.x[:k][unique], d_star[unique], atol=1e-9)


@given(seed=seeds)
def test_hinge_library_loss_at_the_sign_is_the_minimum(seed):
    """gan.discriminator_loss(loss="hinge") on a batch of examples is the expected loss under
    their empirical distributions: at sign(p - q) it is 2 - 2 TV, and no table of outputs
    does better."""
    k = 6
    real_idx, fake_idx, p, q = counts_and_masses(seed, k)
    d_star = np.sign(p - q)
    at_star = float(gan.discriminator_loss(d_star[real_idx], d_star[fake_idx], loss="hinge"))
    np.testing.assert_allclose(at_star, 2 - np.abs(p - q).sum(), rtol=1e-12, atol=1e-15)
    gen = np.random.default_rng(seed)
    for d in (d_star + gen.normal(scale=0.3, size=k), gen.normal(scale=2, size=k)):
        assert float(gan.discriminator_loss(d[real_idx], d[fake_idx], loss="hinge")) >= at_star


@pytest.mark.parametrize("case", list(theory.CASES))
def test_hinge_minimum_is_two_minus_twice_total_variation_continuous(case):
    log_p, log_q = theory.CASES[case]
    x, dx = theory.grid()
    p, q = np.exp(log_p(x)), np.exp(log_q(x))
    d_star = theory.hinge_optimal_d(log_p(x), log_q(x))
    tv, _ = integrate.quad(lambda t: 0.5 * abs(np.exp(log_p(np.array(t)))
                                               - np.exp(log_q(np.array(t)))),
                           -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12, limit=400)
    value = theory.hinge_expected_loss(d_star, p, q, dx)
    np.testing.assert_allclose(value, 2 - 2 * theory.total_variation(p, q, dx), rtol=1e-12)
    # Against quad only to 1e-5: |p - q| has a kink where the densities cross, and the grid's
    # Riemann sum is first-order there (dx = 0.01), where it is spectrally exact for smooth ones.
    np.testing.assert_allclose(value, 2 - 2 * tv, rtol=1e-5, atol=1e-10)


# --- the family: Wasserstein ---------------------------------------------------------------------

@given(k=st.integers(2, 12), seed=seeds, zeros=st.booleans())
def test_optimal_critic_reaches_w1(k, seed, zeros):
    """Two distributions on k random points: the critic with slope sign(F_g - F_data) is
    1-Lipschitz and E_data f* - E_g f* equals scipy.stats.wasserstein_distance; no other
    1-Lipschitz critic does better."""
    gen = np.random.default_rng(seed)
    x = np.sort(gen.normal(scale=3, size=k))
    p, q = discrete(seed, k, zeros), discrete(seed + 1, k, zeros)
    f_star = theory.optimal_critic(x, p, q)
    w1 = stats.wasserstein_distance(x, x, p, q)
    np.testing.assert_allclose(np.sum((p - q) * f_star), w1, rtol=1e-12, atol=1e-14)
    slopes = np.diff(f_star) / np.diff(x)
    np.testing.assert_allclose(slopes, np.sign(np.cumsum(q) - np.cumsum(p))[:-1], atol=1e-9)
    for _ in range(5):  # random 1-Lipschitz critics: slopes in [-1, 1]
        f = np.concatenate([[0.0], np.cumsum(gen.uniform(-1, 1, k - 1) * np.diff(x))])
        assert np.sum((p - q) * f) <= w1 + 1e-12


@pytest.mark.parametrize("case", list(theory.CASES))
def test_optimal_critic_reaches_w1_continuous(case):
    log_p, log_q = theory.CASES[case]
    x, _ = theory.grid()
    p, q = np.exp(log_p(x)), np.exp(log_q(x))
    p, q = p / p.sum(), q / q.sum()
    value = np.sum((p - q) * theory.optimal_critic(x, p, q))
    np.testing.assert_allclose(value, stats.wasserstein_distance(x, x, p, q), rtol=1e-11,
                               atol=1e-13)
    if case == "N(0,1) vs N(1,1)":   # a shift by 1 moves every unit of mass by 1
        np.testing.assert_allclose(value, 1.0, rtol=1e-9)


def test_disjoint_supports_only_w1_moves():
    """Two narrow Gaussians mu apart: 2 JSD = 2 log 2, the hinge's min L_D = 0 and LSGAN's
    C(G) = 1 whatever mu is (no gradient for G); W1 = mu."""
    for mu, jsd2, hinge, ls, w1 in theory.disjoint_supports(mus=(1.0, 2.0, 4.0)):
        np.testing.assert_allclose([jsd2, hinge, ls], [LOG4, 0.0, 1.0], atol=1e-9)
        np.testing.assert_allclose(w1, mu, rtol=1e-9)


@pytest.mark.parametrize("constraint", ["spectral_norm", "clip"])
def test_trained_critic_approaches_w1(constraint):
    """A small minigan critic on N(0,1) against N(3,1.5), trained by RMSprop on the exact
    expectations: E_data f - E_g f <= K W1 for any critic of Lipschitz constant K (on the grid),
    and with spectral norm (K about 1) the trained one comes within 1% of it; clipped weights
    stay in [-0.01, 0.01] and reach a good part of it."""
    log_p, log_q = theory.CASES["N(0,1) vs N(3,1.5)"]
    x = np.linspace(-20, 20, 201)
    p, q = np.exp(log_p(x)), np.exp(log_q(x))
    p, q = p / p.sum(), q / q.sum()
    w1 = stats.wasserstein_distance(x, x, p, q)
    f = theory.train_critic(x, p, q, constraint, steps=300)
    value, k = np.sum((p - q) * f), theory.lipschitz_constant(x, f)
    assert value <= k * w1 * (1 + 1e-12)
    if constraint == "spectral_norm":
        assert abs(k - 1) < 0.01 and value / k > 0.99 * w1
    else:
        assert k < 1e-3 and value / k > 0.6 * w1


def test_script_runs(tmp_path, capsys):
    rows, family_rows, disjoint_rows = theory.main(["--out", str(tmp_path), "--steps", "20",
                                                    "--hidden", "4", "--critic-steps", "5"])
    printed = capsys.readouterr().out
    assert "V(D*,G)" in printed and "-log 4 = -1.38629436" in printed
    for header in ("LSGAN C(G)", "hinge L_D*", "W1 (scipy)", "disjoint supports"):
        assert header in printed
    assert (tmp_path / "theory.png").stat().st_size > 10_000
    for row in rows:
        np.testing.assert_allclose(row["v_star"], row["theorem"], rtol=1e-11)
    assert rows[0]["v_star"] == pytest.approx(-LOG4, rel=1e-12)
    for row in family_rows:
        np.testing.assert_allclose(row["ls_value"], row["half_chi2"], rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(row["hinge_min"], row["two_minus_2tv"], rtol=1e-10)
        np.testing.assert_allclose(row["f_star_value"], row["w1"], rtol=1e-10, atol=1e-15)
    assert [mu for mu, *_ in disjoint_rows] == [0.5, 1.0, 2.0, 4.0]
