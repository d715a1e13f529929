"""Spectral normalisation in D instead of batch norm (Miyato et al., ICLR 2018).

dcgan_bn's G against dcgan_bn's D with every layer divided by its largest singular value
(nn.SpectralNorm) and no batch norm, D at G's rate. It takes this G further than its own D does
and levels off there, short of an Inception Score of 9; the preset dcgan_sn_fc adds the hidden
layer that takes it past 9 (the numbers: docs/results.md).

    python examples/recipes/spectral_norm.py --out out/spectral_norm --steps 35000
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # examples/
import mnist  # noqa: E402
from minigan import nn  # noqa: E402


def discriminator(arch):
    sn = nn.SpectralNorm
    return nn.Sequential(
        sn(nn.Conv2d(1, 64, 4, stride=2, padding=1)),          # (N, 64, 14, 14)
        nn.LeakyReLU(0.2),
        sn(nn.Conv2d(64, 128, 4, stride=2, padding=1)),        # (N, 128, 7, 7)
        nn.LeakyReLU(0.2),
        nn.Flatten(),                                          # (N, 6272)
        sn(nn.Linear(128 * 7 * 7, 1)),                         # (N, 1)
    )


RECIPE = mnist.Recipe(name="spectral_norm", arch="dcgan_bn", discriminator=discriminator,
                      settings=dict(lr=4e-4, lr_d=4e-4, ema=0.9999), doc=__doc__)

if __name__ == "__main__":
    mnist.main(recipe=RECIPE)
