"""Event-driven 1-D convolution of a sparse input, compiled with numba (float32, CPU).

For an input ``X [N, C, L]`` that is mostly zero (spike trains, time folded into
``N``), a convolution with weight ``W [O, C, K]``, stride ``s`` and zero padding
``p`` computes::

    Y[n, o, l] = sum_c sum_j W[o, c, j] X[n, c, l s + j - p]

Each nonzero ``X[n, c, i] = v`` reaches the outputs ``l = (i + p - j) / s`` (integer,
in range) for the taps ``j`` with ``i + p - j`` divisible by ``s``: it adds
``v W[:, c, j]`` there (:func:`conv1d`); the weight gradient is the same scan,
``dL/dW[o, c, j] += v dL/dY[n, o, l]`` (:func:`conv1d_weight`). The taps are
``j = (i + p) mod s, + s, ...`` up to ``min(K - 1, i + p)``. Both cost one pass
over ``X`` plus ``nnz(X) O ceil(K / s)`` multiply-adds instead of the dense
``N O L_out C K``; outputs are accumulated channels last per sample, so the inner
loops run over ``O`` contiguous values. Sums run in another order than torch's
convolution: results agree to rounding, not bit for bit. The input gradient is
dense: :func:`spikeinit._kernels.window_numba.conv1d_input`.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from numba import njit, prange

from . import alloc
from .threads import follow_torch_threads
from .window_numba import conv1d_input

__all__ = ["conv1d", "conv1d_input", "conv1d_weight"]


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _conv1d(x, wf, stride, pad, nchunks, out, kept):  # type: ignore[no-untyped-def]
    """``x [N, C, L]``, ``wf [C, K, O]`` (``W[o, c, j]``), ``out [N, O, L_out]``; writes
    ``kept = (x != 0)`` as uint8 in the same scan and returns whether ``x`` is all 0/1."""
    rows, cn, length = x.shape
    kn, on = wf.shape[1], wf.shape[2]
    lout = out.shape[2]
    per = (rows + nchunks - 1) // nchunks
    other = 0  # entries neither 0 nor 1
    for ch in prange(nchunks):
        acc = np.zeros((lout, on), np.float32)
        count = 0
        for n in range(ch * per, min(rows, (ch + 1) * per)):
            acc[:] = 0
            for c in range(cn):
                for i in range(length):
                    v = x[n, c, i]
                    kept[n, c, i] = 0 if v == 0 else 1
                    if v != 0:
                        if v != 1:
                            count += 1
                        for j in range((i + pad) % stride, min(kn, i + pad + 1), stride):
                            pos = (i + pad - j) // stride
                            if pos < lout:
                                row = acc[pos]
                                col = wf[c, j]
                                for o in range(on):
                                    row[o] += v * col[o]
            for o in range(on):
                for pos in range(lout):
                    out[n, o, pos] = acc[pos, o]
        other += count
    return other == 0


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _conv1d_weight(x, g, stride, pad, acc):  # type: ignore[no-untyped-def]
    """``acc[chunk, c, j, o]`` += scan of ``x [N, C, L]`` against ``g [N, O, L_out]``."""
    chunks, cn, kn, on = acc.shape
    rows, _, length = x.shape
    lout = g.shape[2]
    for ch in prange(chunks):
        lo = ch * rows // chunks
        hi = (ch + 1) * rows // chunks
        gt = np.zeros((lout, on), np.float32)
        for n in range(lo, hi):
            filled = False
            for c in range(cn):
                for i in range(length):
                    v = x[n, c, i]
                    if v != 0:
                        if not filled:
                            for o in range(on):
                                for pos in range(lout):
                                    gt[pos, o] = g[n, o, pos]
                            filled = True
                        for j in range((i + pad) % stride, min(kn, i + pad + 1), stride):
                            pos = (i + pad - j) // stride
                            if pos < lout:
                                row = acc[ch, c, j]
                                src = gt[pos]
                                for o in range(on):
                                    row[o] += v * src[o]


@follow_torch_threads
def conv1d(
    x: np.ndarray, weight: np.ndarray, stride: int, padding: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """The convolution of a mostly-zero ``x [N, C, L]`` with ``weight [O, C, K]``, and
    ``x`` as uint8 when every entry is 0 or 1 (spikes: a quarter of the memory to keep
    for the weight gradient), else ``None``; one scan of ``x`` for both."""
    on, _, kn = weight.shape
    lout = (x.shape[2] + 2 * padding - kn) // stride + 1
    out = alloc.empty(x.shape[0], on, lout).numpy()
    kept = alloc.empty(*x.shape, dtype=torch.uint8).numpy()
    wf = np.ascontiguousarray(weight.transpose(1, 2, 0))
    chunks = max(1, min(numba.get_num_threads(), x.shape[0]))
    binary = _conv1d(x, wf, stride, padding, chunks, out, kept)
    return out, (kept if binary else None)


@follow_torch_threads
def conv1d_weight(
    x: np.ndarray, grad_out: np.ndarray, kernel_size: int, stride: int, padding: int
) -> np.ndarray:
    """``dL/dW [O, C, K]`` from a mostly-zero ``x [N, C, L]`` and ``dL/dY [N, O, L_out]``;
    one accumulator per thread chunk of rows, summed at the end."""
    chunks = max(1, min(numba.get_num_threads(), x.shape[0]))
    acc = np.zeros((chunks, x.shape[1], kernel_size, grad_out.shape[1]), dtype=np.float32)
    _conv1d_weight(x, np.ascontiguousarray(grad_out), stride, padding, acc)
    return np.ascontiguousarray(acc.sum(axis=0).transpose(2, 0, 1))
