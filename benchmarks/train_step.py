"""How fast is one GAN training step? minigan against the machine's own matmul rate and, when
PyTorch is installed, against the same architectures in PyTorch, timed side by side.

    python benchmarks/train_step.py                                  # every model, batch 64 and 256
    python benchmarks/train_step.py --models dcgan mlp --batch-sizes 64
    python benchmarks/train_step.py --threads 2 --compare torch --json out/train_step.json
    python benchmarks/train_step.py --device cuda                    # needs CuPy and a GPU

One step is ``minigan.gan.train_step`` (Algorithm 1 with k = 1): D's update on a real batch and
a generated one, then G's update through a frozen D, each followed by the model's optimiser
step. The PyTorch step does the same with ``F.binary_cross_entropy_with_logits``, the same
layer shapes (Keras 'same' padding as an explicit, possibly asymmetric zero pad or crop), the
same initial weights and the same thread count (``torch.set_num_threads``).

Measured, per model and batch size:
    ms        median wall time of a step over --repeats runs, after a warm-up. The minigan step,
              the PyTorch step and a 1024^3 float32 np.matmul are run in turn (interleaved), so
              all three see the same machine load; the load average is printed too.
    EMA ms    median time of one update of the moving average of G's weights
              (minigan.averaging.EMA), which examples/mnist.py adds to every step; timed in turn
              with the others.
    GFLOP     the multiply-adds of every Linear and (transposed) convolution the step actually
              runs, counted from the layer shapes (see ``step_flops``).
    % matmul  the step's GFLOP/s as a fraction of the matmul's: 100% would mean the step runs
              at the speed of the machine's own GEMM.
    MiB       peak memory of a step: the growth of the resident set (VmHWM after resetting it
              through /proc/self/clear_refs, minus VmRSS before) over two steps after a warm-up
              step, in a fresh subprocess per model, framework and batch size. This counts every
              allocation, NumPy's, OpenBLAS's and PyTorch's alike (tracemalloc would miss the
              BLAS buffers and everything PyTorch allocates).
"""

import argparse
import json
import math
import os
import subprocess
import sys

import common


def _threads_from_argv(argv):
    """--threads must reach the BLAS before NumPy loads it, so it is read before any import."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--threads", type=int)
    threads = parser.parse_known_args(argv)[0].threads
    if threads:
        common.set_threads(threads)


_threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402

import minigan  # noqa: E402
from minigan import averaging, backend, gan, models, nn  # noqa: E402

# --- settings --------------------------------------------------------------------------------
BATCH_SIZES = (64, 256)
REPEATS = 5            # timed steps per measurement (the median is reported)
MEMORY_STEPS = 2       # steps whose peak memory is measured, after one warm-up step
LATENT_DIM = 100


# --- FLOPs from the layer shapes --------------------------------------------------------------
def _forward_flops(layer, x_shape, y_shape):
    """2 * multiply-adds of one forward pass of a GEMM layer (0 for any other layer).

    A spectrally normalised layer counts as the layer it wraps: its power iteration is two
    matrix-vector products, nothing beside the layer's own product with the batch.
    """
    if isinstance(layer, nn.SpectralNorm):
        layer = layer.layer
    if isinstance(layer, nn.Linear):
        return 2 * math.prod(x_shape[:-1]) * layer.in_features * layer.out_features
    if isinstance(layer, nn.Conv2d):  # per output pixel: C_in * KH * KW per output channel
        N, O, OH, OW = y_shape
        return 2 * N * OH * OW * O * math.prod(layer.weight.shape[1:])
    if isinstance(layer, nn.ConvTranspose2d):  # per *input* pixel: C_out * KH * KW per channel
        N, C, H, W = x_shape
        return 2 * N * H * W * math.prod(layer.weight.shape)
    return 0


def _leaves(model):
    """The layers of a Sequential in order, nested Sequentials (a packed D) opened up."""
    for layer in model:
        if isinstance(layer, nn.Sequential):
            yield from _leaves(layer)
        else:
            yield layer


def trace(model, x):
    """Run ``model`` (a Sequential) layer by layer: [(layer, input shape, output shape)]."""
    out = []
    with minigan.no_grad():
        for layer in _leaves(model):
            y = layer(x)
            out.append((layer, x.shape, y.shape))
            x = y
    return out


def gemm_flops(layers):
    """Forward FLOPs of each GEMM layer, in order (non-GEMM layers left out)."""
    return [f for f in (_forward_flops(*t) for t in layers) if f]


def step_flops(g_flops, d_flops):
    """FLOPs of one train_step, from the forward FLOPs of the GEMM layers of G and D.

    A layer's backward costs its forward once for the weight gradient and once for the input
    gradient; only what is computed is counted:
        D step: G forward (no graph), D forward on the real and the fake batch, D backward on
                both: weight gradients everywhere, input gradients but for D's first layer
                (neither the data nor the detached fake needs one).
        G step: G forward, D forward, D backward with input gradients only (D is frozen), G
                backward: weight gradients everywhere, input gradients but for G's first layer.
    """
    G, D = sum(g_flops), sum(d_flops)
    d_step = G + 2 * D + 2 * (D + D - d_flops[0])
    g_step = G + D + D + G + (G - g_flops[0])
    return d_step + g_step


# --- the PyTorch twin -------------------------------------------------------------------------
def same_pads(size, kernel, stride, dilation=1):
    """Keras 'same' along one axis: ceil(size / stride) outputs, the odd pad at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def _conv_pads(layer, x_shape, transposed=False):
    """(top, bottom, left, right) zero padding of a minigan Conv2d on inputs of ``x_shape``, or
    for a ConvTranspose2d (``transposed``) what is cropped from its full output."""
    (KH, KW), (sh, sw), (dh, dw) = layer.kernel_size, layer.stride, layer.dilation
    if layer.padding == "same":  # transposed: the adjoint of conv2d 'same' on an input H * stride
        H, W = (x_shape[2] * sh, x_shape[3] * sw) if transposed else x_shape[2:]
        return same_pads(H, KH, sh, dh) + same_pads(W, KW, sw, dw)
    if layer.padding == "valid":
        return 0, 0, 0, 0
    if len(layer.padding) == 4:
        return tuple(layer.padding)
    ph, pw = layer.padding
    return ph, ph, pw, pw


def torch_twin(model, x):
    """A torch.nn.Sequential with ``model``'s layers, shapes and current weights."""
    import torch
    from torch import nn as tnn

    def weights(t, m):
        with torch.no_grad():
            for name in ("weight", "bias", "running_mean", "running_var"):
                src = getattr(m, name, None)
                if src is not None and getattr(t, name, None) is not None:
                    getattr(t, name).copy_(torch.from_numpy(backend.to_numpy(src.data)))
        return t

    class Crop(tnn.Module):
        def __init__(self, top, bottom, left, right):
            super().__init__()
            self.box = top, bottom, left, right

        def forward(self, y):
            t, b, l, r = self.box
            return y[:, :, t:y.shape[2] - b, l:y.shape[3] - r]

    class Maxout(tnn.Module):
        def __init__(self, pieces):
            super().__init__()
            self.pieces = pieces

        def forward(self, y):
            return y.unflatten(1, (-1, self.pieces)).amax(2)

    class Pack(tnn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, y):
            return y.reshape(y.shape[0] // self.m, self.m * y.shape[1], *y.shape[2:])

    layers = []
    for m, x_shape, y_shape in trace(model, x):
        if isinstance(m, nn.Linear):
            layers.append(weights(tnn.Linear(m.in_features, m.out_features,
                                             bias=m.bias is not None), m))
        elif isinstance(m, nn.Conv2d):
            top, bottom, left, right = _conv_pads(m, x_shape)
            symmetric = top == bottom and left == right
            if not symmetric:
                layers.append(tnn.ZeroPad2d((left, right, top, bottom)))
            layers.append(weights(tnn.Conv2d(
                m.in_channels, m.out_channels, m.kernel_size, m.stride,
                padding=(top, left) if symmetric else 0, dilation=m.dilation,
                bias=m.bias is not None), m))
        elif isinstance(m, nn.ConvTranspose2d):
            top, bottom, left, right = _conv_pads(m, x_shape, transposed=True)
            ph, pw = min(top, bottom), min(left, right)  # cropped by the layer; the rest by Crop
            extra = 0 if isinstance(m.padding, str) else m.output_padding
            layers.append(weights(tnn.ConvTranspose2d(
                m.in_channels, m.out_channels, m.kernel_size, m.stride, padding=(ph, pw),
                output_padding=extra, dilation=m.dilation, bias=m.bias is not None), m))
            if (top, left) != (bottom, right):
                layers.append(Crop(top - ph, bottom - ph, left - pw, right - pw))
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            kind = tnn.BatchNorm1d if isinstance(m, nn.BatchNorm1d) else tnn.BatchNorm2d
            layers.append(weights(kind(m.num_features, eps=m.eps, momentum=m.momentum), m))
        elif isinstance(m, nn.LeakyReLU):
            layers.append(tnn.LeakyReLU(m.negative_slope))
        elif isinstance(m, (nn.ReLU, nn.Tanh, nn.Sigmoid)):
            layers.append(getattr(tnn, type(m).__name__)())
        elif isinstance(m, nn.Dropout):
            layers.append(tnn.Dropout(m.p))
        elif isinstance(m, nn.Maxout):
            layers.append(Maxout(m.pieces))
        elif isinstance(m, nn.Flatten):
            layers.append(tnn.Flatten(m.start_dim, m.end_dim))
        elif isinstance(m, nn.Unflatten):
            layers.append(tnn.Unflatten(m.dim, m.unflattened_size))
        elif isinstance(m, nn.Pack):
            layers.append(Pack(m.m))
        else:
            raise TypeError(f"no PyTorch twin for {type(m).__name__}")
    return tnn.Sequential(*layers)


def torch_optimizers(name, G, D, lr=None, lr_d=None):
    """The model's optimisers in PyTorch: its rule, its rates (D's where it differs).

    ``lr`` and ``lr_d`` replace them as ``minigan.models.make_optimizers`` does: a new ``lr``
    alone sets both networks' rates.
    """
    import torch

    settings = dict(models.SPECS[name].optimizer)
    if lr is not None:
        settings["lr"] = lr
        settings.pop("lr_d", None)
    if lr_d is not None:
        settings["lr_d"] = lr_d
    rule, lr = settings.pop("name"), settings["lr"]
    if rule == "adam":
        make = lambda params, lr: torch.optim.Adam(params, lr=lr,  # noqa: E731
                                                   betas=settings["betas"])
    else:
        make = lambda params, lr: torch.optim.SGD(params, lr=lr,  # noqa: E731
                                                  momentum=settings.get("momentum", 0))
    return make(G.parameters(), lr), make(D.parameters(), settings.get("lr_d", lr))


def torch_train_step(G, D, opt_G, opt_D, real, z, z_g=None):
    """Algorithm 1 with k = 1 in idiomatic PyTorch: D's update on ``real`` and ``G(z)``, then
    G's on ``z_g`` (default ``z``) through a frozen D. Returns D's and G's losses (tensors)."""
    import torch
    import torch.nn.functional as TF

    with torch.no_grad():
        fake = G(z)
    opt_D.zero_grad()
    real_logits, fake_logits = D(real), D(fake)
    d_loss = (TF.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
              + TF.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
    d_loss.backward()
    opt_D.step()
    D.requires_grad_(False)  # frozen for G's step: no weight gradients for D
    opt_G.zero_grad()
    fake_logits = D(G(z if z_g is None else z_g))
    g_loss = TF.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    g_loss.backward()
    opt_G.step()
    D.requires_grad_(True)
    return d_loss.detach(), g_loss.detach()


# --- one configuration ------------------------------------------------------------------------
def setup(name, batch, device, framework, seed=0, pack=1):
    """Models, optimisers, a batch and the step function for ``framework``, plus the FLOPs.
    ``pack``: D judges packs of that many samples (``nn.Pack`` in front of the preset's D, as
    examples/recipes/pacgan.py trains it)."""
    packed = lambda: nn.Sequential(nn.Pack(pack), models.SPECS[name].discriminator(pack))  # noqa
    G, D = models.build(name, latent_dim=LATENT_DIM, seed=seed, device=device,
                        discriminator=packed if pack != 1 else None)
    gen = backend.rng(seed, device)
    lo, hi = models.SPECS[name].data_range
    real = minigan.tensor(gen.uniform(lo, hi, (batch, 1, 28, 28)).astype(np.float32))
    z = models.sample_noise(name, batch, LATENT_DIM, generator=gen, device=device)
    g_trace, d_trace = trace(G, z), trace(D, real)
    flops = step_flops(gemm_flops(g_trace), gemm_flops(d_trace))
    if framework == "minigan":
        opt_G, opt_D = models.make_optimizers(name, G, D)
        return (lambda: gan.train_step(G, D, opt_G, opt_D, real, z).d_loss), flops
    import torch

    tdevice = "cuda" if device == "cuda" else "cpu"
    tG, tD = torch_twin(G, z).to(tdevice), torch_twin(D, real).to(tdevice)
    opt_G, opt_D = torch_optimizers(name, tG, tD)
    treal = torch.as_tensor(backend.to_numpy(real.data), device=tdevice)
    tz = torch.as_tensor(backend.to_numpy(z.data), device=tdevice)
    return (lambda: torch_train_step(tG, tD, opt_G, opt_D, treal, tz)[0]), flops


def memory_child(name, batch, device, framework, pack=1):
    """(Run in a fresh process.) Peak growth of the resident set over MEMORY_STEPS steps, MiB."""
    import ctypes
    import gc

    step, _ = setup(name, batch, device, framework, pack=pack)
    step()  # the warm-up creates the optimiser state, which is not a step's working memory
    gc.collect()
    try:  # hand freed heap pages back, so that the baseline is what is really held
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    baseline = common.reset_peak_rss()
    for _ in range(MEMORY_STEPS):
        step()
    return (common.peak_rss_kib() - baseline) / 1024


def peak_memory(name, batch, device, framework, pack=1):
    """:func:`memory_child` in a fresh subprocess (same thread settings), or None on failure."""
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", framework, name,
           str(batch), "--device", device, "--pack", str(pack)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        print(f"  memory of {framework} {name} batch {batch} failed:\n{done.stderr[-2000:]}",
              file=sys.stderr)
        return None
    return float(done.stdout.strip().splitlines()[-1])


def bench(name, batch, device, compare, repeats, memory, pack=1):
    xp = backend.xp_for(device)
    def sync():  # wait for the GPU, so that a step's time includes its kernels
        if device == "cuda":
            xp.cuda.Device().synchronize()
            if compare:
                import torch
                torch.cuda.synchronize()
    matmul, matmul_flops = common.matmul_reference(xp, backend.rng(1, device))
    step, flops = setup(name, batch, device, "minigan", pack=pack)
    # examples/mnist.py also updates the moving average of G's weights after every step.
    average = averaging.EMA(models.build(name, latent_dim=LATENT_DIM, seed=0, device=device)[0])
    fns = [matmul, step, average.update]
    if compare:
        torch_step, _ = setup(name, batch, device, "torch", pack=pack)
        fns.append(torch_step)
        # Same weights and data: D's first loss agrees where no dropout draws differ.
        first = float(step()), float(torch_step())
    t = common.median_seconds(fns, repeats, sync)
    matmul_rate = matmul_flops / t[0] / 1e9
    row = dict(model=name, pack=pack, batch=batch, gflop=flops / 1e9, minigan_ms=1e3 * t[1],
               gflops=flops / t[1] / 1e9, matmul_gflops=matmul_rate,
               fraction_of_matmul=flops / t[1] / 1e9 / matmul_rate, ema_ms=1e3 * t[2])
    if compare:
        row.update(torch_ms=1e3 * t[3], ratio=t[1] / t[3], first_d_loss=first)
    if memory and device == "cpu":
        row["minigan_mib"] = peak_memory(name, batch, device, "minigan", pack)
        if compare:
            row["torch_mib"] = peak_memory(name, batch, device, "torch", pack)
            if row["minigan_mib"] and row["torch_mib"]:
                row["memory_ratio"] = row["minigan_mib"] / row["torch_mib"]
    row["load"] = common.load()
    return row


def profile(name, batch, device, repeats, top=15, pack=1):
    """cProfile ``repeats`` minigan steps (after a warm-up one); print the top functions by own
    time. A GEMM is the ``@`` inside a function, so it counts as that function's own time."""
    import cProfile
    import pstats

    step, flops = setup(name, batch, device, "minigan", pack=pack)
    step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeats):
        step()
    profiler.disable()
    print(f"{name}, batch {batch}, {repeats} steps ({flops / 1e9:.1f} GFLOP each), threads "
          f"{common.blas_threads()}, load {common.load()}")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


# --- report -----------------------------------------------------------------------------------
def _fmt(value, spec, width):
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


def print_table(rows, compare):
    labels = [r["model"] if r["pack"] == 1 else f"{r['model']} pack {r['pack']}" for r in rows]
    width = max([15] + [len(label) for label in labels])
    header = (f"{'model':<{width}} {'batch':>5} {'GFLOP':>6} {'ms':>8} {'GFLOP/s':>8}"
              f" {'%matmul':>7} {'EMA ms':>6}")
    if compare:
        header += f" {'torch ms':>8} {'ratio':>6}"
    header += f" {'MiB':>6}" + (f" {'torchMiB':>8} {'mem':>5}" if compare else "")
    header += f" {'load':>5}"
    print(header)
    print("-" * len(header))
    for r, label in zip(rows, labels):
        line = (f"{label:<{width}} {r['batch']:>5} {r['gflop']:>6.2f} {r['minigan_ms']:>8.1f} "
                f"{r['gflops']:>8.1f} {100 * r['fraction_of_matmul']:>6.0f}% {r['ema_ms']:>6.2f}")
        if compare:
            line += f" {r['torch_ms']:>8.1f} {r['ratio']:>5.2f}x"
        line += " " + _fmt(r.get("minigan_mib"), ".0f", 6)
        if compare:
            line += " " + _fmt(r.get("torch_mib"), ".0f", 8)
            line += " " + _fmt(r.get("memory_ratio"), ".2f", 4) + ("x" if "memory_ratio" in r
                                                                    else " ")
        line += f" {r['load']:>5.2f}"
        print(line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=models.names(), choices=models.names())
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=list(BATCH_SIZES))
    parser.add_argument("--device", default="cpu", choices=backend.DEVICES)
    parser.add_argument("--pack", nargs="+", type=int, default=[1],
                        help="D judges packs of this many samples (examples/recipes/pacgan.py); "
                             "several values: a row each")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed steps per number")
    parser.add_argument("--threads", type=int,
                        help="BLAS/OpenMP threads for NumPy and PyTorch (default: one per core)")
    parser.add_argument("--compare", choices=["torch"],
                        help="also time the same architectures in PyTorch, interleaved")
    parser.add_argument("--no-memory", dest="memory", action="store_false",
                        help="skip the peak-memory subprocesses")
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    parser.add_argument("--profile", action="store_true",
                        help="instead of the table, cProfile the minigan step of the first "
                             "model and batch size and print the functions taking most time")
    parser.add_argument("--memory-child", nargs=3, metavar=("FRAMEWORK", "MODEL", "BATCH"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    threads = common.blas_threads()

    if args.device == "cuda" and not backend.cuda_available():
        print("skipped: --device cuda needs CuPy and a CUDA GPU, and neither answered here")
        return
    if args.compare == "torch":
        try:
            import torch
        except ImportError:
            print("skipped --compare torch: PyTorch is not installed (it is optional: "
                  "pip install torch)")
            args.compare = None
        else:
            torch.set_num_threads(threads)
    if args.memory_child:
        framework, name, batch = args.memory_child
        print(memory_child(name, int(batch), args.device, framework, args.pack[0]))
        return

    if args.profile:
        profile(args.models[0], args.batch_sizes[0], args.device, args.repeats,
                pack=args.pack[0])
        return
    load_before = common.load()
    rows = [bench(name, batch, args.device, args.compare, args.repeats, args.memory, pack)
            for batch in args.batch_sizes for name in args.models for pack in args.pack]
    print(f"device {args.device}, float32, median of {args.repeats} steps; threads {threads}; "
          f"{os.cpu_count()} cores, load {load_before} before, {common.load()} after; "
          f"matmul 1024^3 float32: {np.median([r['matmul_gflops'] for r in rows]):.0f} GFLOP/s")
    print_table(rows, args.compare)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(dict(device=args.device, dtype="float32", threads=threads,
                           cores=os.cpu_count(), repeats=args.repeats, load_before=load_before,
                           load_after=common.load(), compare=args.compare,
                           numpy=np.__version__, rows=rows), f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
