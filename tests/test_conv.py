"""conv2d and conv_transpose2d (minigan/ops/conv.py), three ways:

* forwards against the naive loops of minigan/ops/conv_naive.py, with padding given explicitly
  (the "same"/"valid" paddings are worked out here, independently of the library);
* gradients against central differences in float64 (input, weight and bias);
* the adjoint identity <conv2d(x, w), y> = <x, conv_transpose2d(y, w)> to float64 roundoff.

Hypothesis draws the geometry starting from the *output* size of the convolution and derives
the input size from it, so every draw is valid and the two ops fit together.
"""

import contextlib
import tracemalloc
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigan
import minigan.functional as F
from minigan import GradcheckError, ShapeError, check_adjoint, gradcheck
from minigan.ops import conv as conv_module
from minigan.ops.conv import conv2d, conv_transpose2d
from minigan.ops.conv_naive import conv2d_naive, conv_transpose2d_naive

from .helpers import host, t64
from .strategies import normal, seeds

# --- geometry ------------------------------------------------------------------------------


@dataclass
class Geometry:
    """A conv2d x (N, C, H, W) -> (N, O, OH, OW) and the conv_transpose2d that maps back."""
    N: int
    C: int
    O: int
    H: int
    W: int
    OH: int
    OW: int
    KH: int
    KW: int
    stride: tuple
    dilation: tuple
    padding: object         # what the library is given: "same", "valid", a pair or a 4-tuple
    pads: tuple             # the same padding spelled out: (top, bottom, left, right)
    output_padding: object  # what conv_transpose2d is given to produce (H, W)
    naive_op: tuple         # the output_padding the naive transposed conv needs for (H, W)

    x_shape = property(lambda g: (g.N, g.C, g.H, g.W))
    y_shape = property(lambda g: (g.N, g.O, g.OH, g.OW))
    w_shape = property(lambda g: (g.O, g.C, g.KH, g.KW))
    args = property(lambda g: dict(stride=g.stride, padding=g.padding, dilation=g.dilation))
    t_args = property(lambda g: dict(g.args, output_padding=g.output_padding))


def _axis(draw, mode, max_out):
    """One spatial axis: kernel, stride, dilation, output size, and the input size that gives
    it; the (before, after) padding, the output_padding that picks that input size for
    conv_transpose2d, and the output_padding that the naive transposed loops need for it."""
    k, s, d = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    extent = d * (k - 1) + 1
    out = draw(st.integers(1, max_out))
    if mode == "same":      # TF/Keras: out = ceil(size/s); an input of out*s fits conv_transpose2d
        size = out * s
        total = max((out - 1) * s + extent - size, 0)
        return k, s, d, out, size, (total // 2, total - total // 2), 0, max(s - extent, 0)
    if mode == "valid":     # Keras' transposed 'valid' output: out*s + max(extent - s, 0)
        size = out * s + max(extent - s, 0)
        return k, s, d, out, size, (0, 0), 0, max(s - extent, 0)
    before = draw(st.integers(0, 2))
    after = before if mode == "pair" else draw(st.integers(0, 2))
    op = draw(st.integers(0, s - 1))  # below the stride: conv2d maps the input back to `out`
    while (out - 1) * s + extent + op - before - after < 1:  # too much padding: less of it
        before, after = max(before - 1, 0), max(after - 1, 0)
    size = (out - 1) * s + extent + op - before - after
    return k, s, d, out, size, (before, after), op, op


@st.composite
def geometries(draw, max_out=3, max_channels=3):
    mode = draw(st.sampled_from(["pair", "four", "same", "valid"]))
    KH, sh, dh, OH, H, (top, bottom), oph, nh = _axis(draw, mode, max_out)
    KW, sw, dw, OW, W, (left, right), opw, nw = _axis(draw, mode, max_out)
    padding = {"pair": (top, left), "four": (top, bottom, left, right)}.get(mode, mode)
    return Geometry(
        N=draw(st.integers(1, 2)), C=draw(st.integers(1, max_channels)),
        O=draw(st.integers(1, max_channels)), H=H, W=W, OH=OH, OW=OW, KH=KH, KW=KW,
        stride=(sh, sw), dilation=(dh, dw), padding=padding, pads=(top, bottom, left, right),
        output_padding=0 if mode in ("same", "valid") else (oph, opw), naive_op=(nh, nw))


def _values(g, seed):
    """x, w, b for conv2d and y, b_t for conv_transpose2d (host float64 arrays)."""
    return (normal(seed, g.x_shape), normal(seed + 1, g.w_shape), normal(seed + 2, (g.O,)),
            normal(seed + 3, g.y_shape), normal(seed + 4, (g.C,)))


def _gradcheck(fn, inputs):
    """Entry by entry while that is cheap, else along random directions."""
    fast = sum(t.size for t in inputs) > 400 or inputs[0].device == "cuda"
    return gradcheck(fn, inputs, fast_mode=fast)


# --- forwards against the naive loops -----------------------------------------------------


@given(geometries(), seeds)
def test_conv2d_matches_naive_loops(device, g, seed):
    x, w, b, _, _ = _values(g, seed)
    y = conv2d(t64(x, device), t64(w, device), t64(b, device), **g.args)
    assert y.shape == g.y_shape
    np.testing.assert_allclose(host(y), conv2d_naive(x, w, b, g.stride, g.pads, g.dilation),
                               rtol=1e-12, atol=1e-12)


@given(geometries(), seeds)
def test_conv_transpose2d_matches_naive_loops(device, g, seed):
    _, w, _, y, bt = _values(g, seed)
    x = conv_transpose2d(t64(y, device), t64(w, device), t64(bt, device), **g.t_args)
    assert x.shape == g.x_shape
    want = conv_transpose2d_naive(y, w, bt, g.stride, g.pads, g.naive_op, g.dilation)
    np.testing.assert_allclose(host(x), want, rtol=1e-12, atol=1e-12)


# --- gradients -----------------------------------------------------------------------------


@given(geometries(max_out=3, max_channels=2), seeds)
def test_conv2d_gradcheck(device, g, seed):
    x, w, b, _, _ = _values(g, seed)
    inputs = [t64(x, device), t64(w, device), t64(b, device)]
    assert _gradcheck(lambda x, w, b: conv2d(x, w, b, **g.args), inputs)


@given(geometries(max_out=3, max_channels=2), seeds)
def test_conv_transpose2d_gradcheck(device, g, seed):
    _, w, _, y, bt = _values(g, seed)
    inputs = [t64(y, device), t64(w, device), t64(bt, device)]
    assert _gradcheck(lambda y, w, b: conv_transpose2d(y, w, b, **g.t_args), inputs)


def test_gradcheck_without_bias_and_with_a_frozen_weight(device):
    x, w = t64(normal(0, (2, 2, 5, 4)), device), t64(normal(1, (3, 2, 3, 2)), device, False)
    assert gradcheck(lambda x: conv2d(x, w, stride=2, padding="same"), [x])
    y = t64(normal(2, (2, 3, 3, 2)), device)
    assert gradcheck(lambda y: conv_transpose2d(y, w, stride=2, padding="same"), [y])


def test_gradcheck_through_a_chain_of_layers(device):
    """Outputs are channel-major views; the next layer and the backward pass must cope."""
    x = t64(normal(0, (2, 2, 6, 6)), device)
    w1 = t64(normal(1, (3, 2, 3, 3)), device)
    w2 = t64(normal(2, (3, 2, 3, 3)), device)

    def net(x, w1, w2):
        h = conv2d(x, w1, stride=2, padding="same").tanh()     # (2, 3, 3, 3)
        return conv_transpose2d(h, w2, stride=2, padding="same") * x  # (2, 2, 6, 6)

    assert gradcheck(net, [x, w1, w2], fast_mode=True)


def test_a_planted_wrong_weight_gradient_is_caught(monkeypatch):
    """The checks have teeth: a weight gradient with the kernel flipped must fail."""
    right = conv_module._weight_grad
    monkeypatch.setattr(conv_module, "_weight_grad",
                        lambda y2, cols, shape: right(y2, cols, shape)[:, :, ::-1, ::-1])
    x, w = t64(normal(0, (1, 2, 4, 4))), t64(normal(1, (2, 2, 3, 3)))
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(lambda x, w: conv2d(x, w, padding=1), [x, w])


# --- columns over the budget, in blocks of output rows ----------------------------------------


@contextlib.contextmanager
def column_budget(nbytes):
    """Run the convolutions with ``conv.COLUMN_BUDGET = nbytes`` (1: one output row a block)."""
    saved = conv_module.COLUMN_BUDGET
    conv_module.COLUMN_BUDGET = nbytes
    try:
        yield
    finally:
        conv_module.COLUMN_BUDGET = saved


def _values_and_gradients(g, seed, device):
    """Both ops' outputs and the gradients of a random projection of them, as host arrays."""
    x, w, b, y, bt = (t64(a, device) for a in _values(g, seed))
    out = conv2d(x, w, b, **g.args)
    out_t = conv_transpose2d(y, w, bt, **g.t_args)
    rng = np.random.default_rng(seed)
    upstream = [minigan.tensor(rng.standard_normal(o.shape), device=device) for o in (out, out_t)]
    ((out * upstream[0]).sum() + (out_t * upstream[1]).sum()).backward()
    return [host(a) for a in (out, out_t, x.grad, w.grad, b.grad, y.grad, bt.grad)]


@given(geometries(max_out=4), st.integers(1, 3), seeds)
def test_columns_in_blocks_give_what_the_whole_matrix_gives(device, g, rows, seed):
    """A budget of ``rows`` output rows' columns works through blocks of that many rows, the
    last one shorter where they do not divide OH: forwards, input gradients and the weight
    gradients unrolled again block by block agree with the single GEMMs. All four products
    unroll C*KH*KW*OW*N columns per output row (conv_transpose2d's x is conv2d's y)."""
    row_bytes = g.C * g.KH * g.KW * g.OW * g.N * 8  # float64
    whole = _values_and_gradients(g, seed, device)
    with column_budget(rows * row_bytes):
        blocks = conv_module._row_blocks(g.x_shape, np.dtype(np.float64), (g.KH, g.KW),
                                         (g.OH, g.OW))
        blocked = _values_and_gradients(g, seed, device)
    assert blocks == [(r, min(r + rows, g.OH)) for r in range(0, g.OH, rows)]
    for a, b in zip(blocked, whole):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@given(geometries(max_out=3, max_channels=2), seeds)
def test_columns_in_blocks_gradcheck(device, g, seed):
    x, w, b, y, bt = (t64(a, device) for a in _values(g, seed))
    with column_budget(1):
        assert _gradcheck(lambda x, w, b: conv2d(x, w, b, **g.args), [x, w, b])
        assert _gradcheck(lambda y, w, b: conv_transpose2d(y, w, b, **g.t_args), [y, w, bt])
        if g.OH > 1:
            assert len(conv_module._row_blocks(g.x_shape, np.dtype(np.float64),
                                               (g.KH, g.KW), (g.OH, g.OW))) == g.OH


def _peak_bytes(step):
    """The most bytes the arrays allocated during ``step()`` held at once (NumPy reports its
    allocations to tracemalloc)."""
    tracemalloc.start()
    try:
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_layer_over_the_budget_never_holds_its_columns():
    """The reason for the blocks: a 3x3 convolution at stride 1 unrolls 9 times its input. Over
    the budget, a step of the layer holds a fraction of that; under it, the whole matrix (saved
    for the weight gradient) and the input gradient's columns as well."""
    rng = np.random.default_rng(0)
    x = minigan.tensor(rng.standard_normal((8, 16, 28, 28)).astype(np.float32),
                       requires_grad=True)
    w = minigan.tensor(rng.standard_normal((1, 16, 3, 3)).astype(np.float32),
                       requires_grad=True)
    columns = 16 * 9 * 28 * 28 * 8 * 4  # bytes of the whole column matrix: 3.6 MB

    def step():
        conv2d(x, w, padding=1).sum().backward()

    with column_budget(10 * columns):
        whole = _peak_bytes(step)
    with column_budget(columns // 8):
        blocked = _peak_bytes(step)
    assert whole > 2 * columns
    assert blocked < columns / 2, (blocked, columns)


# --- adjointness ---------------------------------------------------------------------------


@given(geometries(max_out=4), seeds)
def test_conv_transpose2d_is_the_adjoint_of_conv2d(device, g, seed):
    w = t64(normal(seed, g.w_shape), device, requires_grad=False)
    check_adjoint(lambda x: conv2d(x, w, **g.args),
                  lambda y: conv_transpose2d(y, w, **g.t_args),
                  g.x_shape, g.y_shape, seed=seed, device=device)


@pytest.mark.parametrize("size, stride, kernel", [(6, 2, 5), (5, 2, 5), (8, 2, 5), (7, 3, 2)])
def test_same_padding_pair_is_adjoint(device, size, stride, kernel):
    w = t64(normal(0, (3, 2, kernel, kernel)), device, requires_grad=False)
    out = -(-size // stride)
    check_adjoint(lambda x: conv2d(x, w, stride=stride, padding="same"),
                  lambda y: conv_transpose2d(y, w, stride=stride, padding="same"),
                  (2, 2, out * stride, out * stride), (2, 3, out, out), device=device)


# --- special cases -------------------------------------------------------------------------


def test_1x1_identity_kernel_returns_the_input(device):
    x = normal(0, (2, 3, 4, 5))
    eye = np.eye(3).reshape(3, 3, 1, 1)
    np.testing.assert_array_equal(host(conv2d(t64(x, device), t64(eye, device))), x)
    np.testing.assert_array_equal(host(conv_transpose2d(t64(x, device), t64(eye, device))), x)
    np.testing.assert_array_equal(
        host(conv2d(t64(x, device), t64(eye, device), padding="same")), x)


# Expected paddings written out by hand from TensorFlow's rule: out = ceil(size / stride),
# total = max((out - 1) * stride + kernel - size, 0), top = total // 2, the odd one at the bottom.
@pytest.mark.parametrize("size, kernel, out, pads", [
    (6, 3, 3, (0, 1)),   # even size: total 1 -> the extra row at the bottom only
    (6, 5, 3, (1, 2)),
    (5, 3, 3, (1, 1)),   # odd size: symmetric
    (5, 5, 3, (2, 2)),
    (4, 2, 2, (0, 0)),
    (4, 1, 2, (0, 0)),
])
def test_same_padding_has_keras_semantics_at_stride_2(device, size, kernel, out, pads):
    x, w = normal(0, (1, 2, size, size)), normal(1, (3, 2, kernel, kernel))
    y = conv2d(t64(x, device), t64(w, device), stride=2, padding="same")
    assert y.shape == (1, 3, out, out)
    np.testing.assert_allclose(host(y), conv2d_naive(x, w, None, 2, pads + pads), atol=1e-12)
    if pads[0] != pads[1]:  # symmetric padding would differ: the extra pad is not at the top
        assert not np.allclose(host(y), conv2d_naive(x, w, None, 2, pads[::-1] * 2))

    # The transposed 'same' conv doubles the size and crops like the conv pads.
    z = normal(2, (1, 3, size, size))
    xt = conv_transpose2d(t64(z, device), t64(w, device), stride=2, padding="same")
    assert xt.shape == (1, 2, 2 * size, 2 * size)
    big_pads = {3: (0, 1), 5: (1, 2), 2: (0, 0), 1: (0, 0)}[kernel]  # for input 2*size
    op = 2 * size - ((size - 1) * 2 + kernel - sum(big_pads))
    want = conv_transpose2d_naive(z, w, None, 2, big_pads + big_pads, op)
    np.testing.assert_allclose(host(xt), want, atol=1e-12)


def test_output_padding_below_dilation_but_not_stride(device):
    """PyTorch allows output_padding >= stride when it is below the dilation."""
    y, w, b = normal(0, (1, 2, 3, 3)), normal(1, (2, 1, 2, 2)), normal(2, (1,))
    args = dict(stride=1, padding=0, output_padding=1, dilation=2)
    out = conv_transpose2d(t64(y, device), t64(w, device), t64(b, device), **args)
    assert out.shape == (1, 1, 6, 6)
    np.testing.assert_allclose(host(out), conv_transpose2d_naive(y, w, b, 1, (0,) * 4, 1, 2),
                               atol=1e-12)
    assert gradcheck(lambda y, w, b: conv_transpose2d(y, w, b, **args),
                     [t64(y, device), t64(w, device), t64(b, device)])


# Fixed examples of geometry that the default hypothesis profile may not draw. The paddings and
# sizes are worked out by hand here: 'same' pads (out - 1) * stride + extent - size in total,
# the odd row/column at the end, with extent = dilation * (kernel - 1) + 1.
@pytest.mark.parametrize("hw, kernel, stride, dilation, pads, out_hw", [
    # H: out ceil(5/2) = 3, extent 5, total 2*2 + 5 - 5 = 4. W: out 6, extent 4, total 3.
    ((5, 6), (3, 2), (2, 1), (2, 3), (2, 2, 1, 2), (3, 6)),
    # H: out ceil(7/3) = 3, extent 4, total 2*3 + 4 - 7 = 3. W: out 2, extent 3, total 1.
    ((7, 4), (2, 3), (3, 2), (3, 1), (1, 2, 0, 1), (3, 2)),
])
def test_conv2d_same_padding_with_dilation(device, hw, kernel, stride, dilation, pads, out_hw):
    x, w, b = normal(0, (2, 2) + hw), normal(1, (3, 2) + kernel), normal(2, (3,))
    args = dict(stride=stride, padding="same", dilation=dilation)
    y = conv2d(t64(x, device), t64(w, device), t64(b, device), **args)
    assert y.shape == (2, 3) + out_hw
    np.testing.assert_allclose(host(y), conv2d_naive(x, w, b, stride, pads, dilation),
                               rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda x, w: conv2d(x, w, **args), [t64(x, device), t64(w, device)])


@pytest.mark.parametrize("kernel, stride, dilation, out_hw, naive_op", [
    # stride > extent: out = in * stride, the last stride - extent rows only see the bias.
    ((2, 1), (3, 4), (1, 1), (9, 8), (1, 3)),      # 3*3 + max(2 - 3, 0), 2*4 + max(1 - 4, 0)
    ((2, 2), (4, 5), (2, 1), (12, 10), (1, 3)),    # extents 3 and 2
])
def test_conv_transpose2d_valid_size_with_stride_beyond_the_kernel(device, kernel, stride,
                                                                    dilation, out_hw, naive_op):
    y, w, b = normal(0, (2, 2, 3, 2)), normal(1, (2, 1) + kernel), normal(2, (1,))
    args = dict(stride=stride, padding="valid", dilation=dilation)
    x = conv_transpose2d(t64(y, device), t64(w, device), t64(b, device), **args)
    assert x.shape == (2, 1) + out_hw
    want = conv_transpose2d_naive(y, w, b, stride, (0, 0, 0, 0), naive_op, dilation)
    np.testing.assert_allclose(host(x), want, rtol=1e-12, atol=1e-12)
    assert conv2d(x, t64(w, device), **args).shape == y.shape  # conv2d 'valid' maps it back


def test_an_empty_batch_works_as_in_pytorch(device):
    x, w = t64(np.zeros((0, 2, 5, 5)), device), t64(normal(1, (3, 2, 3, 3)), device)
    b = t64(normal(2, (3,)), device)
    y = conv2d(x, w, b, stride=2, padding="same")
    assert y.shape == (0, 3, 3, 3)
    y.sum().backward()
    assert x.grad.shape == (0, 2, 5, 5) and not host(w.grad).any() and not host(b.grad).any()
    z = conv_transpose2d(t64(np.zeros((0, 3, 3, 3)), device), w, stride=2, padding="same")
    assert z.shape == (0, 2, 6, 6)


def test_float32_stays_float32(device):
    x, w, b = normal(0, (2, 3, 7, 7)), normal(1, (4, 3, 5, 5)), normal(2, (4,))
    for op, shapes in ((F.conv2d, [(2, 3, 7, 7), (4, 3, 5, 5), (4,)]),
                       (F.conv_transpose2d, [(2, 3, 7, 7), (3, 4, 5, 5), (4,)])):
        inputs = [minigan.tensor(normal(i, shape), dtype="float32", requires_grad=True,
                                 device=device) for i, shape in enumerate(shapes)]
        out = op(*inputs, stride=2, padding="same")
        out.backward(np.ones(out.shape, dtype=np.float32))
        assert out.dtype == np.float32
        assert all(a.grad.dtype == np.float32 for a in inputs)
    y = conv2d(*(minigan.tensor(a, dtype="float32", device=device) for a in (x, w, b)),
               stride=2, padding="same")
    want = conv2d_naive(x, w, b, 2, (2, 2, 2, 2))
    np.testing.assert_allclose(host(y), want, rtol=1e-4, atol=1e-4)


# --- errors --------------------------------------------------------------------------------


def _t(*shape):
    return t64(np.zeros(shape), requires_grad=False)


@pytest.mark.parametrize("call, error, words", [
    (lambda: conv2d(_t(3, 4, 4), _t(2, 3, 3, 3)), ShapeError, ["conv2d", "(3, 4, 4)", "4-D"]),
    (lambda: conv2d(_t(1, 3, 4, 4), _t(2, 4, 3, 3)), ShapeError,
     ["conv2d", "(1, 3, 4, 4)", "(2, 4, 3, 3)", "channels"]),
    (lambda: conv2d(_t(1, 3, 4, 4), _t(2, 3, 5, 5)), ShapeError,
     ["conv2d", "(1, 3, 4, 4)", "(2, 3, 5, 5)", "larger than the padded input"]),
    (lambda: conv2d(_t(1, 3, 4, 4), _t(2, 3, 3, 3), dilation=2), ShapeError,
     ["conv2d", "larger than the padded input"]),
    (lambda: conv2d(_t(1, 3, 4, 4), _t(2, 3, 3, 3), _t(3)), ShapeError,
     ["conv2d", "bias", "(3,)", "(2, 3, 3, 3)"]),
    (lambda: conv2d(_t(1, 3, 4, 4), _t(2, 3, 3, 3), stride=0), ValueError, ["conv2d", "stride"]),
    (lambda: conv2d(_t(1, 3, 4, 4), _t(2, 3, 3, 3), padding="full"), ValueError,
     ["conv2d", "padding"]),
    (lambda: conv_transpose2d(_t(1, 3, 4, 4), _t(2, 3, 3, 3)), ShapeError,
     ["conv_transpose2d", "(1, 3, 4, 4)", "(2, 3, 3, 3)", "channels"]),
    (lambda: conv_transpose2d(_t(1, 3, 4, 4), _t(3, 2, 3, 3), stride=2, output_padding=2),
     ValueError, ["conv_transpose2d", "output_padding", "stride", "dilation", "(1, 3, 4, 4)"]),
    (lambda: conv_transpose2d(_t(1, 3, 4, 4), _t(3, 2, 3, 3), output_padding=1), ValueError,
     ["conv_transpose2d", "output_padding"]),
    (lambda: conv_transpose2d(_t(1, 3, 4, 4), _t(3, 2, 3, 3), stride=2, padding="same",
                              output_padding=1), ValueError, ["conv_transpose2d", "'same'"]),
    (lambda: conv_transpose2d(_t(1, 3, 1, 1), _t(3, 2, 3, 3), padding=2), ShapeError,
     ["conv_transpose2d", "(1, 3, 1, 1)", "(3, 2, 3, 3)", "crops"]),
    (lambda: conv_transpose2d(_t(1, 3, 4, 4), _t(3, 2, 3, 3), _t(3)), ShapeError,
     ["conv_transpose2d", "bias", "(3,)"]),
])
def test_invalid_arguments_name_the_op_and_shapes(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)
