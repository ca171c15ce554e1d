"""The leaky readout in one pass: event-driven input product and linear filter, fused (numba).

A :class:`spikeinit.nn.Readout` computes, for input spikes ``S [T, B, K]``,
weight ``W [N, K]`` and bias ``b``, the current ``x[t] = S[t] W^T + b`` and
the membrane of the reference neuron with no threshold and no reset
(docs/science.md, section 'The reference neuron')::

    I[t] = beta_s I[t-1] + x[t]        (I[t] = x[t] for a delta synapse)
    U[t] = beta_m U[t-1] + g I[t]

Its adjoint, for ``gU = dL/dU`` and carries ``c_v = dL/dV[t]``, ``c_i = dL/dI[t+1]``::

    dL/dU[t] = gU[t] + c_v
    dL/dx[t] = c_i <- g dL/dU[t] + beta_s c_i,      c_v <- beta_m dL/dU[t]
    dL/dS[t] = dL/dx[t] W,   dL/dW = sum_t dL/dx[t]^T S[t],   dL/db = sum_t dL/dx[t]

Both directions run per batch row in one compiled pass over time, so the
narrow current ``x`` (``N`` is the number of classes) is never written to
memory and the products only touch the nonzero entries of ``S`` (found by a
branch-free scan of each row). Threads take blocks of batch rows and step
through time with the rows of one step side by side in memory. The forward
pass rounds exactly as the unfused path (:func:`spikeinit.sparse_input.linear`,
then the LIF kernel): the same float32 operations in the same order.
``dL/dS`` sums over ``N`` in another order than a BLAS GEMM (rounding-level
differences).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .threads import follow_torch_threads

_F0 = np.float32(0.0)


@njit(cache=True, inline="always")
def _nonzero(srow, idx):  # type: ignore[no-untyped-def]
    """The indices of the nonzero entries of ``srow`` into ``idx`` (in order); their count.
    Branch-free: every index is written, the count only advances on a nonzero."""
    cnt = 0
    for k in range(srow.shape[0]):
        idx[cnt] = k
        cnt += srow[k] != _F0
    return cnt


@njit(parallel=True, cache=True, nogil=True)
def _forward(s, wt, bias, has_bias, bs, bm, g, delta, chunks, mem):  # type: ignore[no-untyped-def]
    steps, batch, k_in = s.shape
    width = wt.shape[1]
    for c in prange(chunks):
        lo = c * batch // chunks
        hi = (c + 1) * batch // chunks
        ist = np.zeros((hi - lo, width), np.float32)
        vst = np.zeros((hi - lo, width), np.float32)
        cur = np.empty(width, np.float32)
        idx = np.empty(k_in, np.int64)
        for t in range(steps):
            for b in range(lo, hi):
                srow = s[t, b]
                cnt = _nonzero(srow, idx)
                for n in range(width):
                    cur[n] = _F0
                for q in range(cnt):  # x[t] = S[t] W^T over the nonzero S[t, k], k ascending
                    k = idx[q]
                    v = srow[k]
                    for n in range(width):
                        cur[n] += v * wt[k, n]
                if has_bias:
                    for n in range(width):
                        cur[n] = cur[n] + bias[n]
                mt = mem[t, b]
                ib = ist[b - lo]
                vb = vst[b - lo]
                for n in range(width):
                    if delta:
                        i = cur[n]
                    else:
                        i = ib[n] * bs + cur[n]
                        ib[n] = i
                    u = vb[n] * bm + i * g
                    mt[n] = u
                    vb[n] = u


@njit(parallel=True, cache=True, nogil=True)
def _backward(s, w, gmem, bs, bm, g, delta, need_s, need_w, chunks, gs, gwt, gb):  # type: ignore[no-untyped-def]
    steps, batch, k_in = s.shape
    width = w.shape[0]
    for c in prange(chunks):
        lo = c * batch // chunks
        hi = (c + 1) * batch // chunks
        acc = gwt[c]
        accb = gb[c]
        cis = np.zeros((hi - lo, width), np.float32)
        cvs = np.zeros((hi - lo, width), np.float32)
        idx = np.empty(k_in, np.int64)
        for t in range(steps - 1, -1, -1):
            for b in range(lo, hi):
                gm = gmem[t, b]
                ci = cis[b - lo]
                cv = cvs[b - lo]
                for n in range(width):
                    gu = cv[n] + gm[n]
                    cin = gu * g if delta else gu * g + ci[n] * bs
                    ci[n] = cin
                    cv[n] = gu * bm
                    accb[n] += cin
                if need_s:  # dL/dS[t] = dL/dx[t] W
                    row = gs[t, b]
                    w0 = w[0]
                    c0 = ci[0]
                    for k in range(k_in):
                        row[k] = c0 * w0[k]
                    for n in range(1, width):
                        cn = ci[n]
                        wr = w[n]
                        for k in range(k_in):
                            row[k] += cn * wr[k]
                if need_w:  # dL/dW^T[k] += S[t, k] dL/dx[t] over the nonzero S[t, k]
                    srow = s[t, b]
                    cnt = _nonzero(srow, idx)
                    for q in range(cnt):
                        k = idx[q]
                        v = srow[k]
                        for n in range(width):
                            acc[k, n] += v * ci[n]


def _chunks(batch: int) -> int:
    """Batch blocks: about four per thread (each carries its own state)."""
    return max(1, min(4 * numba.get_num_threads(), batch))


@follow_torch_threads
def forward(
    s: np.ndarray, wt: np.ndarray, bias: np.ndarray | None, bs: float, bm: float, g: float
) -> np.ndarray:
    """``U [T, B, N]`` for spikes ``s [T, B, K]``, ``wt = W^T [K, N]`` and ``bias [N]``
    (all float32, C-contiguous)."""
    width = wt.shape[1]
    mem = np.empty((s.shape[0], s.shape[1], width), np.float32)
    b = np.zeros(width, np.float32) if bias is None else bias
    f32 = np.float32
    _forward(
        s, wt, b, bias is not None, f32(bs), f32(bm), f32(g), bs == 0.0, _chunks(s.shape[1]), mem
    )
    return mem


@follow_torch_threads
def backward(
    s: np.ndarray,
    w: np.ndarray,
    gmem: np.ndarray,
    bs: float,
    bm: float,
    g: float,
    need_s: bool,
    need_w: bool,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``(dL/dS [T, B, K] or None, dL/dW^T [K, N], dL/db [N])`` for ``gmem = dL/dU``."""
    steps, batch, k_in = s.shape
    width = w.shape[0]
    chunks = _chunks(batch)
    gs = np.empty((steps, batch, k_in) if need_s else (1, 1, 1), np.float32)
    gwt = np.zeros((chunks, k_in, width), np.float32)
    gb = np.zeros((chunks, width), np.float32)
    f32 = np.float32
    _backward(
        s, w, gmem, f32(bs), f32(bm), f32(g), bs == 0.0,
        need_s, need_w, chunks, gs, gwt, gb,
    )  # fmt: skip
    return (gs if need_s else None), gwt.sum(axis=0), gb.sum(axis=0)
