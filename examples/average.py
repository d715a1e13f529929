"""Average a run's generator over its kept checkpoints: one generator, a longer average than --ema.

    python examples/recipes/swa.py --out out/swa         # keeps ckpt_<step>.npz every 5,000 steps
    python examples/average.py --run out/swa --from 15000 --out out/swa/ckpt_average.npz
    python examples/evaluate.py --checkpoint out/swa/ckpt_average.npz
    python examples/average.py out/swa/ckpt_060000.npz out/swa/ckpt_090000.npz --out avg.npz

examples/mnist.py keeps a moving average of G's weights (--ema), whose warm-up weighs about the
last ninth of the run. This script averages further back, after the fact: the uniform mean,
parameter by parameter, of the kept checkpoints' averaged generators (G_ema), and of their G
too (minigan.averaging.average_state_dicts; stochastic weight averaging), and for a generator
with batch norm the averaged weights' own running statistics from noise
(minigan.averaging.update_bn: an average of the snapshots' statistics does not fit the averaged
weights). The window is chosen afterwards, e.g. by examples/evaluate.py's Parzen score on the
validation images.

--run DIR takes DIR's ckpt_<step>.npz files with --from <= step <= --to (a run keeps them when
its recipe says so, as examples/recipes/swa.py does); or name the checkpoints themselves. They
must come from one run (the same architecture, recipe, latent size and seed). The output is a
checkpoint (minigan.checkpoint) that examples/evaluate.py and examples/sample.py read as any
other (--no-average: the mean of the G's): the last checkpoint's config and step, the averaged
G and G_ema, and the steps averaged. It holds no D or optimiser state, so training cannot resume
from it.
"""

import glob
import os
import re

import minigan
from minigan import averaging, backend, checkpoint, models

from arguments import Parser, fail, first_line, whole

SAME_RUN = ("arch", "recipe", "latent_dim", "num_classes", "seed")  # what must agree
BN_SEED = 0                                              # the noise that batch norm is fit on


def kept_checkpoints(run, first, last):
    """DIR's ckpt_<step>.npz paths with first <= step <= last, in step order."""
    found = []
    for path in glob.glob(os.path.join(run, "ckpt_*.npz")):
        match = re.fullmatch(r"ckpt_(\d+)\.npz", os.path.basename(path))
        if match and first <= int(match.group(1)) <= last:
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def load_all(paths):
    """The generator parts of the checkpoints (step, config, G, G_ema), checked to be of one
    run; sorted by step. D and the optimisers are dropped as each file is read: a long run's
    checkpoints are mostly those."""
    ckpts = []
    for path in paths:
        try:
            run = checkpoint.load(path)
        except FileNotFoundError:
            fail("average.py", f"no checkpoint at {path}")
        except minigan.CheckpointError as e:
            fail("average.py", first_line(e))
        kept = {k: run[k] for k in ("step", "config", "G", "G_ema") if k in run}
        ckpts.append((run["step"], path, kept))
    ckpts.sort(key=lambda c: c[0])
    (_, path0, ckpt0) = ckpts[0]
    for _, path, ckpt in ckpts[1:]:
        differ = {k: (ckpt0["config"].get(k), ckpt["config"].get(k)) for k in SAME_RUN
                  if ckpt0["config"].get(k) != ckpt["config"].get(k)}
        if differ:
            fail("average.py", f"{path0} and {path} come from different runs: {differ}")
    return ckpts


def averaged_networks(averaged, config):
    """The averaged state dicts as networks: ``(G, G_ema or None, batches of noise run)``, with
    the running statistics of their batch norm recomputed for the averaged weights
    (minigan.models.recompute_batch_norm), not the mean of the snapshots' own."""
    networks, fitted = {}, 0
    for key, state in averaged.items():
        G, _ = models.build(config["arch"], config["latent_dim"],
                            num_classes=config.get("num_classes"))
        net = averaging.EMA(G) if key == "G_ema" else G
        net.load_state_dict(state)
        module = net.module if key == "G_ema" else net
        fitted = models.recompute_batch_norm(config["arch"], module, config.get("batch_size"),
                                             config["latent_dim"], backend.rng(BN_SEED))
        networks[key] = net
    return networks["G"], networks.get("G_ema"), fitted


def main(argv=None):
    parser = Parser(prog="average.py", description=__doc__)
    parser.add_argument("checkpoints", nargs="*", help="checkpoints to average (or --run)")
    parser.add_argument("--run", help="a run's --out directory: average its kept checkpoints")
    parser.add_argument("--from", dest="first", type=whole(at_least=0), default=0,
                        help="with --run: the first step to include")
    parser.add_argument("--to", dest="last", type=whole(at_least=0),
                        help="with --run: the last step to include (default: all)")
    parser.add_argument("--out", required=True, help="the averaged checkpoint to write (.npz)")
    args = parser.parse_args(argv)
    if bool(args.run) == bool(args.checkpoints):
        parser.error("give either checkpoints or --run DIR")
    if not args.out.endswith(".npz") or os.path.isdir(args.out):
        parser.error(f"--out {args.out}: must be an .npz file name")
    paths = args.checkpoints
    if args.run:
        if not os.path.isdir(args.run):
            fail("average.py", f"--run {args.run}: no such directory")
        last = float("inf") if args.last is None else args.last
        if last < args.first:
            parser.error(f"--to {args.last} comes before --from {args.first}")
        paths = kept_checkpoints(args.run, args.first, last)
        if not paths:
            fail("average.py", f"no ckpt_<step>.npz in {args.run} with {args.first} <= step <= "
                               f"{last} (a run keeps them only when its recipe says so)")

    ckpts = load_all(paths)
    steps = [step for step, _, _ in ckpts]
    if len(set(steps)) < len(steps):
        fail("average.py", f"some checkpoints share a step ({steps}): one of each, please")
    averaged = {"G": averaging.average_state_dicts([c["G"] for _, _, c in ckpts])}
    with_average = [("G_ema" in c) for _, _, c in ckpts]
    if all(with_average):
        averaged["G_ema"] = averaging.average_state_dicts([c["G_ema"] for _, _, c in ckpts])
    elif any(with_average):
        fail("average.py", "some checkpoints have a moving average of G (G_ema) and some do "
                           "not (trained with --ema 0 in part): average runs of one kind")
    last_ckpt = ckpts[-1][2]
    G, G_ema, fitted = averaged_networks(averaged, last_ckpt["config"])
    try:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        checkpoint.save(args.out, G=G, G_ema=G_ema, step=last_ckpt["step"],
                        config=last_ckpt["config"], averaged_steps=steps)
    except (OSError, checkpoint.NonFiniteError) as e:
        fail("average.py", f"cannot write {args.out}: {getattr(e, 'strerror', None) or e}")
    kind = "G_ema and G" if G_ema is not None else "G (the run kept no average)"
    bn = f", batch norm statistics recomputed from {fitted} batches of noise" if fitted else ""
    print(f"averaged {kind} over {len(steps)} checkpoints, steps {steps[0]:,} to {steps[-1]:,}"
          f"{bn}; wrote {args.out}")
    return args.out


if __name__ == "__main__":
    main()
