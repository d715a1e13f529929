"""How fast are minigan's convolutions? Forward + backward of every conv layer of a DCGAN for
28x28 MNIST, against the float32 matrix-multiply rate of the same machine.

    python benchmarks/conv.py                      # CPU, batch 64, float32
    OPENBLAS_NUM_THREADS=1 python benchmarks/conv.py   # one core (fairer on a busy machine)
    python benchmarks/conv.py --device cuda        # on the GPU (needs CuPy)
    python benchmarks/conv.py --json conv.json     # also write the results as JSON

Each layer is timed as forward (y = op(x, w, b)) and backward (y.backward(g): gradients for
x, w and b), median of --repeats runs after a warm-up. FLOPs are those of the multiply-adds:
conv2d forward 2*N*OH*OW*C_out*C_in*KH*KW, conv_transpose2d forward 2*N*H*W*C_in*C_out*KH*KW
(per *input* pixel), backward twice the forward (input gradient and weight gradient). The rate
is compared with np.matmul (or cupy.matmul) on square float32 matrices, timed in turn with the
layer's runs so that both see the same machine load: "% matmul" is how close
im2col + GEMM + col2im gets to the machine's own GEMM.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np

import minigan
import minigan.functional as F
from minigan import backend

# --- settings --------------------------------------------------------------------------------
# (name, op, C_in, C_out, kernel, stride, input size); padding "same" everywhere (Keras' DCGAN).
LAYERS = [
    ("G convT 256->128 s1  7->7", "convT", 256, 128, 5, 1, 7),
    ("G convT 128->64  s2  7->14", "convT", 128, 64, 5, 2, 7),
    ("G convT 64->1    s2 14->28", "convT", 64, 1, 5, 2, 14),
    ("D conv  1->64    s2 28->14", "conv", 1, 64, 5, 2, 28),
    ("D conv  64->128  s2 14->7", "conv", 64, 128, 5, 2, 14),
]
MATMUL_SIZE = 1024  # the reference GEMM: (1024 x 1024) @ (1024 x 1024), float32, 2.1 GFLOP


def synchronize(device):
    if device == "cuda":
        backend.xp_for("cuda").cuda.Device().synchronize()


def median_seconds(fns, device, repeats):
    """The median time of each of ``fns``, run in turn ``repeats`` times (after a warm-up)."""
    times = [[] for _ in fns]
    for i in range(repeats + 1):
        for fn, ts in zip(fns, times):
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            if i:  # the first round warms up the allocator, BLAS threads, CUDA kernels
                ts.append(time.perf_counter() - start)
    return [statistics.median(ts) for ts in times]


# --- the reference: float32 matmul ------------------------------------------------------------
def matmul_reference(device):
    """A function doing one square float32 GEMM, and its FLOP count."""
    gen = backend.rng(0, device)
    a = gen.standard_normal((MATMUL_SIZE, MATMUL_SIZE), dtype=np.float32)
    b = gen.standard_normal((MATMUL_SIZE, MATMUL_SIZE), dtype=np.float32)
    xp = backend.xp_for(device)
    return (lambda: xp.matmul(a, b)), 2 * MATMUL_SIZE ** 3


# --- one layer ------------------------------------------------------------------------------
def bench_layer(name, kind, c_in, c_out, k, stride, size, batch, device, repeats):
    gen = backend.rng(0, device)

    def param(*shape):
        return minigan.tensor(gen.standard_normal(shape, dtype=np.float32) * 0.05,
                              requires_grad=True, device=device)

    x = param(batch, c_in, size, size)
    if kind == "conv":
        w, op = param(c_out, c_in, k, k), F.conv2d
    else:
        w, op = param(c_in, c_out, k, k), F.conv_transpose2d
    b = param(c_out)
    y = op(x, w, b, stride=stride, padding="same")
    g = gen.standard_normal(y.shape, dtype=np.float32)
    pixels = y.shape[2] * y.shape[3] if kind == "conv" else size * size
    flops_forward = 2 * batch * pixels * c_out * c_in * k * k

    def forward():
        return op(x, w, b, stride=stride, padding="same")

    def forward_backward():
        for t in (x, w, b):
            t.grad = None
        forward().backward(g)

    matmul, matmul_flops = matmul_reference(device)
    t_matmul, t_forward, t_total = median_seconds([matmul, forward, forward_backward], device,
                                                  repeats)
    gflops, reference = 3 * flops_forward / t_total / 1e9, matmul_flops / t_matmul / 1e9
    return dict(layer=name, input=list(x.shape), output=list(y.shape),
                forward_ms=1e3 * t_forward, backward_ms=1e3 * (t_total - t_forward),
                total_ms=1e3 * t_total, gflop=3 * flops_forward / 1e9, gflops=gflops,
                matmul_gflops=reference, fraction_of_matmul=gflops / reference)


# --- main -------------------------------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", choices=backend.DEVICES)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per measurement")
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    args = parser.parse_args()
    backend.check_device(args.device)

    rows = [bench_layer(*layer, args.batch, args.device, args.repeats) for layer in LAYERS]

    threads = os.environ.get("OPENBLAS_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "default"))
    print(f"device {args.device}, batch {args.batch}, float32, padding 'same', 5x5 kernels; "
          f"median of {args.repeats} runs; BLAS threads: {threads}")
    print(f"matmul: {MATMUL_SIZE}^3 float32 np.matmul, timed in turn with each layer\n")
    header = (f"{'layer':<28} {'output':>16} {'fwd ms':>8} {'bwd ms':>8} {'total ms':>9} "
              f"{'GFLOP':>6} {'GFLOP/s':>8} {'matmul':>7} {'% matmul':>9}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['layer']:<28} {str(tuple(r['output'])):>16} {r['forward_ms']:>8.2f} "
              f"{r['backward_ms']:>8.2f} {r['total_ms']:>9.2f} {r['gflop']:>6.2f} "
              f"{r['gflops']:>8.1f} {r['matmul_gflops']:>7.1f} "
              f"{100 * r['fraction_of_matmul']:>8.0f}%")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device=args.device, batch=args.batch, dtype="float32",
                           blas_threads=threads, matmul_size=MATMUL_SIZE, layers=rows),
                      f, indent=2)
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
