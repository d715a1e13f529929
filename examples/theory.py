"""The theory of GANs (Goodfellow et al. 2014, section 4), checked on 1-D distributions with
known densities.

For a fixed generator distribution p_g, the discriminator that maximises

    V(D, G) = E_{x ~ p_data} log D(x) + E_{x ~ p_g} log(1 - D(x))

is D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Proposition 1), and at it

    V(D*, G) = -log 4 + 2 JSD(p_data || p_g)                                      (Theorem 1)

whose minimum, -log 4, is reached if and only if p_g = p_data. This script computes each side
independently (V from D*'s logit in log space, the Jensen-Shannon divergence with SciPy), trains a
small minigan discriminator on the exact expected objective to show that training reaches D*, and
draws the picture. docs/theory.md explains the mathematics; tests/test_theory.py tests the same
claims.

Then the family (docs/derivations/gan_family.md), on the same densities:

    least squares   D*(x) = (b p_data + a p_g) / (p_data + p_g), and with a = -1, b = 1, c = 0
                    the generator's objective at D* is half the Pearson chi^2 divergence
                    integral (p_data - p_g)^2 / (p_data + p_g), between p_data + p_g and 2 p_g
    hinge           D*(x) = sign(p_data - p_g), and min L_D = 2 - 2 TV(p_data, p_g)
    Wasserstein     the optimal 1-Lipschitz critic f* has slope sign(F_g - F_data), and
                    E_data f* - E_g f* = W1 (scipy.stats.wasserstein_distance); small minigan
                    critics, kept Lipschitz by spectral normalisation or by weight clipping,
                    trained to approach it

and, for two narrow Gaussians that do not overlap, how each of these answers as G's mean moves:
only W1 changes.

Run (the trained discriminators take most of its time):

    python examples/theory.py --out out/theory
    python examples/theory.py --out out/theory --steps 3000 --hidden 64   # a closer fit of D*
"""

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.special import expit, logsumexp
from scipy.stats import chisquare, wasserstein_distance

import minigan
import minigan.functional as F
from minigan import gan, nn, optim

LOG4 = np.log(4.0)

# --- distributions: log densities on a grid ------------------------------------------------------
# Densities are kept as logs. Far out in the tails both p_data and p_g underflow to 0.0, and
# p_data / (p_data + p_g) becomes 0/0, while log p_data - log p_g (D*'s logit) stays exact.


def gaussian_logpdf(x, mu, sigma):
    return -0.5 * ((x - mu) / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi))


def mixture_logpdf(x, weights, mus, sigmas):
    """log sum_i w_i N(x; mu_i, sigma_i), summed in log space (logsumexp)."""
    parts = [np.log(w) + gaussian_logpdf(x, m, s) for w, m, s in zip(weights, mus, sigmas)]
    return logsumexp(np.stack(parts), axis=0)


def grid(low=-20.0, high=20.0, n=4001):
    """Grid points and their quadrature weight (the spacing): sums become Riemann integrals."""
    x = np.linspace(low, high, n)
    return x, x[1] - x[0]


# The pairs (p_data, p_g) of the table: name -> (log p_data, log p_g) as functions of x.
CASES = {
    "N(0,1) vs N(0,1)": (lambda x: gaussian_logpdf(x, 0, 1), lambda x: gaussian_logpdf(x, 0, 1)),
    "N(0,1) vs N(1,1)": (lambda x: gaussian_logpdf(x, 0, 1), lambda x: gaussian_logpdf(x, 1, 1)),
    "N(0,1) vs N(3,1.5)": (lambda x: gaussian_logpdf(x, 0, 1),
                           lambda x: gaussian_logpdf(x, 3, 1.5)),
    "mixture vs N(0,2)": (lambda x: mixture_logpdf(x, [0.5, 0.5], [-2, 2], [0.6, 0.6]),
                          lambda x: gaussian_logpdf(x, 0, 2)),
}


# --- the two sides of Theorem 1 ------------------------------------------------------------------

def optimal_value(log_p_data, log_p_g, weights):
    """V(D*, G), with D* given by its exact logit log p_data - log p_g."""
    logits = gan.optimal_logit(log_p_data, log_p_g)
    return gan.expected_value(logits, np.exp(log_p_data), np.exp(log_p_g), weights)


def jsd(p, q):
    """JSD(p || q) in nats, by SciPy (which returns its square root, the JS distance)."""
    return jensenshannon(p, q) ** 2


# --- training a discriminator with minigan -------------------------------------------------------

def train_discriminator(x, p_data, p_g, steps=1500, hidden=32, lr=1e-2, seed=0):
    """Fit a small MLP D (logits) by Adam to the exact expected objective on the grid.

    The loss is -V(D, G) = -sum_x [w_data(x) log D(x) + w_g(x) log(1 - D(x))] with the weights
    w = p * dx normalised to sum to 1: the expectation itself, with no sampling noise, so the fit
    is reproducible and its error is the network's, not the sample's.

    Returns:
        The trained D's probabilities D(x) on ``x`` (a NumPy array).
    """
    gen = np.random.default_rng(seed)
    kw = dict(dtype="float64", generator=gen)
    D = nn.Sequential(nn.Linear(1, hidden, **kw), nn.Tanh(), nn.Linear(hidden, hidden, **kw),
                      nn.Tanh(), nn.Linear(hidden, 1, **kw))
    opt = optim.Adam(D.parameters(), lr=lr)
    inputs = minigan.tensor((x / 4.0)[:, None], dtype="float64")  # (n, 1), scaled to about [-2, 2]
    w_data = minigan.tensor((p_data / p_data.sum())[:, None], dtype="float64")
    w_g = minigan.tensor((p_g / p_g.sum())[:, None], dtype="float64")
    for _ in range(steps):
        opt.zero_grad()
        logits = D(inputs)  # (n, 1)
        loss = -(w_data * F.log_sigmoid(logits)).sum() - (w_g * F.log_sigmoid(-logits)).sum()
        loss.backward()
        opt.step()
    with minigan.no_grad():
        return 1 / (1 + np.exp(-D(inputs).numpy()[:, 0]))


def train_logit_table(p_data, p_g, steps=300, lr=0.2):
    """The simplest discriminator for a discrete distribution: one free logit per outcome, fitted
    by Adam to the exact expected objective. Its optimum is the logit of D*, log p_data - log p_g.
    """
    a = minigan.tensor(np.zeros(len(p_data)), requires_grad=True, dtype="float64")
    opt = optim.Adam([a], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        # dV/da = p_data sigma(-a) - p_g sigma(a): the per-outcome gradient of the objective,
        # with the same structure as gan.discriminator_loss_grad (weights instead of 1/N).
        loss = -(p_data * F.log_sigmoid(a)).sum() - (p_g * F.log_sigmoid(-a)).sum()
        loss.backward()
        opt.step()
    return a.numpy()


def where_dense(p_data, p_g, fraction=1e-2):
    """Where the combined density is above ``fraction`` of its peak: there D is determined well
    (elsewhere neither distribution puts mass, so any D is almost as good)."""
    total = p_data + p_g
    return total > fraction * total.max()


# --- the table -----------------------------------------------------------------------------------

def table(steps, hidden, seed):
    """One row per case: both sides of Theorem 1 and how close a trained D gets to D*."""
    x, dx = grid()
    rows = []
    for name, (log_p, log_q) in CASES.items():
        lp, lq = log_p(x), log_q(x)
        p, q = np.exp(lp), np.exp(lq)
        v_star = optimal_value(lp, lq, dx)
        theorem = -LOG4 + 2 * jsd(p, q)
        d_star = 1 / (1 + np.exp(-gan.optimal_logit(lp, lq)))
        dense = where_dense(p, q)
        every = slice(None, None, 20)  # train on every 20th grid point: 201 points
        xs = x[every]
        d_fit = train_discriminator(xs, p[every], q[every], steps=steps, hidden=hidden, seed=seed)
        err = np.abs(np.interp(x, xs, d_fit) - d_star)[dense].max()
        rows.append(dict(name=name, v_star=v_star, theorem=theorem, jsd=jsd(p, q), err=err,
                         x=x, p=p, q=q, d_star=d_star, d_fit=np.interp(x, xs, d_fit)))
    return rows


def print_table(rows):
    print(f"{'p_data vs p_g':<20} {'V(D*,G)':>12} {'-log4+2JSD':>12} {'|diff|':>9} "
          f"{'JSD':>8} {'max|D-D*|':>10}")
    for r in rows:
        print(f"{r['name']:<20} {r['v_star']:>12.8f} {r['theorem']:>12.8f} "
              f"{abs(r['v_star'] - r['theorem']):>9.1e} {r['jsd']:>8.5f} {r['err']:>10.4f}")
    print(f"-log 4 = {-LOG4:.8f}: the minimum, reached in the first row, where p_g = p_data")


def discrete_example():
    """A discrete pair: D* per outcome, a trained logit table, and both sides of Theorem 1."""
    p = np.array([0.1, 0.4, 0.3, 0.2, 0.0])
    q = np.array([0.3, 0.1, 0.1, 0.3, 0.2])
    with np.errstate(divide="ignore"):  # log 0 = -inf: D* = 0 where p_data has no mass
        a_star = gan.optimal_logit(np.log(p), np.log(q))
    d_star = 1 / (1 + np.exp(-a_star))
    d_fit = 1 / (1 + np.exp(-train_logit_table(p, q)))
    v_star = gan.expected_value(a_star, p, q)
    print(f"\ndiscrete: p_data = {p}, p_g = {q}")
    print(f"  D* = p_data/(p_data+p_g) = {np.round(d_star, 4)}")
    print(f"  trained logit table      = {np.round(d_fit, 4)}")
    print(f"  V(D*,G) = {v_star:.10f}   -log4+2JSD = {-LOG4 + 2 * jsd(p, q):.10f}")
    return d_star, d_fit, v_star


# --- the family: least squares, hinge, Wasserstein -----------------------------------------------

def lsgan_optimal_d(log_p_data, log_p_g, a=-1.0, b=1.0):
    """LSGAN's D* = (b p_data + a p_g) / (p_data + p_g), D's minimiser of
    1/2 E_data (D - b)^2 + 1/2 E_g (D - a)^2 pointwise.

    It is ``a + (b - a) p_data / (p_data + p_g)``: an affine map of the original GAN's D*, so it
    is computed from that D*'s logit, exact in the tails where both densities underflow.
    """
    return a + (b - a) * expit(gan.optimal_logit(log_p_data, log_p_g))


def lsgan_generator_value(log_p_data, log_p_g, weights, a=-1.0, b=1.0, c=0.0):
    """The LSGAN generator's objective at D*: 1/2 E_data (D* - c)^2 + 1/2 E_g (D* - c)^2 (the
    first term does not depend on G; Mao et al. add it to show the divergence)."""
    d = lsgan_optimal_d(log_p_data, log_p_g, a, b)
    p, q = np.exp(log_p_data), np.exp(log_p_g)
    return 0.5 * float(np.sum(weights * (p + q) * (d - c) ** 2))


def half_pearson_chi2(p_data, p_g, weights=1.0):
    """1/2 chi^2 between p_data + p_g and 2 p_g: 1/2 sum w (2 p_g - (p_data + p_g))^2 /
    (p_data + p_g), over where p_data + p_g > 0. By SciPy's Pearson chi^2 statistic
    (``scipy.stats.chisquare``, observed 2 p_g against expected p_data + p_g): an independent
    computation of the divergence that :func:`lsgan_generator_value` reaches through D*."""
    total, twice_g = (p_data + p_g) * weights, 2 * p_g * weights
    keep = total > 0
    return 0.5 * float(chisquare(twice_g[keep], total[keep]).statistic)


def hinge_optimal_d(log_p_data, log_p_g):
    """The hinge loss's pointwise D* = sign(p_data - p_g) (0 where they are equal, where any
    value in [-1, 1] is as good)."""
    return np.sign(gan.optimal_logit(log_p_data, log_p_g))


def hinge_expected_loss(d, p_data, p_g, weights=1.0):
    """L_D(d) = E_data relu(1 - d) + E_g relu(1 + d), the expectation of the hinge loss."""
    return float(np.sum(weights * (p_data * np.maximum(1 - d, 0) + p_g * np.maximum(1 + d, 0))))


def total_variation(p, q, weights=1.0):
    """TV(p, q) = 1/2 sum w |p - q|."""
    return 0.5 * float(np.sum(weights * np.abs(np.asarray(p, float) - np.asarray(q, float))))


def optimal_critic(x, mass_data, mass_g):
    """The 1-Lipschitz critic f* maximising E_data f - E_g f, for two distributions on the sorted
    points ``x`` with masses ``mass_data``, ``mass_g``: f*(x_0) = 0, and between neighbours the
    slope sign(F_g - F_data) of the difference of the CDFs (docs/derivations/gan_family.md)."""
    slope = np.sign(np.cumsum(mass_g) - np.cumsum(mass_data))[:-1]
    return np.concatenate([[0.0], np.cumsum(slope * np.diff(x))])


def train_critic(x, mass_data, mass_g, constraint, steps=500, hidden=32, seed=0, clip=0.01):
    """Fit a small ReLU MLP critic f to maximise E_data f - E_g f on points ``x`` (the exact
    expectations, no sampling), by RMSprop, as WGAN trains its critic.

    The expected L_D = sum (mass_g - mass_data) f(x) has the hand-derived gradient
    ``mass_g - mass_data`` with respect to the critic's outputs: the backward pass is seeded with
    it, as gan.discriminator_step seeds it with -1/N and 1/M. ``constraint`` keeps f Lipschitz:
    "spectral_norm" (nn.SpectralNorm on every layer: each layer's gain is 1, ReLU's at most 1,
    so f is 1-Lipschitz) or "clip" (every weight in [-clip, clip] after each step,
    gan.clip_weights: f is K-Lipschitz for some small K).

    Returns:
        f on ``x`` (a NumPy array).
    """
    gen = np.random.default_rng(seed)
    kw = dict(dtype="float64", generator=gen)

    def linear(n_in, n_out):
        layer = nn.Linear(n_in, n_out, **kw)
        return nn.SpectralNorm(layer, generator=gen) if constraint == "spectral_norm" else layer

    f = nn.Sequential(linear(1, hidden), nn.ReLU(), linear(hidden, hidden), nn.ReLU(),
                      linear(hidden, 1))
    if constraint == "clip":
        gan.clip_weights(f.parameters(), clip)
    opt = optim.RMSprop(f.parameters(), lr=1e-2 if constraint == "spectral_norm" else 5e-4)
    inputs = minigan.tensor(x[:, None], dtype="float64")          # (n, 1)
    grad = (np.asarray(mass_g) - np.asarray(mass_data))[:, None]  # dL_D/df(x), (n, 1)
    for _ in range(steps):
        opt.zero_grad()
        minigan.backward([f(inputs)], [grad])
        opt.step()
        if constraint == "clip":
            gan.clip_weights(f.parameters(), clip)
    f.eval()
    with minigan.no_grad():
        return f(inputs).numpy()[:, 0]


def lipschitz_constant(x, f):
    """The largest slope of f between neighbouring points of the sorted x: f's Lipschitz
    constant on those points (for distributions on them, the one that bounds E_data f - E_g f
    by K W1)."""
    return float(np.max(np.abs(np.diff(f) / np.diff(x))))


def family_table(steps, seed):
    """One row per case: each identity's two sides, and the trained critics' estimates."""
    x, dx = grid()
    every = slice(None, None, 20)  # the critics train on every 20th grid point: 201 points
    rows = []
    for name, (log_p, log_q) in CASES.items():
        lp, lq = log_p(x), log_q(x)
        p, q = np.exp(lp), np.exp(lq)
        mass_p, mass_q = p / p.sum(), q / q.sum()   # the grid's distributions, for W1
        f_star = optimal_critic(x, mass_p, mass_q)
        critics = {}
        for constraint in ("spectral_norm", "clip"):
            f = train_critic(x[every], p[every] / p[every].sum(), q[every] / q[every].sum(),
                             constraint, steps=steps, seed=seed)
            f = np.interp(x, x[every], f)           # piecewise linear, as the ReLU net is
            critics[constraint] = (float(np.sum((mass_p - mass_q) * f)),
                                   lipschitz_constant(x, f), f)
        rows.append(dict(
            name=name, x=x, p=p, q=q,
            ls_value=lsgan_generator_value(lp, lq, dx),
            half_chi2=half_pearson_chi2(p, q, dx),
            hinge_min=hinge_expected_loss(hinge_optimal_d(lp, lq), p, q, dx),
            two_minus_2tv=2 - 2 * total_variation(p, q, dx),
            w1=wasserstein_distance(x, x, mass_p, mass_q),
            f_star_value=float(np.sum((mass_p - mass_q) * f_star)), f_star=f_star,
            critics=critics))
    return rows


def print_family_table(rows):
    print(f"\n{'p_data vs p_g':<20} {'LSGAN C(G)':>11} {'chi2/2':>11} {'|diff|':>8}"
          f" {'hinge L_D*':>11} {'2-2TV':>11} {'|diff|':>8}")
    for r in rows:
        print(f"{r['name']:<20} {r['ls_value']:>11.8f} {r['half_chi2']:>11.8f} "
              f"{abs(r['ls_value'] - r['half_chi2']):>8.1e} {r['hinge_min']:>11.8f} "
              f"{r['two_minus_2tv']:>11.8f} {abs(r['hinge_min'] - r['two_minus_2tv']):>8.1e}")
    print("LSGAN (a = -1, b = 1, c = 0): C(G) at D* = (p_data - p_g)/(p_data + p_g), against "
          "SciPy's chi^2;\nhinge: L_D at D* = sign(p_data - p_g), against 2 - 2 TV(p_data, p_g)")
    print(f"\n{'p_data vs p_g':<20} {'W1 (scipy)':>11} {'E f*':>11} {'|diff|':>8}"
          f" {'SN /K':>7} {'K':>6} {'clip /K':>8} {'K':>8}")
    for r in rows:
        sn, k_sn, _ = r["critics"]["spectral_norm"]
        clipped, k_clip, _ = r["critics"]["clip"]
        print(f"{r['name']:<20} {r['w1']:>11.8f} {r['f_star_value']:>11.8f} "
              f"{abs(r['w1'] - r['f_star_value']):>8.1e} {sn / k_sn if k_sn else 0.0:>7.4f} "
              f"{k_sn:>6.4f} {clipped / k_clip if k_clip else 0.0:>8.4f} {k_clip:>8.2e}")
    print("E f*: the closed-form critic's E_data f* - E_g f*. Trained critics (minigan, RMSprop): "
          "E_data f - E_g f\nover their Lipschitz constant K, with spectral norm (SN) or "
          "weights clipped to [-0.01, 0.01] (clip)")


def disjoint_supports(mus=(0.5, 1.0, 2.0, 4.0), sigma=0.05):
    """p_data = N(0, sigma^2) and p_g = N(mu, sigma^2), far apart: what each loss tells G.

    Returns:
        Rows ``(mu, C_GAN(G) + log 4 = 2 JSD, hinge min L_D, LSGAN C(G), W1)``.
    """
    x, dx = grid(-2.0, 6.0, 8001)
    lp = gaussian_logpdf(x, 0.0, sigma)
    rows = []
    for mu in mus:
        lq = gaussian_logpdf(x, mu, sigma)
        p, q = np.exp(lp), np.exp(lq)
        rows.append((mu, optimal_value(lp, lq, dx) + LOG4,
                     hinge_expected_loss(hinge_optimal_d(lp, lq), p, q, dx),
                     lsgan_generator_value(lp, lq, dx),
                     wasserstein_distance(x, x, p / p.sum(), q / q.sum())))
    return rows


def print_disjoint(rows):
    print("\ndisjoint supports: p_data = N(0, 0.05^2), p_g = N(mu, 0.05^2)")
    print(f"{'mu':>5} {'2 JSD':>9} {'hinge L_D*':>11} {'LSGAN C(G)':>11} {'W1':>9}")
    for mu, jsd2, hinge, ls, w1 in rows:
        print(f"{mu:>5.1f} {jsd2:>9.6f} {hinge:>11.6f} {ls:>11.6f} {w1:>9.6f}")
    print("only W1 changes with mu: the other three are flat, their gradient in mu is 0")


# --- the figure ----------------------------------------------------------------------------------

def figure(rows, family_rows, disjoint_rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ((left, right), (bottom_left, bottom_right)) = plt.subplots(2, 2, figsize=(11, 8))
    r = rows[-1]
    left.plot(r["x"], r["p"], label="$p_{data}$")
    left.plot(r["x"], r["q"], label="$p_g$")
    left.plot(r["x"], r["d_star"], "k", label="$D^* = p_{data}/(p_{data}+p_g)$")
    left.plot(r["x"], r["d_fit"], "r--", label="trained D (minigan MLP)")
    left.set_xlim(-6, 6)
    left.set_title(r["name"])
    left.legend(fontsize=7, loc="upper center")

    # C(G) = max_D V(D, G) for p_g = N(mu, 1) against p_data = N(0, 1): minimal at mu = 0.
    x, dx = grid(-15, 15, 3001)
    mus = np.linspace(-4, 4, 81)
    lp = gaussian_logpdf(x, 0, 1)
    c = [optimal_value(lp, gaussian_logpdf(x, mu, 1), dx) for mu in mus]
    right.plot(mus, c, label="$C(G) = V(D^*, G)$")
    right.plot(mus[::8], [-LOG4 + 2 * jsd(np.exp(lp), np.exp(gaussian_logpdf(x, mu, 1)))
                          for mu in mus[::8]], "o", label=r"$-\log 4 + 2\,JSD$ (SciPy)")
    right.axhline(-LOG4, color="gray", ls=":", label=r"$-\log 4$")
    right.set_xlabel(r"$\mu$ of $p_g = N(\mu, 1)$, $p_{data} = N(0, 1)$")
    right.set_title("the generator's criterion")
    right.legend(fontsize=8)

    # The Wasserstein critics of the last case, each shifted to mean 0 under p_data + p_g.
    r = family_rows[-1]
    weight = (r["p"] + r["q"]) / (r["p"] + r["q"]).sum()
    centred = lambda f: f - np.sum(weight * f)  # noqa: E731 (a critic's offset is free)
    _, _, f_sn = r["critics"]["spectral_norm"]
    _, k, f_clip = r["critics"]["clip"]
    bottom_left.plot(r["x"], r["p"], color="C0", lw=0.8, label="$p_{data}$")
    bottom_left.plot(r["x"], r["q"], color="C1", lw=0.8, label="$p_g$")
    bottom_left.plot(r["x"], centred(r["f_star"]), "k", label="$f^*$: slope sign$(F_g - F_{data})$")
    bottom_left.plot(r["x"], centred(f_sn), "r--", label="critic, spectral norm")
    bottom_left.plot(r["x"], centred(f_clip) / k, "g:", label="critic, clipped, / K")
    bottom_left.set_xlim(-6, 6)
    bottom_left.set_ylim(-3, 3)
    bottom_left.set_title(f"{r['name']}: the Wasserstein critic")
    bottom_left.legend(fontsize=7, loc="lower left")

    mus, jsd2, hinge, ls, w1 = map(np.array, zip(*disjoint_rows))
    bottom_right.plot(mus, jsd2, "o-", label=r"GAN: $C(G) + \log 4 = 2\,JSD$")
    bottom_right.plot(mus, hinge, "s-", label=r"hinge: min $L_D = 2 - 2\,TV$")
    bottom_right.plot(mus, ls, "^-", label=r"LSGAN: $C(G) = \chi^2/2$")
    bottom_right.plot(mus, w1, "kD-", label="Wasserstein: $W_1$")
    bottom_right.set_xlabel(r"$\mu$ of $p_g = N(\mu, 0.05^2)$, $p_{data} = N(0, 0.05^2)$")
    bottom_right.set_title("disjoint supports: only $W_1$ tells G where to go")
    bottom_right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- main ----------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/theory", help="directory for the figure")
    parser.add_argument("--steps", type=int, default=1500, help="Adam steps per trained D")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units of the trained D")
    parser.add_argument("--seed", type=int, default=0, help="seed of D's initialisation")
    parser.add_argument("--critic-steps", type=int, default=500,
                        help="RMSprop steps per trained Wasserstein critic")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    rows = table(args.steps, args.hidden, args.seed)
    print_table(rows)
    discrete_example()
    family_rows = family_table(args.critic_steps, args.seed)
    print_family_table(family_rows)
    disjoint_rows = disjoint_supports()
    print_disjoint(disjoint_rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figure(rows, family_rows, disjoint_rows, out / "theory.png")
    print(f"figure: {out / 'theory.png'}  ({time.perf_counter() - start:.1f} s)")
    return rows, family_rows, disjoint_rows


if __name__ == "__main__":
    main()
