"""2-D convolution and transposed convolution (NCHW), by im2col / col2im and one GEMM.

Shapes used throughout (the names in the shape comments):

    N        batch size
    C        input channels of conv2d  (= output channels of conv_transpose2d)
    O        output channels of conv2d (= input channels of conv_transpose2d)
    H, W     spatial size of conv2d's input  (= conv_transpose2d's output)
    OH, OW   spatial size of conv2d's output (= conv_transpose2d's input)
    KH, KW   kernel size
    P        OH * OW * N, the number of output pixels in the whole batch

Both ops use ONE weight layout, PyTorch's: ``w`` of shape ``(O, C, KH, KW)``. For conv2d that is
``(C_out, C_in, KH, KW)``; for conv_transpose2d, whose input has O channels, it is
``(C_in, C_out, KH, KW)``. With it the two ops are each other's adjoint (transpose):

    conv2d:            y = W . im2col(x)          x (N, C, H, W)   -> y (N, O, OH, OW)
    conv_transpose2d:  x = col2im(W^T . y)        y (N, O, OH, OW) -> x (N, C, H, W)

where ``W`` is ``w`` viewed as an ``(O, C*KH*KW)`` matrix. So conv2d's input gradient *is* a
transposed convolution of the upstream gradient, and conv_transpose2d's input gradient *is* a
convolution: in the code below ``Conv2d.backward`` calls the same helper (``_gemm_col2im``) as
``ConvTranspose2d.forward``, and ``ConvTranspose2d.backward`` calls the same helper
(``_im2col_gemm``) as ``Conv2d.forward``.

im2col and col2im loop only over the KH*KW kernel offsets; each iteration moves one strided
slice (a view) of the whole batch, all channels and all output pixels at once.

Memory layout. Inside these ops images are kept as ``(C, H, W, N)`` in memory: channels first,
the batch innermost. Then every slice that im2col and col2im move is made of contiguous runs of
N numbers (instead of runs of a few pixels a stride apart), and an ``(O, P)`` GEMM result *is*
an ``(O, OH, OW, N)`` array, so outputs are returned as transposed NCHW views of it, without a
copy. Elementwise ops keep that memory order, so the next layer's ``_rows`` usually finds its
input already laid out and does not copy either.

Large column matrices. The columns are KH*KW / (sh*sw) times the image; above
``COLUMN_BUDGET`` bytes the three products work through blocks of output rows instead of the
whole matrix at once (the same sums, split by columns), so a 3x3 convolution at stride 1 never
holds nine copies of its input.

Derivations: docs/derivations/conv2d.md and docs/derivations/conv_transpose2d.md.
Naive-loop reference versions: minigan/ops/conv_naive.py. Tests: tests/test_conv.py.
"""

from ..backend import get_array_module
from ..tensor import Function, ShapeError
from . import args

# --- the two kernels: im2col + GEMM, and GEMM + col2im --------------------------------------


def _rows(a):
    """(N, C, H, W) -> (C, H*W*N): channels as rows, every pixel of the batch as a column."""
    N, C, H, W = a.shape
    return a.transpose(1, 2, 3, 0).reshape(C, H * W * N)  # (C, H*W*N); free if CHWN in memory


def _unrows(a2, N, H, W):
    """(C, H*W*N) -> (N, C, H, W), a view (CHWN in memory)."""
    return a2.reshape(a2.shape[0], H, W, N).transpose(3, 0, 1, 2)  # (N, C, H, W); N may be 0


def _tap(offset, step, count, dilation, first=0):
    """The positions that kernel offset ``offset`` reads along one axis of the padded image:
    ``(first + t) * step + offset * dilation`` for output positions t = 0 .. count-1, as a
    slice (``first`` is the first output position of a block, 0 for the whole image)."""
    start = first * step + offset * dilation
    return slice(start, start + step * (count - 1) + 1, step)


def _im2col(x, kernel, stride, dilation, pads, out_hw, rows=None):
    """Unroll the patches of x into columns: one column per output pixel.

    ``cols[(c, kh, kw), (n, oh, ow)] = x_padded[n, c, oh*sh + kh*dh, ow*sw + kw*dw]``.
    x: (N, C, H, W) -> cols (C*KH*KW, OH*OW*N). Loops over the KH*KW kernel offsets only.

    ``rows = (r0, r1)`` unrolls only the patches of output rows r0 .. r1-1, the columns
    ``r0*OW*N .. r1*OW*N`` of the whole matrix; it pads only the input rows they read.
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    KH, KW = kernel
    (sh, sw), (dh, dw), (top, _, left, right) = stride, dilation, pads
    OH, OW = out_hw
    r0, r1 = (0, OH) if rows is None else rows
    p0, p1 = r0 * sh, (r1 - 1) * sh + (KH - 1) * dh + 1  # the padded rows these patches read
    image = x.transpose(1, 2, 3, 0)  # (C, H, W, N), a view
    if any(pads):
        padded = xp.zeros((C, p1 - p0, W + left + right, N), dtype=x.dtype)
        lo, hi = max(p0 - top, 0), min(p1 - top, H)  # the image rows among them
        padded[:, lo + top - p0:hi + top - p0, left:left + W] = image[:, lo:hi]
    else:
        padded = image[:, p0:p1]  # (C, p1-p0, W, N), a view
    cols = xp.empty((C, KH, KW, r1 - r0, OW, N), dtype=x.dtype)
    for kh in range(KH):
        taps = _tap(kh, sh, r1 - r0, dh)
        for kw in range(KW):
            cols[:, kh, kw] = padded[:, taps, _tap(kw, sw, OW, dw)]  # (C, r1-r0, OW, N)
    return cols.reshape(C * KH * KW, (r1 - r0) * OW * N)  # (C*KH*KW, (r1-r0)*OW*N)


def _add_columns(padded, cols, kernel, stride, dilation, out_w, rows):
    """col2im's scatter, in place: add every column entry of the output rows ``rows = (r0, r1)``
    to the pixel of ``padded`` (C, Hp, Wp, N) it was read from."""
    C, N = padded.shape[0], padded.shape[-1]
    KH, KW = kernel
    (sh, sw), (dh, dw) = stride, dilation
    r0, r1 = rows
    cols = cols.reshape(C, KH, KW, r1 - r0, out_w, N)  # (C, KH, KW, r1-r0, OW, N)
    for kh in range(KH):
        taps = _tap(kh, sh, r1 - r0, dh, first=r0)
        for kw in range(KW):
            padded[:, taps, _tap(kw, sw, out_w, dw)] += cols[:, kh, kw]  # (C, r1-r0, OW, N)


def _col2im(cols, image_shape, kernel, stride, dilation, pads, out_hw):
    """The adjoint of ``_im2col``: add every column entry back to the pixel it was read from.

    cols (C*KH*KW, OH*OW*N) -> (N, C, H, W). One slice-add per kernel offset; overlapping
    patches (stride < kernel) accumulate, padding positions are cropped away.
    """
    xp = get_array_module(cols)
    padded = _zero_padded(xp, image_shape, pads, cols.dtype)
    _add_columns(padded, cols, kernel, stride, dilation, out_hw[1], rows=(0, out_hw[0]))
    return _cropped(padded, image_shape, pads)


def _zero_padded(xp, image_shape, pads, dtype):
    """Zeros of the padded image, (C, H + top + bottom, W + left + right, N)."""
    N, C, H, W = image_shape
    top, bottom, left, right = pads
    return xp.zeros((C, H + top + bottom, W + left + right, N), dtype=dtype)


def _cropped(padded, image_shape, pads):
    """The adjoint of zero-padding: the image inside ``padded``, as (N, C, H, W) (a view)."""
    N, C, H, W = image_shape
    top, _, left, _ = pads
    return padded[:, top:top + H, left:left + W].transpose(3, 0, 1, 2)  # (N, C, H, W)


# --- large columns in blocks of output rows ---------------------------------------------------

#: The most bytes of columns that a convolution holds at once. A layer whose column matrix is
#: larger (it is KH*KW / (sh*sw) times the input: a 3x3 convolution at stride 1 over 64 channels
#: of 28x28 at batch 64 makes 115 MB of it) works through its output rows in blocks that fit,
#: and does not keep its columns for the weight gradient but unrolls them again there. Below it,
#: one block is the whole matrix and each op is the single GEMM of its derivation.
COLUMN_BUDGET = 32 * 2**20


def _row_blocks(image_shape, dtype, kernel, out_hw):
    """Split the output rows into blocks ``(r0, r1)`` whose columns fit ``COLUMN_BUDGET``
    (at least one row a block). ``image_shape`` (N, C, H, W): the image that the columns are
    unrolled from, or scattered to."""
    N, C = image_shape[:2]
    (KH, KW), (OH, OW) = kernel, out_hw
    row_bytes = C * KH * KW * OW * N * dtype.itemsize  # the columns of one output row
    step = max(1, COLUMN_BUDGET // max(row_bytes, 1))
    return [(r, min(r + step, OH)) for r in range(0, OH, step)]


def _block_columns(rows, out_w, batch):
    """The columns of the whole (., OH*OW*N) matrix that output rows ``rows = (r0, r1)`` hold."""
    return slice(rows[0] * out_w * batch, rows[1] * out_w * batch)


# --- the three products -----------------------------------------------------------------------


def _im2col_gemm(x, w, stride, dilation, pads, out_hw, weight_grad_of=None):
    """The convolution as a matrix product: ``Y = W . im2col(x)``.

    conv2d's forward, and conv_transpose2d's input gradient.
    x (N, C, H, W), w (O, C, KH, KW) -> y2 (O, OH*OW*N), the columns (C*KH*KW, OH*OW*N), which
    the weight gradient needs, and, given ``weight_grad_of`` = G (O, OH*OW*N), the weight
    gradient ``G . im2col(x)^T`` from the same columns (conv_transpose2d's backward wants
    both). Above ``COLUMN_BUDGET`` the products are taken a block of output rows at a time
    and the columns returned are None.
    """
    xp = get_array_module(x)
    O, C, KH, KW = w.shape
    w2 = w.reshape(O, C * KH * KW)
    blocks = _row_blocks(x.shape, x.dtype, (KH, KW), out_hw)
    if len(blocks) == 1:
        cols = _im2col(x, (KH, KW), stride, dilation, pads, out_hw)  # (C*KH*KW, P)
        gw = None if weight_grad_of is None else _weight_grad(weight_grad_of, cols, w.shape)
        return w2 @ cols, cols, gw  # (O, P), (C*KH*KW, P), (O, C, KH, KW)
    y2 = xp.empty((O, out_hw[0] * out_hw[1] * x.shape[0]), dtype=x.dtype)  # (O, P)
    gw = None if weight_grad_of is None else xp.zeros_like(w2)  # (O, C*KH*KW)
    for rows in blocks:
        cols = _im2col(x, (KH, KW), stride, dilation, pads, out_hw, rows)
        block = _block_columns(rows, out_hw[1], x.shape[0])
        y2[:, block] = w2 @ cols
        if gw is not None:
            gw += weight_grad_of[:, block] @ cols.T
    return y2, None, None if gw is None else gw.reshape(w.shape)


def _gemm_col2im(y2, w, image_shape, stride, dilation, pads, out_hw):
    """The transposed convolution: ``x = col2im(W^T . Y)``.

    conv_transpose2d's forward, and conv2d's input gradient.
    y2 (O, OH*OW*N), w (O, C, KH, KW) -> x (N, C, H, W) with ``image_shape`` (N, C, H, W).
    Above ``COLUMN_BUDGET``, a block of output rows at a time.
    """
    xp = get_array_module(y2)
    O, C, KH, KW = w.shape
    w2t = w.reshape(O, C * KH * KW).T
    blocks = _row_blocks(image_shape, y2.dtype, (KH, KW), out_hw)
    if len(blocks) == 1:
        return _col2im(w2t @ y2, image_shape, (KH, KW), stride, dilation, pads, out_hw)
    padded = _zero_padded(xp, image_shape, pads, y2.dtype)
    for rows in blocks:
        cols = w2t @ y2[:, _block_columns(rows, out_hw[1], image_shape[0])]
        _add_columns(padded, cols, (KH, KW), stride, dilation, out_hw[1], rows)
    return _cropped(padded, image_shape, pads)


def _weight_grad(y2, cols, w_shape):
    """gW = G . im2col(x)^T: (O, P) @ (P, C*KH*KW) -> w_shape. For conv2d G is the output
    gradient and x the input; for conv_transpose2d G is the input and x the output gradient."""
    return (y2 @ cols.T).reshape(w_shape)  # (O, C, KH, KW)


def _weight_grad_in_blocks(y2, x, w_shape, stride, dilation, pads, out_hw):
    """``_weight_grad`` when the columns were over ``COLUMN_BUDGET`` and not kept:
    gW = sum over blocks of output rows of G_block . im2col_block(x)^T."""
    O, C, KH, KW = w_shape
    gw = get_array_module(x).zeros((O, C * KH * KW), dtype=x.dtype)
    for rows in _row_blocks(x.shape, x.dtype, (KH, KW), out_hw):
        cols = _im2col(x, (KH, KW), stride, dilation, pads, out_hw, rows)
        gw += y2[:, _block_columns(rows, out_hw[1], x.shape[0])] @ cols.T  # (O, C*KH*KW)
    return gw.reshape(w_shape)


# --- the Functions ----------------------------------------------------------------------------


class Conv2d(Function):
    """Cross-correlation, as in every deep-learning library:

        y[n, o, i, j] = b[o] + sum_{c, kh, kw} w[o, c, kh, kw] x_pad[n, c, i*sh + kh*dh, j*sw + kw*dw]

    forward(x (N, C, H, W), w (O, C, KH, KW)[, b (O,)]; stride, dilation, pads) -> y (N, O, OH, OW)
    with ``pads = (top, bottom, left, right)`` and OH = (H + top + bottom - dh*(KH-1) - 1) // sh + 1.

    In matrix form ``Y = W X_col + b 1^T`` with X_col = im2col(x), so the VJPs are
        gx = col2im(W^T G)     (a transposed convolution of g)
        gW = G X_col^T
        gb = sum of g over N, OH, OW
    """

    @staticmethod
    def forward(ctx, x, w, b=None, *, stride, dilation, pads):
        N, C, H, W = x.shape
        KH, KW = w.shape[2:]
        (sh, sw), (dh, dw), (top, bottom, left, right) = stride, dilation, pads
        OH = (H + top + bottom - dh * (KH - 1) - 1) // sh + 1
        OW = (W + left + right - dw * (KW - 1) - 1) // sw + 1
        y2, cols, _ = _im2col_gemm(x, w, stride, dilation, pads, (OH, OW))  # (O, P), cols
        if b is not None:
            y2 += b[:, None]
        # The columns are needed only for the weight gradient (not while the layer is frozen);
        # columns over COLUMN_BUDGET were not kept, and the input is kept to unroll them again.
        keep = ctx.needs_input_grad[1]
        ctx.save_for_backward(w, cols if keep else None, x if keep and cols is None else None)
        ctx.geometry = x.shape, stride, dilation, pads, (OH, OW)
        ctx.has_bias = b is not None
        return _unrows(y2, N, OH, OW)  # (N, O, OH, OW)

    @staticmethod
    def backward(ctx, g):
        w, cols, x = ctx.saved
        x_shape, stride, dilation, pads, out_hw = ctx.geometry
        g2 = _rows(g)  # (O, P)
        gx = gw = None
        if ctx.needs_input_grad[0]:  # the transposed convolution of g: ConvTranspose2d.forward
            gx = _gemm_col2im(g2, w, x_shape, stride, dilation, pads, out_hw)
        if ctx.needs_input_grad[1]:  # from the kept columns, or from x unrolled again
            gw = (_weight_grad(g2, cols, w.shape) if cols is not None else
                  _weight_grad_in_blocks(g2, x, w.shape, stride, dilation, pads, out_hw))
        if not ctx.has_bias:
            return gx, gw
        return gx, gw, g2.sum(axis=1)


class ConvTranspose2d(Function):
    """The transposed convolution: the adjoint of Conv2d with the same weight, stride, dilation
    and pads. Each input pixel scatters a weighted copy of the kernel into the output:

        y_pad[n, c, i*sh + kh*dh, j*sw + kw*dw] += x[n, o, i, j] w[o, c, kh, kw];  y = crop(y_pad) + b

    forward(x (N, O, OH, OW), w (O, C, KH, KW)[, b (C,)]; stride, dilation, pads, out_hw)
        -> y (N, C, H, W) with (H, W) = ``out_hw``, normally
        H = (OH - 1)*sh - top - bottom + dh*(KH-1) + output_padding + 1.

    In matrix form ``y = col2im(W^T X) + b`` with X = x as an (O, P) matrix, so the VJPs are
        gx = W . im2col(g)     (a convolution of g)
        gW = X . im2col(g)^T
        gb = sum of g over N, H, W
    """

    @staticmethod
    def forward(ctx, x, w, b=None, *, stride, dilation, pads, out_hw):
        N, O, OH, OW = x.shape
        C = w.shape[1]
        x2 = _rows(x)  # (O, P)
        y = _gemm_col2im(x2, w, (N, C) + tuple(out_hw), stride, dilation, pads, (OH, OW))
        if b is not None:
            y += b[:, None, None]  # (N, C, H, W); y is this op's own fresh array
        ctx.save_for_backward(w, x2)
        ctx.geometry = x.shape, stride, dilation, pads
        ctx.has_bias = b is not None
        return y

    @staticmethod
    def backward(ctx, g):
        w, x2 = ctx.saved
        (N, O, OH, OW), stride, dilation, pads = ctx.geometry
        # The convolution of g: Conv2d.forward. Its columns also give the weight gradient.
        gx2, _, gw = _im2col_gemm(g, w, stride, dilation, pads, (OH, OW),
                                  weight_grad_of=x2 if ctx.needs_input_grad[1] else None)
        gx = _unrows(gx2, N, OH, OW) if ctx.needs_input_grad[0] else None
        if not ctx.has_bias:
            return gx, gw
        return gx, gw, g.sum(axis=(0, 2, 3))


# --- argument handling ------------------------------------------------------------------------


def _explicit_pads(padding, op):
    """An int, a pair (height, width) or a 4-tuple (top, bottom, left, right) of paddings."""
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        return tuple(args.integer(p, op, "padding", minimum=0) for p in padding)
    ph, pw = args.pair(padding, op, "padding (int, pair, 4-tuple, 'same' or 'valid')", 0)
    return ph, ph, pw, pw


def _same(size, extent, stride):
    """TensorFlow/Keras 'same' along one axis of a convolution with input ``size``: the output
    has ceil(size / stride) pixels, and the padding they need is split with the odd pixel at the
    end (bottom / right). ``extent`` = dilation*(K-1) + 1 is the dilated kernel's size."""
    out = -(-size // stride)
    total = max((out - 1) * stride + extent - size, 0)
    return out, (total // 2, total - total // 2)


def _check_4d(x, w, op):
    args.tensor(x, op)
    args.tensor(w, op, "weight")
    if len(x.shape) != 4 or len(w.shape) != 4:
        raise ShapeError(f"{op}: input and weight must be 4-D (NCHW and a 4-D kernel), got "
                         f"input {tuple(x.shape)} and weight {tuple(w.shape)}")


def _check_bias(b, channels, x, w, op):
    if b is not None and tuple(b.shape) != (channels,):
        raise ShapeError(f"{op}: bias of shape {tuple(b.shape)} does not fit {channels} output "
                         f"channels (input {tuple(x.shape)}, weight {tuple(w.shape)})")


def _check_args(x, weight, bias, stride, dilation, op, transposed):
    """Check shapes shared by both convolutions; return (H, W, KH, KW, stride, dilation) pairs.

    conv2d's weight is (C_out, C_in, KH, KW); the transposed conv's is (C_in, C_out, KH, KW).
    """
    _check_4d(x, weight, op)
    _, C, H, W = x.shape
    Cw, O = (weight.shape[0], weight.shape[1]) if transposed else (weight.shape[1], weight.shape[0])
    KH, KW = weight.shape[2:]
    if KH < 1 or KW < 1:
        raise ShapeError(f"{op}: weight of shape {tuple(weight.shape)} has an empty kernel "
                         f"({KH} x {KW}); a kernel needs at least one row and one column")
    if C != Cw:
        layout = "(C_in, C_out, KH, KW)" if transposed else "(C_out, C_in, KH, KW)"
        raise ShapeError(f"{op}: input of shape {tuple(x.shape)} has {C} channels but weight of "
                         f"shape {tuple(weight.shape)} {layout} expects {Cw}")
    _check_bias(bias, O, x, weight, op)
    return (H, W, KH, KW, args.pair(stride, op, "stride", 1),
            args.pair(dilation, op, "dilation", 1))


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """2-D convolution (cross-correlation) of an NCHW batch, like ``torch.nn.functional.conv2d``.

    Args:
        x: input, (N, C_in, H, W).
        weight: (C_out, C_in, KH, KW).
        bias: (C_out,) or None.
        stride, dilation: an int or a pair (height, width).
        padding: an int or a pair (zeros on both sides), a 4-tuple (top, bottom, left, right),
            ``"valid"`` (no padding) or ``"same"`` with TensorFlow/Keras semantics for any stride:
            OH = ceil(H / stride), the odd padding row/column going to the bottom/right.

    Returns:
        (N, C_out, OH, OW) with OH = (H + top + bottom - dilation*(KH-1) - 1) // stride + 1.
    """
    op = "conv2d"
    H, W, KH, KW, stride, dilation = _check_args(x, weight, bias, stride, dilation, op,
                                                 transposed=False)
    extent = (dilation[0] * (KH - 1) + 1, dilation[1] * (KW - 1) + 1)
    if padding == "same":
        (_, (top, bottom)), (_, (left, right)) = (_same(H, extent[0], stride[0]),
                                                  _same(W, extent[1], stride[1]))
        pads = (top, bottom, left, right)
    elif padding == "valid":
        pads = (0, 0, 0, 0)
    else:
        pads = _explicit_pads(padding, op)
    if H + pads[0] + pads[1] < extent[0] or W + pads[2] + pads[3] < extent[1]:
        raise ShapeError(f"{op}: kernel of extent {extent} (weight {tuple(weight.shape)}, "
                         f"dilation {dilation}) is larger than the padded input: input "
                         f"{tuple(x.shape)} with padding (top, bottom, left, right) = {pads}")
    params = dict(stride=stride, dilation=dilation, pads=pads)
    if bias is None:
        return Conv2d.apply(x, weight, **params)
    return Conv2d.apply(x, weight, bias, **params)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1):
    """2-D transposed convolution of an NCHW batch, like
    ``torch.nn.functional.conv_transpose2d``: the adjoint of :func:`conv2d` with the same weight.

    Args:
        x: input, (N, C_in, H, W).
        weight: (C_in, C_out, KH, KW).
        bias: (C_out,) or None.
        stride, dilation: an int or a pair (height, width).
        padding: an int or a pair, a 4-tuple (top, bottom, left, right) cropped from the full
            output, or TensorFlow/Keras ``"same"`` (output H*stride: the adjoint of
            ``conv2d(..., padding="same")`` on an input of that size) or ``"valid"`` (output
            H*stride + max(dilation*(KH-1) + 1 - stride, 0), no cropping).
        output_padding: extra rows/columns at the bottom/right (only with numeric padding), to
            pick among the input sizes that conv2d maps to the same output size; it must be
            smaller than the stride or the dilation, as in PyTorch.

    Returns:
        (N, C_out, OH, OW) with
        OH = (H - 1)*stride - top - bottom + dilation*(KH - 1) + output_padding + 1.
    """
    op = "conv_transpose2d"
    H, W, KH, KW, stride, dilation = _check_args(x, weight, bias, stride, dilation, op,
                                                 transposed=True)
    output_padding = args.pair(output_padding, op, "output_padding", 0)
    extent = (dilation[0] * (KH - 1) + 1, dilation[1] * (KW - 1) + 1)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{op}: padding must be a number, a pair, a 4-tuple, 'same' or "
                             f"'valid', got {padding!r}")
        if output_padding != (0, 0):
            raise ValueError(f"{op}: output_padding={output_padding} cannot be combined with "
                             f"padding={padding!r}, which fixes the output size itself")
        if padding == "same":  # the adjoint of conv2d 'same' on an input of size H*stride
            (_, (top, bottom)), (_, (left, right)) = (_same(H * stride[0], extent[0], stride[0]),
                                                      _same(W * stride[1], extent[1], stride[1]))
            pads, out_hw = (top, bottom, left, right), (H * stride[0], W * stride[1])
        else:  # Keras: at least H*stride, so that conv2d 'valid' maps it back to H
            pads = (0, 0, 0, 0)
            out_hw = (H * stride[0] + max(extent[0] - stride[0], 0),
                      W * stride[1] + max(extent[1] - stride[1], 0))
    else:
        pads = _explicit_pads(padding, op)
        for axis, (p, s, d) in enumerate(zip(output_padding, stride, dilation)):
            if p >= s and p >= d:
                raise ValueError(f"{op}: output_padding {output_padding} must be smaller than "
                                 f"either stride {stride} or dilation {dilation} (axis {axis}); "
                                 f"input {tuple(x.shape)}, weight {tuple(weight.shape)}")
        out_hw = ((H - 1) * stride[0] - pads[0] - pads[1] + extent[0] + output_padding[0],
                  (W - 1) * stride[1] - pads[2] - pads[3] + extent[1] + output_padding[1])
        if min(out_hw) < 1:
            raise ShapeError(f"{op}: padding {pads} (top, bottom, left, right) crops the whole "
                             f"output: input {tuple(x.shape)}, weight {tuple(weight.shape)}, "
                             f"stride {stride}, dilation {dilation} give output size {out_hw}")
    params = dict(stride=stride, dilation=dilation, pads=pads, out_hw=out_hw)
    if bias is None:
        return ConvTranspose2d.apply(x, weight, **params)
    return ConvTranspose2d.apply(x, weight, bias, **params)
