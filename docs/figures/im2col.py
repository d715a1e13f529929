"""im2col: the patches of a convolution unrolled into the columns of a matrix.

    python docs/figures/im2col.py          # writes docs/figures/im2col.png

The example of docs/derivations/conv2d.md: a 3x3 image holding 1..9, a 2x2 kernel, stride 1.
The matrix is computed by minigan's own im2col (minigan/ops/conv.py), not drawn by hand.
"""

from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from minigan.ops.conv import _im2col  # noqa: E402

OUT = Path(__file__).with_suffix(".png")
COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red"]


def main():
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)                    # (N, C, H, W)
    cols = _im2col(x, kernel=(2, 2), stride=(1, 1), dilation=(1, 1), pads=(0, 0, 0, 0),
                   out_hw=(2, 2))                                   # (C*KH*KW, OH*OW*N) = (4, 4)
    w = np.array([1.0, 10.0, 100.0, 1000.0])                        # W, (O, C*KH*KW) = (1, 4)
    y = w @ cols                                                    # (4,): one GEMM

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), gridspec_kw={"width_ratios": [3, 4.6, 2.4]})
    fig.subplots_adjust(left=0.02, right=0.98, top=0.82, bottom=0.04, wspace=0.25)

    # (a) the image, each output pixel's patch outlined in its colour
    ax = axes[0]
    for (i, j), v in np.ndenumerate(x[0, 0]):
        ax.add_patch(Rectangle((j, 2 - i), 1, 1, fc="white", ec="0.4"))
        ax.text(j + 0.5, 2 - i + 0.5, f"{v:g}", ha="center", va="center", fontsize=13)
    for p, (oi, oj) in enumerate(np.ndindex(2, 2)):
        d = 0.06 * (p + 1)
        ax.add_patch(Rectangle((oj + d, 2 - oi - 1 + d), 2 - 2 * d, 2 - 2 * d, fill=False,
                               ec=COLOURS[p], lw=2.5))
    ax.set_title("input x (3x3); the patch of\neach output pixel (2x2 kernel)", fontsize=10)

    # (b) the column matrix: column p is patch p, unrolled row by row
    ax = axes[1]
    ax.text(-0.6, 2.0, "W =\n[1 10 100 1000]\n\n(O x CKK)", ha="right", va="center", fontsize=10)
    for (r, p), v in np.ndenumerate(cols):
        ax.add_patch(Rectangle((p, 3 - r), 1, 1, fc=COLOURS[p], alpha=0.25, ec="0.4"))
        ax.text(p + 0.5, 3 - r + 0.5, f"{v:g}", ha="center", va="center", fontsize=13)
    for r, name in enumerate(["(0,0)", "(0,1)", "(1,0)", "(1,1)"]):
        ax.text(4.15, 3 - r + 0.5, f"tap {name}", va="center", fontsize=9, color="0.3")
    ax.set_title("im2col(x): one column per output pixel,\none row per kernel tap (CKK x P)",
                 fontsize=10)

    # (c) the product, reshaped to the output image
    ax = axes[2]
    for p, (oi, oj) in enumerate(np.ndindex(2, 2)):
        ax.add_patch(Rectangle((oj, 1 - oi), 1, 1, fc=COLOURS[p], alpha=0.25, ec="0.4"))
        ax.text(oj + 0.5, 1 - oi + 0.5, f"{y[p]:g}", ha="center", va="center", fontsize=12)
    ax.set_title("y = W im2col(x),\nreshaped (2x2)", fontsize=10)

    for ax, (w_, h_) in zip(axes, [(3, 3), (4, 4), (2, 2)]):
        ax.set_xlim(-0.1 if ax is not axes[1] else -3.2, w_ + (1.3 if ax is axes[1] else 0.1))
        ax.set_ylim(-0.1, h_ + 0.1)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.savefig(OUT, dpi=100)
    plt.close(fig)
    return OUT


if __name__ == "__main__":
    print(main())
