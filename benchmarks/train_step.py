"""How fast is one GAN training step? minigan against the machine's own matmul rate and, when
PyTorch is installed, against the same architectures in PyTorch, each in its own process.

    python benchmarks/train_step.py                                  # every model, batch 64 and 256
    python benchmarks/train_step.py --models dcgan mlp --batch-sizes 64
    python benchmarks/train_step.py --models mlp dcgan_bn dcgan --batch-sizes 64 \
        --threads 1 2 default --busy 0 4 --compare torch --json out/train_step.json
    python benchmarks/train_step.py --models dcgan_bn --batch-sizes 64 --profile --threads 2
    python benchmarks/train_step.py --device cuda                    # needs CuPy and a GPU

One step is ``minigan.gan.train_step`` (Algorithm 1 with k = 1): D's update on a real batch and
a generated one, then G's update through a frozen D, each followed by the model's optimiser
step. The PyTorch step does the same with ``F.binary_cross_entropy_with_logits``, the same
layer shapes (Keras 'same' padding as an explicit, possibly asymmetric zero pad or crop), the
same initial weights and the same thread count (``torch.set_num_threads``).

Method. Each framework runs in a process of its own (an idle BLAS or OpenMP pool keeps spinning
its threads after each call, so two frameworks in one process take each other's cores), and so
does each thread setting. For each model all these processes take turns: one runs about
TURN_SECONDS of steps and one matmul while the others wait, after a pause of PAUSE_SECONDS that
lets the last one's threads go to sleep, and the order is reversed every round, until each has
--repeats timed steps; every number of a model is thus taken in the same minutes. Every
--threads setting is a table of its own: a number of threads for both libraries (environment
variables before the libraries load, then ``minigan.set_num_threads`` /
``torch.set_num_threads``), "all" for every core, or "default" for what each does by itself:
minigan's example scripts' ``--threads auto`` (the cores the other processes leave free, looked
at before each turn, while the other contestants wait) and PyTorch's own default. The minigan
process also calls ``backend.keep_freed_memory()``, as the example scripts do. ``--busy N``
runs N CPU-bound competitor processes (Python busy loops) for the whole measurement of both
frameworks, as on a laptop doing other work.

Measured, per model, batch size and thread setting:
    ms        median wall time of a step, with its quartiles (the spread)
    GFLOP     the multiply-adds of every Linear and (transposed) convolution the step actually
              runs, counted from the layer shapes (see ``step_flops``)
    % mm      the step's GFLOP/s as a fraction of a 1024^3 float32 matmul's, timed in the same
              process (np.matmul, torch.matmul) in every turn: 100% would be a step running
              at the speed of the machine's own GEMM
    ratio     minigan's median over PyTorch's
    MiB       peak memory of a step: the growth of the resident set (VmHWM after resetting it
              through /proc/self/clear_refs, minus VmRSS before) over two steps after a warm-up
              step. This counts every allocation, NumPy's, OpenBLAS's and PyTorch's alike
              (tracemalloc would miss the BLAS buffers and everything PyTorch allocates).
    load      the 1-minute load average before and after the row
"""

import argparse
import json
import math
import os
import sys
import time

import common


def _threads_from_argv(argv):
    """A single --threads N must reach the BLAS before NumPy loads it (``--profile`` and
    torch_train.py run in this process), so it is read before any import."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--threads", nargs="+")
    parser.add_argument("--child", nargs=4)
    known = parser.parse_known_args(argv)[0]
    if known.child is None and known.threads and known.threads[0].isdigit():
        common.set_threads(int(known.threads[0]))


_threads_from_argv(sys.argv[1:])

import numpy as np  # noqa: E402

import minigan  # noqa: E402
from minigan import backend, gan, models, nn  # noqa: E402

# --- settings --------------------------------------------------------------------------------
BATCH_SIZES = (64, 256)
REPEATS = 10           # timed steps per framework and row (the median is reported)
MEMORY_STEPS = 2       # steps whose peak memory is measured, after one warm-up step
TURN_SECONDS = 0.5     # a framework's turn: about this long (at least one step)
PAUSE_SECONDS = 0.25   # before each turn: OpenBLAS's idle threads spin ~2^28 cycles (0.1 s)
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
        elif isinstance(m, nn.SpectralNorm):
            # PyTorch's own spectral normalisation of the wrapped layer's twin, with as many power
            # iterations per forward pass; its singular vectors start from draws of its own.
            inner = torch_twin(nn.Sequential(m.layer), minigan.Tensor(np.zeros(x_shape, "f4")))
            for t in inner:
                if isinstance(t, (tnn.Linear, tnn.Conv2d, tnn.ConvTranspose2d)):
                    tnn.utils.parametrizations.spectral_norm(
                        t, n_power_iterations=m.power_iterations)
            layers.extend(inner)
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


def child(framework, name, batch, threads, device, pack=1):
    """(Run in a process of its own, by :func:`measure`.) Build ``framework``'s step, take
    one warm-up step, then answer the parent's requests (``common.serve``):

        memory      peak growth of the resident set over MEMORY_STEPS steps, MiB
        time K      the wall time of K steps, then of one 1024^3 float32 matmul, seconds

    ``threads``: an int, or "default": each library's own choice, which for minigan is what its
    example scripts do with ``--threads auto`` and for PyTorch its default. minigan decides
    "auto" (``minigan.threads.configure``: the cores the other processes leave free, looked at
    over 0.2 s) at the start of every turn, untimed, while the other contestants wait: a look
    that spanned their turns would count the benchmark's own processes as the machine's load.
    (``AutoThreads``, which looks again while a script trains, is tested in test_threads.py.)
    """
    import ctypes
    import gc
    import time

    if framework == "minigan":  # set up as minigan's example scripts set themselves up
        from minigan import threads as minigan_threads
        backend.keep_freed_memory()
        auto = threads == "default"
        minigan_threads.configure("auto" if auto else int(threads))
        count = minigan_threads.get_num_threads
        xp = backend.xp_for(device)
        matmul, matmul_flops = common.matmul_reference(xp, backend.rng(1, device))
    else:
        import torch
        if threads != "default":
            torch.set_num_threads(int(threads))
        count = torch.get_num_threads
        tdevice = "cuda" if device == "cuda" else "cpu"
        a, b = (torch.randn(1024, 1024, device=tdevice) for _ in range(2))
        matmul, matmul_flops = (lambda: torch.matmul(a, b)), 2 * 1024 ** 3

    def sync():  # wait for the GPU, so that a step's time includes its kernels
        if device == "cuda" and framework == "minigan":
            backend.xp_for(device).cuda.Device().synchronize()
        elif device == "cuda":
            import torch
            torch.cuda.synchronize()

    step, flops = setup(name, batch, device, framework, pack=pack)
    first_loss = float(step())  # the warm-up step creates the optimisers' state

    def timed(fn):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - start

    def memory():
        gc.collect()
        try:  # hand freed heap pages back, so that the baseline is what is really held
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:
            pass
        baseline = common.reset_peak_rss()
        seconds = [timed(step) for _ in range(MEMORY_STEPS)]
        return dict(mib=(common.peak_rss_kib() - baseline) / 1024, step_s=seconds)

    def run(k):
        if framework == "minigan" and auto:
            minigan_threads.configure("auto")  # what a script starting now would choose
        return dict(step_s=[timed(step) for _ in range(int(k))], matmul_s=timed(matmul),
                    threads=count())

    common.serve(dict(memory=memory, time=run),
                 hello=dict(flops=flops, matmul_flops=matmul_flops, first_loss=first_loss,
                            threads=count()))


def measure(name, batch, device, contestants, repeats, memory, pack=1):
    """Time one model for each of ``contestants`` ((framework, threads) pairs), each in a
    process of its own, taking turns.

    Each turn, one process runs about TURN_SECONDS of steps (at least one) and a matmul, after
    a pause of PAUSE_SECONDS in which the last one's idle BLAS / OpenMP threads stop spinning;
    the order is reversed every round, until each has ``repeats`` timed steps. So every number
    of a model, at every thread setting and in both frameworks, is taken in the same minutes.
    Returns {contestant: (hello, memory reply or None, step seconds, matmul seconds)}, the
    hello's thread count replaced by the count of the last turn ("auto" may change it).
    """
    children = {}
    try:
        for fw, threads in contestants:  # one at a time: a start-up is not a quiet neighbour
            env = common.thread_environment(None if threads == "default" else threads)
            argv = [sys.executable, os.path.abspath(__file__), "--child", fw, name, str(batch),
                    str(threads), "--device", device, "--pack", str(pack)]
            children[fw, threads] = common.Child(argv, env)
        mem = {c: children[c].ask("memory") if memory else None for c in contestants}
        per_turn = {}
        for c in contestants:
            first = mem[c]["step_s"] if mem[c] else children[c].ask("time 1")["step_s"]
            per_turn[c] = max(1, min(repeats, int(TURN_SECONDS / max(min(first), 1e-6))))
        steps = {c: [] for c in contestants}
        matmuls = {c: [] for c in contestants}
        counts = {c: children[c].hello["threads"] for c in contestants}
        turn = 0
        while any(len(steps[c]) < repeats for c in contestants):
            for c in (contestants if turn % 2 == 0 else contestants[::-1]):
                k = min(per_turn[c], repeats - len(steps[c]))
                if k <= 0:
                    continue
                time.sleep(PAUSE_SECONDS)
                reply = children[c].ask(f"time {k}")
                steps[c] += reply["step_s"]
                matmuls[c].append(reply["matmul_s"])
                counts[c] = reply["threads"]
            turn += 1
        return {c: (dict(children[c].hello, threads=counts[c]), mem[c], steps[c], matmuls[c])
                for c in contestants}
    finally:
        for child_process in children.values():
            child_process.close()


def bench(name, batch, device, compare, settings, repeats, memory, pack=1):
    """The rows of ``name`` at ``batch``, one per thread setting, minigan (and PyTorch): all
    measured together (:func:`measure`)."""
    frameworks = ["minigan"] + (["torch"] if compare else [])
    load_before = common.load()
    got = measure(name, batch, device, [(fw, t) for t in settings for fw in frameworks],
                  repeats, memory, pack)
    load_after = common.load()
    rows = []
    for threads in settings:
        row = dict(model=name, pack=pack, batch=batch, threads=threads,
                   load_before=load_before, load_after=load_after)
        for fw in frameworks:
            hello, mem, steps, matmuls = got[fw, threads]
            times, mm = common.summary(steps), common.summary(matmuls)
            gflops = hello["flops"] / times["median"] / 1e6
            matmul_gflops = hello["matmul_flops"] / mm["median"] / 1e6
            row.update({f"{fw}_ms": times["median"],
                        f"{fw}_spread_ms": [times["p25"], times["p75"]],
                        f"{fw}_range_ms": [times["min"], times["max"]],
                        f"{fw}_gflops": gflops, f"{fw}_matmul_gflops": matmul_gflops,
                        f"{fw}_fraction_of_matmul": gflops / matmul_gflops,
                        f"{fw}_threads": hello["threads"],
                        f"{fw}_first_d_loss": hello["first_loss"],
                        f"{fw}_mib": mem["mib"] if mem else None, f"{fw}_steps": times["n"]})
            row["gflop"] = hello["flops"] / 1e9
        if compare:
            row["ratio"] = row["minigan_ms"] / row["torch_ms"]
            if memory and row["torch_mib"] and row["torch_mib"] > 0:
                row["memory_ratio"] = row["minigan_mib"] / row["torch_mib"]
        rows.append(row)
    return rows


def profile(name, batch, device, repeats, top=15, pack=1):
    """cProfile ``repeats`` minigan steps (after a warm-up one); print the top functions by own
    time. A GEMM is the ``@`` inside a function, so it counts as that function's own time."""
    import cProfile
    import pstats

    backend.keep_freed_memory()
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


def _ms(row, fw):
    lo, hi = row[f"{fw}_spread_ms"]
    return f"{row[f'{fw}_ms']:>7.1f} {lo:>6.1f}-{hi:<6.1f}"


def print_table(rows, compare):
    labels = [r["model"] if r["pack"] == 1 else f"{r['model']} pack {r['pack']}" for r in rows]
    width = max([15] + [len(label) for label in labels])
    header = (f"{'model':<{width}} {'batch':>5} {'GFLOP':>6} {'threads':>7} "
              f"{'ms  (quartiles)':>21} {'GFLOP/s':>7} {'%mm':>4}")
    if compare:
        header += f" {'torch ms (quartiles)':>21} {'%mm':>4} {'ratio':>6}"
    header += f" {'MiB':>5}" + (f" {'torch':>5} {'mem':>5}" if compare else "")
    header += f" {'load':>9}"
    print(header)
    print("-" * len(header))
    group = None
    for r, label in zip(rows, labels):
        if (r["busy"], r["threads"]) != group:
            group = r["busy"], r["threads"]
            print(f"# {r['busy']} CPU-bound competitor processes, threads {r['threads']}")
        threads = str(r["minigan_threads"]) + (f"/{r['torch_threads']}" if compare else "")
        line = (f"{label:<{width}} {r['batch']:>5} {r['gflop']:>6.2f} {threads:>7} "
                f"{_ms(r, 'minigan'):>21} {r['minigan_gflops']:>7.1f} "
                f"{100 * r['minigan_fraction_of_matmul']:>3.0f}%")
        if compare:
            line += (f" {_ms(r, 'torch'):>21} {100 * r['torch_fraction_of_matmul']:>3.0f}%"
                     f" {r['ratio']:>5.2f}x")
        line += " " + _fmt(r.get("minigan_mib"), ".0f", 5)
        if compare:
            line += " " + _fmt(r.get("torch_mib"), ".0f", 5)
            line += " " + _fmt(r.get("memory_ratio"), ".2f", 4) + ("x" if "memory_ratio" in r
                                                                    else " ")
        line += f" {r['load_before']:>4.1f}-{r['load_after']:<4.1f}"
        print(line)


def thread_settings(values):
    """The --threads values as thread settings: "all" is every core this process may use, a
    number is that many, "default" is each library's own choice; repeats dropped."""
    out = []
    for v in values:
        v = str(minigan.threads.available_cores() if v == "all" else v)
        if v not in out:
            out.append(v)
    return out


def _thread_value(text):
    if text in ("all", "default") or (text.isdigit() and int(text) > 0):
        return text
    raise argparse.ArgumentTypeError(f"expected a positive integer, 'all' or 'default', "
                                     f"got {text!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=models.names(), choices=models.names())
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=list(BATCH_SIZES))
    parser.add_argument("--device", default="cpu", choices=backend.DEVICES)
    parser.add_argument("--pack", nargs="+", type=int, default=[1],
                        help="D judges packs of this many samples (examples/recipes/pacgan.py); "
                             "several values: a row each")
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help="timed steps per framework and row (the median is reported)")
    parser.add_argument("--threads", nargs="+", type=_thread_value, default=["all"],
                        help="thread settings, a table each: a number, 'all' (every core) or "
                             "'default' (minigan: its scripts' --threads auto; PyTorch: its "
                             "own default)")
    parser.add_argument("--busy", nargs="+", type=int, default=[0],
                        help="run this many CPU-bound competitor processes while measuring "
                             "(several values: a table each)")
    parser.add_argument("--compare", choices=["torch"],
                        help="also time the same architectures in PyTorch, each framework in "
                             "its own process, taking turns")
    parser.add_argument("--no-memory", dest="memory", action="store_false",
                        help="skip the peak-memory measurement")
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    parser.add_argument("--profile", action="store_true",
                        help="instead of the table, cProfile the minigan step of the first "
                             "model and batch size (in this process, at the first --threads) "
                             "and print the functions taking most time")
    parser.add_argument("--child", nargs=4, metavar=("FRAMEWORK", "MODEL", "BATCH", "THREADS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.device == "cuda" and not backend.cuda_available():
        print("skipped: --device cuda needs CuPy and a CUDA GPU, and neither answered here")
        return
    if args.child:
        framework, name, batch, threads = args.child
        child(framework, name, int(batch), threads, args.device, args.pack[0])
        return
    if args.compare == "torch":
        try:
            import torch
        except ImportError:
            print("skipped --compare torch: PyTorch is not installed (it is optional: "
                  "pip install torch)")
            args.compare = None
    if args.profile:
        profile(args.models[0], args.batch_sizes[0], args.device, args.repeats,
                pack=args.pack[0])
        return

    versions = f"NumPy {np.__version__}"
    if args.compare:
        versions += f", PyTorch {torch.__version__}"
    rows = []
    settings = thread_settings(args.threads)
    for busy in args.busy:
        with common.Competitors(busy):
            for batch in args.batch_sizes:
                for name in args.models:
                    for pack in args.pack:
                        for row in bench(name, batch, args.device, args.compare, settings,
                                         args.repeats, args.memory, pack):
                            rows.append(dict(row, busy=busy))
    rows.sort(key=lambda r: (args.busy.index(r["busy"]), settings.index(r["threads"])))
    print(f"device {args.device}, float32, {versions}; {os.cpu_count()} cores; each framework "
          f"in its own process, taking turns; median and quartiles of {args.repeats} steps; "
          f"threads minigan/PyTorch")
    print_table(rows, args.compare)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(dict(device=args.device, dtype="float32", cores=os.cpu_count(),
                           repeats=args.repeats, compare=args.compare, versions=versions,
                           argv=sys.argv[1:], rows=rows), f, indent=2)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
