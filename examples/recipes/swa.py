"""goodfellow2014 for 90,000 steps, its checkpoints kept and averaged afterwards (stochastic
weight averaging, Izmailov et al. 2018).

The run keeps ckpt_<step>.npz every 5,000 steps; examples/average.py then averages the kept
generators of a window into one. Averaged over 15,000-90,000 steps, the paper's own model passes
the paper's 225 nats of Parzen estimate on each of three seeds, where the last checkpoint alone
scores about the paper's number (the numbers: docs/results.md).

    python examples/recipes/swa.py --out out/swa
    python examples/average.py --run out/swa --from 15000 --out out/swa/ckpt_average.npz
    python examples/evaluate.py --checkpoint out/swa/ckpt_average.npz
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # examples/
import mnist  # noqa: E402

RECIPE = mnist.Recipe(name="swa", arch="goodfellow2014",
                      settings=dict(steps=90000, keep_every=5000), doc=__doc__)

if __name__ == "__main__":
    mnist.main(recipe=RECIPE)
