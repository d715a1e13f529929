"""Bad settings and bad inputs get an error that names the op or layer and the argument.

One table of user mistakes (a wrong type, a wrong sign, an out-of-range value, an axis that does
not exist), each with the error it must raise and words its message must hold. Before these
checks many reached NumPy (``negative dimensions are not allowed``, ``ZeroDivisionError``,
``'<=' not supported``) or, worse, were accepted: an axis taken modulo the number of axes, a
momentum of 1.5, a clip with min > max. The checks live in minigan/ops/args.py and at the top
of each layer's constructor and each functional entry point.
"""

import numpy as np
import pytest

import minigan
import minigan.functional as F
from minigan import nn, optim

from .helpers import t64


def _x(*shape):
    return t64(np.arange(float(np.prod(shape))).reshape(shape))


def _params():
    return list(nn.Linear(2, 2, generator=0).parameters())


# (what, call, exception, regex the message must match)
CASES = [
    # --- axes: never taken modulo ndim ---------------------------------------------------
    ("sum axis 2", lambda: _x(2, 3).sum(axis=2), minigan.ShapeError, r"Sum: axis 2 is out of"),
    ("sum axis -3", lambda: _x(2, 3).sum(axis=-3), minigan.ShapeError, r"Sum: axis -3"),
    ("mean axis 2", lambda: _x(2, 3).mean(axis=(0, 2)), minigan.ShapeError, r"Mean: axis 2"),
    ("max axis 7", lambda: _x(2, 3).max(axis=7), minigan.ShapeError, r"Max: axis 7"),
    ("0-d sum axis 5", lambda: t64(3.0).sum(axis=5), minigan.ShapeError, r"Sum: axis 5"),
    ("axis twice", lambda: _x(2, 3).sum(axis=(1, -1)), minigan.ShapeError, r"axis twice"),
    ("float axis", lambda: _x(2, 3).sum(axis=1.0), TypeError, r"Sum: axis must be an int"),
    ("flatten start", lambda: _x(2, 3).flatten(5), minigan.ShapeError, r"flatten: start_dim 5"),
    ("flatten order", lambda: _x(2, 3, 4).flatten(2, 1), ValueError,
     r"flatten: start_dim 2 comes after end_dim 1"),
    ("transpose axis", lambda: _x(2, 3).transpose(0, 5), minigan.ShapeError, r"Transpose"),
    ("maxout axis", lambda: F.maxout(_x(2, 6), 3, axis=4), minigan.ShapeError,
     r"maxout: axis 4"),
    ("cat axis", lambda: minigan.cat([_x(2, 3), _x(2, 3)], axis=3), minigan.ShapeError,
     r"Concatenate: axis 3"),
    ("stack axis", lambda: minigan.stack([_x(2, 3)], axis=4), minigan.ShapeError,
     r"Stack: axis 4"),
    ("log_softmax dim", lambda: F.log_softmax(_x(2, 3), dim=2), minigan.ShapeError,
     r"log_softmax: dim 2"),
    ("Unflatten dim", lambda: nn.Unflatten(5, (3, 1))(_x(2, 3)), minigan.ShapeError,
     r"Unflatten: dim 5"),
    ("swapaxes", lambda: minigan.ops.shape.swapaxes(_x(2, 3), 0, 2), minigan.ShapeError,
     r"swapaxes: axis 2"),
    # --- indexing ---------------------------------------------------------------------------
    ("index out of range", lambda: _x(2, 3)[5], IndexError,
     r"GetItem: index 5 does not fit a tensor of shape \(2, 3\)"),
    ("too many indices", lambda: _x(2, 3)[0, 0, 0], IndexError, r"GetItem.*\(2, 3\)"),
    ("float index", lambda: _x(2, 3)[1.5], TypeError, r"GetItem: only basic indexing"),
    # --- inputs that are not tensors or numbers ---------------------------------------------
    ("x + str", lambda: _x(2) + "a", TypeError, r"Add: input 1 is str 'a'"),
    ("x + numeric str", lambda: _x(2) + "1.5", TypeError, r"Add: input 1 is str"),
    ("x + None", lambda: _x(2) * None, TypeError, r"Mul: input 1 is NoneType"),
    ("x + ragged", lambda: _x(2) + [[1, 2], [3]], TypeError, r"Add: input 1 is list"),
    ("x + dict", lambda: _x(2) - {}, TypeError, r"Sub: input 1 is dict"),
    ("x * complex", lambda: _x(2) * (1 + 2j), TypeError, r"Mul: input 1 is a complex128"),
    ("op of None", lambda: F.relu(None), TypeError, r"ReLU: at least one input must be a "
                                                    r"Tensor, got NoneType"),
    ("int tensor * float", lambda: minigan.tensor([1, 2], dtype="int64") * 0.5, TypeError,
     r"Mul: a floating-point constant for a int64 tensor would be truncated"),
    ("exp of int tensor", lambda: minigan.tensor([1, 2], dtype="int64").exp(), TypeError,
     r"Exp: computes on floating-point tensors, got int64"),
    ("tensor(None)", lambda: minigan.tensor(None), TypeError, r"tensor: data must be"),
    ("tensor(str)", lambda: minigan.tensor("1.5"), TypeError, r"tensor: data must be"),
    ("tensor(ragged)", lambda: minigan.tensor([[1, 2], [3]]), ValueError,
     r"tensor: the data is not a rectangular array"),
    ("tensor(complex)", lambda: minigan.tensor([1 + 2j]), TypeError,
     r"complex numbers would lose their imaginary part"),
    ("tensor(strings)", lambda: minigan.tensor(np.array(["1"])), TypeError,
     r"tensor: minigan tensors hold real numbers"),
    ("tensor dtype complex", lambda: minigan.tensor([1.0], dtype="complex64"), TypeError,
     r"tensor: minigan tensors hold real numbers"),
    ("int requires_grad", lambda: minigan.tensor([1, 2], dtype="int64", requires_grad=True),
     TypeError, r"floating-point"),
    ("to(int) with grad", lambda: _x(2).to(dtype="int64"), TypeError,
     r"Tensor.to: a int64 tensor cannot require gradients"),
    ("flatten of None", lambda: F.flatten(None), TypeError, r"flatten: input must be a Tensor"),
    ("conv2d of list", lambda: F.conv2d([[1.0]], _x(1, 1, 1, 1)), TypeError,
     r"conv2d: input must be a Tensor, got list"),
    ("cat of a Tensor", lambda: minigan.cat(_x(2, 3)), TypeError,
     r"Concatenate: expected a list or tuple of Tensors, got Tensor"),
    ("cat of nothing", lambda: minigan.cat([]), ValueError, r"Concatenate: needs at least one"),
    # --- functional settings --------------------------------------------------------------
    ("dropout p str", lambda: F.dropout(_x(2), "0.5"), TypeError, r"dropout: p must be a real"),
    ("dropout p 2", lambda: F.dropout(_x(2), 2.0), ValueError, r"between 0 and 1"),
    ("leaky slope", lambda: F.leaky_relu(_x(2), "0.2"), TypeError,
     r"leaky_relu: negative_slope must be a real number"),
    ("softplus beta 0", lambda: F.softplus(_x(2), beta=0), ValueError,
     r"softplus: beta must be a finite number in \(0, inf\]"),
    ("maxout pieces 0", lambda: F.maxout(_x(2, 6), 0), ValueError, r"maxout: pieces must be >= 1"),
    ("maxout pieces str", lambda: F.maxout(_x(2, 6), "3"), TypeError, r"maxout: pieces must be"),
    ("pad negative", lambda: minigan.pad(_x(2, 3), (-1, 1)), ValueError,
     r"Pad: each padding width must be >= 0"),
    ("pad float", lambda: minigan.pad(_x(2, 3), (1.5, 1)), TypeError, r"Pad: each padding"),
    ("clip min > max", lambda: _x(2).clip(3, 1), ValueError, r"clip: min=3 is greater than max=1"),
    ("clip str", lambda: _x(2).clip("0"), TypeError, r"clip: min must be a real number"),
    ("clip NaN", lambda: _x(2).clip(max=float("nan")), TypeError,
     r"clip: max must be a real number or None, got nan"),
    ("pad value str", lambda: minigan.pad(_x(2, 3), (1, 1), value="0"), TypeError,
     r"Pad: value must be a real number, got str"),
    ("sum of a list", lambda: minigan.ops.reduce.sum([1.0, 2.0]), TypeError,
     r"Sum: input must be a Tensor, got list"),
    ("rpow of an array", lambda: minigan.ops.elementwise.rpow(2.0, np.ones(2)), TypeError,
     r"rpow: the exponent must be a Tensor, got ndarray"),
    ("conv2d stride 0", lambda: F.conv2d(_x(1, 1, 5, 5), _x(1, 1, 3, 3), stride=0), ValueError,
     r"conv2d: stride must be an int or a pair of ints >= 1, got 0"),
    ("conv2d padding -1", lambda: F.conv2d(_x(1, 1, 5, 5), _x(1, 1, 3, 3), padding=-1),
     ValueError, r"conv2d: padding"),
    ("conv2d bool stride", lambda: F.conv2d(_x(1, 1, 5, 5), _x(1, 1, 3, 3), stride=True),
     ValueError, r"conv2d: stride"),
    ("conv2d empty kernel", lambda: F.conv2d(_x(1, 1, 4, 4), t64(np.ones((1, 1, 0, 3)))),
     minigan.ShapeError, r"conv2d: weight of shape \(1, 1, 0, 3\) has an empty kernel"),
    ("conv_transpose2d empty kernel",
     lambda: F.conv_transpose2d(_x(1, 1, 4, 4), t64(np.ones((1, 1, 2, 0)))),
     minigan.ShapeError, r"conv_transpose2d: weight .* empty kernel"),
    ("batch_norm momentum 5",
     lambda: F.batch_norm(_x(4, 3), np.zeros(3), np.ones(3), training=True, momentum=5),
     ValueError, r"batch_norm: momentum must be a finite number in \[0, 1\], got 5"),
    ("batch_norm eps -1", lambda: F.batch_norm(_x(4, 3), None, None, eps=-1), ValueError,
     r"batch_norm: eps"),
    ("bce target 2", lambda: F.binary_cross_entropy_with_logits(_x(2), np.full(2, 2.0)),
     ValueError, r"binary_cross_entropy_with_logits: target must lie in \[0, 1\]"),
    ("bce target -1", lambda: F.binary_cross_entropy(t64([0.5, 0.5]), -1.0), ValueError,
     r"binary_cross_entropy: target must lie in \[0, 1\]"),
    ("bce probability 1.5", lambda: F.binary_cross_entropy(t64([1.5, 0.5]), 1.0), ValueError,
     r"binary_cross_entropy: input \(a probability\) must lie in \[0, 1\]"),
    ("bce target NaN", lambda: minigan.ops.loss.binary_cross_entropy_with_logits(
        _x(2), np.array([0.5, np.nan])), ValueError, r"target must lie in \[0, 1\]"),
    # --- layers -----------------------------------------------------------------------------
    ("Linear(-1, 5)", lambda: nn.Linear(-1, 5), ValueError, r"Linear: in_features must be >= 1"),
    ("Linear(0, 5)", lambda: nn.Linear(0, 5), ValueError, r"Linear: in_features must be >= 1"),
    ("Linear(2.5, 5)", lambda: nn.Linear(2.5, 5), TypeError, r"Linear: in_features must be an int"),
    ("Linear(3, '4')", lambda: nn.Linear(3, "4"), TypeError, r"Linear: out_features"),
    ("Linear int dtype", lambda: nn.Linear(2, 3, dtype="int64"), TypeError,
     r"Linear: dtype must be a floating-point dtype"),
    ("Conv2d padding -1", lambda: nn.Conv2d(1, 1, 3, padding=-1), ValueError,
     r"Conv2d: padding"),
    ("Conv2d padding word", lambda: nn.Conv2d(1, 1, 3, padding="full"), ValueError,
     r"Conv2d: padding must be .* 'same' or 'valid', got 'full'"),
    ("Conv2d stride 0", lambda: nn.Conv2d(1, 1, 3, stride=0), ValueError, r"Conv2d: stride"),
    ("Conv2d kernel 0", lambda: nn.Conv2d(1, 1, 0), ValueError, r"Conv2d: kernel_size"),
    ("Conv2d dilation 0", lambda: nn.Conv2d(1, 1, 3, dilation=(1, 0)), ValueError,
     r"Conv2d: dilation"),
    ("Conv2d channels 0", lambda: nn.Conv2d(0, 1, 3), ValueError, r"Conv2d: in_channels"),
    ("ConvTranspose2d output_padding", lambda: nn.ConvTranspose2d(1, 1, 3, stride=2,
                                                                  output_padding=2),
     ValueError, r"ConvTranspose2d: output_padding \(2, 2\) must be smaller"),
    ("ConvTranspose2d output_padding with same",
     lambda: nn.ConvTranspose2d(1, 1, 3, stride=2, padding="same", output_padding=1),
     ValueError, r"ConvTranspose2d: output_padding=\(1, 1\) cannot be combined"),
    ("BatchNorm1d(0)", lambda: nn.BatchNorm1d(0), ValueError, r"BatchNorm1d: num_features"),
    ("BatchNorm2d momentum 5", lambda: nn.BatchNorm2d(3, momentum=5), ValueError,
     r"BatchNorm2d: momentum must be a finite number in \[0, 1\], got 5"),
    ("BatchNorm1d eps str", lambda: nn.BatchNorm1d(3, eps="1e-5"), TypeError,
     r"BatchNorm1d: eps must be a real number"),
    ("Dropout('0.5')", lambda: nn.Dropout("0.5"), TypeError, r"Dropout: p must be a real number"),
    ("Dropout(1.5)", lambda: nn.Dropout(1.5), ValueError, r"Dropout: .*between 0 and 1"),
    ("Maxout(0)", lambda: nn.Maxout(0), ValueError, r"Maxout: pieces must be >= 1, got 0"),
    ("LeakyReLU(None)", lambda: nn.LeakyReLU(None), TypeError, r"LeakyReLU: negative_slope"),
    ("Flatten('1')", lambda: nn.Flatten("1"), TypeError, r"Flatten: start_dim must be an int"),
    ("Unflatten sizes", lambda: nn.Unflatten(1, (0, 3)), ValueError,
     r"Unflatten: sizes must be positive"),
    ("SpectralNorm iterations", lambda: nn.SpectralNorm(nn.Linear(2, 2), power_iterations=0),
     ValueError, r"SpectralNorm: power_iterations must be >= 1"),
    ("SpectralNorm dim", lambda: nn.SpectralNorm(nn.Linear(2, 2), dim=2), minigan.ShapeError,
     r"SpectralNorm: dim 2 is out of range"),
    ("Module.to(int64)", lambda: nn.Linear(2, 2).to(dtype="int64"), TypeError,
     r"Linear.to: dtype must be a floating-point dtype"),
    # --- optimisers -------------------------------------------------------------------------
    ("SGD(lr='0.1')", lambda: optim.SGD(_params(), lr="0.1"), TypeError,
     r"SGD: lr \(the learning rate\) must be a real number, got str '0.1'"),
    ("SGD lr -1", lambda: optim.SGD(_params(), lr=-1), ValueError, r"SGD: lr"),
    ("SGD lr nan", lambda: optim.SGD(_params(), lr=float("nan")), ValueError, r"SGD: lr"),
    ("SGD momentum 1.5", lambda: optim.SGD(_params(), lr=0.1, momentum=1.5), ValueError,
     r"SGD: momentum must be a finite number in \[0, 1\), got 1.5"),
    ("SGD nesterov str", lambda: optim.SGD(_params(), lr=0.1, momentum=0.9, nesterov="yes"),
     TypeError, r"SGD: nesterov must be True or False"),
    ("SGD of an int", lambda: optim.SGD(5, lr=0.1), TypeError,
     r"SGD: params must be an iterable of Tensors"),
    ("Adam(betas=0.9)", lambda: optim.Adam(_params(), betas=0.9), TypeError,
     r"Adam: betas must be a pair \(beta1, beta2\), got 0.9"),
    ("Adam beta2 1", lambda: optim.Adam(_params(), betas=(0.9, 1.0)), ValueError,
     r"Adam: betas\[1\] must be a finite number in \[0, 1\)"),
    ("Adam eps -1", lambda: optim.Adam(_params(), eps=-1e-8), ValueError, r"Adam: eps"),
    ("Adam weight_decay str", lambda: optim.Adam(_params(), weight_decay="0"), TypeError,
     r"Adam: weight_decay must be a real number"),
]


@pytest.mark.parametrize("what, call, error, pattern", CASES, ids=[c[0] for c in CASES])
def test_a_bad_setting_or_input_is_refused_by_name(what, call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_the_helpers_accept_what_they_should():
    from minigan.ops import args

    assert args.axis(-1, 3, "op") == 2 and args.axis(0, 0, "op") == 0
    assert args.axes(None, 3, "op") == (0, 1, 2) and args.axes((-1, 0), 3, "op") == (0, 2)
    assert args.axes(-1, 0, "op") == ()
    assert args.pair(3, "op", "stride", 1) == (3, 3) and args.pair([1, 2], "op", "s", 1) == (1, 2)
    assert args.integer(np.int64(4), "op", "n", minimum=1) == 4
    assert args.real(np.float32(0.5), "op", "p", 0, 1) == 0.5
    assert args.probability(1, "op") == 1.0
    assert args.number(float("inf"), "op", "v") == float("inf") and args.number(-2, "op", "v") == -2
    for bad in (True, "1", None, np.ones(1)):
        with pytest.raises(TypeError, match="op: v must be a real number"):
            args.number(bad, "op", "v")
    for bad in (True, "1", 1.0, None):
        with pytest.raises(TypeError, match="op: n must be an int"):
            args.integer(bad, "op", "n")
    for bad in (float("inf"), float("nan")):
        with pytest.raises(ValueError, match="op: x must be a finite number"):
            args.real(bad, "op", "x")
