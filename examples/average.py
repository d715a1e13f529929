"""Average a run's generator over its kept checkpoints: one generator, a longer average than --ema.

    python examples/mnist.py --arch goodfellow2014 --out out/gf --steps 90000 --keep-every 5000
    python examples/average.py --run out/gf --from 15000 --out out/gf/ckpt_average.npz
    python examples/evaluate.py --checkpoint out/gf/ckpt_average.npz
    python examples/average.py out/gf/ckpt_060000.npz out/gf/ckpt_090000.npz --out avg.npz

examples/mnist.py keeps a moving average of G's weights (--ema), whose warm-up weighs about the
last ninth of the run. This script averages further back, after the fact: the uniform mean,
parameter by parameter, of the kept checkpoints' averaged generators (G_ema), and of their G
too (minigan.averaging.average_state_dicts; stochastic weight averaging), and for a generator with
batch norm the averaged weights' own running statistics from noise (minigan.averaging.update_bn: an
average of the snapshots' statistics does not fit the averaged weights). The window is chosen
afterwards, e.g. by examples/evaluate.py's Parzen score on the validation images. For
goodfellow2014 it is worth more than a longer run (docs/results.md).

--run DIR takes DIR's ckpt_<step>.npz files with --from <= step <= --to (written by mnist.py
--keep-every); or name the checkpoints themselves. They must come from one run (the same
architecture, latent size, seed and --pack). The output is a checkpoint that
examples/evaluate.py and examples/sample.py read as any other (--no-average: the mean of the
G's): the last checkpoint's config and step, the averaged G and G_ema, and the steps averaged.
It holds no D or optimiser state, so training cannot resume from it.
"""

import argparse
import glob
import os
import re
import sys

import minigan
from minigan import averaging, backend, models

SAME_RUN = ("arch", "latent_dim", "seed", "pack")          # what must agree across checkpoints
BN_SEED = 0                                                # the noise that batch norm is fit on


def kept_checkpoints(run, first, last):
    """DIR's ckpt_<step>.npz paths with first <= step <= last, in step order."""
    found = []
    for path in glob.glob(os.path.join(run, "ckpt_*.npz")):
        match = re.fullmatch(r"ckpt_(\d+)\.npz", os.path.basename(path))
        if match and first <= int(match.group(1)) <= last:
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def load_all(paths):
    """The generator parts of the checkpoints (step, config, G, G_ema), checked to be
    examples/mnist.py's and of one run; sorted by step. D and the optimisers are dropped as each
    file is read: a long run's checkpoints are mostly those."""
    ckpts = []
    for path in paths:
        try:
            ckpt = minigan.load(path)
        except (minigan.CheckpointError, FileNotFoundError) as e:
            sys.exit(f"average.py: {e}")
        config = ckpt.get("config") or {}
        if "G" not in ckpt or "arch" not in config or "step" not in ckpt:
            sys.exit(f"average.py: {path} is not a checkpoint of examples/mnist.py (it needs 'G', "
                     f"'step' and a config with 'arch')")
        kept = {k: ckpt[k] for k in ("step", "config", "G", "G_ema") if k in ckpt}
        ckpts.append((ckpt["step"], path, kept))
    ckpts.sort(key=lambda c: c[0])
    (_, path0, ckpt0) = ckpts[0]
    for _, path, ckpt in ckpts[1:]:
        differ = {k: (ckpt0["config"].get(k), ckpt["config"].get(k)) for k in SAME_RUN
                  if ckpt0["config"].get(k) != ckpt["config"].get(k)}
        if differ:
            sys.exit(f"average.py: {path0} and {path} come from different runs: {differ}")
    return ckpts


def fit_batch_norm(averaged, config):
    """Replace the averaged running statistics of batch norm (a mean of the snapshots' own) with
    the averaged weights' (minigan.models.recompute_batch_norm), in place. Returns the number of
    batches of noise run, 0 for a generator without batch norm."""
    G, _ = models.build(config["arch"], config["latent_dim"])
    fitted = 0
    for key in averaged:
        net = averaging.EMA(G) if key == "G_ema" else G
        net.load_state_dict(averaged[key])
        module = net.module if key == "G_ema" else net
        fitted = models.recompute_batch_norm(config["arch"], module, config.get("batch_size"),
                                             config["latent_dim"], backend.rng(BN_SEED))
        averaged[key] = net.state_dict()
    return fitted


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="*", help="checkpoints to average (or --run)")
    parser.add_argument("--run", help="a run's --out directory: average its kept checkpoints")
    parser.add_argument("--from", dest="first", type=int, default=0,
                        help="with --run: the first step to include (default: all)")
    parser.add_argument("--to", dest="last", type=int, default=None,
                        help="with --run: the last step to include (default: all)")
    parser.add_argument("--out", required=True, help="the averaged checkpoint to write (.npz)")
    args = parser.parse_args(argv)
    if bool(args.run) == bool(args.checkpoints):
        parser.error("give either checkpoints or --run DIR")
    paths = args.checkpoints
    if args.run:
        last = float("inf") if args.last is None else args.last
        paths = kept_checkpoints(args.run, args.first, last)
        if not paths:
            parser.error(f"no ckpt_<step>.npz in {args.run} with {args.first} <= step <= {last} "
                         f"(were they kept with mnist.py --keep-every?)")

    ckpts = load_all(paths)
    steps = [step for step, _, _ in ckpts]
    if len(set(steps)) < len(steps):
        sys.exit(f"average.py: some checkpoints share a step ({steps}): one of each, please")
    averaged = {"G": averaging.average_state_dicts([c["G"] for _, _, c in ckpts])}
    with_average = [("G_ema" in c) for _, _, c in ckpts]
    if all(with_average):
        averaged["G_ema"] = averaging.average_state_dicts([c["G_ema"] for _, _, c in ckpts])
    elif any(with_average):
        sys.exit("average.py: some checkpoints have a moving average of G (G_ema) and some do "
                 "not (trained with --ema 0 in part): average runs of one kind")
    last_ckpt = ckpts[-1][2]
    fitted = fit_batch_norm(averaged, last_ckpt["config"])
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    minigan.save(args.out, **averaged, step=last_ckpt["step"], config=last_ckpt["config"],
                 averaged_steps=steps)
    kind = "G_ema and G" if "G_ema" in averaged else "G (the run kept no average)"
    bn = f", batch norm statistics recomputed from {fitted} batches of noise" if fitted else ""
    print(f"averaged {kind} over {len(steps)} checkpoints, steps {steps[0]:,} to {steps[-1]:,}"
          f"{bn}; wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
