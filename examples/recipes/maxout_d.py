"""A convolutional G against goodfellow2014's maxout D.

dcgan_bn's G (or dcgan_tf's, with --arch dcgan_tf) against the fully connected maxout D of
Goodfellow et al. 2014, started and trained as that preset's D (U(-0.005, 0.005), Adam 4e-4 for
G and 2e-4 for D, the 0.9999 average). Both Gs pass an Inception Score of 9, which neither
reaches against its own convolutional D (the steps and the numbers: docs/results.md).

    python examples/recipes/maxout_d.py --out out/maxout_d --steps 70000
    python examples/recipes/maxout_d.py --arch dcgan_tf --out out/maxout_d_tf --steps 42500
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # examples/
import mnist  # noqa: E402
from minigan import models  # noqa: E402


def discriminator(arch):
    return models.SPECS["goodfellow2014"].discriminator()   # maxout, dropout; (N, 1) logits


RECIPE = mnist.Recipe(name="maxout_d", arch="dcgan_bn", discriminator=discriminator,
                      d_init="uniform:0.005", settings=dict(lr=4e-4, lr_d=2e-4, ema=0.9999),
                      doc=__doc__)

if __name__ == "__main__":
    mnist.main(recipe=RECIPE)
