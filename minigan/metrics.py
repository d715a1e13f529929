"""Sample-quality metrics for generative models, on plain arrays.

Every function here takes arrays (NumPy, or CuPy where noted) and returns Python floats or small
result objects; none of them builds a graph. A classifier, when one is involved, is run by the
caller: FID takes its *features*, the Inception Score and the mode count take its *probabilities*.
docs/metrics.md gives the definitions, the evaluation protocol and the known weaknesses.

    parzen_log_likelihood(samples, test, validation)   Goodfellow et al. (2014) Parzen-window
                                                       log-likelihood, sigma chosen on validation
    parzen_log_density(x, centres, sigma)              log p(x) of each row under one window
    feature_stats(features) -> (mu, cov)               Gaussian fitted to a feature set
    fid(features_a, features_b)                        Frechet distance between two fitted Gaussians
    fid_from_stats(mu1, s1, mu2, s2)                   ... from precomputed statistics
    inception_score(probs, splits=10) -> (mean, std)   exp(E_x KL(p(y|x) || p(y))) over splits
    prediction_entropy(probs)                          H(p(y|x)) of each sample: the classifier's
                                                       doubt, the part of the score a sample loses
    mode_counts(probs_or_labels, n_classes, threshold) classes holding >= threshold of the samples
    kl_to_uniform(histogram)                           KL(class histogram || uniform), in nats
    accuracy_by_class(probs_or_labels, targets, K)     per class, the share the classifier puts
                                                       in it (a conditional G: drawn as asked)
    nearest_neighbour_distance(samples, reference)     median L2 distance to the nearest reference
    nearest_neighbour_distances(samples, reference)    ... every sample's distance

Numerics: everything is computed in float64. Pairwise squared distances use one GEMM per chunk,
``||x||^2 - 2 x.mu + ||mu||^2``, clipped at 0 because roundoff can make the difference of large
nearly equal numbers slightly negative. Sums of exponentials go through log-sum-exp. The
distance-based functions (Parzen, nearest neighbour) follow their data onto the GPU; the
statistics of FID, IS and the mode count are small and computed on the host.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.special import entr, rel_entr

from .backend import get_array_module, to_numpy
from .tensor import ShapeError, array_of

#: The Parzen bandwidth grid of Goodfellow et al. (2014): 10 log-spaced values in [0.1, 1].
PARZEN_SIGMAS = np.logspace(-1, 0, 10)


def _as_rows(a, xp, name, op):
    """``a`` as a float64 matrix with one flattened example per row: (N, ...) -> (N, D)."""
    a = array_of(a)
    a = xp.asarray(a, dtype=xp.float64)
    if a.ndim < 2 or a.shape[0] == 0:
        raise ShapeError(f"{op}: {name} must have shape (N, ...) with N >= 1, got {a.shape}")
    return a.reshape(a.shape[0], -1)             # (N, D)


def _check_same_dim(op, **arrays):
    dims = {name: a.shape for name, a in arrays.items()}
    if len({s[1] for s in dims.values()}) > 1:
        shapes = ", ".join(f"{name} {s}" for name, s in dims.items())
        raise ShapeError(f"{op}: all sets must have the same number of dimensions; got {shapes}")


def _check_unit_range(op, **arrays):
    for name, a in arrays.items():
        lo, hi = float(a.min()), float(a.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"{op}: {name} has values in [{lo:.3g}, {hi:.3g}] but the protocol needs pixels "
                f"in [0, 1] (map tanh outputs with (x + 1) / 2), or pass check_range=False")


def _sq_distances(x, y, y_sq, xp):
    """Squared L2 distances between the rows of x (B, D) and y (N, D) -> (B, N), by one GEMM.

    ``||x - y||^2 = ||x||^2 - 2 x.y + ||y||^2``: cheap, but a difference of large, nearly equal
    numbers when x is close to y, so roundoff can leave tiny negatives; they are clipped at 0.
    """
    d = x @ y.T                                   # (B, N)
    d *= -2.0
    d += (x * x).sum(axis=1)[:, None]
    d += y_sq[None, :]
    return xp.maximum(d, 0.0, out=d)


def _chunks(n, chunk):
    if int(chunk) < 1:
        raise ValueError(f"chunk must be a positive number of rows, got {chunk}")
    chunk = int(chunk)
    return [slice(i, min(i + chunk, n)) for i in range(0, n, chunk)]


# --------------------------------------------------------------------------------------------
# Parzen-window log-likelihood (Goodfellow et al., 2014)
# --------------------------------------------------------------------------------------------

def _parzen_log_density(x, centres, sigmas, chunk, xp):
    """log p(x) for every row of x under each sigma: returns (len(sigmas), N) float64.

    log p(x) = logsumexp_i(-||x - mu_i||^2 / (2 sigma^2)) - log n - (D/2) log(2 pi sigma^2).
    The squared distances of a chunk are computed once and reused for every sigma. Memory:
    two (chunk, n) float64 buffers.
    """
    n, D = centres.shape
    c_sq = (centres * centres).sum(axis=1)                        # (n,)
    out = xp.empty((len(sigmas), x.shape[0]), dtype=xp.float64)
    for rows in _chunks(x.shape[0], chunk):
        d = _sq_distances(x[rows], centres, c_sq, xp)             # (B, n)
        d_min = d.min(axis=1)                                     # (B,) the nearest centre
        a = xp.empty_like(d)
        for k, sigma in enumerate(sigmas):
            scale = 1.0 / (2.0 * sigma * sigma)
            # stable log-sum-exp: shift by the largest exponent, -d_min * scale, so every
            # term is exp(<= 0) and the nearest centre contributes exactly 1 (the sum is >= 1).
            xp.subtract(d, d_min[:, None], out=a)
            a *= -scale
            xp.exp(a, out=a)
            lse = xp.log(a.sum(axis=1)) - d_min * scale           # (B,)
            out[k, rows] = lse - np.log(n) - 0.5 * D * np.log(2.0 * np.pi * sigma * sigma)
    return out


def parzen_log_density(x, centres, sigma, chunk=500):
    """Log-density of each row of ``x`` under an isotropic Gaussian Parzen window.

    ``p(x) = (1/n) sum_i N(x; mu_i, sigma^2 I)``, with the rows of ``centres`` as the ``mu_i``.

    Args:
        x: (N, ...) points to score; flattened to (N, D).
        centres: (n, ...) window centres (the generated samples); flattened to (n, D).
        sigma: the window's standard deviation (a positive float).
        chunk: rows of ``x`` per block; memory is about ``2 * chunk * n * 8`` bytes.

    Returns:
        (N,) float64 array of log p(x), on the device of the inputs.
    """
    xp = get_array_module(array_of(x), array_of(centres))
    x = _as_rows(x, xp, "x", "parzen_log_density")
    centres = _as_rows(centres, xp, "centres", "parzen_log_density")
    _check_same_dim("parzen_log_density", x=x, centres=centres)
    if not sigma > 0:
        raise ValueError(f"parzen_log_density: sigma must be positive, got {sigma}")
    return _parzen_log_density(x, centres, [float(sigma)], chunk, xp)[0]


@dataclass(frozen=True)
class ParzenResult:
    """The outcome of :func:`parzen_log_likelihood`.

    Attributes:
        mean: mean log-likelihood of the test set, in nats (higher is better).
        sem: its standard error, ``std(ll) / sqrt(N_test)`` (population std, as in the 2014 code).
        sigma: the bandwidth chosen on the validation set.
        sigmas: the bandwidths tried, in order.
        validation: mean validation log-likelihood for each of ``sigmas``.
        log_likelihoods: (N_test,) NumPy array, the log-likelihood of every test point.
    """

    mean: float
    sem: float
    sigma: float
    sigmas: tuple
    validation: tuple
    log_likelihoods: np.ndarray

    def __str__(self):
        return f"{self.mean:.2f} ± {self.sem:.2f} nats (sigma = {self.sigma:.4g})"


def parzen_log_likelihood(samples, test, validation=None, sigmas=None, chunk=500,
                          check_range=True):
    """Parzen-window estimate of the test log-likelihood, as in Goodfellow et al. (2014).

    The generated ``samples`` are the centres of an isotropic Gaussian window. Its width is the
    value among ``sigmas`` that gives the highest mean log-likelihood on ``validation``; the score
    is the mean log-likelihood of ``test`` under that window, with its standard error.

    The MNIST protocol: 10,000 samples, pixels in [0, 1] flattened to 784; validation = 1,000
    images of train[50000:60000]; test = all 10,000 test images; sigmas = logspace(-1, 0, 10).

    Args:
        samples: (n, ...) generated images, values in [0, 1].
        test: (N, ...) held-out images to score.
        validation: (M, ...) images that choose sigma. May be None only when ``sigmas`` is a
            single value (then no selection happens).
        sigmas: candidate bandwidths (default :data:`PARZEN_SIGMAS`), or one float.
        chunk: rows scored per block; memory is about ``2 * chunk * n * 8`` bytes
            (500 rows x 10,000 samples: 80 MB).
        check_range: refuse data outside [0, 1] (the protocol's pixel range).

    Returns:
        :class:`ParzenResult` with ``mean``, ``sem``, ``sigma`` and the per-sigma validation scores.
    """
    op = "parzen_log_likelihood"
    xp = get_array_module(*(array_of(a) for a in (samples, test, validation)), op=op)
    samples = _as_rows(samples, xp, "samples", op)
    test = _as_rows(test, xp, "test", op)
    sets = {"samples": samples, "test": test}
    if validation is not None:
        sets["validation"] = validation = _as_rows(validation, xp, "validation", op)
    _check_same_dim(op, **sets)
    if check_range:
        _check_unit_range(op, **sets)

    sigmas = PARZEN_SIGMAS if sigmas is None else np.atleast_1d(np.asarray(sigmas, np.float64))
    sigmas = tuple(float(s) for s in sigmas)
    if not sigmas or min(sigmas) <= 0:
        raise ValueError(f"{op}: sigmas must be positive, got {sigmas}")
    if len(sigmas) == 1:
        sigma, scores = sigmas[0], ()
    elif validation is None:
        raise ValueError(f"{op}: choosing among {len(sigmas)} sigmas needs a validation set")
    else:
        val_ll = _parzen_log_density(validation, samples, sigmas, chunk, xp)   # (S, M)
        scores = tuple(float(v) for v in to_numpy(val_ll.mean(axis=1)))
        sigma = sigmas[int(np.argmax(scores))]

    ll = to_numpy(_parzen_log_density(test, samples, [sigma], chunk, xp)[0])   # (N,)
    return ParzenResult(mean=float(ll.mean()), sem=float(ll.std() / np.sqrt(ll.size)),
                        sigma=sigma, sigmas=sigmas, validation=scores, log_likelihoods=ll)


# --------------------------------------------------------------------------------------------
# Frechet distance between fitted Gaussians (FID, with minigan's own classifier features)
# --------------------------------------------------------------------------------------------

def feature_stats(features):
    """Mean and covariance of a feature set: (N, F) -> ((F,), (F, F)), float64, on the host.

    The covariance is the unbiased one (divides by N - 1), as in the reference FID code.
    """
    f = _as_rows(to_numpy(array_of(features)), np, "features", "feature_stats")
    if f.shape[0] < 2:
        raise ShapeError(f"feature_stats: a covariance needs at least 2 rows, got {f.shape}")
    mu = f.mean(axis=0)
    centred = f - mu
    return mu, centred.T @ centred / (f.shape[0] - 1)


def _sqrtm_psd(s):
    """Symmetric square root of a symmetric positive semi-definite matrix, by eigh.

    ``S = V diag(w) V^T  =>  S^1/2 = V diag(sqrt(w)) V^T``; roundoff can make eigenvalues of a
    singular S slightly negative, so they are clipped at 0.
    """
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.maximum(w, 0.0))) @ v.T


def fid_from_stats(mu1, s1, mu2, s2):
    """Frechet distance between N(mu1, s1) and N(mu2, s2).

    ``d^2 = ||mu1 - mu2||^2 + tr(s1 + s2 - 2 (s1^1/2 s2 s1^1/2)^1/2)``.

    The cross term uses the symmetric form: ``s1^1/2 s2 s1^1/2`` is symmetric PSD (unlike the
    ``s1 s2`` of the usual formula, whose square root needs a general ``sqrtm`` and can turn
    complex), and it has the same eigenvalues as ``s1 s2``, so the trace of its square root is
    the same. Two ``eigh`` calls, eigenvalues clipped at 0. The result is clipped at 0 too: a
    squared distance cannot be negative, only roundoff can make it so.
    """
    mu1, mu2 = (np.asarray(to_numpy(array_of(m)), dtype=np.float64) for m in (mu1, mu2))
    s1, s2 = (np.asarray(to_numpy(array_of(s)), dtype=np.float64) for s in (s1, s2))
    F = mu1.shape[0] if mu1.ndim == 1 else -1
    if F < 0 or mu2.shape != mu1.shape or s1.shape != (F, F) or s2.shape != (F, F):
        raise ShapeError(f"fid_from_stats: need mu (F,) and cov (F, F) on both sides; got "
                         f"mu1 {mu1.shape}, s1 {s1.shape}, mu2 {mu2.shape}, s2 {s2.shape}")
    r = _sqrtm_psd(s1)
    m = r @ s2 @ r
    m = 0.5 * (m + m.T)                         # symmetric up to roundoff; make it exactly so
    w = np.linalg.eigvalsh(m)
    tr_covmean = np.sqrt(np.maximum(w, 0.0)).sum()
    diff = mu1 - mu2
    d2 = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean
    return float(max(d2, 0.0))


def fid(features_a, features_b):
    """Frechet distance between Gaussians fitted to two feature sets (N_a, F) and (N_b, F).

    With features from minigan's MNIST classifier, the number is on minigan's own scale: it is
    not comparable with FIDs computed on Inception-v3 features.
    """
    mu1, s1 = feature_stats(features_a)
    mu2, s2 = feature_stats(features_b)
    if mu1.shape != mu2.shape:
        raise ShapeError(f"fid: feature sets differ in width: {mu1.shape[0]} and {mu2.shape[0]}")
    return fid_from_stats(mu1, s1, mu2, s2)


# --------------------------------------------------------------------------------------------
# Classifier-probability metrics: Inception Score, modes, KL to uniform
# --------------------------------------------------------------------------------------------

def _as_probs(probs, op):
    p = np.asarray(to_numpy(array_of(probs)), dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ShapeError(f"{op}: probs must have shape (N, K) with N >= 1, got {p.shape}")
    if p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(f"{op}: rows of probs must be probability vectors (>= 0, summing to 1); "
                         f"pass softmax outputs, not logits")
    return p


def inception_score(probs, splits=10):
    """Inception Score ``exp(E_x KL(p(y|x) || p(y)))``, mean and std over ``splits`` parts.

    Args:
        probs: (N, K) class probabilities p(y|x) of the generated samples.
        splits: the samples are cut into this many contiguous parts (``np.array_split``); each
            part has its own marginal p(y) and its own score.

    Returns:
        (mean, std) of the per-part scores (population std, as in the reference code). The score
        lies in [1, K]: 1 when every sample gets the same prediction, K when predictions are
        confident and spread evenly over the K classes.

    The KL is computed in log space with ``0 log 0 = 0`` (``scipy.special.rel_entr``), so
    one-hot predictions are fine; only the final mean is exponentiated.
    """
    p = _as_probs(probs, "inception_score")
    if not 1 <= splits <= p.shape[0]:
        raise ValueError(f"inception_score: splits must be in [1, N={p.shape[0]}], got {splits}")
    scores = []
    for part in np.array_split(p, splits):
        p_y = part.mean(axis=0, keepdims=True)                     # (1, K) marginal
        kl = rel_entr(part, p_y).sum(axis=1)                       # (n,) KL(p(y|x) || p(y))
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def prediction_entropy(probs):
    """The entropy ``H(p(y|x)) = -sum_y p(y|x) log p(y|x)`` of each row, in nats: (N,) float64.

    The Inception Score splits into the spread of the predictions and the doubt in each one.
    Within one part, with ``p(y)`` the mean of the rows,

        log IS = E_x KL(p(y|x) || p(y)) = H(p(y)) - E_x H(p(y|x)),

    since ``sum_y p(y|x) log p(y)`` averages to ``sum_y p(y) log p(y)``. ``H(p(y))`` is
    ``log K - KL(p(y) || U)`` (:func:`kl_to_uniform` of the mean probabilities), so a score
    below ``K`` is either an uneven spread over the classes or doubt about single samples; the
    mean of this function is the second. 0 for a one-hot row, ``log K`` for a uniform one.
    """
    p = _as_probs(probs, "prediction_entropy")
    return entr(p).sum(axis=1) + 0.0               # entr: -p log p with 0 at 0; + 0.0: no -0.0


def _labels(probs_or_labels, n_classes, op):
    a = np.asarray(to_numpy(array_of(probs_or_labels)))
    if a.ndim == 2:
        if a.shape[1] != n_classes:
            raise ShapeError(f"{op}: probs of shape {a.shape} do not have n_classes={n_classes}")
        return a.argmax(axis=1)
    if a.ndim == 1 and a.size and np.issubdtype(a.dtype, np.integer):
        if a.min() < 0 or a.max() >= n_classes:
            raise ValueError(f"{op}: labels must lie in [0, {n_classes}), got "
                             f"[{a.min()}, {a.max()}]")
        return a
    raise ShapeError(f"{op}: expected probs (N, {n_classes}) or integer labels (N,), got "
                     f"{a.dtype} {a.shape}")


class ModeCounts(NamedTuple):
    """``(modes, histogram)``: the number of classes covered and the per-class sample counts."""

    modes: int
    histogram: np.ndarray


def mode_counts(probs_or_labels, n_classes=10, threshold=0.01):
    """How many classes the samples cover.

    Args:
        probs_or_labels: (N, K) classifier probabilities (the argmax is the label) or (N,)
            integer labels.
        n_classes: K.
        threshold: a class counts as a covered mode when it holds at least this fraction of
            the samples (default 1%: 100 of the protocol's 10,000).

    Returns:
        :class:`ModeCounts` ``(modes, histogram)``: an int and a (K,) int array of counts.
    """
    labels = _labels(probs_or_labels, n_classes, "mode_counts")
    hist = np.bincount(labels, minlength=n_classes)
    # hist / N, not threshold * N: a fraction given as k/N then compares exactly
    return ModeCounts(int((hist / labels.size >= threshold).sum()), hist)


def kl_to_uniform(histogram):
    """``KL(p || U) = sum_k p_k log(K p_k) = log K - H(p)`` in nats, with p the normalised
    histogram: 0 for a perfectly even spread over the K classes, log K for a single class."""
    h = np.asarray(to_numpy(array_of(histogram)), dtype=np.float64)
    if h.ndim != 1 or h.size == 0 or h.min() < 0 or h.sum() <= 0:
        raise ValueError(f"kl_to_uniform: need a non-negative, non-empty histogram, got {h}")
    p = h / h.sum()
    return float(rel_entr(p, 1.0 / h.size).sum())


def accuracy_by_class(probs_or_labels, targets, n_classes=10):
    """For each class c, the share of the examples meant to be of class c (``targets == c``)
    that the classifier puts in class c: ``(K,)`` float64, NaN for a class with no example.

    For the samples of a conditional generator the targets are the classes it was asked for,
    so this is how often it draws the class asked for, as far as the classifier can tell
    (which itself misreads some real digits: compare with its accuracy on real images).

    Args:
        probs_or_labels: (N, K) classifier probabilities (the argmax is the prediction) or (N,)
            predicted integer labels.
        targets: (N,) integer classes in [0, K).
        n_classes: K.
    """
    op = "accuracy_by_class"
    predicted = _labels(probs_or_labels, n_classes, op)
    targets = _labels(targets, n_classes, op)
    if targets.ndim != 1 or targets.shape != predicted.shape:
        raise ShapeError(f"{op}: {predicted.shape[0]} predictions for targets of shape "
                         f"{targets.shape}")
    counts = np.bincount(targets, minlength=n_classes)                   # (K,)
    hits = np.bincount(targets[predicted == targets], minlength=n_classes)
    with np.errstate(invalid="ignore"):                                  # 0 / 0: no example
        return hits / counts


# --------------------------------------------------------------------------------------------
# Nearest-neighbour distance to the training set (does the generator copy?)
# --------------------------------------------------------------------------------------------

def nearest_neighbour_distances(samples, reference, chunk=500):
    """L2 distance from every sample to its nearest reference image: (N,) float64.

    The nearest neighbour is *found* with chunked GEMM distances (memory about
    ``chunk * n_ref * 8`` bytes); its distance is then *recomputed* directly as
    ``||x - r||``, because the GEMM form loses precision exactly where it matters here: for a
    copied image it would leave a roundoff residue of ~1e-6 instead of 0.
    """
    op = "nearest_neighbour_distances"
    xp = get_array_module(array_of(samples), array_of(reference), op=op)
    x = _as_rows(samples, xp, "samples", op)
    ref = _as_rows(reference, xp, "reference", op)
    _check_same_dim(op, samples=x, reference=ref)
    r_sq = (ref * ref).sum(axis=1)
    out = xp.empty(x.shape[0], dtype=xp.float64)
    for rows in _chunks(x.shape[0], chunk):
        nearest = _sq_distances(x[rows], ref, r_sq, xp).argmin(axis=1)    # (B,)
        diff = x[rows] - ref[nearest]                                      # (B, D)
        out[rows] = xp.sqrt((diff * diff).sum(axis=1))
    return to_numpy(out)


def nearest_neighbour_distance(samples, reference, chunk=500):
    """Median over samples of the L2 distance to the nearest reference (training) image.

    A median near 0 means the generator reproduces training images; compare it with the same
    number for held-out real images (test set vs training set) to judge what "near" is.
    """
    return float(np.median(nearest_neighbour_distances(samples, reference, chunk)))
