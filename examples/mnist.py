"""Train a GAN on MNIST, with the training loop in plain sight.

    python examples/mnist.py                              # the default model on the CPU
    python examples/mnist.py --arch dcgan_bn --steps 5000
    python examples/mnist.py --device cuda                # the same, on an NVIDIA GPU (CuPy)
    python examples/mnist.py --resume                     # continue where --out's run stopped
    python examples/mnist.py --pack 2 --steps 80000       # D judges pairs of samples (PacGAN)
    python examples/mnist.py --arch dcgan_bn --input-dropout 0.2   # D sees 80% of each image

The MNIST files are looked up in --data-dir, then $MINIGAN_DATA, then the download cache
(downloaded there when a network is available). Everything is written into --out:

    samples_000500.png ...   generated digits from one fixed batch of noise, every --sample-every
    samples.png              the latest of those grids
    losses.png               D and G losses, D(x) and D(G(z)) over training
    log.jsonl                one JSON record per --log-every steps
    ckpt.npz                 G, D, both optimisers, G's moving average, the step and the data
                             order (atomic writes)
    ckpt_020000.npz ...      with --keep-every N, the same every N steps, kept

The grids, examples/sample.py and examples/evaluate.py draw from the moving average of G's
weights (--ema, minigan.averaging.EMA): training does not settle on one generator, and the average of
the last thousand or so (the last ninth of the run for goodfellow2014) is a better one than the
latest. An average of a generator with batch norm gets batch norm statistics of its own, from
noise, before it is drawn from or saved (minigan.averaging.update_bn). --ema 0 turns it off.

Ctrl-C saves a checkpoint at the end of the current step and stops; --resume continues exactly
(bit for bit) as if the run had never stopped, with the checkpoint's settings: only --out and
--steps need saying again. --lr, --lr-d, --beta1, --ema, --k, --saturating or --label-smoothing
given with --resume replace the checkpoint's from there on (to lower the learning rate late in a
run, or to start averaging a run trained with --ema 0); --label-smoothing S makes D's target for
real images 1 - S instead of 1 (one-sided label smoothing, minigan.gan). The settings that make
the run (--arch, --seed, --pack, --input-dropout, --batch-size, --latent-dim, --optimizer) cannot
change; how often it logs, draws and saves is kept too unless given.
"""

import argparse
import json
import math
import os
import signal
import sys
import time

import numpy as np

import minigan
from minigan import averaging, backend, gan, models, nn
from minigan.data import mnist
from minigan.plotting import save_image_grid, save_loss_curves
from minigan.progress import Progress

# --- settings ---------------------------------------------------------------------------------
parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--arch", default=None, choices=models.names(),
                    help="architecture from minigan.models (default: mlp, or the checkpoint's on "
                         "--resume)")
parser.add_argument("--steps", type=int, default=15000, help="training steps (D then G update)")
parser.add_argument("--batch-size", type=int, default=None,
                    help="minibatch size (default: the model's, 64 for most, 100 for goodfellow2014)")
parser.add_argument("--optimizer", default=None, choices=["adam", "sgd"],
                    help="switch optimiser (default: the model's own; see minigan.models)")
parser.add_argument("--lr", type=float, default=None,
                    help="learning rate of G and D (default: the model's)")
parser.add_argument("--lr-d", type=float, default=None,
                    help="D's learning rate where it should differ from G's (default: the model's)")
parser.add_argument("--beta1", type=float, default=None, help="Adam's beta1 (default: the model's)")
parser.add_argument("--k", type=int, default=None,
                    help="D updates per G update (Algorithm 1's k; default 1, or the checkpoint's "
                         "on --resume)")
parser.add_argument("--saturating", action=argparse.BooleanOptionalAction, default=None,
                    help="use the minimax G loss log(1 - D(G(z))) instead of -log D(G(z)) "
                         "(default: not, or the checkpoint's on --resume)")
parser.add_argument("--label-smoothing", type=float, default=None,
                    help="one-sided label smoothing: D's target for real images is 1 - this "
                         "(Salimans et al. 2016; default 0, or the checkpoint's on --resume)")
parser.add_argument("--pack", type=int, default=None,
                    help="D judges packs of this many samples, real or generated, at once "
                         "(PacGAN): it sees how often G repeats a kind of digit (default 1)")
parser.add_argument("--input-dropout", type=float, default=None,
                    help="D drops each pixel of its input with this probability in training, as "
                         "goodfellow2014's D does with 0.2 (default 0; goodfellow2014's own "
                         "dropout is part of its D and comes on top)")
parser.add_argument("--ema", type=float, default=None,
                    help="decay of the moving average of G's weights that samples are drawn from "
                         "(default: the model's, 0.999 for most, about the last 1,000 steps; "
                         "0.9999 for goodfellow2014 and the models with a maxout D or an _sn_fc "
                         "one; or the checkpoint's on --resume; 0: no average, sample G)")
parser.add_argument("--latent-dim", type=int, default=None, help="length of z (default 100)")
parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
parser.add_argument("--seed", type=int, default=None, help="default 0")
parser.add_argument("--out", default="out/mnist", help="output directory")
parser.add_argument("--resume", action="store_true", help="continue from --out/ckpt.npz")
parser.add_argument("--data-dir", default=None, help="directory with the MNIST *-ubyte(.gz) files")
parser.add_argument("--log-every", type=int, default=None,
                    help="steps between log records (default 100)")
parser.add_argument("--sample-every", type=int, default=None,
                    help="steps between sample grids (default 1000)")
parser.add_argument("--checkpoint-every", type=int, default=None,
                    help="steps between checkpoints (default 2000)")
parser.add_argument("--keep-every", type=int, default=None,
                    help="also keep the checkpoint of every this many steps as ckpt_<step>.npz, "
                         "to evaluate a long run along its way (default 0: only the latest)")
args = parser.parse_args()
for flag in ("log_every", "sample_every", "checkpoint_every"):
    if getattr(args, flag) is not None and getattr(args, flag) < 1:
        parser.error(f"--{flag.replace('_', '-')} must be a positive number of steps, "
                     f"got {getattr(args, flag)}")
if args.keep_every is not None and args.keep_every < 0:
    parser.error(f"--keep-every must be 0 (off) or a number of steps, got {args.keep_every}")
if args.ema is not None and not 0 <= args.ema < 1:
    parser.error(f"--ema must lie in [0, 1), got {args.ema}")
if args.input_dropout is not None and not 0 <= args.input_dropout < 1:
    parser.error(f"--input-dropout must lie in [0, 1), got {args.input_dropout}")
if args.label_smoothing is not None and not 0 <= args.label_smoothing < 1:
    parser.error(f"--label-smoothing must lie in [0, 1), got {args.label_smoothing}")
if args.k is not None and args.k < 1:
    parser.error(f"--k must be at least 1, got {args.k}")

os.makedirs(args.out, exist_ok=True)
ckpt_path = os.path.join(args.out, "ckpt.npz")
log_path = os.path.join(args.out, "log.jsonl")
device = backend.check_device(args.device)

# What makes a run the run it is: --resume takes these from the checkpoint, and refuses one given
# that differs (that would be another run, not this one continued). None: the model's own.
RUN = {"arch": "mlp", "latent_dim": 100, "seed": 0, "pack": 1, "input_dropout": 0.0,
       "batch_size": None, "optimizer": None}
# How it trains and what it writes: --resume keeps the checkpoint's unless told otherwise (as it
# does --lr and --ema).
KEPT = {"k": 1, "saturating": False, "label_smoothing": 0.0, "log_every": 100,
        "sample_every": 1000, "checkpoint_every": 2000, "keep_every": 0}
ckpt = None
if args.resume:
    if not os.path.exists(ckpt_path):
        sys.exit(f"--resume: no checkpoint at {ckpt_path}")
    ckpt = minigan.load(ckpt_path, device=device)
    before = {**RUN, **KEPT, **ckpt["config"]}          # runs from before a setting: its default
    changed = {name: (before[name], getattr(args, name)) for name in RUN
               if getattr(args, name) is not None and getattr(args, name) != before[name]}
    if changed:
        sys.exit(f"--resume: the checkpoint was trained with other settings: {changed} "
                 f"(the checkpoint's, then the command line's)")
    for name in (*RUN, *KEPT):
        if getattr(args, name) is None:
            setattr(args, name, before[name])
for name, default in {**RUN, **KEPT}.items():
    if getattr(args, name) is None:
        setattr(args, name, default)
spec = models.SPECS[args.arch]
if args.batch_size is None:
    args.batch_size = spec.batch_size
if args.pack < 1 or args.batch_size % args.pack:
    parser.error(f"--pack must be a positive divisor of the batch size {args.batch_size}, "
                 f"got {args.pack}")


def step_seed(*parts):
    """One int from (run seed, step, ...): random streams a resumed run can recreate exactly."""
    return int(np.random.SeedSequence([args.seed, *parts]).generate_state(1)[0])


# --- data -------------------------------------------------------------------------------------
images, _ = mnist.load_mnist("train", data_dir=args.data_dir)       # (60000, 28, 28) uint8
# train[50000:60000] is held out, as in Goodfellow et al. 2014: examples/evaluate.py chooses the
# Parzen window on it and scores real images from it as the ceiling for the generated ones.
x_train = mnist.scale(images[:50000], spec.data_range, device=device)  # (50000, 1, 28, 28)
batches = mnist.Batches(x_train, batch_size=args.batch_size, seed=args.seed)

# --- models and optimisers ----------------------------------------------------------------------
G, D = models.build(args.arch, args.latent_dim, seed=args.seed, device=device,
                    data=x_train, pack=args.pack,            # some start G's bias from the data
                    input_dropout=args.input_dropout)
opt_G, opt_D = models.make_optimizers(args.arch, G, D, optimizer=args.optimizer, lr=args.lr,
                                      lr_d=args.lr_d,
                                      betas=None if args.beta1 is None else (args.beta1, 0.999))
ema = averaging.EMA(G, decay=args.ema or spec.ema) if args.ema != 0 else None  # G's weights, averaged
fixed_z = models.sample_noise(args.arch, 64, args.latent_dim, backend.rng(step_seed(0, 0), device),
                              device)                              # (64, latent_dim)
config = {k: v for k, v in vars(args).items() if k not in ("resume", "out", "data_dir")}
# Plot titles: with --pack, D's loss and D(x), D(G(z)) are per pack of samples, not per image.
run_name = args.arch if args.pack == 1 else f"{args.arch}, D judges packs of {args.pack}"

step, records = 0, []
if args.resume:
    G.load_state_dict(ckpt["G"])
    D.load_state_dict(ckpt["D"])
    asked = [{h: getattr(opt, h) for h in opt.hyperparameters} for opt in (opt_G, opt_D)]
    opt_G.load_state_dict(ckpt["opt_G"])                           # moments, steps, and the
    opt_D.load_state_dict(ckpt["opt_D"])                           # checkpoint's learning rates
    batches.load_state_dict(ckpt["batches"])
    step = ckpt["step"]
    if os.path.exists(log_path):  # keep the log records the checkpoint has seen
        with open(log_path) as f:
            records = [r for r in map(json.loads, f) if r["step"] <= step]
    print(f"resumed from {ckpt_path} at step {step}")
    if any(v is not None for v in (args.lr, args.lr_d, args.beta1)):
        for opt, hparams in zip((opt_G, opt_D), asked):            # unless told otherwise now
            for name, value in hparams.items():
                setattr(opt, name, value)
        print(f"learning rates from the command line: G {opt_G.lr:g}, D {opt_D.lr:g}")
    if args.ema is None and ckpt["config"].get("ema") == 0:
        ema = None                                                 # trained with --ema 0: kept off
    if ema is not None and "G_ema" in ckpt:
        ema.load_state_dict(ckpt["G_ema"])                         # with the checkpoint's decay,
        if args.ema is not None and args.ema != ema.decay:         # unless told otherwise now
            ema.decay = args.ema
            print(f"decay of the average from the command line: {ema.decay:g}")
    elif ema is not None:
        print("the checkpoint has no average of G's weights: it starts here, from G")
config["ema"] = 0.0 if ema is None else ema.decay


def fit_average():
    """Batch norm statistics of the average's own (minigan.averaging.update_bn), before it is drawn
    from or saved: EMA.update copies G's, which belong to G's weights, not to the lagging
    average's. Its noise has a stream of its own, so training, and a resumed run, are unchanged."""
    global average_fitted_at
    if ema is not None and average_fitted_at != step:
        models.recompute_batch_norm(args.arch, ema.module, args.batch_size, args.latent_dim,
                                    backend.rng(step_seed(step, 3), device), device)
        average_fitted_at = step


average_fitted_at = None


def keep_step():
    return args.keep_every and step % args.keep_every == 0


def save_checkpoint():
    fit_average()
    average = {} if ema is None else {"G_ema": ema}
    paths = [ckpt_path] + ([os.path.join(args.out, f"ckpt_{step:06d}.npz")] if keep_step() else [])
    for path in paths:
        minigan.save(path, G=G, D=D, opt_G=opt_G, opt_D=opt_D, step=step,
                     batches=batches.state_dict(), config=config, **average)


def save_samples():
    fit_average()
    sampler = G if ema is None else ema.module
    sampler.eval()  # batch norm on its running statistics
    with minigan.no_grad():
        fake = sampler(fixed_z)                                    # (64, 1, 28, 28)
    G.train()
    title = f"{run_name}, step {step}" + ("" if ema is None else " (averaged G)")
    save_image_grid(fake, os.path.join(args.out, f"samples_{step:06d}.png"),
                    value_range=spec.data_range, title=title)
    save_image_grid(fake, os.path.join(args.out, "samples.png"), value_range=spec.data_range,
                    title=title)
    return float(fake.data.mean())


def real_batches():
    while True:  # epoch after epoch
        yield from batches


# Ctrl-C finishes the current step, saves, and stops (a second Ctrl-C stops at once).
stop_requested = False


def request_stop(signum, frame):
    global stop_requested
    if stop_requested:
        raise KeyboardInterrupt
    stop_requested = True
    print("\nstopping after this step (Ctrl-C again to quit without saving)", file=sys.stderr)


signal.signal(signal.SIGINT, request_stop)

# --- training loop ------------------------------------------------------------------------------
print(f"training {args.arch} on {device}: G {models.parameter_count(G):,} and "
      f"D {models.parameter_count(D):,} parameters, {args.steps} steps of batch {args.batch_size}")
G.train(), D.train()
data = real_batches()
bar = Progress(total=args.steps, start=step)
collapse_warned = False
log_file = open(log_path, "w")
for r in records:
    log_file.write(json.dumps(r) + "\n")
t0 = time.perf_counter() - (records[-1]["time"] if records else 0.0)  # seconds, across resumes

while step < args.steps and not stop_requested:
    nn.init.manual_seed(step_seed(step, 1))                       # dropout masks of this step
    noise = backend.rng(step_seed(step, 2), device)               # z for each update of this step
    result = gan.train_step(
        G, D, opt_G, opt_D,
        real=[minigan.tensor(next(data)) for _ in range(args.k)],  # k batches (N, 1, 28, 28)
        z=lambda: models.sample_noise(args.arch, args.batch_size, args.latent_dim, noise, device),
        k=args.k, saturating=args.saturating, label_smoothing=args.label_smoothing)
    if ema is not None:
        ema.update()
    step += 1

    if step % args.log_every == 0 or step == args.steps:
        # The one host synchronisation of the loop: four scalars every --log-every steps.
        record = {"step": step, "time": round(time.perf_counter() - t0, 3),
                  "loss_d": float(result.d_loss), "loss_g": float(result.g_loss),
                  "d_real": float(result.d_real), "d_fake": float(result.d_fake)}
        if not all(math.isfinite(record[k]) for k in ("loss_d", "loss_g")):
            bar.close()
            where = (f"the last good checkpoint is {ckpt_path}"
                     if os.path.exists(ckpt_path) else "no checkpoint was written yet")
            sys.exit(f"training diverged at step {step}: loss_d={record['loss_d']}, "
                     f"loss_g={record['loss_g']}; stopping without saving ({where}). "
                     f"Try a lower --lr.")
        records.append(record)
        log_file.write(json.dumps(record) + "\n")
        log_file.flush()
        bar.update(step, loss_d=record["loss_d"], loss_g=record["loss_g"],
                   **{"D(x)": record["d_real"], "D(G(z))": record["d_fake"]})

    if step % args.sample_every == 0 or step == args.steps:
        mean_pixel = save_samples()
        save_loss_curves(records, os.path.join(args.out, "losses.png"), title=run_name)
        low = spec.data_range[0]
        if (not collapse_warned and records and records[-1]["d_fake"] < 0.01
                and mean_pixel < low + 0.05 * (spec.data_range[1] - low)):
            collapse_warned = True
            print(f"\nwarning: collapse at step {step}: D(G(z)) = {records[-1]['d_fake']:.4f} and "
                  f"G's samples are all at {low:g} (blank). D won early and G gets no useful "
                  f"gradient: {args.arch} has no normalisation in G (docs/models.md explains why; "
                  f"--arch dcgan_tf adds the batch norm back).", file=sys.stderr)

    if step % args.checkpoint_every == 0 or keep_step() or step == args.steps or stop_requested:
        save_checkpoint()

bar.close()
log_file.close()
elapsed = time.perf_counter() - t0
print(f"{'stopped' if stop_requested else 'done'} at step {step} in {elapsed:.0f} s; "
      f"samples in {os.path.join(args.out, 'samples.png')}, checkpoint {ckpt_path}")
