"""Does minigan train as PyTorch trains? The PyTorch twin of a model, trained as
examples/mnist.py trains minigan's, its samples written for examples/evaluate.py.

    python benchmarks/torch_train.py --arch goodfellow2014 --steps 17000 --out out/torch_gf
    python benchmarks/torch_train.py --arch dcgan_bn --steps 15000 --keep-every 5000 \\
        --out out/torch_dcgan_bn --threads 1
    python examples/evaluate.py --samples out/torch_gf/samples_017000.npy --range 0,1

A second opinion on a result that disappoints: if a model scores the same trained in PyTorch,
the model or its settings are what hold it back, not minigan's layers, losses or optimisers.

Everything but the framework is minigan's: the networks are ``benchmarks/train_step.py``'s
twins of ``minigan.models.build(arch, seed=S, data=train)`` (same layer shapes, the same initial
weights, G's output bias from the data where the model asks for it), the minibatches are
``minigan.data.mnist.Batches(train[0:50000], seed=S)``, the noise is the model's own
(``minigan.models.sample_noise``), a fresh draw for D's update and another for G's, and the
optimiser is the model's (Adam or SGD with its rates, D's where it differs). One step is
``train_step.torch_train_step``: Algorithm 1 with k = 1 and the non-saturating G loss. Dropout
masks and the random streams are PyTorch's and NumPy's own, so the run is not bit for bit
minigan's: compare the metrics of the two, not their weights.

Writes, under --out: ``samples_<step>.npy`` every --keep-every steps and at the end (10,000
images (N, 1, 28, 28) float32 in the model's data range, from G's own weights in eval mode,
with noise seeded by --sample-seed), and ``log.jsonl`` (D's and G's losses every --log-every
steps). Needs PyTorch (``pip install torch``), which minigan itself never needs.
"""

import argparse
import json
import os
import sys
import time

import common
from train_step import _threads_from_argv

_threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402

from minigan import backend, models  # noqa: E402
from minigan.data import mnist  # noqa: E402
from train_step import (LATENT_DIM, torch_optimizers, torch_train_step,  # noqa: E402
                        torch_twin)


def samples(G, arch, n, seed, batch_size=500):
    """n images of G in eval mode (batch norm on its running statistics), as a NumPy array."""
    import torch

    rng = backend.rng(seed, "cpu")
    G.eval()
    out = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            z = models.sample_noise(arch, min(batch_size, n - start), LATENT_DIM, rng)
            out.append(G(torch.from_numpy(z.numpy())).numpy())
    G.train()
    return np.concatenate(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="mlp", choices=models.names())
    parser.add_argument("--steps", type=int, default=15000)
    parser.add_argument("--keep-every", type=int, default=0,
                        help="also write the samples every this many steps (default: at the end)")
    parser.add_argument("--out", default="out/torch_train")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate of G and D (default: the model's)")
    parser.add_argument("--lr-d", type=float, default=None,
                        help="D's learning rate where it should differ from G's")
    parser.add_argument("--seed", type=int, default=0, help="initial weights and batch order")
    parser.add_argument("--sample-seed", type=int, default=0, help="noise of the samples")
    parser.add_argument("--n", type=int, default=10000, help="samples written each time")
    parser.add_argument("--threads", type=int,
                        help="BLAS/OpenMP threads for NumPy and PyTorch (default: one per core)")
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--data-dir", default=None, help="directory with the MNIST files")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("skipped: this comparison needs PyTorch (pip install torch), which minigan "
              "itself never needs")
        return
    torch.set_num_threads(common.blas_threads())
    torch.manual_seed(args.seed)                                   # dropout masks

    spec = models.SPECS[args.arch]
    images, _ = mnist.load_mnist("train", data_dir=args.data_dir)  # (60000, 28, 28) uint8
    x_train = mnist.scale(images[:50000], spec.data_range)         # (50000, 1, 28, 28)
    batches = mnist.Batches(x_train, batch_size=spec.batch_size, seed=args.seed)
    G0, D0 = models.build(args.arch, LATENT_DIM, seed=args.seed, data=x_train)
    z0 = models.sample_noise(args.arch, 2, LATENT_DIM, backend.rng(0, "cpu"))
    G, D = torch_twin(G0, z0), torch_twin(D0, G0(z0))
    opt_G, opt_D = torch_optimizers(args.arch, G, D, lr=args.lr, lr_d=args.lr_d)
    noise = backend.rng(args.seed, "cpu")

    def z():
        return torch.from_numpy(models.sample_noise(args.arch, spec.batch_size, LATENT_DIM,
                                                    noise).numpy())

    os.makedirs(args.out, exist_ok=True)
    print(f"training the PyTorch twin of {args.arch}: {args.steps} steps of batch "
          f"{spec.batch_size}, {torch.get_num_threads()} thread(s)")

    def real_batches():
        while True:  # epoch after epoch
            yield from batches

    data, start = real_batches(), time.perf_counter()
    with open(os.path.join(args.out, "log.jsonl"), "w") as log:
        for step in range(1, args.steps + 1):
            d_loss, g_loss = torch_train_step(G, D, opt_G, opt_D, torch.from_numpy(next(data)),
                                              z(), z())           # fresh noise for each update
            if step % args.log_every == 0:
                log.write(json.dumps({"step": step, "time": round(time.perf_counter() - start, 1),
                                      "loss_d": d_loss.item(), "loss_g": g_loss.item()}) + "\n")
                log.flush()
            if step == args.steps or (args.keep_every and step % args.keep_every == 0):
                path = os.path.join(args.out, f"samples_{step:06d}.npy")
                np.save(path, samples(G, args.arch, args.n, args.sample_seed))
                print(f"step {step}: {time.perf_counter() - start:.0f} s, wrote {path}",
                      flush=True)


if __name__ == "__main__":
    main()
