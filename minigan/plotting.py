"""Pictures of training: sample grids and loss curves, written as PNG files with matplotlib.

matplotlib is imported lazily and switched to its file-only "Agg" backend, so these work on a
machine with no display.
"""

import os
from pathlib import Path

import numpy as np

from . import backend
from .tensor import array_of


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def image_grid(images, nrow=8, value_range=(-1.0, 1.0), padding=2):
    """Tile images ``(N, 1, H, W)`` (or ``(N, H, W)``) into one 2-D array in [0, 1].

    Args:
        images: array or Tensor on any device.
        nrow: images per row.
        value_range: the (low, high) range of the values, mapped to black and white.
        padding: pixels of white between images.
    """
    x = backend.to_numpy(array_of(images)).astype(np.float32)
    if x.ndim == 4:
        x = x[:, 0]                                       # (N, H, W)
    low, high = value_range
    x = np.clip((x - low) / (high - low), 0.0, 1.0)
    n, h, w = x.shape
    ncol = nrow
    nrows = -(-n // ncol)
    grid = np.ones((nrows * (h + padding) + padding, ncol * (w + padding) + padding), np.float32)
    for i in range(n):
        r, c = divmod(i, ncol)
        top, left = padding + r * (h + padding), padding + c * (w + padding)
        grid[top:top + h, left:left + w] = x[i]
    return grid


def save_image_grid(images, path, nrow=8, value_range=(-1.0, 1.0), title=None):
    """Write ``images`` as a grid PNG at ``path`` (white digits on black, as MNIST is stored)."""
    plt = _pyplot()
    grid = image_grid(images, nrow=nrow, value_range=value_range)
    scale = 0.9 * nrow / 8
    fig = plt.figure(figsize=(8 * scale, 8 * scale * grid.shape[0] / grid.shape[1]), dpi=100)
    ax = fig.add_axes([0, 0, 1, 0.95 if title else 1])
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    _save_atomically(fig, path)
    plt.close(fig)


def save_loss_curves(records, path, keys=("loss_d", "loss_g"), title="losses",
                     probabilities=True):
    """Plot ``records`` (dicts with a "step" key) for each of ``keys``, and D(x), D(G(z)): the
    records' "d_real" and "d_fake", probabilities in [0, 1], or D's raw mean scores where
    ``probabilities`` is False (the losses of minigan.gan other than "gan")."""
    plt = _pyplot()
    steps = np.array([r["step"] for r in records])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for k in keys:
        ax1.plot(steps, [r[k] for r in records], label=k, linewidth=1)
    ax1.set_ylabel("loss")
    ax1.set_title(title)
    ax1.legend()
    for k, label in (("d_real", "D(x)"), ("d_fake", "D(G(z))")):
        if records and k in records[0]:
            ax2.plot(steps, [r[k] for r in records], label=label, linewidth=1)
    if probabilities:
        ax2.set_ylim(-0.02, 1.02)
    ax2.set_ylabel("mean probability" if probabilities else "D's mean raw score")
    ax2.set_xlabel("step")
    ax2.legend()
    fig.tight_layout()
    _save_atomically(fig, path)
    plt.close(fig)


def _save_atomically(fig, path, **savefig_kwargs):
    """Save a matplotlib figure atomically (a reader never sees half a file), in the format
    ``path``'s suffix names (PNG without one)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        fig.savefig(tmp, format=path.suffix.lstrip(".").lower() or "png", **savefig_kwargs)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
