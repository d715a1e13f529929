"""Two convolutions in front of the maxout D.

dcgan_bn's G against goodfellow2014's maxout D with its first maxout layer replaced by
dcgan_bn's two convolutions (no batch norm), started and trained as the maxout D. It starts
faster than the plain maxout D, then D outruns G and the Inception Score stops well short of 9
(the numbers: docs/results.md).

    python examples/recipes/conv_maxout_d.py --out out/conv_maxout_d --steps 10000
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # examples/
import mnist  # noqa: E402
from minigan import nn  # noqa: E402


def discriminator(arch):
    return nn.Sequential(
        nn.Dropout(0.2),
        nn.Conv2d(1, 64, 4, stride=2, padding=1),              # (N, 64, 14, 14)
        nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, stride=2, padding=1),            # (N, 128, 7, 7)
        nn.LeakyReLU(0.2),
        nn.Flatten(),                                          # (N, 6272)
        nn.Dropout(0.5),
        nn.Linear(128 * 7 * 7, 240 * 5), nn.Maxout(5),         # (N, 240)
        nn.Dropout(0.5),
        nn.Linear(240, 1),                                     # (N, 1)
    )


RECIPE = mnist.Recipe(name="conv_maxout_d", arch="dcgan_bn", discriminator=discriminator,
                      d_init="uniform:0.005", settings=dict(lr=4e-4, lr_d=2e-4, ema=0.9999),
                      doc=__doc__)

if __name__ == "__main__":
    mnist.main(recipe=RECIPE)
