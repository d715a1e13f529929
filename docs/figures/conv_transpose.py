"""The transposed convolution as the adjoint of the convolution.

    python docs/figures/conv_transpose.py      # writes docs/figures/conv_transpose.png

Left: a 2x2 input, stride 2, 3x3 kernel: each input pixel scatters a copy of the kernel, scaled
by its value, into a 5x5 output; where the copies overlap they add. Right: the same map as a
matrix. The 4x25 matrix C of conv2d (5x5 -> 2x2, 3x3 kernel, stride 2) is built column by column
from minigan's conv2d applied to unit images; the 25x4 matrix of conv_transpose2d with the same
weight, built from unit inputs, is checked to be exactly C^T.
"""

from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import minigan  # noqa: E402
import minigan.functional as F  # noqa: E402

OUT = Path(__file__).with_suffix(".png")
COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:red"]


def matrix_of(f, in_shape):
    """The matrix of a linear map f, one column per unit input (float64)."""
    n = int(np.prod(in_shape))
    columns = []
    for k in range(n):
        e = np.zeros(n)
        e[k] = 1.0
        columns.append(f(minigan.tensor(e.reshape(in_shape), dtype="float64")).numpy().ravel())
    return np.stack(columns, axis=1)


def main():
    w = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)                    # (C_in, C_out, KH, KW)
    wt = minigan.tensor(w, dtype="float64")
    C = matrix_of(lambda x: F.conv2d(x, wt, stride=2), (1, 1, 5, 5))            # (4, 25)
    T = matrix_of(lambda y: F.conv_transpose2d(y, wt, stride=2), (1, 1, 2, 2))  # (25, 4)
    assert np.array_equal(T, C.T), "conv_transpose2d is not the transpose of conv2d"

    fig, axes = plt.subplots(1, 3, figsize=(11, 4.2), gridspec_kw={"width_ratios": [2, 5, 3.2]})
    fig.subplots_adjust(left=0.02, right=0.98, top=0.8, bottom=0.08, wspace=0.3)

    # (a) the input
    ax = axes[0]
    for p, (i, j) in enumerate(np.ndindex(2, 2)):
        ax.add_patch(Rectangle((j, 1 - i), 1, 1, fc=COLOURS[p], alpha=0.35, ec="0.3"))
        ax.text(j + 0.5, 1 - i + 0.5, f"y{p}", ha="center", va="center", fontsize=12)
    ax.set_xlim(-0.1, 2.1)
    ax.set_ylim(-1.6, 3.6)
    ax.set_title("input y (2x2)", fontsize=10)

    # (b) the output: each input pixel's footprint, overlaps adding up
    ax = axes[1]
    for r, c in np.ndindex(5, 5):
        # the input pixels p = (i, j) whose kernel copy covers output (r, c): r = 2i + k, c = 2j + l
        hits = [(p, 3 * (r - 2 * i) + (c - 2 * j)) for p, (i, j) in enumerate(np.ndindex(2, 2))
                if 0 <= r - 2 * i < 3 and 0 <= c - 2 * j < 3]
        for s, (p, _) in enumerate(hits):                            # one vertical strip each
            ax.add_patch(Rectangle((c + s / len(hits), 4 - r), 1 / len(hits), 1, fc=COLOURS[p],
                                   alpha=0.4, ec="none"))
        ax.add_patch(Rectangle((c, 4 - r), 1, 1, fill=False, ec="0.3"))
        ax.text(c + 0.5, 4 - r + 0.5, "+\n".join(f"y{p}w{k}" for p, k in hits),
                ha="center", va="center", fontsize=7)
    ax.set_xlim(-0.1, 5.1)
    ax.set_ylim(-0.1, 5.1)
    ax.set_title("x = conv_transpose2d(y, w), stride 2 (5x5):\neach y_p scatters y_p * w; "
                 "overlaps add", fontsize=10)

    # (c) the matrices: conv_transpose2d's is conv2d's, transposed
    ax = axes[2]
    ax.imshow(T, cmap="Greys", vmin=0, vmax=9, aspect="auto", extent=(0, 4, 0, 25))
    for p in range(4):
        ax.add_patch(Rectangle((p, 0), 1, 25, fill=False, ec=COLOURS[p], lw=2))
    ax.set_xticks(np.arange(4) + 0.5, [f"y{p}" for p in range(4)])
    ax.set_yticks([])
    ax.set_title("its matrix (25x4) = C^T, C the\n4x25 matrix of conv2d(x, w, stride 2)",
                 fontsize=10)
    for a in axes[:2]:
        a.set_aspect("equal")
        a.axis("off")
    fig.savefig(OUT, dpi=100)
    plt.close(fig)
    return OUT


if __name__ == "__main__":
    print(main())
