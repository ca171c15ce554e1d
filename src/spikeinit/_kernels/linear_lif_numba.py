"""A feed-forward linear LIF layer on sparse input in one pass: product and neuron, fused (numba).

For input spikes ``X [T, B, K]``, weight ``W [N, K]`` and bias ``b``, a
:class:`spikeinit.nn.SpikingLinear` without recurrence feeds the current
``x[t] = X[t] W^T + b`` to the generic step of :mod:`spikeinit._kernels.rule`
(docs/science.md, section 'The reference neuron'; update-first order, zero,
subtract or no reset). Here each batch row's current is built inside the
time loop from the nonzero entries of ``X[t]`` alone (the event-driven rule
of :mod:`spikeinit.sparse_input`), so the ``[T, B, N]`` current is never
written: the forward pass stores the membrane ``U`` and the spikes only.

The backward pass runs the adjoint recursion of :mod:`spikeinit.neuron` and
turns ``dL/dx[t]`` straight into ``dL/dW^T[k] += X[t, k] dL/dx[t]`` over the
nonzero ``X[t, k]``, ``dL/db += dL/dx[t]`` and (when the input needs it)
``dL/dX[t] = dL/dx[t] W``, again without a ``[T, B, N]`` intermediate.

The forward pass rounds exactly as the unfused path (the event-driven product,
then :mod:`spikeinit._kernels.lif_numba`): the same float32 operations in the
same order. The weight gradient sums in another order (rounding level).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import njit, prange

from .lif_numba import _cell
from .readout_numba import _nonzero
from .threads import follow_torch_threads

_F0 = np.float32(0.0)
_F1 = np.float32(1.0)


@njit(parallel=True, cache=True, nogil=True)
def _forward(x, wt, bias, has_bias, bs, bm, g, th, reset, delta, chunks, mem, spk):  # type: ignore[no-untyped-def]
    steps, batch, k_in = x.shape
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
                xrow = x[t, b]
                cnt = _nonzero(xrow, idx)
                for n in range(width):
                    cur[n] = _F0
                for q in range(cnt):  # x[t] = X[t] W^T over the nonzero X[t, k], k ascending
                    k = idx[q]
                    v = xrow[k]
                    for n in range(width):
                        cur[n] += v * wt[k, n]
                if has_bias:
                    for n in range(width):
                        cur[n] = cur[n] + bias[n]
                ib = ist[b - lo]
                vb = vst[b - lo]
                mt = mem[t, b]
                st = spk[t, b]
                for n in range(width):
                    if delta:
                        i = cur[n]
                    else:
                        i = ib[n] * bs + cur[n]
                        ib[n] = i
                    u = vb[n] * bm + i * g
                    mt[n] = u
                    fired = u > th
                    st[n] = _F1 if fired else _F0
                    if reset == 0:
                        vb[n] = _F0 if fired else u
                    elif reset == 1:
                        vb[n] = u - th if fired else u
                    else:
                        vb[n] = u


def _make_backward(scode: int, has_gs: bool, has_gm: bool):  # type: ignore[no-untyped-def]
    """Compile the backward pass for one surrogate and one set of incoming gradients
    (closure constants, as in :mod:`spikeinit._kernels.lif_numba`, so that the inner
    loop over neurons vectorises)."""

    @njit(parallel=True, cache=True, nogil=True)
    def backward(  # type: ignore[no-untyped-def]
        mem, x, w, gspk, gmem, bs, bm, g, th, rg, reset, delta, detach, k,
        need_x, need_w, chunks, gx, gwt, gb,
    ):  # fmt: skip
        steps, batch, width = mem.shape
        k_in = x.shape[2]
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
                    mt = mem[t, b]
                    gst = gspk[t if has_gs else 0, b if has_gs else 0]
                    gmt = gmem[t if has_gm else 0, b if has_gm else 0]
                    ci = cis[b - lo]
                    cv = cvs[b - lo]
                    for n in range(width):
                        gs = gst[n] if has_gs else _F0
                        gu = _cell(mt[n], gs, cv[n], th, rg, reset, detach, scode, k)
                        if has_gm:
                            gu = gu + gmt[n]
                        cin = gu * g if delta else gu * g + ci[n] * bs
                        ci[n] = cin
                        cv[n] = gu * bm
                        accb[n] += cin
                    if need_w:  # dL/dW^T[k] += X[t, k] dL/dx[t] over the nonzero X[t, k]
                        xrow = x[t, b]
                        cnt = _nonzero(xrow, idx)
                        for q in range(cnt):
                            kk = idx[q]
                            v = xrow[kk]
                            ak = acc[kk]
                            for n in range(width):
                                ak[n] += v * ci[n]
                    if need_x:  # dL/dX[t] = dL/dx[t] W
                        row = gx[t, b]
                        for kk in range(k_in):
                            row[kk] = _F0
                        for n in range(width):
                            cn = ci[n]
                            wr = w[n]
                            for kk in range(k_in):
                                row[kk] += cn * wr[kk]

    return backward


_BACKWARD: dict[tuple[int, bool, bool], Any] = {}


def _backward_kernel(scode: int, has_gs: bool, has_gm: bool) -> Any:
    key = (scode, has_gs, has_gm)
    if key not in _BACKWARD:
        _BACKWARD[key] = _make_backward(*key)
    return _BACKWARD[key]


def _chunks(batch: int) -> int:
    """Batch blocks: about four per thread (each carries its own state)."""
    return max(1, min(4 * numba.get_num_threads(), batch))


@follow_torch_threads
def forward(
    x: np.ndarray,
    wt: np.ndarray,
    bias: np.ndarray | None,
    consts: tuple[Any, ...],
) -> tuple[np.ndarray, np.ndarray]:
    """``(U, spikes)`` for input ``x [T, B, K]``, ``wt = W^T [K, N]``, ``bias [N]``
    (float32, C-contiguous) and ``consts = (beta_s, beta_m, g, theta, reset code)``.
    A NaN or an infinite current makes ``U`` non-finite at its step (``g != 0``)."""
    steps, batch, _ = x.shape
    width = wt.shape[1]
    mem = np.empty((steps, batch, width), np.float32)
    spk = np.empty((steps, batch, width), np.float32)
    b = np.zeros(width, np.float32) if bias is None else bias
    bs, bm, g, th, reset = consts
    f32 = np.float32
    _forward(
        x, wt, b, bias is not None, f32(bs), f32(bm), f32(g), f32(th), reset, bs == 0.0,
        _chunks(batch), mem, spk,
    )  # fmt: skip
    return mem, spk


@follow_torch_threads
def backward(
    mem: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    g_spk: np.ndarray | None,
    g_mem: np.ndarray | None,
    consts: tuple[Any, ...],
    reset_grad: float,
    detach: bool,
    scode: int,
    steepness: float,
    need_x: bool,
    need_w: bool,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``(dL/dX or None, dL/dW^T [K, N], dL/db [N])`` from ``dL/dS`` and ``dL/dU``."""
    steps, batch, width = mem.shape
    k_in = x.shape[2]
    bs, bm, g, th, reset = consts
    chunks = _chunks(batch)
    gx = np.empty((steps, batch, k_in) if need_x else (1, 1, 1), np.float32)
    gwt = np.zeros((chunks, k_in, width), np.float32)
    gb = np.zeros((chunks, width), np.float32)
    dummy = np.zeros((1, 1, 1), np.float32)
    kernel = _backward_kernel(scode, g_spk is not None, g_mem is not None)
    f32 = np.float32
    kernel(
        mem, x, w, dummy if g_spk is None else g_spk, dummy if g_mem is None else g_mem,
        f32(bs), f32(bm), f32(g), f32(th), f32(reset_grad), reset, bs == 0.0, bool(detach),
        f32(steepness), need_x, need_w, chunks, gx, gwt, gb,
    )  # fmt: skip
    return (gx if need_x else None), gwt.sum(axis=0), gb.sum(axis=0)
