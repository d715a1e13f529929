"""Draw samples from a trained generator's checkpoint.

    python examples/sample.py --checkpoint out/mnist/ckpt.npz --n 10000 --out samples.npy
    python examples/sample.py --checkpoint out/mnist/ckpt.npz --n 64 --out s.npy --grid grid.png

Draws from the moving average of G's weights where the checkpoint has one (--no-average: from
G's own). Writes float32 images of shape (N, 1, 28, 28) in the generator's output range (see
the model's ``data_range`` in minigan.models) as a .npy file, and optionally a PNG grid of the
first 64. --truncation T feeds G noise with every |z| <= T (the truncation trick,
minigan.models.sample_noise): more typical samples, not G's own distribution.
"""

import argparse
import os

import numpy as np

import minigan
from minigan import backend, models
from minigan.plotting import save_image_grid

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--checkpoint", required=True, help="a ckpt.npz written by examples/mnist.py")
parser.add_argument("--n", type=int, default=10000, help="number of samples")
parser.add_argument("--out", required=True, help="output .npy file")
parser.add_argument("--grid", default=None, help="also write a PNG grid of the first 64")
parser.add_argument("--batch-size", type=int, default=500)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
parser.add_argument("--truncation", type=float, default=None, metavar="T",
                    help="draw each entry of z again until |z| <= T (default: no truncation)")
parser.add_argument("--no-average", action="store_true",
                    help="sample G's own weights, not their moving average (G_ema), where the "
                         "checkpoint has both")
args = parser.parse_args()
if args.truncation is not None and args.truncation <= 0:
    parser.error(f"--truncation must be a positive bound on |z|, got {args.truncation}")

G, info = models.load_generator(args.checkpoint, device=args.device,     # in eval mode
                                average=False if args.no_average else None)
arch, latent_dim, step = info["arch"], info["latent_dim"], info["step"]
spans = info["averaged_steps"]                                  # examples/average.py's output
when = f"step {step}" if not spans else f"steps {spans[0]}-{spans[-1]} averaged"
if args.truncation is not None:
    when += f", |z| <= {args.truncation:g}"

rng = backend.rng(args.seed, args.device)
chunks = []
with minigan.no_grad():
    for start in range(0, args.n, args.batch_size):
        n = min(args.batch_size, args.n - start)
        z = models.sample_noise(arch, n, latent_dim, rng, args.device,   # (n, latent_dim)
                                truncation=args.truncation)
        chunks.append(G(z).numpy())                                      # (n, 1, 28, 28)
samples = np.concatenate(chunks).astype(np.float32)

os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
np.save(args.out, samples)
if args.grid:
    save_image_grid(samples[:64], args.grid, value_range=models.SPECS[arch].data_range,
                    title=f"{arch}, {when}")
print(f"wrote {samples.shape} {samples.dtype} samples of {arch} ({when}) "
      f"to {args.out}")
