"""Dropout on D's input, as goodfellow2014's D has it, for a convolutional D.

The preset's D behind nn.Dropout(0.2): in training D sees a random 80% of each image's pixels,
real and generated alike. dcgan_bn (D at G's rate) reaches sooner the scores it reached without
it, and levels off a little further on, still far from an Inception Score of 9 (the numbers:
docs/results.md).

    python examples/recipes/input_dropout.py --out out/input_dropout --steps 30000
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # examples/
import mnist  # noqa: E402
from minigan import models, nn  # noqa: E402


def discriminator(arch):
    return nn.Sequential(nn.Dropout(0.2), models.SPECS[arch].discriminator())


RECIPE = mnist.Recipe(name="input_dropout", arch="dcgan_bn", discriminator=discriminator,
                      settings=dict(lr=4e-4, lr_d=4e-4, ema=0.9999), doc=__doc__)

if __name__ == "__main__":
    mnist.main(recipe=RECIPE)
