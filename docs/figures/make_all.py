"""Rebuild every figure of the documentation.

    python docs/figures/make_all.py            # all figures (about two minutes: toy2d trains)
    python docs/figures/make_all.py eps_sweep  # only the named ones

Each figure is made by its own script in this folder (matplotlib, Agg backend) and committed as
a PNG (or GIF) next to it, so the docs show them without running anything.
"""

import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIGURES = ["im2col", "conv_transpose", "eps_sweep", "gan_losses", "graph_d_loss", "toy2d"]


def build(name):
    spec = importlib.util.spec_from_file_location(f"figure_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main()


if __name__ == "__main__":
    names = sys.argv[1:] or FIGURES
    unknown = sorted(set(names) - set(FIGURES))
    if unknown:
        sys.exit(f"unknown figure(s) {unknown}; known: {FIGURES}")
    for name in names:
        t0 = time.perf_counter()
        path = build(name)
        print(f"{name:<16} {time.perf_counter() - t0:6.1f} s   {Path(path).relative_to(HERE.parent.parent)}")
