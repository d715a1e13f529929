"""The GAN objective of Goodfellow et al. (2014), its family, their gradients by hand, the step.

The discriminator outputs a *logit* ``a``; its probability that the input is real is
``D(x) = sigma(a)``. Everything here is computed from logits, where it is stable:
``log D = log sigma(a)`` and ``log(1 - D) = log sigma(-a)`` are finite for any finite ``a``,
while ``log(sigmoid(a))`` is ``-inf`` once ``sigmoid(a)`` rounds to 0.

With ``r`` the logits of N real examples and ``f`` the logits of M generated ones:

    value                  V = mean log sigma(r) + mean log sigma(-f)     (the estimate of V(D, G))
    discriminator_loss     L_D = -V
                           with one-sided label smoothing s (real examples' target t = 1 - s):
                           L_D = -mean[t log sigma(r) + s log sigma(-r)] - mean log sigma(-f)
                               = -V + s mean r
    generator_loss         L_G = -mean log sigma(f)         non-saturating (the default)
                           L_G =  mean log sigma(-f)        saturating: the minimax form

and their gradients with respect to the logits (docs/derivations/gan_loss.md derives them):

    dL_D/dr = (sigma(r) - 1) / N = -sigma(-r) / N      in (-1/N, 0)
            = (s - sigma(-r)) / N = (sigma(r) - t) / N  smoothed: in (-t/N, s/N)
    dL_D/df =  sigma(f) / M                             in (0, 1/M)
    dL_G/df = (sigma(f) - 1) / M = -sigma(-f) / M       non-saturating: -> -1/M as f -> -inf
    dL_G/df = -sigma(f) / M                             saturating: -> 0 as f -> -inf

The family: ``loss=`` selects the objective, each read from D's raw output (``r``, ``f`` as
above: a logit for "gan", a score otherwise), each with its gradient by hand
(docs/derivations/gan_family.md derives them, with the optimal D of each):

    "gan"           the above (the default)
    "lsgan"         L_D = 1/2 mean (r - 1)^2 + 1/2 mean f^2      dL_D/dr = (r - 1)/N, dL_D/df = f/M
                    L_G = 1/2 mean (f - 1)^2                    dL_G/df = (f - 1)/M
                    (least squares, Mao et al. 2017, targets a = 0, b = c = 1)
    "hinge"         L_D = mean relu(1 - r) + mean relu(1 + f)    dL_D/dr = -[r < 1]/N,
                                                                 dL_D/df =  [f > -1]/M
                    L_G = -mean f                               dL_G/df = -1/M
                    (the subgradient 0 at the kinks r = 1 and f = -1, as relu's at 0)
    "wasserstein"   L_D = mean f - mean r                        dL_D/dr = -1/N, dL_D/df = 1/M
                    L_G = -mean f                               dL_G/df = -1/M
                    (Arjovsky et al. 2017: D is a critic, kept Lipschitz by ``weight_clip`` or
                    by nn.SpectralNorm)

``saturating`` and ``label_smoothing`` belong to "gan" (they act on D's probability); with
another loss they are an error.

The functions take Tensors (and then return Tensors, differentiable through minigan's ops) or raw
NumPy/CuPy arrays (and return arrays). :func:`train_step` is Algorithm 1 of the paper (and, with
``loss="wasserstein"``, ``k=5``, ``weight_clip=0.01`` and RMSprop, Algorithm 1 of WGAN), with the
backward passes seeded by the hand-derived gradients above. The steps train a conditional GAN
(Mirza & Osindero 2014: ``G(z, y)``, ``D(x, y)``, e.g. ``minigan.models.build(name,
num_classes=10)``) when given the classes: ``real_labels`` of the real batch, ``fake_labels``
asked of G. The losses are the same; only what D judges changes, an image with its class.

The last section evaluates the objective on *known* densities (host NumPy, float64), for the
theory of the optimal discriminator: docs/theory.md and examples/theory.py. What that theory
gives a trained GAN, D's logit as an estimate of log p_data / p_g, is used by
:func:`acceptance_probability` to keep some of G's samples and drop others.
Tests: tests/test_gan.py, tests/test_theory.py.
"""

import numbers
from collections import namedtuple

import numpy as np

from . import functional as F
from .backend import get_array_module
from .ops.activations import _sigmoid, _softplus
from .tensor import Tensor, array_of, backward, no_grad

__all__ = [
    "LOSSES", "value", "discriminator_loss", "generator_loss", "discriminator_loss_grad",
    "generator_loss_grad", "train_step", "discriminator_step", "generator_step", "clip_weights",
    "StepResult", "optimal_logit", "expected_value", "acceptance_probability",
]

LOSSES = ("gan", "lsgan", "hinge", "wasserstein")


def _log_sigmoid(a):
    """log sigma(a) = -softplus(-a) on raw arrays, finite for every finite a."""
    return -_softplus(-a)


def _relu(a):
    """max(a, 0) on a Tensor (differentiable) or a raw array."""
    return F.relu(a) if isinstance(a, Tensor) else get_array_module(a).maximum(a, 0)


def _mean(a):
    """The mean as a 0-d array (NumPy returns a scalar; CuPy a 0-d array: make them agree)."""
    return get_array_module(a).asarray(a.mean())


def _0d(x, like):
    """``x`` (a NumPy scalar from 0-d arithmetic) as a 0-d array of ``like``'s library."""
    return get_array_module(like).asarray(x)


def _check_smoothing(label_smoothing):
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1) (the real examples' target is "
                         f"1 - label_smoothing), got {label_smoothing}")


def _check_loss(op, loss, saturating=False, label_smoothing=0.0):
    """Refuse an unknown ``loss``, and the options that belong to the original GAN only."""
    if loss not in LOSSES:
        raise ValueError(f"{op}: loss must be one of {', '.join(map(repr, LOSSES))}, got "
                         f"{loss!r}")
    if loss != "gan" and saturating:
        raise ValueError(f"{op}: saturating=True is the minimax generator loss of "
                         f"loss='gan'; loss={loss!r} has no saturating form")
    if loss != "gan" and label_smoothing:
        raise ValueError(f"{op}: label_smoothing smooths D's probability target under "
                         f"loss='gan'; loss={loss!r} has no probability to smooth")
    _check_smoothing(label_smoothing)


def _check_clip(op, c):
    if isinstance(c, bool) or not isinstance(c, numbers.Real) or not c > 0:
        raise ValueError(f"{op}: the weight clip c must be a number > 0, got {c!r}")


# --- the objective -----------------------------------------------------------------------------

def value(real_logits, fake_logits):
    """The minibatch estimate of V(D, G) = E_x log D(x) + E_z log(1 - D(G(z))).

    Args:
        real_logits: D's logits on real examples, any shape (N entries).
        fake_logits: D's logits on generated examples, any shape (M entries).

    Returns:
        A scalar Tensor if the logits are Tensors, else a 0-d array.
    """
    if isinstance(real_logits, Tensor) or isinstance(fake_logits, Tensor):
        return F.log_sigmoid(real_logits).mean() + F.log_sigmoid(-fake_logits).mean()
    return _0d(_mean(_log_sigmoid(real_logits)) + _mean(_log_sigmoid(-fake_logits)),
               real_logits)


def discriminator_loss(real_logits, fake_logits, label_smoothing=0.0, loss="gan"):
    """The discriminator's loss on its outputs for a real and a generated batch.

    For ``loss="gan"``, L_D = -V: the discriminator maximises V, i.e. minimises the binary
    cross-entropy of calling real examples real (target 1) and generated ones fake (target 0).

    Args:
        real_logits: D's outputs on real examples, any shape (N entries).
        fake_logits: D's outputs on generated examples, any shape (M entries).
        label_smoothing: one-sided label smoothing (Salimans et al. 2016), ``loss="gan"`` only:
            the real examples' target becomes ``t = 1 - label_smoothing``, generated ones keep 0.
            D's optimum becomes ``t p_data / (p_data + p_g)``, so D is never rewarded for
            certainty on real data; smoothing the fake targets too would stop penalising G where
            data has no mass (docs/derivations/gan_loss.md). Since ``log sigma(r) - log sigma(-r)
            = r``, the smoothed real term ``t log sigma(r) + s log sigma(-r)`` is
            ``log sigma(r) - s r``: the smoothed loss is ``-V + s mean(r)``, a linear penalty on
            D's real logits.
        loss: ``"gan"`` (the default), ``"lsgan"`` ``1/2 mean (r - 1)^2 + 1/2 mean f^2``,
            ``"hinge"`` ``mean relu(1 - r) + mean relu(1 + f)`` or ``"wasserstein"``
            ``mean f - mean r`` (docs/derivations/gan_family.md).

    Returns:
        A scalar Tensor if the outputs are Tensors, else a 0-d array.
    """
    _check_loss("discriminator_loss", loss, label_smoothing=label_smoothing)
    r, f = real_logits, fake_logits
    if loss == "gan":
        v = value(r, f)
        if label_smoothing:
            v = v - label_smoothing * r.mean()
        return -v if isinstance(v, Tensor) else _0d(-v, r)
    if loss == "lsgan":                            # D's targets: b = 1 on real, a = 0 on fake
        out = 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean()
    elif loss == "hinge":                          # no loss once r >= 1 and f <= -1
        out = _relu(1 - r).mean() + _relu(1 + f).mean()
    else:                                          # the critic's estimate of W1, negated
        out = f.mean() - r.mean()
    return out if isinstance(out, Tensor) else _0d(out, r)


def generator_loss(fake_logits, saturating=False, loss="gan"):
    """The generator's loss on D's outputs for its samples.

    Args:
        fake_logits: D's outputs on generated examples.
        saturating: ``loss="gan"`` only. True for the minimax form ``E log(1 - D(G(z)))``,
            whose gradient vanishes when D confidently rejects the samples (early in training);
            False (default) for the non-saturating ``-E log D(G(z))`` the paper recommends.
        loss: ``"gan"`` (the default), ``"lsgan"`` ``1/2 mean (f - 1)^2``, or ``"hinge"`` and
            ``"wasserstein"``, both ``-mean f`` (docs/derivations/gan_family.md).
    """
    _check_loss("generator_loss", loss, saturating=saturating)
    f = fake_logits
    if loss == "gan":
        if isinstance(f, Tensor):
            return F.log_sigmoid(-f).mean() if saturating else -F.log_sigmoid(f).mean()
        if saturating:
            return _mean(_log_sigmoid(-f))
        return _0d(-_mean(_log_sigmoid(f)), f)
    out = 0.5 * ((f - 1) ** 2).mean() if loss == "lsgan" else -f.mean()  # lsgan: target c = 1
    return out if isinstance(out, Tensor) else _0d(out, f)


# --- the gradients, by hand --------------------------------------------------------------------

def discriminator_loss_grad(real_logits, fake_logits, label_smoothing=0.0, loss="gan"):
    """The gradients of :func:`discriminator_loss` with respect to D's outputs.

    Returns:
        ``(g_real, g_fake)``, arrays shaped (and typed) like the outputs:

        - ``"gan"``: ``-sigma(-r)/N`` and ``sigma(f)/M``. Written as ``-sigma(-r)`` rather than
          ``sigma(r) - 1``, which cancels to 0 in relative terms for large ``r``. With label
          smoothing ``s`` (target ``t = 1 - s``), ``g_real`` is ``(sigma(r) - t)/N``, computed
          as ``(s - sigma(-r))/N`` for the same reason: exactly ``s/N`` where ``sigma(r)``
          rounds to 1, and the unsmoothed form bit for bit at ``s = 0``.
        - ``"lsgan"``: ``(r - 1)/N`` and ``f/M``.
        - ``"hinge"``: ``-1/N`` where ``r < 1``, else 0; ``1/M`` where ``f > -1``, else 0. At the
          kinks ``r = 1`` and ``f = -1`` the subgradient 0 (relu's at 0).
        - ``"wasserstein"``: ``-1/N`` and ``1/M`` everywhere, whatever the outputs.
    """
    _check_loss("discriminator_loss_grad", loss, label_smoothing=label_smoothing)
    r, f = array_of(real_logits), array_of(fake_logits)
    xp = get_array_module(r)
    n, m = _one_over_size(r), _one_over_size(f)  # 1/N, 1/M in their dtypes
    if loss == "gan":
        g_real = (r.dtype.type(label_smoothing) - _sigmoid(-r)) * n
        g_fake = _sigmoid(f) * m
    elif loss == "lsgan":
        g_real, g_fake = (r - 1) * n, f * m
    elif loss == "hinge":
        g_real = xp.where(r < 1, -n, r.dtype.type(0))
        g_fake = xp.where(f > -1, m, f.dtype.type(0))
    else:
        g_real, g_fake = xp.full_like(r, -n), xp.full_like(f, m)
    return g_real, g_fake


def _one_over_size(a):
    """1/N, the weight of each entry in a mean, in ``a``'s dtype; for no entries (an empty
    batch: the mean is NaN, as ``Tensor.mean``'s) the gradient is an empty array all the same."""
    return a.dtype.type(1.0 / a.size if a.size else 0.0)


def generator_loss_grad(fake_logits, saturating=False, loss="gan"):
    """The gradient of :func:`generator_loss` with respect to D's outputs: an array shaped like
    them, ``-sigma(-f)/M`` (``"gan"``, non-saturating), ``-sigma(f)/M`` (saturating),
    ``(f - 1)/M`` (``"lsgan"``) or ``-1/M`` everywhere (``"hinge"``, ``"wasserstein"``)."""
    _check_loss("generator_loss_grad", loss, saturating=saturating)
    f = array_of(fake_logits)
    m = _one_over_size(f)
    if loss == "gan":
        return -(_sigmoid(f) if saturating else _sigmoid(-f)) * m
    if loss == "lsgan":
        return (f - 1) * m
    return get_array_module(f).full_like(f, -m)


# --- the training step: Algorithm 1 of Goodfellow et al. (2014) ---------------------------------

StepResult = namedtuple("StepResult", "d_loss g_loss d_real d_fake")
StepResult.__doc__ = """What one :func:`train_step` measured, as 0-d arrays on the models' device
(bring them to the host only when logging: ``float(result.d_loss)``).

    d_loss   L_D at the last discriminator update (before it)
    g_loss   L_G at the generator update (before it)
    d_real   mean D(x) on the real batch of the last discriminator update
    d_fake   mean D(G(z)) on the generated batch of the last discriminator update

D(x) is the probability sigma(logit) for ``loss="gan"`` and D's raw output (its score) for the
other losses; for ``"wasserstein"``, ``d_real - d_fake = -d_loss`` is the critic's estimate of
the Wasserstein-1 distance (times its Lipschitz constant).
"""


def clip_weights(params, c):
    """Clip every entry of every parameter to ``[-c, c]``, in place: WGAN's Lipschitz constraint.

    Arjovsky et al. (2017) keep the critic in a set of K-Lipschitz functions by clipping its
    weights after each update (c = 0.01 in the paper): with every weight in a box, each layer's
    gain is bounded, so K is. It is crude (K is loose and the critic's capacity is spent against
    the box); ``nn.SpectralNorm`` is the alternative (docs/derivations/gan_family.md). Called
    by :func:`discriminator_step` with ``weight_clip=c``.

    Args:
        params: an iterable of parameters, e.g. ``D.parameters()``. Their arrays are changed in
            place (``p.data`` stays the same array object); buffers are not touched.
        c: the bound, a number > 0.
    """
    _check_clip("clip_weights", c)
    if isinstance(params, Tensor):
        raise TypeError("clip_weights: params must be an iterable of parameters, got a single "
                        "Tensor; wrap it in a list")
    for p in params:
        get_array_module(p.data).clip(p.data, -c, c, out=p.data)


def _with_labels(net, x, labels):
    """``net(x)``, or ``net(x, labels)`` for a conditional network given the classes."""
    return net(x) if labels is None else net(x, labels)


def _check_labels(op, real_labels, fake_labels):
    if (real_labels is None) != (fake_labels is None):
        given, missing = (("real_labels", "fake_labels") if fake_labels is None
                          else ("fake_labels", "real_labels"))
        raise ValueError(f"{op}: {given} without {missing}: a conditional D judges every image, "
                         f"real and generated, with its class")


def discriminator_step(G, D, opt_D, real, z, label_smoothing=0.0, loss="gan", weight_clip=None,
                       real_labels=None, fake_labels=None):
    """One update of D: descend :func:`discriminator_loss` on a real batch and a batch generated
    from noise ``z`` (for ``loss="gan"``, ascend V), then clip D's weights to
    ``[-weight_clip, weight_clip]`` if ``weight_clip`` is given (:func:`clip_weights`).

    For a conditional GAN, ``real_labels`` are the classes of the real batch and ``fake_labels``
    those G is asked for (both, or neither): D judges ``D(real, real_labels)`` and
    ``D(G(z, fake_labels), fake_labels)``.

    Returns:
        ``(real_logits, fake_logits)`` as arrays, from before the update.
    """
    _check_loss("discriminator_step", loss, label_smoothing=label_smoothing)
    _check_labels("discriminator_step", real_labels, fake_labels)
    if weight_clip is not None:
        _check_clip("discriminator_step", weight_clip)
    with no_grad():
        fake = _with_labels(G, z, fake_labels)  # a constant (a detach that records no graph)
    opt_D.zero_grad()
    real_logits = _with_labels(D, real, real_labels)
    fake_logits = _with_labels(D, fake, fake_labels)
    g_real, g_fake = discriminator_loss_grad(real_logits, fake_logits, label_smoothing, loss)
    # One backward pass seeded with both hand-derived gradients: grads of shared weights add up.
    backward([real_logits, fake_logits], [g_real, g_fake])
    opt_D.step()
    if weight_clip is not None:
        clip_weights(D.parameters(), weight_clip)
    return real_logits.data, fake_logits.data


def generator_step(G, D, opt_G, z, saturating=False, loss="gan", fake_labels=None):
    """One update of G through a frozen D: descend L_G on a batch generated from ``z`` (for a
    conditional GAN, of the classes ``fake_labels``: ``D(G(z, fake_labels), fake_labels)``).

    D's parameters are switched to ``requires_grad=False`` for the pass (and restored after), so
    the backward pass neither computes nor accumulates gradients for them: D is not updated and
    its ``.grad`` is left as it was.

    Returns:
        The outputs D gave the generated batch (an array, from before the update).
    """
    _check_loss("generator_step", loss, saturating=saturating)
    frozen = [(p, p.requires_grad) for p in D.parameters()]
    for p, _ in frozen:
        p.requires_grad = False
    try:
        opt_G.zero_grad()
        fake_logits = _with_labels(D, _with_labels(G, z, fake_labels), fake_labels)
        backward([fake_logits], [generator_loss_grad(fake_logits, saturating, loss)])
        opt_G.step()
    finally:
        for p, flag in frozen:
            p.requires_grad = flag
    return fake_logits.data


def _per_step(x, count, name, like=None):
    """``x`` for each of ``count`` steps: a callable is called, a list is used in order, a
    single batch is reused. Labels (``like``: the batches they label) take the form of their
    batches: a list of labels is one batch's where the batches are one reused."""
    if callable(x) and not isinstance(x, Tensor):
        return [x() for _ in range(count)]
    if isinstance(x, (list, tuple)) and (like is None or isinstance(like, (list, tuple))):
        if len(x) != count:
            raise ValueError(f"train_step: {name} is a list of {len(x)} batches, expected "
                             f"{count}")
        return list(x)
    return [x] * count


def _mean_output(logits, loss):
    """Mean D(x): the probability sigma(logit) under "gan", the raw score otherwise."""
    return _mean(_sigmoid(logits)) if loss == "gan" else _mean(logits)


def train_step(G, D, opt_G, opt_D, real, z, k=1, saturating=False, label_smoothing=0.0,
               loss="gan", weight_clip=None, real_labels=None, fake_labels=None):
    """One iteration of Algorithm 1: ``k`` updates of D, then one update of G.

    Args:
        G, D: modules; ``D`` returns logits (no final sigmoid), or scores for the other losses.
        opt_G, opt_D: optimisers over ``G.parameters()`` and ``D.parameters()``.
        real: a real batch (Tensor), reused by every D update, or a list of ``k`` batches.
        z: noise: a Tensor used for every update, a list of ``k + 1`` Tensors (one per D update,
            the last for G's), or a callable returning a fresh batch (called ``k + 1`` times).
        k: discriminator updates per generator update (the paper used k = 1; WGAN's n_critic
            is 5).
        saturating: use the minimax generator loss instead of the non-saturating one
            (``loss="gan"`` only).
        label_smoothing: one-sided label smoothing of D's real targets (1 becomes
            ``1 - label_smoothing``; ``loss="gan"`` only); see :func:`discriminator_loss`. G's
            loss is unchanged.
        loss: the objective, one of :data:`LOSSES` (see :func:`discriminator_loss`).
        weight_clip: if given, D's parameters are clipped to ``[-weight_clip, weight_clip]``
            after each of its ``k`` updates (WGAN: 0.01, with ``opt_D`` RMSprop at 5e-5).
        real_labels, fake_labels: for a conditional GAN, the classes of the real batches (in
            ``real``'s form: one reused, or a list of ``k``) and the classes asked of G (in
            ``z``'s form: one reused, a list of ``k + 1``, or a callable called ``k + 1``
            times); both, or neither.

    Returns:
        A :class:`StepResult` of 0-d device arrays (no host synchronisation happens here).
    """
    if k < 1:
        raise ValueError(f"train_step: k must be at least 1, got {k}")
    _check_loss("train_step", loss, saturating, label_smoothing)
    _check_labels("train_step", real_labels, fake_labels)
    if weight_clip is not None:
        _check_clip("train_step", weight_clip)
    reals, noises = _per_step(real, k, "real"), _per_step(z, k + 1, "z")
    real_ys, fake_ys = [None] * k, [None] * (k + 1)                   # unconditional
    if real_labels is not None:
        real_ys = _per_step(real_labels, k, "real_labels", like=real)
        fake_ys = _per_step(fake_labels, k + 1, "fake_labels", like=z)
    for name, batches in (("real", reals), ("z", noises)):
        if any(getattr(b, "size", 1) == 0 for b in batches):
            raise ValueError(f"train_step: the {name} batch is empty (N = 0); a step needs at "
                             f"least one example (its losses would be the mean of nothing)")
    for real_i, z_i, real_y, fake_y in zip(reals, noises[:k], real_ys, fake_ys[:k]):
        real_logits, fake_logits = discriminator_step(G, D, opt_D, real_i, z_i, label_smoothing,
                                                      loss, weight_clip, real_y, fake_y)
    g_logits = generator_step(G, D, opt_G, noises[k], saturating, loss, fake_ys[k])
    return StepResult(d_loss=discriminator_loss(real_logits, fake_logits, label_smoothing, loss),
                      g_loss=generator_loss(g_logits, saturating, loss),
                      d_real=_mean_output(real_logits, loss),
                      d_fake=_mean_output(fake_logits, loss))


# --- theory on known densities (host NumPy, float64) -------------------------------------------

def optimal_logit(log_p_data, log_p_g):
    """The logit of the optimal discriminator D* = p_data / (p_data + p_g): log p_data - log p_g.

    Taking log densities keeps the tails: two Gaussian densities both underflow to 0 a few dozen
    standard deviations out, but their logs, and so D*'s logit, stay exact. Where both densities
    are 0 (log -inf) D* is arbitrary; this returns logit 0 (D* = 1/2) there.
    """
    log_p_data, log_p_g = np.asarray(log_p_data, float), np.asarray(log_p_g, float)
    both_zero = np.isneginf(log_p_data) & np.isneginf(log_p_g)
    with np.errstate(invalid="ignore"):  # -inf - -inf, replaced just below
        a = log_p_data - log_p_g
    return np.where(both_zero, 0.0, a)


def expected_value(logits, p_data, p_g, weights=1.0):
    """V(D, G) = sum_x w(x) [p_data(x) log D(x) + p_g(x) log(1 - D(x))], with D = sigma(logits).

    For a discrete distribution ``p_data``, ``p_g`` are probabilities and ``weights`` 1; for
    densities on a grid, ``weights`` are the quadrature weights (the grid spacing). Terms with
    probability 0 contribute 0 (the convention 0 log 0 = 0), even where the log is -inf.
    """
    logits = np.asarray(logits, float)
    p_data, p_g = np.asarray(p_data, float), np.asarray(p_g, float)
    log_d, log_1md = _log_sigmoid(logits), _log_sigmoid(-logits)
    terms = (p_data * np.where(p_data > 0, log_d, 0.0)  # 0 * -inf would be nan
             + p_g * np.where(p_g > 0, log_1md, 0.0))
    return float(np.sum(weights * terms))


# --- using D after training: rejection sampling ------------------------------------------------

def acceptance_probability(logits, cap):
    """The chance of keeping a sample of G whose logit under D is ``a``: ``min(1, exp(a - cap))``.

    Discriminator rejection sampling (Azadi et al., 2019). For the optimal discriminator
    ``a = log p_data(x) - log p_g(x)`` (:func:`optimal_logit`), so the samples kept from ``p_g``
    have density proportional to

        p_g(x) min(1, exp(a(x) - cap)) = min(p_g(x), exp(-cap) p_data(x)),

    which is ``p_data`` itself once ``cap >= max_x a(x)`` (then a fraction ``exp(-cap)`` of the
    samples is kept), and approaches ``p_g`` as ``cap`` falls: a lower cap keeps more samples and
    corrects less. A trained D only estimates the log ratio; docs/theory.md derives this and
    tests/test_theory.py checks it on Gaussians. Works on NumPy or CuPy arrays (and floats).
    """
    xp = get_array_module(logits)
    a = xp.asarray(logits)
    return xp.exp(xp.minimum(a - cap, 0.0))
