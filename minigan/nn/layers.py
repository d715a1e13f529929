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
from ..ops import args
from ..ops import spectral_norm as _sn
from ..ops.dropout import dropout
from ..ops.norm import batch_norm
from ..ops.shape import concatenate
from ..tensor import DEFAULT_DTYPE, ShapeError, Tensor
from . import init
from .module import Module, Parameter, _float_dtype


def _empty(shape, dtype, device, layer):
    device = backend.default_device() if device is None else device
    dtype = DEFAULT_DTYPE if dtype is None else _float_dtype(dtype, layer)
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
        self.in_features = args.integer(in_features, "Linear", "in_features", minimum=1)
        self.out_features = args.integer(out_features, "Linear", "out_features", minimum=1)
        self.weight = _empty((out_features, in_features), dtype, device, "Linear")
        self.register_parameter("bias", _empty((out_features,), dtype, device, "Linear")
                                if bias else None)
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
        name = type(self).__name__
        self.in_channels = args.integer(in_channels, name, "in_channels", minimum=1)
        self.out_channels = args.integer(out_channels, name, "out_channels", minimum=1)
        self.kernel_size = args.pair(kernel_size, name, "kernel_size", 1)
        self.stride = args.pair(stride, name, "stride", 1)
        self.padding = _padding(padding, name)
        self.dilation = args.pair(dilation, name, "dilation", 1)
        self.weight = _empty(weight_shape(self.kernel_size), dtype, device, name)
        self.register_parameter("bias", _empty((out_channels,), dtype, device, name)
                                if bias else None)
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


def _padding(padding, layer):
    """'same', 'valid', an int or pair of ints >= 0 (as a pair), or a 4-tuple (top, bottom,
    left, right)."""
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{layer}: padding must be an int, a pair, a 4-tuple, 'same' or "
                             f"'valid', got {padding!r}")
        return padding
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        return tuple(args.integer(p, layer, "padding", minimum=0) for p in padding)
    return args.pair(padding, layer, "padding (int, pair, 4-tuple, 'same' or 'valid')", 0)


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
        self.output_padding = args.pair(output_padding, "ConvTranspose2d", "output_padding", 0)
        self._setup(in_channels, out_channels, kernel_size, stride, padding, dilation, bias,
                    lambda k: (in_channels, out_channels) + k, dtype, device, generator)
        if self.output_padding != (0, 0) and isinstance(self.padding, str):
            raise ValueError(f"ConvTranspose2d: output_padding={self.output_padding} cannot be "
                             f"combined with padding={self.padding!r}, which fixes the output "
                             f"size itself")
        for p, st, d in zip(self.output_padding, self.stride, self.dilation):
            if p >= st and p >= d:
                raise ValueError(f"ConvTranspose2d: output_padding {self.output_padding} must "
                                 f"be smaller than either stride {self.stride} or dilation "
                                 f"{self.dilation}")

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
        name = type(self).__name__
        self.num_features = args.integer(num_features, name, "num_features", minimum=1)
        self.eps = args.real(eps, name, "eps", 0)
        self.momentum = None if momentum is None else args.real(momentum, name, "momentum", 0, 1)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if affine:
            self.weight = init.ones_(_empty((num_features,), dtype, device, name))
            self.bias = _empty((num_features,), dtype, device, name)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean",
                                 _empty((num_features,), dtype, device, name).detach())
            self.register_buffer("running_var",
                                 init.ones_(_empty((num_features,), dtype, device, name)).detach())
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
        self.power_iterations = args.integer(power_iterations, "SpectralNorm",
                                             "power_iterations", minimum=1)
        self.eps = args.real(eps, "SpectralNorm", "eps", 0, low_open=True)
        self.layer = layer
        self.dim = (1 if isinstance(layer, ConvTranspose2d) else 0) if dim is None else \
            args.axis(dim, layer.weight.ndim, "SpectralNorm", "dim")
        w = layer.weight
        self.register_buffer("u", _empty((w.shape[self.dim],), w.dtype, w.device,
                                         "SpectralNorm").detach())
        self.register_buffer("v", _empty((w.size // w.shape[self.dim],), w.dtype, w.device,
                                         "SpectralNorm").detach())
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
        self.p = args.probability(p, "Dropout")
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
        self.negative_slope = args.real(negative_slope, "LeakyReLU", "negative_slope")

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
        self.pieces = args.integer(pieces, "Maxout", "pieces", minimum=1)

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
        self.start_dim = args.integer(start_dim, "Flatten", "start_dim")
        self.end_dim = args.integer(end_dim, "Flatten", "end_dim")

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``sizes``, e.g. Unflatten(1, (1, 28, 28)): (N, 784) -> (N, 1, 28, 28)."""

    def __init__(self, dim, sizes):
        super().__init__()
        self.dim = args.integer(dim, "Unflatten", "dim")
        sizes = tuple(args.integer(s, "Unflatten", "each size", minimum=-1)
                      for s in (sizes if isinstance(sizes, (tuple, list)) else [sizes]))
        if 0 in sizes or sizes.count(-1) > 1:
            raise ValueError(f"Unflatten: sizes must be positive, with at most one -1, got "
                             f"{sizes}")
        self.unflattened_size = sizes

    def forward(self, x):
        dim = args.axis(self.dim, x.ndim, "Unflatten", "dim")
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


class Conditional(Module):
    """A network told the class of each input: ``net(cat([x, one_hot(labels)], axis=1))``.

    The conditional GAN of Mirza & Osindero (2014, "Conditional Generative Adversarial Nets")
    gives G and D the class y as an extra input, G(z, y) and D(x, y): G learns to draw the class
    it is asked for, and D to reject an image that does not look like its class. The class
    enters as its one-hot code (``F.one_hot``), concatenated to the input:

    - a batch of vectors ``(N, F)`` (G's noise, or a fully connected D's image) gets it as K more
      features, ``(N, F + K)``; an image ``(N, C, H, W)`` is flattened to ``(N, C*H*W)`` first;
    - with ``as_channels=True`` (a convolutional D) an image ``(N, C, H, W)`` gets it as K
      constant channels, ``(N, C + K, H, W)``: channel ``C + y`` is all ones, the other K - 1
      all zeros, so every filter of the first layer sees the class at every position.

    The code is a constant: the input's gradient is the concatenation's (the first F features
    or C channels of the gradient ``net`` returns), and no gradient reaches the labels.

    Args:
        net: the network that takes the concatenation (its first layer sized for it).
        num_classes: K.
        as_channels: add the code as channels of an image instead of as features.
    """

    def __init__(self, net, num_classes, as_channels=False):
        super().__init__()
        self.net = net
        self.num_classes = args.integer(num_classes, "Conditional", "num_classes", minimum=1)
        self.as_channels = bool(as_channels)

    def forward(self, x, labels=None):
        if labels is None:
            raise TypeError(f"Conditional: this network is conditioned on {self.num_classes} "
                            f"classes; call it with the class of each input, net(x, labels)")
        n = x.shape[0]
        code = F.one_hot(labels, self.num_classes, dtype=x.dtype, device=x.device)  # (N, K)
        if code.shape[0] != n:
            raise ShapeError(f"Conditional: {code.shape[0]} labels for a batch of {n} inputs "
                             f"(shape {x.shape})")
        if self.as_channels:
            if x.ndim != 4:
                raise ShapeError(f"Conditional: as_channels needs images (N, C, H, W), got "
                                 f"shape {x.shape}")
            _, _, h, w = x.shape
            xp = backend.get_array_module(code.data)
            planes = xp.broadcast_to(code.data[:, :, None, None], (n, self.num_classes, h, w))
            code = Tensor(planes)                                  # (N, K, H, W), constant
        else:
            x = x.flatten(1)                                       # (N, F)
        return self.net(concatenate([x, code], axis=1))  # (N, F + K) or (N, C + K, H, W)

    def extra_repr(self):
        return f"num_classes={self.num_classes}, as_channels={self.as_channels}"
