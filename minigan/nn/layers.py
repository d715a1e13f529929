"""The layers, with PyTorch's names, arguments, parameter shapes and default initialisation.

Every layer with parameters takes ``dtype=`` (default float32), ``device=`` (default
``minigan.backend.default_device()``) and ``generator=`` (a Generator or int seed for its
initialisation; default: ``minigan.nn.init``'s seeded default generator).
Tests: tests/test_nn.py.
"""

import math

import numpy as np

from .. import backend
from .. import functional as F
from ..ops import activations as _act
from ..ops import spectral_norm as _sn
from ..ops.conv import _pair
from ..ops.dropout import dropout
from ..ops.norm import batch_norm
from ..tensor import DEFAULT_DTYPE, ShapeError
from . import init
from .module import Module, Parameter


def _empty(shape, dtype, device):
    device = backend.default_device() if device is None else device
    dtype = DEFAULT_DTYPE if dtype is None else np.dtype(dtype)
    return Parameter(backend.xp_for(device).zeros(shape, dtype=dtype))


def _reset_weight_and_bias(weight, bias, generator):
    """PyTorch's default for Linear and Conv: kaiming_uniform_(a=sqrt(5)), i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the weight, and the same bound for the bias."""
    init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound, generator=generator)


class Linear(Module):
    """y = x W^T + b with W of shape (out_features, in_features), b of shape (out_features,)."""

    def __init__(self, in_features, out_features, bias=True, dtype=None, device=None,
                 generator=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty((out_features, in_features), dtype, device)
        self.register_parameter("bias", _empty((out_features,), dtype, device) if bias else None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        _reset_weight_and_bias(self.weight, self.bias, generator)

    def forward(self, x):
        return self.with_weight(x, self.weight)

    def with_weight(self, x, weight):
        """The layer's map with ``weight`` in place of its own (``SpectralNorm`` uses it)."""
        return F.linear(x, weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class _ConvNd(Module):
    def _setup(self, in_channels, out_channels, kernel_size, stride, padding, dilation, bias,
               weight_shape, dtype, device, generator):
        self.in_channels, self.out_channels = in_channels, out_channels
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, "kernel_size", name, 1)
        self.stride = _pair(stride, "stride", name, 1)
        if isinstance(padding, str):                                  # "same" or "valid"
            self.padding = padding
        elif isinstance(padding, (tuple, list)) and len(padding) == 4:  # (top, bottom, left, right)
            self.padding = tuple(padding)
        else:
            self.padding = _pair(padding, "padding", name, 0)
        self.dilation = _pair(dilation, "dilation", name, 1)
        self.weight = _empty(weight_shape(self.kernel_size), dtype, device)
        self.register_parameter("bias", _empty((out_channels,), dtype, device) if bias else None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None):
        _reset_weight_and_bias(self.weight, self.bias, generator)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) \
                else f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if getattr(self, "output_padding", (0, 0)) != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as in PyTorch), weight (C_out, C_in, KH, KW).

    Input (N, C_in, H, W) -> output (N, C_out, OH, OW); see ``minigan.functional.conv2d``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True, dtype=None, device=None, generator=None):
        super().__init__()
        self._setup(in_channels, out_channels, kernel_size, stride, padding, dilation, bias,
                    lambda k: (out_channels, in_channels) + k, dtype, device, generator)

    def forward(self, x):
        return self.with_weight(x, self.weight)

    def with_weight(self, x, weight):
        """The layer's map with ``weight`` in place of its own (``SpectralNorm`` uses it)."""
        return F.conv2d(x, weight, self.bias, stride=self.stride, padding=self.padding,
                        dilation=self.dilation)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution (the adjoint of Conv2d), weight (C_in, C_out, KH, KW).

    OH = (H - 1) stride - 2 padding + dilation (KH - 1) + output_padding + 1 (same for OW);
    see ``minigan.functional.conv_transpose2d``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, dilation=1, bias=True, dtype=None, device=None,
                 generator=None):
        super().__init__()
        self.output_padding = _pair(output_padding, "output_padding", "ConvTranspose2d", 0)
        self._setup(in_channels, out_channels, kernel_size, stride, padding, dilation, bias,
                    lambda k: (in_channels, out_channels) + k, dtype, device, generator)

    def forward(self, x):
        return self.with_weight(x, self.weight)

    def with_weight(self, x, weight):
        """The layer's map with ``weight`` in place of its own (``SpectralNorm`` uses it)."""
        return F.conv_transpose2d(x, weight, self.bias, stride=self.stride,
                                  padding=self.padding, output_padding=self.output_padding,
                                  dilation=self.dilation)


class _BatchNorm(Module):
    _input_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype=None, device=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = init.ones_(_empty((num_features,), dtype, device))
            self.bias = _empty((num_features,), dtype, device)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", _empty((num_features,), dtype, device).detach())
            self.register_buffer("running_var",
                                 init.ones_(_empty((num_features,), dtype, device)).detach())
            xp = backend.xp_for(self.running_mean.device)
            self.register_buffer("num_batches_tracked", xp.zeros((), dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x):
        if x.ndim not in self._input_dims:
            raise ShapeError(f"{type(self).__name__}: expected a "
                             f"{' or '.join(f'{d}-D' for d in self._input_dims)} input, got "
                             f"shape {x.shape}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # a cumulative average over all batches so far
                momentum = 1.0 / int(self.num_batches_tracked.data)
        # Batch statistics in training, or when there are no running ones to use.
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(x, self.running_mean if track else None,
                          self.running_var if track else None, self.weight, self.bias,
                          training=use_batch_stats, momentum=momentum, eps=self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs: statistics per feature C."""
    _input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs: statistics per channel, over N, H and W."""
    _input_dims = (4,)


class SpectralNorm(Module):
    """``layer`` (Linear, Conv2d or ConvTranspose2d) with its weight divided by its spectral norm
    (Miyato et al., 2018): the layer's map is then 1-Lipschitz (about, for a convolution),
    whatever the optimiser does to the weight. ``minigan.ops.spectral_norm`` derives it; docs/models.md says why D wants it.

    The weight stays the learned Parameter (``layer.weight``); every forward pass uses
    ``W / sigma(W)``. sigma comes from power iteration on the buffers ``u`` and ``v`` (the
    leading singular vectors): ``power_iterations`` steps per forward pass in training,
    continued from the last, and none in eval, so eval is deterministic. ``dim`` is the weight's
    output axis (0; 1 for ConvTranspose2d, whose weight is (C_in, C_out, KH, KW)).

        D = nn.Sequential(nn.SpectralNorm(nn.Conv2d(1, 64, 4, 2, 1)), nn.LeakyReLU(0.2), ...)
    """

    def __init__(self, layer, power_iterations=1, dim=None, eps=1e-12, generator=None):
        super().__init__()
        if not isinstance(getattr(layer, "weight", None), Parameter) or not hasattr(
                layer, "with_weight"):
            raise TypeError(f"SpectralNorm: needs a Linear, Conv2d or ConvTranspose2d, got "
                            f"{type(layer).__name__}")
        if power_iterations < 1:
            raise ValueError(f"SpectralNorm: power_iterations must be at least 1, got "
                             f"{power_iterations}")
        self.layer = layer
        self.dim = (1 if isinstance(layer, ConvTranspose2d) else 0) if dim is None else dim
        self.power_iterations, self.eps = power_iterations, eps
        self.register_buffer("u", _empty((layer.weight.shape[self.dim],), layer.weight.dtype,
                                         layer.weight.device).detach())
        self.register_buffer("v", _empty((layer.weight.size // layer.weight.shape[self.dim],),
                                         layer.weight.dtype, layer.weight.device).detach())
        self.reset_singular_vectors(generator)

    def reset_singular_vectors(self, generator=None):
        """Start u afresh (random) and run 15 power-iteration steps (as PyTorch does), so that
        sigma is right from the first pass. Called on construction, and again by whoever
        re-initialises the weight (``minigan.models.build``)."""
        w = self.layer.weight.data
        u = init.normal_(self.u, generator=generator).data
        self.u.data, self.v.data = _sn.power_iteration(
            w, u / backend.get_array_module(u).linalg.norm(u), self.dim, 15, self.eps)

    def forward(self, x):
        w = self.layer.weight
        if self.training:
            self.u.data, self.v.data = _sn.power_iteration(
                w.data, self.u.data, self.dim, self.power_iterations, self.eps)
        return self.layer.with_weight(x, _sn.spectral_normalize(w, self.u.data, self.v.data,
                                                                self.dim))

    def sigma(self):
        """The current estimate of the layer's spectral norm, u^T W_m v (a float)."""
        w_m = _sn.weight_matrix(self.layer.weight.data, self.dim)
        return float(self.u.data @ w_m @ self.v.data)

    def extra_repr(self):
        return f"dim={self.dim}, power_iterations={self.power_iterations}"


class Dropout(Module):
    """Inverted dropout with probability ``p`` in training; the identity in eval."""

    def __init__(self, p=0.5, generator=None):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.generator = generator
        self._seeded = {}  # device -> Generator, when ``generator`` is an int seed

    def forward(self, x):
        gen = self.generator
        if isinstance(gen, int):  # one seeded stream per device, so .to("cuda") keeps working
            if x.device not in self._seeded:
                self._seeded[x.device] = backend.rng(gen, x.device)
            gen = self._seeded[x.device]
        return dropout(x, self.p, self.training, gen)

    def extra_repr(self):
        return f"p={self.p}"


class ReLU(Module):
    def forward(self, x):
        return _act.relu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return _act.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Tanh(Module):
    def forward(self, x):
        return _act.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return _act.sigmoid(x)


class Maxout(Module):
    """The max over groups of ``pieces`` consecutive features: (N, units * pieces) -> (N, units)."""

    def __init__(self, pieces):
        super().__init__()
        self.pieces = pieces

    def forward(self, x):
        return _act.maxout(x, self.pieces)

    def extra_repr(self):
        return f"pieces={self.pieces}"


class Identity(Module):
    def forward(self, x):
        return x


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` (default: all but the batch axis) into one."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``sizes``, e.g. Unflatten(1, (1, 28, 28)): (N, 784) -> (N, 1, 28, 28)."""

    def __init__(self, dim, sizes):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(sizes)

    def forward(self, x):
        dim = self.dim % x.ndim
        known = 1
        for s in self.unflattened_size:
            known *= 1 if s == -1 else s
        n = x.shape[dim]
        fits = n % known == 0 if -1 in self.unflattened_size else n == known
        if not fits:
            raise ShapeError(f"Unflatten: axis {self.dim} of size {n} (input shape {x.shape}) "
                             f"cannot be split into {self.unflattened_size}")
        return x.reshape(x.shape[:dim] + self.unflattened_size + x.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Pack(Module):
    """Stack each run of ``m`` consecutive samples along the channel axis:
    ``(N, C, ...) -> (N/m, m*C, ...)``; sample ``i*m + j`` becomes channels ``j*C .. (j+1)*C - 1``
    of pack ``i``.

    PacGAN's packing (Lin et al. 2018, "PacGAN: the power of two samples in generative
    adversarial networks"): a discriminator that judges m samples at once sees how often they
    repeat a kind of sample, which one sample at a time it cannot, and so penalises a generator
    that draws some modes too often. Put it in front of a discriminator whose first layer takes
    m*C channels; its one logit per pack then stands for m real or m generated samples.

    It is a reshape, so its VJP is the reshape back (``Tensor.reshape``).
    """

    def __init__(self, m):
        super().__init__()
        if int(m) != m or m < 1:
            raise ValueError(f"Pack: the pack size must be a positive integer, got {m!r}")
        self.m = int(m)

    def forward(self, x):
        n = x.shape[0]
        if x.ndim < 2 or n % self.m:
            raise ShapeError(f"Pack: cannot pack input of shape {x.shape} into groups of {self.m} "
                             f"samples (the batch size must be a multiple of {self.m})")
        return x.reshape((n // self.m, self.m * x.shape[1]) + x.shape[2:])

    def extra_repr(self):
        return f"m={self.m}"
