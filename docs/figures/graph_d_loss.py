"""The recorded graph of one discriminator loss of the mlp GAN, drawn by minigan.draw_graph.

    python docs/figures/graph_d_loss.py     # writes docs/figures/graph_d_loss.png

L_D = -[mean log sigma(D(x)) + mean log sigma(-D(G(z)))] on a batch of 8 real images and 8
generated ones, with G run under no_grad as minigan.gan.discriminator_step runs it: the graph
holds D's two passes, which read the same six parameters, and the loss; nothing of G. The pixel
values do not matter (only shapes are drawn), so the "real" images are uniform noise in [-1, 1]
and no data is needed. docs/graph.md walks backprop along the figure.
"""

from pathlib import Path

import numpy as np

import minigan
from minigan import gan, models

OUT = Path(__file__).with_suffix(".png")


def main():
    G, D = models.build("mlp", seed=0)
    rng = np.random.default_rng(0)
    real = minigan.tensor(rng.uniform(-1, 1, (8, 1, 28, 28)).astype(np.float32))
    z = minigan.tensor(rng.standard_normal((8, 100)).astype(np.float32))
    with minigan.no_grad():
        fake = G(z)                                  # a constant for D's step
    loss = gan.discriminator_loss(D(real), D(fake))
    minigan.draw_graph(loss, OUT, params={"D": D},
                       title="L_D of the mlp GAN on 8 real and 8 generated images")
    return OUT


if __name__ == "__main__":
    print(main())
