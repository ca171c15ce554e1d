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
memory and the products only touch the nonzero entries of ``S``
(:mod:`spikeinit._kernels.event_rows`). When ``S`` comes from a fused layer that
packed each row into bits (:mod:`spikeinit.kept`), the events are read from the
bits (``T B N / 8`` bytes) and ``S`` itself is not read at all: the scan of the
wide ``[T, B, K]`` spikes, twice per training step, was the readout's main cost,
and most of it memory traffic. A step whose ``dL/dx[t]`` is zero (after
the last maximum of a max-over-time loss) skips the weight gradient's scan. The
forward and backward passes step the filter (and its adjoint) of a block of
rows in one loop; the forward keeps each class's maximum over time and its
first step (:mod:`spikeinit.kept`). The backward pass returns either ``dL/dS``
(``[T, B, K]``) or the narrow ``dL/dx`` (``[T, B, N]``), which the fused layer
that produced ``S`` turns into its own ``dL/dS[t] = dL/dx[t] W`` row by row
(:mod:`spikeinit._kernels.linear_lif_numba`), so that the wide ``dL/dS`` is
never stored. The forward pass rounds exactly as the unfused path
(:func:`spikeinit.sparse_input.linear`, then the LIF kernel): the same float32
operations in the same order. ``dL/dS`` sums over ``N`` in another order than
a BLAS GEMM (rounding-level differences).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import alloc
from .event_rows import (
    add_events,
    add_outer,
    add_unit_events,
    add_unit_outer,
    block_state,
    chunks,
    vec_mat,
)
from .lif_numba import _membrane
from .threads import follow_torch_threads

_F0 = np.float32(0.0)


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _forward(s, bits, has_bits, wt, bias, has_bias, bs, bm, g, delta, nblocks, mem, top, at):  # type: ignore[no-untyped-def]
    width = wt.shape[1]  # the classes
    steps, batch, k_in = mem.shape[0], mem.shape[1], wt.shape[0]
    for c in prange(nblocks):
        lo, hi, ist2, vst2 = block_state(c, nblocks, batch, width)
        m = (hi - lo) * width  # the block's rows side by side: one loop over its neurons
        ist = ist2.reshape(m)
        vst = vst2.reshape(m)
        cur = np.empty(m, np.float32)
        idx = np.empty(k_in, np.int64)
        mx = top[lo:hi].reshape(m)
        ix = at[lo:hi].reshape(m)
        for t in range(steps):
            for j in range(m):  # the current of every row: zero, events, bias
                cur[j] = _F0
            for b in range(lo, hi):
                j = (b - lo) * width
                if has_bits:  # the row's events from its bits
                    add_unit_events(bits[t, b], wt, idx, cur[j : j + width])
                else:
                    add_events(s[t, b], wt, idx, cur[j : j + width])
            if has_bias:
                for j in range(m):
                    cur[j] = cur[j] + bias[j % width]
            mt = mem[t, lo:hi].reshape(m)
            for j in range(m):
                u = _membrane(cur[j], ist, vst, j, bs, bm, g, delta)
                mt[j] = u
                vst[j] = u
                up = t == 0 or u > mx[j]  # the first maximal step
                mx[j] = u if up else mx[j]
                ix[j] = t if up else ix[j]


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _backward(  # type: ignore[no-untyped-def]
    s, bits, has_bits, w, gmem, bs, bm, g, delta, need_s, need_c, need_w, nblocks, gs, gc, gwt, gb
):
    steps, batch, width = gmem.shape
    k_in = w.shape[1]
    for c in prange(nblocks):
        lo, hi, cis2, cvs2 = block_state(c, nblocks, batch, width)
        m = (hi - lo) * width  # the block's rows side by side, as in the forward pass
        acc = gwt[c]
        cis = cis2.reshape(m)
        cvs = cvs2.reshape(m)
        accb = np.zeros(m, np.float32)
        idx = np.empty(k_in, np.int64)
        for t in range(steps - 1, -1, -1):
            gm = gmem[t, lo:hi].reshape(m)
            for j in range(m):
                gu = cvs[j] + gm[j]
                cin = gu * g if delta else gu * g + cis[j] * bs
                cis[j] = cin
                cvs[j] = gu * bm
                accb[j] += cin
            if need_c:  # dL/dx[t], for the layer that produced S
                gct = gc[t, lo:hi].reshape(m)
                for j in range(m):
                    gct[j] = cis[j]
            for b in range(lo, hi):
                ci = cis[(b - lo) * width : (b - lo + 1) * width]
                if need_s:  # dL/dS[t] = dL/dx[t] W
                    vec_mat(ci, w, gs[t, b])
                if need_w:  # dL/dW^T[k] += S[t, k] dL/dx[t] over the nonzero S[t, k]
                    live = 0
                    for n in range(width):
                        live += ci[n] != _F0
                    if live and has_bits:
                        add_unit_outer(bits[t, b], idx, ci, acc)
                    elif live:
                        add_outer(s[t, b], idx, ci, acc)
        for r in range(hi - lo):
            for n in range(width):
                gb[c, n] += accb[r * width + n]


def _bits_operand(bits: np.ndarray | None) -> tuple[np.ndarray, bool]:
    return (_NO_BITS, False) if bits is None else (bits, True)


_NO_BITS = np.zeros((1, 1, 1), np.uint64)


@follow_torch_threads
def forward(
    s: np.ndarray,
    wt: np.ndarray,
    bias: np.ndarray | None,
    bs: float,
    bm: float,
    g: float,
    bits: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(U [T, B, N], max_t U [B, N], its first step [B, N])`` for spikes ``s [T, B, K]``,
    ``wt = W^T [K, N]`` and ``bias [N]`` (all float32, C-contiguous); the maximum is
    meaningful where ``U`` is finite. ``bits`` (``[T, B, words(K)]`` uint64,
    :func:`spikeinit._kernels.bitscan.pack` of each row of 0/1 spikes ``s``): the events
    are read from them instead of scanning ``s`` (the same result)."""
    steps, batch, _ = s.shape
    width = wt.shape[1]
    mem = alloc.empty(steps, batch, width).numpy()
    top = np.empty((batch, width), np.float32)
    at = np.zeros((batch, width), np.int64)
    b = np.zeros(width, np.float32) if bias is None else bias
    f32 = np.float32
    _forward(
        s, *_bits_operand(bits), wt, b, bias is not None, f32(bs), f32(bm), f32(g), bs == 0.0,
        chunks(batch), mem, top, at,
    )  # fmt: skip
    return mem, top, at


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
    need_current: bool = False,
    bits: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``(dL/dS [T, B, K] or None, dL/dW^T [K, N], dL/db [N])`` for ``gmem = dL/dU``;
    with ``need_current`` the first entry is ``dL/dx [T, B, N]`` instead of ``dL/dS``;
    ``bits`` as for :func:`forward`."""
    steps, batch, k_in = s.shape
    width = w.shape[0]
    nblocks = chunks(batch)
    gs = alloc.empty(*((steps, batch, k_in) if need_s else (1, 1, 1))).numpy()
    gc = alloc.empty(*((steps, batch, width) if need_current else (1, 1, 1))).numpy()
    gwt = np.zeros((nblocks, k_in, width), np.float32)
    gb = np.zeros((nblocks, width), np.float32)
    f32 = np.float32
    _backward(
        s, *_bits_operand(bits), w, gmem, f32(bs), f32(bm), f32(g), bs == 0.0,
        need_s and not need_current, need_current, need_w, nblocks, gs, gc, gwt, gb,
    )  # fmt: skip
    first = gc if need_current else (gs if need_s else None)
    return first, gwt.sum(axis=0), gb.sum(axis=0)
