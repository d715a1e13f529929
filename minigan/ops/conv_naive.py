"""Convolution and transposed convolution written as plain loops: the definitions, for reading
and as test oracles for minigan/ops/conv.py. Slow on purpose; NumPy arrays in, NumPy out.

Padding here is always explicit: ``pads = (top, bottom, left, right)`` zeros around the input of
the convolution (for the transposed convolution: cropped from its full output). Weights use the
PyTorch layouts: conv ``(C_out, C_in, KH, KW)``, transposed conv ``(C_in, C_out, KH, KW)``.
"""

import numpy as np


def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def conv2d_naive(x, w, b=None, stride=1, pads=(0, 0, 0, 0), dilation=1):
    """y[n, o, i, j] = b[o] + sum_{c, kh, kw} w[o, c, kh, kw] * x_pad[n, c, i*sh + kh*dh, j*sw + kw*dw]."""
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    top, bottom, left, right = pads
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    x_pad = np.zeros((N, C, H + top + bottom, W + left + right), dtype=x.dtype)
    x_pad[:, :, top:top + H, left:left + W] = x
    OH = (H + top + bottom - dh * (KH - 1) - 1) // sh + 1
    OW = (W + left + right - dw * (KW - 1) - 1) // sw + 1
    y = np.zeros((N, O, OH, OW), dtype=x.dtype)
    for n in range(N):
        for o in range(O):
            for i in range(OH):
                for j in range(OW):
                    total = 0.0 if b is None else b[o]
                    for c in range(C):
                        for kh in range(KH):
                            for kw in range(KW):
                                total += w[o, c, kh, kw] * x_pad[n, c, i * sh + kh * dh,
                                                                 j * sw + kw * dw]
                    y[n, o, i, j] = total
    return y


def conv_transpose2d_naive(x, w, b=None, stride=1, pads=(0, 0, 0, 0), output_padding=0,
                           dilation=1):
    """Every input pixel scatters a weighted copy of the kernel into the output:
    y_full[n, o, i*sh + kh*dh, j*sw + kw*dw] += x[n, c, i, j] * w[c, o, kh, kw], then the
    output is y_full cropped by ``pads``, ``output_padding`` extra rows/columns at the
    bottom/right, plus the bias."""
    (sh, sw), (dh, dw), (oph, opw) = _pair(stride), _pair(dilation), _pair(output_padding)
    top, bottom, left, right = pads
    N, C, H, W = x.shape
    _, O, KH, KW = w.shape
    OH = (H - 1) * sh - top - bottom + dh * (KH - 1) + oph + 1
    OW = (W - 1) * sw - left - right + dw * (KW - 1) + opw + 1
    y_full = np.zeros((N, O, OH + top + bottom, OW + left + right), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for o in range(O):
                for i in range(H):
                    for j in range(W):
                        for kh in range(KH):
                            for kw in range(KW):
                                y_full[n, o, i * sh + kh * dh, j * sw + kw * dw] += (
                                    x[n, c, i, j] * w[c, o, kh, kw])
    y = y_full[:, :, top:top + OH, left:left + OW]
    if b is not None:
        y = y + b[None, :, None, None]
    return y
