"""Averages of a network's weights: a moving average during training, a uniform one after it.

GAN training seldom settles on one point: G and D chase each other, and G's weights keep circling
near a good generator instead of stopping at it. An average of the iterates lands nearer the
middle of that circle, and the averaged generator usually draws better samples than any single
iterate. Three tools, none of which takes part in training:

* :class:`EMA`: an exponential moving average of a module's weights, updated after every
  optimiser step (Polyak averaging, with a warm-up);
* :func:`average_state_dicts`: the uniform mean of saved snapshots, over a window chosen after
  training (stochastic weight averaging for G);
* :func:`update_bn`: batch norm statistics of an averaged network's own, recomputed from data,
  since statistics copied or averaged from other weights do not fit it.

Tests: tests/test_ema.py, tests/test_average.py.
"""

import copy
import itertools

from . import backend
from .nn import BatchNorm1d, BatchNorm2d
from .ops import args
from .optim import _scalar, _scratch
from .tensor import Tensor, no_grad

__all__ = ["EMA", "average_state_dicts", "update_bn"]


class EMA:
    """An exponential moving average of a module's weights (Polyak averaging), to sample from.

    The average of the recent iterates usually draws cleaner samples than any single one (the
    module's docstring says why; Yazici et al. 2019, "The unusual effectiveness of averaging in
    GAN training"). It takes no part in training: it is a shadow copy that :meth:`update` pulls
    towards the live weights after every optimiser step::

        ema = minigan.averaging.EMA(G, decay=0.999)
        for step in range(steps):
            gan.train_step(G, D, opt_G, opt_D, ...)
            ema.update()
        samples = ema.module(z)          # the averaged generator (in eval mode)

    After update number ``t`` (1, 2, ...), every parameter ``p`` of the copy holds::

        beta_t = min(decay, t / (t + 9))          warm-up: the first updates count for more
        avg    = beta_t * avg + (1 - beta_t) * p  in place

    so the average looks back over about ``1 / (1 - decay)`` steps (1,000 for 0.999). Without
    the warm-up, the first thousand averages would still be mostly the initial weights. While
    the warm-up lasts (``t < 9 decay / (1 - decay)``: 8,991 updates for 0.999, 89,991 for
    0.9999), the average looks back over about the last ``t / 9`` steps, whatever ``decay`` is.
    Buffers (batch norm's running statistics) are copied from the live network: they are the
    statistics of *its* activations, not of the average's, whose weights lag behind. Before
    sampling from an average with batch norm, give it its own with :func:`update_bn`.

    Args:
        module: the module to follow (its parameters and buffers are read, never written).
        decay: the averaging coefficient, in [0, 1); 0 makes the copy equal the live weights.
    """

    def __init__(self, module, decay=0.999):
        self.decay = args.real(decay, "EMA", "decay", 0, 1, high_open=True)
        self.num_updates = 0
        self.module = copy.deepcopy(module).eval()    # same layers, own arrays
        for p in self.module.parameters():
            p.grad = None
            p.requires_grad_(False)                   # sampling from it builds no graph
        # (average, live) pairs, in the same order: the copy has the live module's structure.
        self._live = list(module.parameters())
        self._params = list(zip(self.module.parameters(), self._live))
        self._buffers = list(zip(self.module.buffers(), module.buffers()))
        self._scratch_buffers = {}

    def update(self):
        """Pull the average one step towards the live weights; copy the live buffers."""
        self.num_updates += 1
        t = self.num_updates
        beta = min(self.decay, t / (t + 9))
        for avg, p in self._params:
            xp = backend.get_array_module(avg.data, p.data, op="EMA.update")
            avg.data *= _scalar(beta, p)                    # in place, in the parameter's dtype
            scratch = _scratch(self._scratch_buffers, p, self._live)
            avg.data += xp.multiply(p.data, _scalar(1 - beta, p), out=scratch)
            avg._changed()                      # changed in place: see Tensor._version
        for avg, b in self._buffers:
            avg.data[...] = b.data
            avg._changed()

    def state_dict(self):
        """``{"decay", "num_updates", "module.<name>": array}``: all :meth:`load_state_dict`
        needs. The arrays are copies."""
        out = {"decay": self.decay, "num_updates": self.num_updates}
        for name, value in self.module.state_dict().items():
            out[f"module.{name}"] = value.copy()
        return out

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` saved. Names and shapes are checked against the
        module first (a ``minigan.nn.StateDictError`` lists every mismatch)."""
        sd = dict(state_dict)
        missing = [k for k in ("decay", "num_updates") if k not in sd]
        if missing:
            raise ValueError(f"EMA.load_state_dict: missing key(s) {missing} (is this an EMA's "
                             f"state dict?)")
        decay, num_updates = float(sd.pop("decay")), int(sd.pop("num_updates"))
        weights = {k.removeprefix("module."): v for k, v in sd.items()}
        self.module.load_state_dict(weights)           # checks names and shapes, then copies
        self.decay, self.num_updates = decay, num_updates

    def __repr__(self):
        return f"EMA(decay={self.decay}, num_updates={self.num_updates})"


def average_state_dicts(state_dicts):
    """The uniform average of several snapshots of one module's weights.

    Where :class:`EMA` averages the recent iterates as training goes, this averages saved
    ones afterwards, over a window chosen after the fact: every array entry is the mean of its
    values across ``state_dicts`` (summed in float64, returned in its own dtype), and every
    other entry (an EMA's ``decay`` and ``num_updates``, say) is the last snapshot's. With
    snapshots of a run taken every few thousand steps this is stochastic weight averaging
    (Izmailov et al. 2018) for G: a single network whose weights sit nearer the middle of the
    region that training circles. Buffers are averaged like weights, so batch norm's running
    statistics become the mean of the snapshots' (an approximation of the averaged network's
    own statistics: :func:`update_bn` computes those).

    Args:
        state_dicts: a sequence of ``state_dict()``s of the same module (or of an :class:`EMA`
            of it): the same keys, arrays of the same shapes.

    Returns:
        A new dict with the same keys.

    Raises:
        ValueError: no snapshots, or two that differ in their keys or in an array's shape.
    """
    state_dicts = list(state_dicts)
    if not state_dicts:
        raise ValueError("average_state_dicts: no state dicts to average")
    first = state_dicts[0]
    for i, sd in enumerate(state_dicts[1:], start=1):
        if sd.keys() != first.keys():
            extra, missing = sorted(sd.keys() - first.keys()), sorted(first.keys() - sd.keys())
            raise ValueError(f"average_state_dicts: state dict {i} has other keys than state "
                             f"dict 0 (only in {i}: {extra}; only in 0: {missing})")
    out = dict(state_dicts[-1])
    for key, value in first.items():
        if not hasattr(value, "shape") or not hasattr(value, "dtype"):
            continue                                       # numbers, strings: the last one's
        values = [sd[key] for sd in state_dicts]
        shapes = {tuple(v.shape) for v in values}
        if len(shapes) > 1:
            raise ValueError(f"average_state_dicts: {key!r} has shapes {sorted(shapes)} in "
                             f"different state dicts")
        xp = backend.get_array_module(*values, op="average_state_dicts")
        total = xp.zeros(value.shape, dtype=xp.float64)
        for v in values:
            total += v
        total /= len(values)                               # in place: a 0-d array stays one
        out[key] = total.astype(value.dtype)
    return out


def update_bn(batches, module):
    """Recompute the running statistics of every batch norm layer of ``module`` from data.

    A batch norm layer in eval mode normalises with running statistics, a moving average of the
    batch statistics seen in training. Those belong to the weights that produced them. A network
    whose weights were *averaged* (:class:`EMA`, :func:`average_state_dicts`) feeds its batch
    norm layers activations of another mean and variance, and its copied or averaged statistics
    normalise them wrongly: the averaged weights, with the wrong statistics, can draw worse
    samples than the network they average (stochastic weight averaging has the same step,
    Izmailov et al. 2018). This runs ``module`` in training mode, without a graph, over
    ``batches`` and sets each layer's statistics to the mean of its batch statistics (means,
    and unbiased variances) over them, the population statistics of the module as it is.
    Parameters are not touched; the module's mode and each layer's momentum are restored.

    Args:
        batches: an iterable of inputs to ``module`` (arrays or Tensors), e.g. batches of noise
            for a generator, or of tuples of inputs (``(z, labels)`` for a conditional G). Use
            the batch size the network trained with.
        module: a Module; one without batch norm layers is left as it is.

    Returns:
        The number of batches run (0 where the module has no batch norm to update).
    """
    layers = [m for m in module.modules()
              if isinstance(m, (BatchNorm1d, BatchNorm2d)) and m.track_running_stats]
    if not layers:
        return 0
    batches = iter(batches)
    first = next(batches, None)
    if first is None:                       # before any statistic is reset: nothing is lost
        raise ValueError("update_bn: no batches to compute the statistics from")
    momenta = [m.momentum for m in layers]
    was_training = module.training
    for m in layers:
        m.running_mean.data[...] = 0
        m.running_var.data[...] = 1
        m.num_batches_tracked.data[...] = 0
        m.momentum = None                   # a cumulative average: batch i weighs 1 / i
    module.train()
    n = 0
    try:
        with no_grad():
            for x in itertools.chain([first], batches):
                x, *rest = x if isinstance(x, tuple) else (x,)     # rest: e.g. the labels
                module(x if isinstance(x, Tensor) else Tensor(x), *rest)
                n += 1
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
        module.train(was_training)
    return n
