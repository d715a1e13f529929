"""The theory of section 4 of Goodfellow et al. (2014), on distributions with known densities
(docs/theory.md): D* = p_data / (p_data + p_g) maximises V; V(D*, G) = -log 4 + 2 JSD; the
minimum -log 4 is reached iff p_g = p_data; and training a minigan discriminator reaches D*."""

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy import integrate, stats
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


def test_script_runs(tmp_path, capsys):
    rows = theory.main(["--out", str(tmp_path), "--steps", "20", "--hidden", "4"])
    printed = capsys.readouterr().out
    assert "V(D*,G)" in printed and "-log 4 = -1.38629436" in printed
    assert (tmp_path / "theory.png").stat().st_size > 10_000
    for row in rows:
        np.testing.assert_allclose(row["v_star"], row["theorem"], rtol=1e-11)
    assert rows[0]["v_star"] == pytest.approx(-LOG4, rel=1e-12)
