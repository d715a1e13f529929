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

Run (about half a minute on a CPU; the trained discriminators take most of it):

    python examples/theory.py --out out/theory
    python examples/theory.py --out out/theory --steps 3000 --hidden 64   # a closer fit of D*
"""

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.special import logsumexp

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


# --- the figure ----------------------------------------------------------------------------------

def figure(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
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
    args = parser.parse_args(argv)

    start = time.perf_counter()
    rows = table(args.steps, args.hidden, args.seed)
    print_table(rows)
    discrete_example()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figure(rows, out / "theory.png")
    print(f"figure: {out / 'theory.png'}  ({time.perf_counter() - start:.1f} s)")
    return rows


if __name__ == "__main__":
    main()
