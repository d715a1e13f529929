"""The two generator losses, and their gradients, against D(G(z)).

    python docs/figures/gan_losses.py       # writes docs/figures/gan_losses.png

For one generated sample with discriminator logit a and D = sigmoid(a):

    saturating (minimax)   L_G = log(1 - D)     dL_G/da = -D          -> 0 as D -> 0
    non-saturating         L_G = -log D         dL_G/da = -(1 - D)    -> -1 as D -> 0

Early in training D rejects G's samples confidently (D(G(z)) near 0): exactly where the minimax
loss is flat and its gradient vanishes, while the non-saturating loss is steepest. Both curves
are computed by minigan.gan (generator_loss and the hand-derived generator_loss_grad, on one
sample at a time), not by the formulas above.
"""

from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minigan import gan  # noqa: E402

OUT = Path(__file__).with_suffix(".png")


def main():
    logits = np.linspace(-9, 9, 721)
    d = 1 / (1 + np.exp(-logits))                                   # D(G(z)) in (0, 1)
    curves = {}
    for saturating in (True, False):
        loss = np.array([gan.generator_loss(np.array([a]), saturating) for a in logits])
        grad = np.array([gan.generator_loss_grad(np.array([a]), saturating)[0] for a in logits])
        curves[saturating] = loss, grad

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    styles = {True: ("tab:red", "saturating: log(1 - D)"),
              False: ("tab:blue", "non-saturating: -log D")}
    for saturating, (loss, grad) in curves.items():
        colour, label = styles[saturating]
        ax1.plot(d, loss, color=colour, label=label)
        ax2.plot(d, np.abs(grad), color=colour, label=label)
    for ax in (ax1, ax2):
        ax.axvspan(0, 0.1, color="0.9")
        ax.set_xlabel("D(G(z))")
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
    ax1.text(0.015, -2.6, "early\ntraining:\nD rejects\nG's\nsamples", fontsize=8)
    ax1.set_ylim(-5, 5)
    ax1.set_ylabel("generator loss (G minimises it)")
    ax1.set_title("the two generator losses\n(both fall as D(G(z)) rises, with different slopes)", fontsize=10)
    ax1.legend(loc="lower right", fontsize=9)
    ax2.set_ylabel("|dL_G / d logit|")
    ax2.set_title("their gradients w.r.t. D's logit:\nthe saturating one vanishes as D(G(z)) -> 0",
                  fontsize=10)
    ax2.legend(loc="center right", fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT, dpi=100)
    plt.close(fig)
    return OUT


if __name__ == "__main__":
    print(main())
