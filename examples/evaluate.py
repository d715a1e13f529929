"""Measure a generator's samples with every metric of minigan.metrics, beside real data.

    python examples/evaluate.py --checkpoint out/mnist/ckpt.npz
    python examples/evaluate.py --checkpoint out/mnist/ckpt.npz --json out/mnist/eval.json \\
        --ceiling-cache out/ceiling.npz
    python examples/evaluate.py --samples samples.npy --range -1,1
    python examples/evaluate.py --samples samples.npy --range 0,1 --skip-parzen
    python examples/evaluate.py --held-out --blur 0.5     # what the Parzen estimate rewards
    python examples/evaluate.py --checkpoint out/mnist/ckpt.npz --rejection 0.8   # D keeps some
    python examples/evaluate.py --checkpoint out/mnist/ckpt.npz --truncation 1.0  # |z| <= 1
    python examples/evaluate.py --checkpoint out/cond/ckpt.npz --digits 3,8   # a conditional G

The protocol (docs/metrics.md): 10,000 samples with pixels in [0, 1] (a checkpoint's samples
are mapped from the model's ``data_range``, e.g. ``(x + 1) / 2`` for a tanh generator; a
--samples file is mapped from --range), then

    Parzen   10,000 samples as centres, sigma chosen on 1,000 images of train[50000:60000]
             (drawn with a fixed seed), scored on all 10,000 test images, mean ± sem; the
             validation images' own mean at that sigma is reported too, to choose among
             checkpoints without the test set (the real row's comes from other images)
    FID      minigan's classifier features of the samples vs those of the 10,000 test images
    IS       the classifier's Inception Score, 10 splits; with the classifier's mean doubt about
             a sample, E_x H(p(y|x)) in nats, and the share of samples whose likeliest digit
             has p < 0.9 (log IS = H(p(y)) - E_x H(p(y|x)): spread over the digits minus doubt)
    modes    digits holding >= 1% of the samples, and KL(digit histogram || uniform)
    NN       median L2 distance of a sample to its nearest image of train[0:50000], and to its
             nearest test image: a copying generator is near the first and not the second
    digits   a conditional GAN's checkpoint (examples/mnist.py --conditional) is asked for each
             digit of --digits in turn (default: all ten, so 1,000 samples of each): the share
             of each digit's samples that the classifier calls that digit, beside its accuracy
             on the held-out images of the digit

Each beside the *real-data ceiling*: the same numbers with the 10,000 held-out training images
train[50000:60000] in place of samples (for its Parzen score, sigma is chosen on 1,000 images
of train[0:50000] instead, since the validation images must not be centres themselves). The
ceiling is computed once per process; --ceiling-cache FILE also keeps it on disk.

--n below 10,000 is OFF PROTOCOL (every metric depends on n): it exists for quick checks and
tests, and the ceiling is then computed with n held-out images too. So is --blur PIXELS, which
smooths the measured images (not the real row's) first: a blurred copy of the real data
outscores the real data on Parzen by tens of nats (docs/metrics.md). --held-out measures the
ceiling's own images as if they were samples, to see that on real data. --rejection QUANTILE
measures a different sampler, not G alone: the checkpoint's D keeps or drops each of G's samples
(discriminator rejection sampling, docs/theory.md), and the JSON records how many were drawn.
So does --truncation T: G is fed noise whose entries are drawn again until |z| <= T (the
truncation trick), typical samples from the middle of its noise rather than its distribution.
"""

import argparse
import importlib
import json
import os
import sys
import time

import numpy as np
from scipy import ndimage

import minigan
from minigan import backend, checkpoint, gan, metrics, models, nn
from minigan.classifier import WEIGHTS_SHA256, load_classifier, sha256_of
from minigan.data import mnist

import arguments
from arguments import Parser, fail, first_line, number, whole

PROTOCOL_N = 10000
SPLITS = 10                  # Inception Score splits
MODE_THRESHOLD = 0.01        # a digit is a covered mode with >= 1% of the samples
DOUBT_BELOW = 0.9            # a sample is doubted when its likeliest digit has p below this
VALIDATION_N = 1000          # Parzen validation images
VALIDATION_SEED = 0          # which 1,000 (and which n held-out images when n < 10,000)
CACHE_VERSION = 6            # of --ceiling-cache: raised whenever the ceiling's row changes


class UserInputError(ValueError):
    """A file or setting given on the command line does not hold what it should."""


# Computed once per process (a caller that evaluates many checkpoints pays for them once):
_memo = {"reference": {}, "test_features": {}, "ceiling": {}}


# --- data -------------------------------------------------------------------------------------
def load_reference(data_dir=None):
    """The real images the metrics need, in [0, 1], float32 (N, 1, 28, 28). Memoised."""
    if data_dir in _memo["reference"]:
        return _memo["reference"][data_dir]
    train, train_labels = mnist.load_mnist("train", data_dir=data_dir)  # (60000, 28, 28) uint8
    test, test_labels = mnist.load_mnist("test", data_dir=data_dir)    # (10000, 28, 28) uint8
    rng = np.random.default_rng(VALIDATION_SEED)
    pick = rng.choice(10000, VALIDATION_N, replace=False)
    ref = _memo["reference"][data_dir] = {
        "train": mnist.scale(train[:50000], (0.0, 1.0)),               # what models train on
        "held_out": mnist.scale(train[50000:60000], (0.0, 1.0)),       # never trained on
        "held_out_labels": train_labels[50000:60000],                  # (10000,)
        "test": mnist.scale(test, (0.0, 1.0)),                         # all 10,000, unsplit
        "test_labels": test_labels,                                    # (10000,)
        "validation": mnist.scale(train[50000:60000][pick], (0.0, 1.0)),
        "validation_ceiling": mnist.scale(train[:50000][np.sort(
            rng.choice(50000, VALIDATION_N, replace=False))], (0.0, 1.0)),
    }
    return ref


def reference_features(ref, clf, clf_sha256):
    """The classifier's features of the 10,000 test images, (10000, 128). Memoised."""
    key = (id(ref), clf_sha256)
    if key not in _memo["test_features"]:
        _memo["test_features"][key] = clf.features(ref["test"])
    return _memo["test_features"][key]


def to_unit_range(x, data_range, what):
    """Map ``x`` from ``data_range`` to [0, 1], refusing values outside ``data_range``."""
    low, high = data_range
    lo, hi = float(x.min()), float(x.max())
    tol = 1e-5 * (high - low)
    if lo < low - tol or hi > high + tol:
        raise UserInputError(f"{what}: values in [{lo:.4g}, {hi:.4g}] lie outside the declared "
                             f"range [{low:g}, {high:g}]; pass the right --range")
    x = (x.astype(np.float64) - low) / (high - low)
    return np.clip(x, 0.0, 1.0).astype(np.float32)                     # roundoff only


def generate(path, n, seed, device, batch_size=500, average=None, rejection=None,
             truncation=None, digits=None):
    """n samples of a checkpoint's generator (as examples/sample.py), mapped to [0, 1]:
    ``(samples, source, labels)``, ``labels`` the digits a conditional G was asked for (None
    for an unconditional G).

    ``average``: the moving average of G's weights (True), G's own (False), or the average where
    the checkpoint has one (None); see ``minigan.checkpoint.load_generator``.

    ``rejection``: keep G's samples by the checkpoint's D (discriminator rejection sampling,
    ``minigan.gan.acceptance_probability``), with the cap at this quantile of the logits of the
    first n draws: 1 caps at their largest (the full correction, if D were optimal), lower
    quantiles keep more and correct less. Draws go on until n are kept.

    ``truncation``: draw G's noise with ``|z| <= truncation`` (``minigan.models.sample_noise``).

    ``digits``: for a conditional G, the digits it is asked for, in turn (sample i: digit
    ``digits[i % len(digits)]``); None: every class of the checkpoint.
    """
    G, info = checkpoint.load_generator(path, device=device, average=average)
    classes = info["num_classes"]
    if digits is not None and classes is None:
        raise UserInputError(f"--digits: {path} is an unconditional GAN's checkpoint; its G "
                             f"draws no digit asked for")
    if classes is not None:
        digits = list(range(classes)) if digits is None else list(digits)
        if max(digits) >= classes:
            raise UserInputError(f"--digits: {path}'s G draws digits 0 to {classes - 1}, not "
                                 f"{max(digits)}")
    rng = backend.rng(seed, device)
    source = {"checkpoint": os.fspath(path), "arch": info["arch"], "recipe": info["recipe"],
              "step": info["step"], "averaged_G": info["average"],
              "averaged_steps": info["averaged_steps"], "seed": seed, "truncation": truncation,
              "digits": digits}
    asked = 0                                                          # samples asked for so far
    D = None
    if rejection is not None:
        D, _ = checkpoint.load_discriminator(path, device=device,
                                             discriminator=recipe_discriminator(info))
        packs = [m.m for m in D.modules() if isinstance(m, nn.Pack)]
        if packs:
            raise UserInputError(f"{path}: its D judges packs of {packs[0]} samples, not "
                                 f"single ones: it cannot keep or drop one sample")
        coin = np.random.default_rng([seed, 1])                        # the acceptance draws

    def draw(size):
        """``(images, D's logits or None, digits asked or None)`` of ``size`` new samples."""
        nonlocal asked
        y = None
        if classes is not None:                                       # (size,): in turn
            y = np.asarray(digits)[(asked + np.arange(size)) % len(digits)]
        asked += size
        with minigan.no_grad():
            z = models.sample_noise(info["arch"], size, info["latent_dim"], rng, device,
                                    truncation=truncation)
            x = G(z) if y is None else G(z, y)
            logits = None
            if D is not None:
                logits = (D(x) if y is None else D(x, y)).numpy().ravel()  # (size,)
        return x.numpy(), logits, y                                   # (size, 1, 28, 28), ...

    first = [draw(min(batch_size, n - start)) for start in range(0, n, batch_size)]   # n samples
    if D is None:
        draws = first
    else:
        cap = float(np.quantile(np.concatenate([a for _, a, _ in first]), rejection))
        draws, n_kept, drawn = [], 0, 0
        batches = iter(first)                  # the first draws are kept or dropped like the rest
        while n_kept < n:
            x, logits, y = next(batches, None) or draw(batch_size)
            keep = coin.random(len(x)) < gan.acceptance_probability(logits, cap)
            draws.append((x[keep], None, None if y is None else y[keep]))
            n_kept, drawn = n_kept + int(keep.sum()), drawn + len(logits)
            if drawn > 1000 * n:
                raise UserInputError(f"{path}: fewer than 1 in 1,000 samples kept with the cap "
                                     f"at quantile {rejection} of D's logits; lower --rejection")
        source["rejection"] = {"quantile": rejection, "cap": cap, "drawn": drawn, "kept": n_kept}
    samples = np.concatenate([x for x, _, _ in draws])[:n]
    labels = None if classes is None else np.concatenate([y for _, _, y in draws])[:n]
    return to_unit_range(samples, models.SPECS[info["arch"]].data_range, path), source, labels


def recipe_discriminator(info):
    """For a checkpoint of a recipe (examples/recipes/) that builds its own D: a callable that
    builds that D (for minigan.checkpoint.load_discriminator); None for the preset's D."""
    name = info["recipe"]
    if name is None:
        return None
    here = os.path.dirname(os.path.abspath(__file__))
    if not name.isidentifier() or not os.path.isfile(os.path.join(here, "recipes", f"{name}.py")):
        raise UserInputError(f"the checkpoint names the recipe {name!r}, which is not a file "
                             f"of examples/recipes/")
    if here not in sys.path:
        sys.path.insert(0, here)                       # the recipes import examples/mnist.py
    recipe = importlib.import_module(f"recipes.{name}").RECIPE
    if recipe.discriminator is None:
        return None
    return lambda: recipe.discriminator(info["arch"])


# --- the metrics of one image set -------------------------------------------------------------
def measure(x, ref, clf, test_features, parzen=True, validation="validation", labels=None):
    """Every metric of the images ``x`` (n, 1, 28, 28) in [0, 1]: a flat dict. With ``labels``
    (n,), the digit each image is meant to be, also the classifier's accuracy by digit."""
    out = {"n": int(x.shape[0])}
    times = {}
    t = time.perf_counter()
    if parzen:
        p = metrics.parzen_log_likelihood(x, ref["test"], ref[validation])
        out.update(parzen_mean=p.mean, parzen_sem=p.sem, parzen_sigma=p.sigma,
                   # The mean log-likelihood of the validation images at that sigma: the score
                   # that picks a checkpoint without looking at the test set, as the paper did.
                   parzen_validation=max(p.validation))
        # The same mean over the test images of each digit: which digits the score is lost on.
        out["parzen_by_digit"] = [float(p.log_likelihoods[ref["test_labels"] == d].mean())
                                  for d in range(10)]
    else:
        out.update(parzen_mean=None, parzen_sem=None, parzen_sigma=None, parzen_validation=None,
                   parzen_by_digit=None)
    times["parzen"] = time.perf_counter() - t

    t = time.perf_counter()
    features, probs = clf.features(x), clf.probs(x)                   # (n, 128), (n, 10)
    times["classifier"] = time.perf_counter() - t
    out["fid"] = metrics.fid(features, test_features)
    out["is_mean"], out["is_std"] = metrics.inception_score(probs, splits=min(SPLITS, len(x)))
    out["doubt"] = float(metrics.prediction_entropy(probs).mean())
    out["doubted"] = float(np.mean(probs.max(axis=1) < DOUBT_BELOW))
    modes, hist = metrics.mode_counts(probs, 10, MODE_THRESHOLD)
    out.update(modes=modes, digit_histogram=hist.tolist(),
               kl_to_uniform=metrics.kl_to_uniform(hist), accuracy=None, accuracy_by_digit=None)
    if labels is not None:    # None for a digit not asked for (NaN is not JSON)
        by_digit = metrics.accuracy_by_class(probs, labels, 10)
        out.update(accuracy=float(np.mean(probs.argmax(axis=1) == labels)),
                   accuracy_by_digit=[None if np.isnan(a) else float(a) for a in by_digit])

    t = time.perf_counter()
    out["nn_median"] = metrics.nearest_neighbour_distance(x, ref["train"])
    # The same to the test images, which no model saw: real held-out images are a little nearer
    # their nearest training image than their nearest test image (the training set is five
    # times larger); a generator that copies its training images scores far less.
    out["nn_test_median"] = metrics.nearest_neighbour_distance(x, ref["test"])
    out["nn_ratio"] = out["nn_median"] / out["nn_test_median"]
    times["nearest_neighbour"] = time.perf_counter() - t
    out["seconds"] = {k: round(v, 2) for k, v in times.items()}
    return out


def held_out(ref, n):
    """The ceiling's real images and their digits: train[50000:60000], or n of them drawn with
    a fixed seed."""
    x, labels = ref["held_out"], ref["held_out_labels"]
    if n < len(x):  # off protocol
        pick = np.sort(np.random.default_rng(VALIDATION_SEED).choice(len(x), n, replace=False))
        x, labels = x[pick], labels[pick]
    return x, labels


def blur(x, pixels):
    """Each image of x (n, 1, H, W) smoothed by a Gaussian of standard deviation ``pixels``.

    Off protocol: it exists to show what the Parzen estimate rewards. Each output pixel is a
    weighted mean of its neighbours, so pixels stay in [0, 1]; only sharpness is lost.
    """
    return ndimage.gaussian_filter(x, sigma=(0, 0, pixels, pixels)).astype(np.float32)


def ceiling(ref, clf, test_features, n, parzen, cache_file=None, clf_sha256=WEIGHTS_SHA256):
    """The metrics of n held-out real images (train[50000:60000]): memoised, optionally on disk."""
    key = (id(ref), n, parzen, clf_sha256)
    fingerprint = {"version": CACHE_VERSION, "n": n, "parzen": parzen,
                   "classifier_sha256": clf_sha256}
    cached = None
    if cache_file and os.path.exists(cache_file):
        cached = minigan.load(cache_file)
        if cached.get("fingerprint") != fingerprint:
            cached = None                                  # another protocol: recompute
    if key not in _memo["ceiling"]:
        if cached is not None:
            _memo["ceiling"][key] = cached["ceiling"]
        else:
            x, labels = held_out(ref, n)
            _memo["ceiling"][key] = measure(x, ref, clf, test_features, parzen,
                                            validation="validation_ceiling", labels=labels)
    row = _memo["ceiling"][key]
    if cache_file and cached is None:
        os.makedirs(os.path.dirname(os.path.abspath(cache_file)), exist_ok=True)
        minigan.save(cache_file, fingerprint=fingerprint, ceiling=row)
    return row


# --- the table --------------------------------------------------------------------------------
def _fmt(row, key):
    v = row.get(key)
    if key == "parzen":
        return "skipped" if row["parzen_mean"] is None else \
            f"{row['parzen_mean']:.2f} ± {row['parzen_sem']:.2f}"
    if key == "parzen_sigma":
        return "" if v is None else f"{v:.4f}"
    if key == "parzen_validation":
        return "" if v is None else f"{v:.2f}"
    if key == "is":
        return f"{row['is_mean']:.3f} ± {row['is_std']:.3f}"
    if key == "modes":
        return f"{v} / 10"
    return f"{v:.4f}" if key in ("kl_to_uniform", "doubt") else f"{v:.3f}"


ROWS = [("Parzen log-likelihood (nats)", "parzen"), ("  Parzen sigma", "parzen_sigma"),
        ("  on the validation images", "parzen_validation"),
        ("FID (minigan classifier)", "fid"), ("Inception score (10 splits)", "is"),
        ("  doubt per sample (nats)", "doubt"), (f"  share doubted (p < {DOUBT_BELOW})", "doubted"),
        ("modes covered (>= 1%)", "modes"), ("KL(digits || uniform) (nats)", "kl_to_uniform"),
        ("median NN distance to train", "nn_median"),
        ("median NN distance to test", "nn_test_median"),
        ("  ratio train / test", "nn_ratio")]


def table(samples, real):
    lines = [f"{'metric':<32}{'samples':>20}{'real (held-out)':>20}", "-" * 72]
    for label, key in ROWS:
        lines.append(f"{label:<32}{_fmt(samples, key):>20}{_fmt(real, key):>20}")
    if samples["parzen_by_digit"] is not None:
        lines += ["", "Parzen by test digit" + "".join(f"{d:>7}" for d in range(10))]
        for name, row in (("samples", samples), ("real", real)):
            lines.append(f"  {name:<18}" + "".join(f"{v:7.1f}" for v in row["parzen_by_digit"]))
    if samples["accuracy_by_digit"] is not None:
        lines += ["", "accuracy (%) by digit" + "".join(f"{d:>6}" for d in range(10))
                  + f"{'all':>7}"]
        for name, row in (("samples, as asked", samples), ("real, as labelled", real)):
            lines.append(f"  {name:<19}" + "".join("     –" if v is None else f"{100 * v:6.1f}"
                                                   for v in row["accuracy_by_digit"])
                         + f"{100 * row['accuracy']:7.1f}")
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------
def main(argv=None):
    parser = Parser(prog="evaluate.py", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a run's checkpoint (ckpt.npz)")
    source.add_argument("--samples", help="a .npy file of images (N, 1, 28, 28) or (N, 784)")
    source.add_argument("--held-out", action="store_true",
                        help="measure the real held-out images themselves (the ceiling's "
                             "train[50000:60000]), e.g. with --blur")
    parser.add_argument("--range", default=None,
                        help="value range of --samples: -1,1 (tanh) or 0,1 (sigmoid)")
    parser.add_argument("--n", type=whole(at_least=10), default=PROTOCOL_N,
                        help="number of samples (the protocol: 10000; fewer is off protocol)")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--blur", type=number(at_least=0), default=0.0, metavar="PIXELS",
                        help="smooth the measured images by a Gaussian of this many pixels "
                             "(standard deviation) first. OFF PROTOCOL: it shows how much the "
                             "Parzen estimate rewards blur (docs/metrics.md)")
    parser.add_argument("--skip-parzen", action="store_true", help="leave out the Parzen score")
    parser.add_argument("--ceiling-cache", default=None,
                        help="keep the real-data ceiling in this .npz file between runs")
    parser.add_argument("--seed", type=whole(at_least=0), default=0,
                        help="noise seed for --checkpoint")
    parser.add_argument("--rejection", type=number(at_least=0, at_most=1), metavar="QUANTILE",
                        help="keep --checkpoint's samples by its D's logit (discriminator "
                             "rejection sampling; docs/theory.md), with the cap at this quantile "
                             "of the logits: 1 the full correction, lower keeps more")
    parser.add_argument("--truncation", type=number(above=0), metavar="T",
                        help="feed --checkpoint's G noise with every |z| <= T, drawn again until "
                             "it is (the truncation trick): more typical, less varied samples")
    parser.add_argument("--no-average", action="store_true",
                        help="sample G's own weights, not their moving average (G_ema), where "
                             "the checkpoint has both")
    parser.add_argument("--digits", type=digit_list, metavar="D,D,...",
                        help="a conditional GAN's --checkpoint: the digits G is asked for, in "
                             "turn (default: all ten)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="where the generator runs (the metrics run on the CPU)")
    arguments.add_threads(parser)
    parser.add_argument("--data-dir", default=None, help="directory with the MNIST files")
    parser.add_argument("--classifier", default=None,
                        help="another classifier file (default: the committed weights)")
    argv = list(sys.argv[1:] if argv is None else argv)
    for i, arg in enumerate(argv[:-1]):   # "--range -1,1": argparse would take -1,1 for an option
        if arg == "--range":
            argv[i:i + 2] = [f"--range={argv[i + 1]}"]
            break
    args = parser.parse_args(argv)
    if args.n > PROTOCOL_N:
        parser.error(f"argument --n: must be at most {PROTOCOL_N}, got {args.n}")
    for flag in ("rejection", "truncation", "digits"):
        if getattr(args, flag) is not None and not args.checkpoint:
            parser.error(f"--{flag} needs --checkpoint")
    if args.range is not None and not args.samples:
        parser.error("--range goes with --samples")
    if args.samples and args.range is None:
        parser.error("--samples needs --range: -1,1 for a tanh generator, 0,1 for sigmoid")
    data_range = None
    if args.range is not None:
        try:
            data_range = tuple(float(v) for v in args.range.split(","))
        except ValueError:
            data_range = ()
        if len(data_range) != 2 or not data_range[0] < data_range[1]:
            parser.error(f"--range must be two increasing numbers like -1,1; got {args.range}")
    for flag in ("checkpoint", "samples", "classifier"):
        path = getattr(args, flag)
        if path is not None and not os.path.isfile(path):
            fail("evaluate.py", f"--{flag} {path}: no such file")
    for flag in ("json", "ceiling_cache"):
        path = getattr(args, flag)
        if path is not None and os.path.isdir(path):
            fail("evaluate.py", f"--{flag.replace('_', '-')} {path} is a directory")
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        fail("evaluate.py", f"--data-dir {args.data_dir}: no such directory")
    arguments.device("evaluate.py", args.device)
    arguments.use_threads(args.threads)       # once: the work is too short to look again
    try:
        return evaluate(args, data_range)
    except mnist.MNISTNotFoundError:
        fail("evaluate.py", "no MNIST files in --data-dir, $MINIGAN_DATA or the download cache, "
                            "and no download; set MINIGAN_DATA to the directory of the four "
                            "*-ubyte.gz files")
    except (minigan.CheckpointError, mnist.MNISTError, UserInputError) as e:
        fail("evaluate.py", first_line(e))


def digit_list(text):
    """An argparse type: digits 0-9 separated by commas, e.g. "3,8", each once."""
    try:
        digits = [int(d) for d in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of digits like 3,8") from None
    if not all(0 <= d <= 9 for d in digits) or len(set(digits)) != len(digits):
        raise argparse.ArgumentTypeError(f"must be distinct digits 0 to 9, got {text}")
    return digits


def read_samples(path, n, data_range):
    """The first n images of a .npy file, as (n, 1, 28, 28) in [0, 1]."""
    with open(path, "rb") as f:
        is_npy = f.read(6) == b"\x93NUMPY"                 # the .npy format's magic string
    try:
        if not is_npy:
            raise ValueError("it does not start as a .npy file does")
        x = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise UserInputError(f"--samples {path}: not a .npy array file ({first_line(e)})") from None
    if x.dtype.kind not in "fiu" or x.ndim < 2 or x[0].size != 784:
        raise UserInputError(f"--samples {path}: holds a {x.dtype} array of shape {x.shape}; "
                             f"expected images (N, 1, 28, 28) or (N, 784)")
    if x.shape[0] < n:
        raise UserInputError(f"--samples {path} holds {x.shape[0]} images, fewer than --n {n}")
    x = x[:n].reshape(n, 1, 28, 28)                                     # (n, 1, 28, 28)
    if not np.isfinite(x).all():
        raise UserInputError(f"--samples {path}: holds NaN or infinite values")
    return to_unit_range(x, data_range, path)


def evaluate(args, data_range):
    """The measurement itself, once the arguments are known to be sound."""
    start = time.perf_counter()
    ref = load_reference(args.data_dir)
    generate_start = time.perf_counter()
    validation = "validation"
    labels = None                                    # the digit each image is meant to be
    if args.held_out:
        # Real images as the Parzen centres: sigma is chosen on train[0:50000], as for the ceiling.
        (x, labels), validation = held_out(ref, args.n), "validation_ceiling"
        source_info = {"held_out": "train[50000:60000]"}
    elif args.checkpoint:
        x, source_info, labels = generate(args.checkpoint, args.n, args.seed, args.device,
                                          average=False if args.no_average else None,
                                          rejection=args.rejection, truncation=args.truncation,
                                          digits=args.digits)
    else:
        x = read_samples(args.samples, args.n, data_range)
        source_info = {"samples": os.fspath(args.samples), "range": list(data_range)}
    if args.blur:
        x = blur(x, args.blur)
    generate_seconds = time.perf_counter() - generate_start

    clf = load_classifier(args.classifier)
    clf_sha256 = WEIGHTS_SHA256 if args.classifier is None else sha256_of(args.classifier)
    test_f = reference_features(ref, clf, clf_sha256)                      # (10000, 128)
    parzen = not args.skip_parzen
    real = ceiling(ref, clf, test_f, args.n, parzen, args.ceiling_cache, clf_sha256)
    samples = measure(x, ref, clf, test_f, parzen, validation, labels)

    off = args.n != PROTOCOL_N or args.blur > 0
    print(table(samples, real))
    if args.n != PROTOCOL_N:
        print(f"(n = {args.n}: OFF PROTOCOL, numbers are not comparable with n = {PROTOCOL_N})")
    if args.blur:
        print(f"(samples blurred by {args.blur:g} px: OFF PROTOCOL, the real row is not)")
    if args.rejection is not None:
        r = source_info["rejection"]
        print(f"(samples kept by D: {args.n:,} of {r['drawn']:,} drawn, with the cap at quantile "
              f"{args.rejection:g} of its logits, {r['cap']:.3f})")
    if args.truncation is not None:
        print(f"(G's noise truncated to |z| <= {args.truncation:g}: not G's own distribution)")
    if source_info.get("digits") is not None:
        digits = source_info["digits"]
        each = (f": {len(x) // len(digits):,} samples of each" if args.rejection is None
                else ", D keeping some of each")
        print(f"(a conditional G, asked for digit{'s' * (len(digits) > 1)} "
              f"{', '.join(map(str, digits))} in turn{each})")
    seconds = time.perf_counter() - start
    print(f"{seconds:.1f} s (sample generation {generate_seconds:.1f} s)")
    result = {"protocol": {"n": args.n, "off_protocol": off, "splits": SPLITS,
                           "mode_threshold": MODE_THRESHOLD, "validation_n": VALIDATION_N,
                           "blur": args.blur, "classifier_sha256": clf_sha256},
              "source": source_info, "samples": samples, "real": real,
              "seconds": round(seconds, 2)}
    if args.json:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
        except OSError as e:
            raise UserInputError(f"--json {args.json}: cannot write it ({e.strerror or e})")
        print(f"wrote {args.json}")
    return result


if __name__ == "__main__":
    main()
