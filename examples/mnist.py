"""Train a GAN on MNIST, with the training loop in plain sight.

    python examples/mnist.py                                  # mlp for 15,000 steps on the CPU
    python examples/mnist.py --arch dcgan_bn --steps 5000     # another preset of minigan.models
    python examples/mnist.py --device cuda                    # the same on an NVIDIA GPU (CuPy)
    python examples/mnist.py --resume --steps 30000           # go on with the run in --out
    python examples/mnist.py --resume --steps 40000 --lr 1e-4 # ... at a lower learning rate
    python examples/mnist.py --conditional                    # G draws the digit asked for
    python examples/mnist.py --loss wasserstein               # WGAN, with the paper's settings

The MNIST files are looked up in --data-dir, then $MINIGAN_DATA, then the download cache
(downloaded there when a network is available). Everything is written into --out:

    samples_000500.png ...  digits generated from one fixed batch of noise, every --sample-every
                            (--conditional: one row per digit, 0 to 9, the same noise down
                            each column)
    samples.png             the latest of those grids
    losses.png              D's and G's losses, D(x) and D(G(z)) over training
    log.jsonl               one JSON record every --log-every steps
    ckpt.npz                the run's checkpoint (minigan.checkpoint, docs/checkpoints.md)

The grids, examples/sample.py and examples/evaluate.py draw from a moving average of G's weights
(--ema, minigan.averaging.EMA), a better generator than the latest G; --ema 0 keeps none.

--loss picks the objective of minigan.gan (docs/derivations/gan_family.md) and, unless given,
its paper's optimiser settings (PAPER_SETTINGS below): lsgan Adam 2e-4, beta1 0.5 for both
networks; wasserstein RMSprop 5e-5, D's weights clipped to [-0.01, 0.01], k = 5; gan and hinge
the preset's. Under any loss but gan, D outputs a raw score, not a logit: the log's and the
plots' D(x) and D(G(z)) are then the mean scores, not probabilities.

A run is never replaced unasked: an --out that holds one is refused unless --resume (go on with
it) or --overwrite (delete its files and start again). Ctrl-C saves at the end of the step and
stops. Training that goes NaN stops with a message and keeps its last good checkpoint.

--resume goes on bit for bit as if the run had never stopped (at a fixed --threads N: two BLAS
threads round differently from one), with the checkpoint's settings (up to its --steps). Only
these may be given anew: --steps, the learning rates (--lr, --lr-d; --lr alone sets both), the
average's decay (--ema; on a run without an average it starts one from G), --threads and how
often the run logs, draws and saves. Any other setting given with --resume must be the
checkpoint's.

Recipes (examples/recipes/) train a preset's G against another D, or with other settings, by
calling main() below; they take the same flags.
"""

import argparse
import glob
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field

import numpy as np

import minigan
import minigan.functional as F
from minigan import backend, checkpoint, gan, models, nn
from minigan.averaging import EMA
from minigan.data import mnist
from minigan.plotting import save_image_grid, save_loss_curves
from minigan.progress import Progress

import arguments
from arguments import Parser, fail, first_line, number, whole

LATENT_DIM = 100          # the length of z
TRAIN_IMAGES = 50000      # train[0:50000]; train[50000:60000] is held out for examples/evaluate.py
# What --resume may change; every other setting makes the run what it is.
CHANGEABLE = ("steps", "lr", "lr_d", "ema", "log_every", "sample_every", "checkpoint_every")
# What checkpoints from before these settings existed were trained with.
UNRECORDED_BEFORE = {"loss": "gan", "conditional": False, "weight_clip": 0.0}
NUM_CLASSES = 10          # the digits, for --conditional
# Each loss's optimiser settings from its paper, over the preset's (and a recipe's); what is
# given on the command line wins. gan: the preset's (tuned for it); hinge: the preset's Adam,
# as the hinge loss's papers train with Adam at settings that vary by paper.
PAPER_SETTINGS = {
    "gan": {},
    "lsgan": dict(lr=2e-4, lr_d=2e-4, beta1=0.5),                     # Mao et al. 2017
    "hinge": {},
    "wasserstein": dict(lr=5e-5, lr_d=5e-5, beta1=None, k=5, weight_clip=0.01),  # Arjovsky
}                                                                     # et al. 2017, RMSprop
# Where and how the script runs, not settings of the run: never recorded, never compared.
NOT_RECORDED = ("device", "threads", "out", "data_dir", "resume", "overwrite")
# The files a run writes into --out (what --overwrite deletes).
RUN_FILES = ("ckpt.npz", "ckpt_*.npz", "log.jsonl", "samples*.png", "losses.png")
# Temporary files of a save that was killed (minigan.save and the log's rewrite leave them).
STALE = (".ckpt*.npz.*.tmp", ".log.jsonl.*.tmp")


@dataclass(frozen=True)
class Recipe:
    """What a recipe (a file in examples/recipes/) changes: D, how D starts, and the defaults."""
    name: str                      # the recipe's file name, recorded in the checkpoint
    arch: str                      # the preset whose G it trains (--arch chooses another)
    discriminator: object = None   # arch -> a new D, in place of the preset's (None: the preset's)
    d_init: str = None             # how that D's weights start (None: as the preset's D)
    settings: dict = field(default_factory=dict)  # its defaults, e.g. {"lr": 4e-4}
    batch_multiple: int = 1        # the batch size must be a multiple of this (a D that packs)
    doc: str = ""                  # the recipe's docstring, for --help


# --- settings -------------------------------------------------------------------------------------
def make_parser(recipe=None):
    """The command line: one line per setting. None as a default: the preset's own."""
    p = Parser(prog=f"{recipe.name}.py" if recipe else "mnist.py",
               description=recipe.doc if recipe else __doc__)
    p.add_argument("--arch", default=recipe.arch if recipe else "mlp", choices=models.names(),
                   help="the preset (minigan.models) whose G and D are trained")
    p.add_argument("--steps", type=whole(at_least=1), default=15000,
                   help="training steps, each k updates of D and one of G")
    p.add_argument("--batch-size", type=whole(at_least=1),
                   help="images per batch (default: the preset's)")
    p.add_argument("--lr", type=number(above=0),
                   help="the learning rate for G, and for D unless --lr-d is given (default: "
                        "the preset's; 2e-4 for --loss lsgan, 5e-5 for wasserstein)")
    p.add_argument("--lr-d", type=number(above=0),
                   help="D's learning rate (default: as --lr)")
    p.add_argument("--beta1", type=number(at_least=0, below=1),
                   help="Adam's beta1 for both networks (default: the preset's; 0.5 for --loss "
                        "lsgan; --loss wasserstein trains with RMSprop, which has none)")
    p.add_argument("--loss", default="gan", choices=gan.LOSSES,
                   help="the GAN objective (minigan.gan), with its paper's optimiser settings "
                        "unless given")
    p.add_argument("--conditional", action=argparse.BooleanOptionalAction, default=False,
                   help="train G and D on the digits' labels (Mirza & Osindero 2014): G draws "
                        "the digit it is asked for")
    p.add_argument("--k", type=whole(at_least=1),
                   help="D updates per G update (Algorithm 1's k; default: 1, 5 for --loss "
                        "wasserstein)")
    p.add_argument("--weight-clip", type=number(at_least=0),
                   help="clip D's weights to [-C, C] after each of its updates, as WGAN does; 0: "
                        "none (default: 0.01 for --loss wasserstein, else 0)")
    p.add_argument("--saturating", action=argparse.BooleanOptionalAction, default=False,
                   help="G minimises log(1 - D(G(z))), the minimax loss, instead of "
                        "-log D(G(z))")
    p.add_argument("--label-smoothing", type=number(at_least=0, below=1), default=0.0,
                   help="one-sided label smoothing: D's target for real images is 1 minus this")
    p.add_argument("--ema", type=number(at_least=0, below=1),
                   help="decay of the moving average of G's weights that samples are drawn "
                        "from; 0: none (default: the preset's)")
    p.add_argument("--seed", type=whole(at_least=0), default=0,
                   help="seeds the weights, the data order and every random draw")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="where to train: the CPU, or an NVIDIA GPU through CuPy")
    arguments.add_threads(p)
    p.add_argument("--out", default="out/mnist", help="the run's directory")
    p.add_argument("--resume", action="store_true", help="go on with the run in --out")
    p.add_argument("--overwrite", action="store_true",
                   help="delete the run in --out and start a new one")
    p.add_argument("--data-dir", help="directory of the MNIST *-ubyte(.gz) files (default: "
                                      "$MINIGAN_DATA, then the download cache)")
    p.add_argument("--log-every", type=whole(at_least=1), default=100,
                   help="steps between log records")
    p.add_argument("--sample-every", type=whole(at_least=1), default=1000,
                   help="steps between sample grids")
    p.add_argument("--checkpoint-every", type=whole(at_least=1), default=2000,
                   help="steps between checkpoints")
    p.set_defaults(keep_every=0)   # not a flag: examples/recipes/swa.py sets it
    if recipe:
        p.set_defaults(**recipe.settings)
    return p


UNSET = object()


def parse_settings(argv, recipe):
    """``(settings, given)``: every setting of a new run, and those given on the command line."""
    parser = make_parser(recipe)
    # The defaults, with the recipe's (parse_known_args: parse_args reads the command line once,
    # below, where tests/test_doc_commands.py checks every documented command).
    settings = vars(parser.parse_known_args([])[0])
    # argparse fills in a default only where the namespace has no value yet, so whatever is
    # still UNSET after parsing was not given.
    given = vars(parser.parse_args(argv, argparse.Namespace(**dict.fromkeys(settings, UNSET))))
    given = {name: value for name, value in given.items() if value is not UNSET}
    spec = models.SPECS[given.get("arch", settings["arch"])]
    preset = {"batch_size": spec.batch_size, "lr": spec.optimizer["lr"], "ema": spec.ema,
              "lr_d": spec.optimizer.get("lr_d", spec.optimizer["lr"]),
              "beta1": spec.optimizer["betas"][0], "k": 1, "weight_clip": 0.0}
    settings.update({k: v for k, v in preset.items() if settings[k] is None})
    settings.update(PAPER_SETTINGS[given.get("loss", settings["loss"])])
    if "lr" in given and "lr_d" not in given:
        given["lr_d"] = given["lr"]                             # --lr alone: both networks'
    return {**settings, **given}, given


def resumed_settings(settings, given, run, me, out):
    """The checkpoint's settings, with those given now that may change; others must agree."""
    config = run["config"]
    if config["latent_dim"] != LATENT_DIM:
        fail(me, f"--resume: {out}'s run has latent_dim {config['latent_dim']}; this script "
                 f"trains with {LATENT_DIM}")
    before = {**settings, **UNRECORDED_BEFORE,
              **{k: v for k, v in config.items()
                 if k in settings and k not in NOT_RECORDED and v is not None}}
    optimizer = optimizer_name(before["loss"])
    for opt in ("opt_G", "opt_D"):
        if run[opt].get("optimizer") != optimizer:
            fail(me, f"--resume: {out}'s run trained with {run[opt].get('optimizer')}, not "
                     f"{optimizer}")
    # The optimisers and the average hold the rates and the decay they trained with.
    before.update(lr=run["opt_G"]["hparams.lr"], lr_d=run["opt_D"]["hparams.lr"],
                  beta1=run["opt_G"]["hparams.betas"][0] if optimizer == "Adam" else None,
                  ema=run["G_ema"]["decay"] if "G_ema" in run else 0.0)
    fixed = [f"--{name.replace('_', '-')} {before[name]}" for name, value in given.items()
             if name not in CHANGEABLE + NOT_RECORDED and value != before[name]]
    if fixed:
        fail(me, f"--resume: the run in {out} was trained with {', '.join(fixed)}; only "
                 f"{', '.join('--' + n.replace('_', '-') for n in CHANGEABLE)} may change")
    return {**before, **{k: v for k, v in given.items() if k in CHANGEABLE + NOT_RECORDED}}


def optimizer_name(loss):
    """The optimiser a run of ``loss`` trains with: RMSprop for WGAN, else Adam (the presets')."""
    return "RMSprop" if loss == "wasserstein" else "Adam"


def run_files(out):
    return sorted({path for pattern in RUN_FILES for path in glob.glob(os.path.join(out, pattern))})


def step_seed(seed, *parts):
    """One int from (run seed, step, ...): random streams a resumed run can recreate exactly."""
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1)[0])


class StopRequest:
    """Ctrl-C: finish the step, save and stop; a second Ctrl-C quits at once without saving."""

    def __init__(self):
        self.requested = False

    def __call__(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this step (Ctrl-C again to quit without saving)", file=sys.stderr)


def main(argv=None, recipe=None):
    me = f"{recipe.name}.py" if recipe else "mnist.py"
    s, given = parse_settings(argv, recipe)
    out = s["out"]
    ckpt_path, log_path = os.path.join(out, "ckpt.npz"), os.path.join(out, "log.jsonl")
    if s["resume"] and s["overwrite"]:
        fail(me, "--resume goes on with the run in --out and --overwrite replaces it: give one")
    if os.path.exists(out) and not os.path.isdir(out):
        fail(me, f"--out {out} is a file, not a directory")
    if s["resume"] and not os.path.isfile(ckpt_path):
        fail(me, f"--resume: no checkpoint at {ckpt_path}")
    found = [os.path.basename(path) for path in run_files(out)]
    if found and not s["resume"] and not s["overwrite"]:
        fail(me, f"--out {out} holds a run already ({', '.join(found[:3])}"
                 f"{', ...' if len(found) > 3 else ''}); add --resume to go on with it, or "
                 f"--overwrite to replace it")
    if s["data_dir"] is not None and not os.path.isdir(s["data_dir"]):
        fail(me, f"--data-dir {s['data_dir']}: no such directory")
    device = arguments.device(me, s["device"])
    poll_threads = arguments.use_threads(s["threads"])

    run = None
    if s["resume"]:
        try:
            run = checkpoint.load(ckpt_path, device=device, resumable=True)
        except (minigan.CheckpointError, OSError) as e:
            fail(me, f"--resume: {first_line(e)}")
        trained_by = run["config"].get("recipe")
        if trained_by != (recipe and recipe.name):
            script = f"examples/recipes/{trained_by}.py" if trained_by else "examples/mnist.py"
            fail(me, f"--resume: the run in {out} was trained by {script}; resume it with "
                     f"python {script} --out {out} --resume")
        s = resumed_settings(s, given, run, me, out)
        if run["step"] >= s["steps"]:
            print(f"the run in {out} is at step {run['step']} already (--steps {s['steps']}); "
                  f"nothing to do")
            return
    if s["batch_size"] > TRAIN_IMAGES:
        fail(me, f"--batch-size must be at most {TRAIN_IMAGES}, the training images; got "
                 f"{s['batch_size']}")
    if recipe and s["batch_size"] % recipe.batch_multiple:
        fail(me, f"--batch-size must be a multiple of {recipe.batch_multiple} for this recipe's "
                 f"D; got {s['batch_size']}")
    if s["loss"] == "wasserstein" and "beta1" in given:
        fail(me, "--beta1 is Adam's; --loss wasserstein trains with RMSprop, as the paper does")
    arch, seed, batch_size, k = s["arch"], s["seed"], s["batch_size"], s["k"]
    loss, conditional = s["loss"], s["conditional"]
    weight_clip = s["weight_clip"] or None                        # 0: none
    spec = models.SPECS[arch]
    if conditional and not spec.conditioning:
        fail(me, f"--conditional: {arch} has no conditional form (its D drops part of its "
                 f"input, the label with it); choose one of "
                 f"{', '.join(models.names(conditional=True))}")
    if conditional and recipe is not None and recipe.discriminator is not None:
        fail(me, f"--conditional: the recipe {recipe.name}'s D takes no labels")
    num_classes = NUM_CLASSES if conditional else None
    title = ", ".join([arch] + ([recipe.name] if recipe else []) + [loss] * (loss != "gan")
                      + ["conditional"] * conditional)        # of the run's plots and lines
    config = {name: value for name, value in s.items() if name not in NOT_RECORDED}
    config.update(latent_dim=LATENT_DIM, recipe=recipe.name if recipe else None,
                  num_classes=num_classes)

    # --- data -------------------------------------------------------------------------------------
    try:
        images, labels = mnist.load_mnist("train", data_dir=s["data_dir"])  # (60000, 28, 28)
    except mnist.MNISTNotFoundError:
        fail(me, "no MNIST training files in --data-dir, $MINIGAN_DATA or the download cache, "
                 "and no download; set MINIGAN_DATA to the directory of the four *-ubyte.gz "
                 "files")
    except mnist.MNISTError as e:
        fail(me, first_line(e))
    # train[50000:60000] is held out, as in Goodfellow et al. 2014: examples/evaluate.py chooses
    # the Parzen window on it and scores real images from it as the ceiling for generated ones.
    x_train = mnist.scale(images[:TRAIN_IMAGES], spec.data_range, device=device)
    # x_train: (50000, 1, 28, 28) in the preset's data range
    if conditional:   # each batch with its digits, in the same order: (N, 1, 28, 28), (N,)
        y_train = backend.to_device(labels[:TRAIN_IMAGES].astype(np.int64), device)
        batches = mnist.Batches(x_train, y_train, batch_size=batch_size, seed=seed)
    else:
        batches = mnist.Batches(x_train, batch_size=batch_size, seed=seed)

    def real_batches():
        while True:                                                   # epoch after epoch
            yield from batches

    # --- models and optimisers --------------------------------------------------------------------
    make_d = None                                       # None: the preset's D; else the recipe's
    if recipe is not None and recipe.discriminator is not None:
        make_d = lambda: recipe.discriminator(arch)     # noqa: E731
    G, D = models.build(arch, LATENT_DIM, seed=seed, device=device,
                        data=x_train,                   # some presets start G's bias from it
                        discriminator=make_d, d_init=recipe.d_init if recipe else None,
                        num_classes=num_classes)        # --conditional: G(z, y), D(x, y)
    adam = optimizer_name(loss) == "Adam"
    opt_G, opt_D = models.make_optimizers(
        arch, G, D, optimizer=None if adam else "rmsprop", lr=s["lr"], lr_d=s["lr_d"],
        betas=(s["beta1"], spec.optimizer["betas"][1]) if adam else None)
    ema = EMA(G, decay=s["ema"]) if s["ema"] > 0 else None        # G's weights, averaged
    grid_rng = backend.rng(step_seed(seed, 0, 0), device)
    if conditional:   # one row per digit, the same 8 noise vectors along each row
        row_z = models.sample_noise(arch, 8, LATENT_DIM, grid_rng, device)        # (8, 100)
        fixed_z = minigan.cat([row_z] * NUM_CLASSES)                               # (80, 100)
        fixed_y = np.repeat(np.arange(NUM_CLASSES), 8)          # (80,): eight 0s, eight 1s, ...
    else:
        fixed_z = models.sample_noise(arch, 64, LATENT_DIM,     # the grids' noise, (64, 100)
                                      grid_rng, device)
        fixed_y = None
    step, records = 0, []
    if run is not None:
        try:
            G.load_state_dict(run["G"])
            D.load_state_dict(run["D"])
            opt_G.load_state_dict(run["opt_G"])                    # moments and step counts,
            opt_D.load_state_dict(run["opt_D"])                    # then the rates of now:
            batches.load_state_dict(run["batches"])
            if ema is not None and "G_ema" in run:
                ema.load_state_dict(run["G_ema"])
                ema.decay = s["ema"]                               # the checkpoint's unless given
        except (nn.StateDictError, ValueError, KeyError) as e:
            fail(me, f"--resume: {ckpt_path} does not fit {title}: {' '.join(str(e).split())}")
        opt_G.lr, opt_D.lr = s["lr"], s["lr_d"]                    # the checkpoint's unless given
        step = run["step"]
        if ema is not None and "G_ema" not in run:
            print("the checkpoint has no average of G's weights: it starts here, from G")
        records = read_log(log_path, step)                         # those the checkpoint has seen
        print(f"resumed from {ckpt_path} at step {step}")
        if "lr" in given or "lr_d" in given:
            print(f"learning rates from the command line: G {opt_G.lr:g}, D {opt_D.lr:g}")
        if "ema" in given and ema is not None:
            print(f"decay of the average from the command line: {ema.decay:g}")

    # --- logging and saving -----------------------------------------------------------------------
    stale = [p for pattern in STALE for p in glob.glob(os.path.join(out, pattern))]
    try:
        os.makedirs(out, exist_ok=True)
        for path in stale + (run_files(out) if s["overwrite"] else []):
            os.remove(path)                                        # asked for, or left by a kill
        write_log(log_path, records)                               # atomically: kept or new
        log_file = open(log_path, "a")
    except OSError as e:
        fail(me, f"--out {out}: cannot write there ({e.strerror or e})")
    saved_step = step if run is not None else None
    average_fitted_at = None

    def fit_average():
        """Batch norm statistics of the average's own (minigan.averaging.update_bn), before it is
        drawn from or saved: EMA.update copies G's, which belong to G's weights, not to the
        lagging average's. Its noise has a stream of its own: training goes on unchanged."""
        nonlocal average_fitted_at
        if ema is not None and average_fitted_at != step:
            models.recompute_batch_norm(arch, ema.module, batch_size, LATENT_DIM,
                                        backend.rng(step_seed(seed, step, 3), device), device)
            average_fitted_at = step

    def save_checkpoint():
        """Write ckpt.npz (and ckpt_<step>.npz where kept); False if the weights are not finite."""
        nonlocal saved_step
        fit_average()
        keep = s["keep_every"] and step % s["keep_every"] == 0
        paths = [ckpt_path] + ([os.path.join(out, f"ckpt_{step:06d}.npz")] if keep else [])
        for path in paths:
            try:
                checkpoint.save(path, G=G, step=step, config=config, D=D, opt_G=opt_G,
                                opt_D=opt_D, batches=batches.state_dict(), G_ema=ema)
            except checkpoint.NonFiniteError:
                return False
            except OSError as e:
                fail(me, f"cannot write {path}: {e.strerror or e}")
        saved_step = step
        return True

    def save_samples():
        fit_average()
        sampler = G if ema is None else ema.module
        sampler.eval()                                       # batch norm on its running statistics
        with minigan.no_grad():
            fake = sampler(fixed_z) if fixed_y is None else sampler(fixed_z, fixed_y)
        G.train()                                            # fake: (64 or 80, 1, 28, 28)
        label = (f"{title}, step {step}" + ("" if ema is None else " (averaged G)")
                 + ("; rows: digits 0 to 9" if conditional else ""))
        for name in (f"samples_{step:06d}.png", "samples.png"):
            save_image_grid(fake, os.path.join(out, name), value_range=spec.data_range,
                            title=label)
        save_loss_curves(records, os.path.join(out, "losses.png"), title=title,
                         probabilities=loss == "gan")
        return float(fake.data.mean())

    def diverged(losses):
        where = (f"the last good checkpoint is {ckpt_path} (step {saved_step})"
                 if saved_step is not None else "no checkpoint was written")
        fail(me, f"training diverged at step {step}: loss_d={losses['loss_d']}, "
                 f"loss_g={losses['loss_g']}; stopped without saving ({where}); try a lower --lr")

    # --- training loop ----------------------------------------------------------------------------
    where = device if device != "cpu" else (
        f"cpu ({minigan.get_num_threads()} thread{'s' if minigan.get_num_threads() > 1 else ''}"
        + (", --threads auto" if s["threads"] == "auto" else "") + ")")
    print(f"training {title} on {where}: G {models.parameter_count(G):,} and "
          f"D {models.parameter_count(D):,} parameters, {s['steps']} steps of batch {batch_size}")
    G.train(), D.train()
    data = real_batches()
    bar = Progress(total=s["steps"], start=step)
    collapse_warned = False
    t0 = time.perf_counter() - (records[-1]["time"] if records else 0.0)  # seconds, across resumes
    stop = StopRequest()
    previous_handler = signal.signal(signal.SIGINT, stop)
    try:
        while step < s["steps"] and not stop.requested:
            nn.init.manual_seed(step_seed(seed, step, 1))          # dropout masks of this step
            noise = backend.rng(step_seed(seed, step, 2), device)  # z for each update of this step
            z = lambda: models.sample_noise(arch, batch_size, LATENT_DIM, noise,  # noqa: E731
                                            device)                # (N, 100)
            digits = np.random.default_rng(step_seed(seed, step, 4))  # the digits asked of G
            y = lambda: (digits.integers(0, NUM_CLASSES, batch_size)  # noqa: E731
                         if conditional else None)                 # (N,), or unconditional
            # k updates of D: down the gradient of L_D (for --loss gan: up that of
            # log D(x) + log(1 - D(G(z)))), G held fixed
            for _ in range(k):
                real, real_y = next(data) if conditional else (next(data), None)
                real_logits, fake_logits = gan.discriminator_step(
                    G, D, opt_D, minigan.tensor(real), z(),        # (N, 1, 28, 28), (N, 100)
                    label_smoothing=s["label_smoothing"], loss=loss, weight_clip=weight_clip,
                    real_labels=real_y, fake_labels=y())
            # one update of G: down the gradient of L_G (-log D(G(z))), D held fixed
            g_logits = gan.generator_step(G, D, opt_G, z(), saturating=s["saturating"],
                                          loss=loss, fake_labels=y())
            if ema is not None:
                ema.update()
            step += 1
            poll_threads()                                         # --threads auto: still free?

            log_due = step % s["log_every"] == 0 or step == s["steps"]
            checkpoint_due = (step % s["checkpoint_every"] == 0 or step == s["steps"]
                              or stop.requested
                              or (s["keep_every"] and step % s["keep_every"] == 0))
            if log_due or checkpoint_due:
                # The loop's host synchronisation: four numbers, only where they are used.
                record = {"step": step, "time": round(time.perf_counter() - t0, 3),
                          **losses(real_logits, fake_logits, g_logits, s)}
                if not np.isfinite([record["loss_d"], record["loss_g"]]).all():
                    bar.close()
                    diverged(record)
            if log_due:
                records.append(record)
                log_file.write(json.dumps(record) + "\n")
                log_file.flush()
                shown = ("D(x)", "D(G(z))") if loss == "gan" else ("score(x)", "score(G(z))")
                bar.update(step, loss_d=record["loss_d"], loss_g=record["loss_g"],
                           **dict(zip(shown, (record["d_real"], record["d_fake"]))))

            if step % s["sample_every"] == 0 or step == s["steps"]:
                mean_pixel = save_samples()
                low, high = spec.data_range
                if (loss == "gan" and not collapse_warned and records
                        and records[-1]["d_fake"] < 0.01
                        and mean_pixel < low + 0.05 * (high - low)):
                    collapse_warned = True
                    print(f"\nwarning: collapse at step {step}: D(G(z)) = "
                          f"{records[-1]['d_fake']:.4f} and G's samples are all at {low:g} "
                          f"(blank): D won early and G gets no useful gradient "
                          f"(docs/models.md explains why)", file=sys.stderr)

            if checkpoint_due and not save_checkpoint():           # a weight is NaN or inf
                bar.close()
                diverged(record)
    except KeyboardInterrupt:
        bar.close()
        fail(me, f"stopped at step {step} without saving" +
             (f"; the last checkpoint is {ckpt_path} (step {saved_step})"
              if saved_step is not None else ""))
    finally:
        log_file.close()
        signal.signal(signal.SIGINT, previous_handler)
    bar.close()
    elapsed = time.perf_counter() - t0
    written = [name for name in ("samples.png", "losses.png", "ckpt.npz")
               if os.path.exists(os.path.join(out, name))]
    print(f"{'stopped' if stop.requested else 'done'} at step {step} in {elapsed:.0f} s; "
          f"{', '.join(written)} in {out}")


def losses(real_logits, fake_logits, g_logits, s):
    """The log record's numbers, from D's outputs at the step's last D update and at G's:
    L_D, L_G, and D(x), D(G(z)): mean probabilities under --loss gan, mean raw scores else."""
    d_loss = gan.discriminator_loss(real_logits, fake_logits, s["label_smoothing"], s["loss"])
    g_loss = gan.generator_loss(g_logits, s["saturating"], s["loss"])
    with minigan.no_grad():
        prob = F.sigmoid if s["loss"] == "gan" else (lambda a: a)  # noqa: E731
        d_real, d_fake = (prob(minigan.Tensor(a)).mean().item() for a in (real_logits,
                                                                          fake_logits))
    return {"loss_d": float(d_loss), "loss_g": float(g_loss), "d_real": d_real, "d_fake": d_fake}


def read_log(path, up_to):
    """The records of log.jsonl up to step ``up_to`` (a line cut short by a kill is dropped)."""
    if not os.path.exists(path):
        return []
    records = []
    with open(path) as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("step", up_to + 1) <= up_to:
                records.append(record)
    return records


def write_log(path, records):
    """Replace the log with ``records``, atomically: a kill leaves the old log or the new one."""
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)),
                       f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


if __name__ == "__main__":
    main()
