"""Weight initialisation, in place and outside the graph, with PyTorch's names and formulas.

Each function overwrites ``t.data`` (a Tensor or Parameter) and returns ``t``. Random draws come
from ``generator``: a NumPy/CuPy Generator, an int seed, or None for the default generator,
which :func:`manual_seed` reseeds so that a whole model builds the same way every run::

    minigan.nn.init.manual_seed(0)
    G = build_generator()        # identical weights on every run

Values are drawn on the host by default and then copied to the tensor's device, so a seed gives
the same model on "cpu" and on "cuda".

The scale rules (Glorot & Bengio 2010; He et al. 2015) keep the variance of activations (and of
gradients) roughly constant from layer to layer::

    xavier_uniform_:  U(-a, a),  a = gain sqrt(6 / (fan_in + fan_out))
    kaiming_uniform_: U(-b, b),  b = gain sqrt(3 / fan)      gain = sqrt(2 / (1 + a^2)) for leaky_relu

Tests: tests/test_nn.py.
"""

import math

from .. import backend

_seed = None
_generators = {}  # device -> Generator


def manual_seed(seed):
    """Reseed the default generators (initialisation, and dropout on every device)."""
    global _seed
    _seed = int(seed)
    _generators.clear()


seed = manual_seed


def default_generator(device="cpu"):
    """The default Generator of ``device``, created on first use from the last manual seed."""
    if device not in _generators:
        _generators[device] = backend.rng(_seed, device)
    return _generators[device]


def _gen(generator):
    if generator is None:
        return default_generator("cpu")
    if isinstance(generator, int):
        return backend.rng(generator)
    return generator


def _fill(t, values):
    """Write ``values`` into ``t.data`` in place, on t's device and in t's dtype (a change
    that advances ``t._version``, as every in-place change minigan makes)."""
    t.data[...] = backend.to_device(values, t.device)
    return t._changed()


def _calculate_fan_in_and_fan_out(t):
    """PyTorch's fans: fan_in = size(1) * receptive field, fan_out = size(0) * receptive field.

    For Linear (out, in) and Conv2d (C_out, C_in, KH, KW) these are the inputs and outputs of a
    unit. ConvTranspose2d stores (C_in, C_out, KH, KW), so the same formula gives it
    fan_in = C_out KH KW; PyTorch does exactly this, and so do we, to initialise identically.
    """
    if t.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got "
                         f"shape {t.shape}")
    receptive = 1
    for n in t.shape[2:]:
        receptive *= n
    return t.shape[1] * receptive, t.shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    """The gain that keeps activations' variance after ``nonlinearity`` (PyTorch's table)."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                        "conv_transpose2d", "conv_transpose3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def uniform_(t, a=0.0, b=1.0, generator=None):
    """Fill ``t`` with draws from U(a, b)."""
    # a + (b - a) U(0, 1) and mean + std N(0, 1): the two draws NumPy and CuPy Generators share.
    return _fill(t, a + (b - a) * _gen(generator).random(t.shape))


def normal_(t, mean=0.0, std=1.0, generator=None):
    """Fill ``t`` with draws from N(mean, std^2)."""
    return _fill(t, mean + std * _gen(generator).standard_normal(t.shape))


def constant_(t, val):
    t.data[...] = val
    return t._changed()


def zeros_(t):
    return constant_(t, 0)


def ones_(t):
    return constant_(t, 1)


def xavier_uniform_(t, gain=1.0, generator=None):
    """Glorot uniform (Keras' default): U(-a, a) with a = gain sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    a = gain * math.sqrt(6.0 / max(fan_in + fan_out, 1))  # 0: a tensor without entries
    return uniform_(t, -a, a, generator)


def xavier_normal_(t, gain=1.0, generator=None):
    """Glorot normal: N(0, std^2) with std = gain sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / max(fan_in + fan_out, 1)), generator)


def _kaiming_std(t, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(max(fan, 1))  # fan 0: no entries


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-b, b) with b = gain sqrt(3 / fan); ``a`` is the leaky-ReLU slope.

    With PyTorch's layer default a = sqrt(5) the gain is sqrt(1/3), so b = 1 / sqrt(fan_in).
    """
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity), generator)


__all__ = ["manual_seed", "seed", "default_generator", "calculate_gain", "uniform_", "normal_",
           "constant_", "zeros_", "ones_", "xavier_uniform_", "xavier_normal_",
           "kaiming_uniform_", "kaiming_normal_"]
