"""Draw samples from a trained generator's checkpoint.

    python examples/sample.py --checkpoint out/mnist/ckpt.npz --n 10000 --out samples.npy
    python examples/sample.py --checkpoint out/mnist/ckpt.npz --n 64 --out s.npy --grid grid.png
    python examples/sample.py --checkpoint out/cond/ckpt.npz --digit 7 --n 64 --out sevens.npy

Draws from the moving average of G's weights where the checkpoint has one (--no-average: from
G's own). Writes float32 images of shape (N, 1, 28, 28) in the generator's output range (the
preset's ``data_range`` in minigan.models) as a .npy file, and optionally a PNG grid of the
first 64. --truncation T feeds G noise with every |z| <= T (the truncation trick,
minigan.models.sample_noise): more typical samples, not G's own distribution. A checkpoint whose
weights are not finite (a run that diverged) is refused.

From a conditional GAN's checkpoint (examples/mnist.py --conditional), --digit D draws only the
digit D; by default sample i is of digit i mod 10, every digit in turn, and the grid shows one
digit per row.
"""

import os

import numpy as np

import minigan
from minigan import backend, checkpoint, models
from minigan.plotting import save_image_grid

import arguments
from arguments import Parser, fail, first_line, number, whole


def main(argv=None):
    parser = Parser(prog="sample.py", description=__doc__)
    parser.add_argument("--checkpoint", required=True, help="a run's checkpoint (ckpt.npz)")
    parser.add_argument("--n", type=whole(at_least=1), default=10000, help="number of samples")
    parser.add_argument("--out", required=True, help="the .npy file to write")
    parser.add_argument("--grid", help="also write a PNG grid of the first 64 samples here")
    parser.add_argument("--batch-size", type=whole(at_least=1), default=500,
                        help="samples drawn at a time")
    parser.add_argument("--seed", type=whole(at_least=0), default=0, help="seeds the noise")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="where G runs: the CPU, or an NVIDIA GPU through CuPy")
    arguments.add_threads(parser)
    parser.add_argument("--truncation", type=number(above=0), metavar="T",
                        help="draw each entry of z again until |z| <= T (default: no "
                             "truncation)")
    parser.add_argument("--no-average", action="store_true",
                        help="sample G's own weights, not their moving average (G_ema), where "
                             "the checkpoint has both")
    parser.add_argument("--digit", type=whole(at_least=0),
                        help="a conditional GAN's checkpoint: draw this digit only (default: "
                             "every digit in turn)")
    args = parser.parse_args(argv)
    for flag, path, suffix in (("--out", args.out, ".npy"), ("--grid", args.grid, ".png")):
        if path is not None and not path.endswith(suffix):
            fail("sample.py", f"{flag} {path}: the file name must end in {suffix}")
        if path is not None and os.path.isdir(path):
            fail("sample.py", f"{flag} {path} is a directory")
    device = arguments.device("sample.py", args.device)
    arguments.use_threads(args.threads)       # once: the work is too short to look again
    try:
        G, info = checkpoint.load_generator(args.checkpoint, device=device,   # in eval mode
                                            average=False if args.no_average else None)
    except FileNotFoundError:
        fail("sample.py", f"--checkpoint {args.checkpoint}: no such file")
    except minigan.CheckpointError as e:
        fail("sample.py", f"--checkpoint: {first_line(e)}")
    arch, latent_dim, step, classes = (info["arch"], info["latent_dim"], info["step"],
                                       info["num_classes"])
    if args.digit is not None and classes is None:
        fail("sample.py", f"--digit {args.digit}: {args.checkpoint} is an unconditional GAN's "
                          f"checkpoint; its G draws no digit asked for (train one with "
                          f"examples/mnist.py --conditional)")
    if args.digit is not None and args.digit >= classes:
        fail("sample.py", f"--digit {args.digit}: the checkpoint's G draws digits 0 to "
                          f"{classes - 1}")
    if classes is None:
        labels = None                                                   # unconditional
    elif args.digit is not None:
        labels = np.full(args.n, args.digit)                            # (N,): that digit
    else:
        labels = np.arange(args.n) % classes                            # (N,): each in turn
    spans = info["averaged_steps"]                              # examples/average.py's output
    when = f"step {step}" if not spans else f"steps {spans[0]}-{spans[-1]} averaged"
    if args.truncation is not None:
        when += f", |z| <= {args.truncation:g}"
    if labels is not None:
        when += f", digit {args.digit}" if args.digit is not None else ", sample i: digit i % 10"

    rng = backend.rng(args.seed, device)
    chunks = []
    with minigan.no_grad():
        for start in range(0, args.n, args.batch_size):
            n = min(args.batch_size, args.n - start)
            z = models.sample_noise(arch, n, latent_dim, rng, device,   # (n, latent_dim)
                                    truncation=args.truncation)
            x = G(z) if labels is None else G(z, labels[start:start + n])
            chunks.append(x.numpy())                                    # (n, 1, 28, 28)
    samples = np.concatenate(chunks).astype(np.float32)                 # (N, 1, 28, 28)

    try:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        np.save(args.out, samples)
        if args.grid:
            os.makedirs(os.path.dirname(os.path.abspath(args.grid)), exist_ok=True)
            images, per_row = grid_images(samples, labels, args.digit, classes)
            save_image_grid(images, args.grid, nrow=per_row,
                            value_range=models.SPECS[arch].data_range, title=f"{arch}, {when}")
    except OSError as e:
        fail("sample.py", f"cannot write {e.filename or args.out}: {e.strerror or e}")
    print(f"wrote {samples.shape} {samples.dtype} samples of {arch} ({when}) to {args.out}"
          + (f" and a grid to {args.grid}" if args.grid else ""))
    return args.out


def grid_images(samples, labels, digit, classes):
    """``(images, per_row)`` for the grid: the first 64 samples, 8 a row; or, where every digit
    was drawn in turn, one row per digit with its first 8 samples (fewer where fewer were
    drawn)."""
    if labels is None or digit is not None:
        return samples[:64], 8
    rows = [samples[labels == d][:8] for d in range(classes)]           # (<= 8, 1, 28, 28) each
    width = min(len(row) for row in rows)
    if width == 0:                                                      # --n below the classes
        return samples, classes
    return np.concatenate([row[:width] for row in rows]), width         # (classes * width, ...)


if __name__ == "__main__":
    main()
