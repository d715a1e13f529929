"""goodfellow2014 without the dropout on D's input (its hidden dropout kept).

A D that sees every pixel pushes G to sharper, more typical strokes: the Parzen estimate is
higher sooner, closer to the paper's 225 nats than any other single run, and then the 1s take
over more and more of the samples and the FID climbs (the numbers: docs/results.md).

    python examples/recipes/no_input_dropout.py --out out/no_input_dropout --steps 40000
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # examples/
import mnist  # noqa: E402
from minigan import nn  # noqa: E402


def discriminator(arch):
    return nn.Sequential(
        nn.Flatten(),                                          # (N, 784)
        nn.Linear(784, 240 * 5), nn.Maxout(5),                 # (N, 240)
        nn.Dropout(0.5),
        nn.Linear(240, 240 * 5), nn.Maxout(5),                 # (N, 240)
        nn.Dropout(0.5),
        nn.Linear(240, 1),                                     # (N, 1)
    )


RECIPE = mnist.Recipe(name="no_input_dropout", arch="goodfellow2014",
                      discriminator=discriminator, doc=__doc__)

if __name__ == "__main__":
    mnist.main(recipe=RECIPE)
