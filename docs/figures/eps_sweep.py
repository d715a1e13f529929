"""The error of a central difference against its step eps, in float32 and float64.

    python docs/figures/eps_sweep.py        # writes docs/figures/eps_sweep.png

For f = exp (a minigan op, evaluated in each dtype) at 32 points x in [0.5, 1.5], the numeric
derivative (f(x + eps) - f(x - eps)) / (2 eps) is compared with the exact derivative exp(x),
which minigan's backward gives in float64. The error is the sum of two terms (see
docs/derivations/gradcheck.md):

    truncation  eps^2 |f'''(x)| / 6        the Taylor remainder: falls as eps shrinks (right side)
    roundoff    u |f(x)| / eps             u the unit roundoff: grows as eps shrinks (left side)

so log error against log eps is a V whose bottom, at eps ~ u^(1/3), is the best step: ~1e-5 in
float64 (error ~1e-11) and ~5e-3 in float32 (error ~1e-4, ten times gradcheck's atol: which is
why gradcheck refuses float32). At gradcheck's eps = 1e-6 the float32 error is ~1e-1. Below
eps ~ u x, x + eps rounds to x, the difference is 0 and the error is |f'(x)| itself: the flat
float32 shelf on the left.
"""

from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minigan  # noqa: E402

OUT = Path(__file__).with_suffix(".png")


def main():
    points = np.linspace(0.5, 1.5, 32)
    x = minigan.tensor(points, dtype="float64", requires_grad=True)
    minigan.exp(x).backward(np.ones(32))                      # the exact derivative, exp(x)
    exact = x.grad
    epss = np.logspace(-14, 0, 141)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for dtype, colour in (("float64", "tab:blue"), ("float32", "tab:orange")):
        u = np.finfo(dtype).eps / 2
        errors = []
        for eps in epss:
            # Everything in `dtype`, as a gradient check of a float32 op would be.
            xd = points.astype(dtype)
            e = np.asarray(eps, dtype)
            with minigan.no_grad():
                plus = minigan.exp(minigan.tensor(xd + e, dtype=dtype)).numpy()
                minus = minigan.exp(minigan.tensor(xd - e, dtype=dtype)).numpy()
            numeric = (plus - minus) / (2 * e)
            errors.append(np.abs(numeric.astype(np.float64) - exact).max())
        ax.loglog(epss, errors, color=colour, lw=1.5, label=f"{dtype} (u = {u:.1e})")
        best = np.cbrt(3 * u)                                 # minimises eps^2/6 + u/eps
        ax.axvline(best, color=colour, ls=":", lw=1)
        model = np.exp(1.5) * (epss ** 2 / 6 + u / epss)
        ax.loglog(epss, model, color=colour, ls="--", lw=0.8)
    ax.axvline(1e-6, color="0.3", lw=1)
    ax.text(1.2e-6, 3e-16, "gradcheck's eps = 1e-6", fontsize=8, color="0.3")
    ax.axhline(1e-5, color="tab:red", lw=0.8, ls="-.")
    ax.text(1e-8, 1.6e-5, "gradcheck's atol = 1e-5", fontsize=8, color="tab:red")
    ax.text(1e-2, 1e-12, "truncation\nO(eps^2)", fontsize=9)
    ax.text(3e-12, 1e-9, "roundoff\nO(u / eps)", fontsize=9)
    ax.set_ylim(1e-16, 1e4)
    ax.set_xlabel("eps")
    ax.set_ylabel("max |numeric - exact|  (d/dx exp, x in [0.5, 1.5])")
    ax.set_title("Central differences: error against step (dashed: the model "
                 "e^1.5 (eps^2/6 + u/eps),\ndotted: the best step (3u)^(1/3))", fontsize=10)
    ax.legend(loc="lower left")
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT, dpi=100)
    plt.close(fig)
    return OUT


if __name__ == "__main__":
    print(main())
