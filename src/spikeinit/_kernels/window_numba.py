"""Dot products of a weight matrix with sliding windows of a vector (numba, float32).

The transposed convolutions of the SHD recurrent-conv backward pass reduce, per
sample, to ::

    out[m * C + c] = sum_{e < E} src[m * h + e] wt[c, e]        (m < M, c < C)

for a channels-last, zero-padded ``src``: window ``m`` starts ``h`` values after
window ``m - 1`` and the windows overlap (``E > h``). For the same-padded recurrent
convolution ``h = C_out``, ``E = K C_out`` and ``wt[c, j C_out + o] = W[o, c, K-1-j]``
(:mod:`spikeinit._kernels.conv_numba`).

The kernel keeps a 4 x 2 block of outputs (4 windows, 2 rows of ``wt``) in
registers while it walks ``e``: 6 loads per 8 multiply-adds, where a scatter
``out[window] += src[i] wt[:, i]`` loads and stores the output for every one.
Sums are reassociated (``fastmath`` ``reassoc``/``contract`` on this function only):
they agree with any other order to rounding, which is all a gradient needs.

:func:`conv1d_input` is the input gradient of a strided 1-D convolution in the same
form (one window per output position and residue of the stride).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from . import alloc
from .threads import follow_torch_threads

_F0 = np.float32(0.0)
_REDUCE = {"reassoc", "contract", "nsz"}


@njit(cache=True, nogil=True, fastmath=_REDUCE, error_model="numpy")
def window_dots(src, wt, h, nwin, out):  # type: ignore[no-untyped-def]
    """``out[m * C + c] = sum_e src[m * h + e] * wt[c, e]`` for ``m < nwin``, ``c < C``
    (``wt [C, E]``; ``src`` holds at least ``(nwin - 1) h + E`` values)."""
    cn, en = wt.shape
    m = 0
    while m + 4 <= nwin:
        a0 = src[m * h : m * h + en]
        a1 = src[(m + 1) * h : (m + 1) * h + en]
        a2 = src[(m + 2) * h : (m + 2) * h + en]
        a3 = src[(m + 3) * h : (m + 3) * h + en]
        for c in range(0, cn, 2):
            d = min(c + 1, cn - 1)  # an odd C computes its last row twice
            w = wt[c]
            v = wt[d]
            s0 = s1 = s2 = s3 = t0 = t1 = t2 = t3 = _F0
            for e in range(en):
                we = w[e]
                ve = v[e]
                x0 = a0[e]
                x1 = a1[e]
                x2 = a2[e]
                x3 = a3[e]
                s0 += x0 * we
                s1 += x1 * we
                s2 += x2 * we
                s3 += x3 * we
                t0 += x0 * ve
                t1 += x1 * ve
                t2 += x2 * ve
                t3 += x3 * ve
            out[m * cn + c] = s0
            out[(m + 1) * cn + c] = s1
            out[(m + 2) * cn + c] = s2
            out[(m + 3) * cn + c] = s3
            out[m * cn + d] = t0
            out[(m + 1) * cn + d] = t1
            out[(m + 2) * cn + d] = t2
            out[(m + 3) * cn + d] = t3
        m += 4
    while m < nwin:  # the last windows one at a time, 4 rows of wt at once
        a0 = src[m * h : m * h + en]
        for c in range(0, cn, 4):
            d1 = min(c + 1, cn - 1)
            d2 = min(c + 2, cn - 1)
            d3 = min(c + 3, cn - 1)
            w0 = wt[c]
            w1 = wt[d1]
            w2 = wt[d2]
            w3 = wt[d3]
            s0 = s1 = s2 = s3 = _F0
            for e in range(en):
                x0 = a0[e]
                s0 += x0 * w0[e]
                s1 += x0 * w1[e]
                s2 += x0 * w2[e]
                s3 += x0 * w3[e]
            out[m * cn + c] = s0
            out[m * cn + d1] = s1
            out[m * cn + d2] = s2
            out[m * cn + d3] = s3
        m += 1


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _conv1d_input(g, wt, stride, pad, nchunks, out):  # type: ignore[no-untyped-def]
    """``out [N, C, L]``: ``dL/dX`` of ``Y = conv1d(X, W, stride, pad)`` from ``g = dL/dY
    [N, O, L_out]``; ``wt [s, C, J O]`` from :func:`conv1d_input_weights`."""
    rows, on, lout = g.shape
    cn, length = out.shape[1], out.shape[2]
    taps = wt.shape[2] // on
    nrows = (length - 1 + pad) // stride + taps + 1
    per = (rows + nchunks - 1) // nchunks
    for ch in prange(nchunks):
        gpad = np.zeros(max(nrows, lout + taps) * on, np.float32)  # rows pos + taps - 1
        acc = np.zeros(((length + stride - 1) // stride + 1) * cn, np.float32)
        for n in range(ch * per, min(rows, (ch + 1) * per)):
            for o in range(on):
                for pos in range(lout):
                    gpad[(pos + taps - 1) * on + o] = g[n, o, pos]
            for r in range(stride):
                qlo = max(0, -((r - pad) // stride))  # ceil((pad - r) / s): i >= 0
                qhi = (length - 1 + pad - r) // stride
                if qhi < qlo:
                    continue
                window_dots(gpad[qlo * on :], wt[r], on, qhi - qlo + 1, acc)
                for m in range(qhi - qlo + 1):
                    i = (qlo + m) * stride + r - pad
                    for c in range(cn):
                        out[n, c, i] = acc[m * cn + c]


def conv1d_input_weights(weight: np.ndarray, stride: int) -> np.ndarray:
    """``wt [s, C, J O]`` (``J = ceil(K / s)``) with ``wt[r, c, t O + o] = W[o, c, j]``,
    ``j = r + (J - 1 - t) s`` (zero for ``j >= K``).

    ``dL/dX[c, i] = sum_o sum_j W[o, c, j] g[o, (i + p - j) / s]`` over the taps ``j``
    with ``i + p - j`` a multiple of ``s``: for ``i + p = q s + r`` those are
    ``j = r + t' s`` at ``pos = q - t'``, so the rows ``q - J + 1 .. q`` of ``g``
    (channels last, ``J - 1`` zero rows in front) form one contiguous window."""
    on, cn, kn = weight.shape
    taps = -(-kn // stride)
    wt = np.zeros((stride, cn, taps * on), np.float32)
    for r in range(stride):
        for t in range(taps):
            j = r + (taps - 1 - t) * stride
            if j < kn:
                wt[r, :, t * on : (t + 1) * on] = weight[:, :, j].T
    return wt


@follow_torch_threads
def conv1d_input(
    grad_out: np.ndarray, weight: np.ndarray, length: int, stride: int, padding: int
) -> np.ndarray:
    """``dL/dX [N, C, length]`` of ``conv1d(X, weight, stride, padding)`` from
    ``dL/dY [N, O, L_out]`` (C-contiguous float32): the dense transposed convolution
    as window dot products, one chunk of rows per thread."""
    out = alloc.empty(grad_out.shape[0], weight.shape[1], length).numpy()
    wt = conv1d_input_weights(weight, stride)
    nchunks = max(1, min(numba.get_num_threads(), grad_out.shape[0]))
    _conv1d_input(grad_out, wt, stride, padding, nchunks, out)
    return out
