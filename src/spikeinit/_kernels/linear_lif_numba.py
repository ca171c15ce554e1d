"""A feed-forward linear LIF layer on sparse input in one pass: product and neuron, fused (numba).

For input spikes ``X [T, B, K]``, weight ``W [N, K]`` and bias ``b``, a
:class:`spikeinit.nn.SpikingLinear` without recurrence feeds the current
``x[t] = X[t] W^T + b`` to the generic step of :mod:`spikeinit._kernels.rule`
(docs/science.md, section 'The reference neuron'; update-first order, zero,
subtract or no reset). Here each batch row's current is built inside the
time loop from the nonzero entries of ``X[t]`` alone (the event-driven rule
of :mod:`spikeinit.sparse_input`, :mod:`spikeinit._kernels.event_rows`), so the
``[T, B, N]`` current is never written: the forward pass stores the membrane
``U`` and the spikes only, and on the way counts each neuron's spikes per trial
(:mod:`spikeinit.kept`) and flags a non-finite ``U``.

The backward pass runs the adjoint recursion of :mod:`spikeinit.neuron` and
turns ``dL/dx[t]`` straight into ``dL/dW^T[k] += X[t, k] dL/dx[t]`` over the
nonzero ``X[t, k]``, ``dL/db += dL/dx[t]`` and (when the input needs it)
``dL/dX[t] = dL/dx[t] W``, again without a ``[T, B, N]`` intermediate. Its
incoming ``dL/dS`` is the sum of up to two parts, formed row by row:

* ``g_ro[t] W_ro``: from a fused readout that read these spikes
  (:mod:`spikeinit._kernels.readout_numba`), given as its narrow current
  gradient ``g_ro = dL/dx_ro [T, B, R]`` and its weight ``W_ro [R, N]``
  (summed over ``R`` in ascending order, as the readout's own ``dL/dS``; a zero
  ``g_ro[t, b]`` is skipped: it adds zeros);
* a gradient from other uses of the spikes: ``[T, B, N]``, or ``[B, N]`` when it
  is constant over time (the gradient of a spike count ``sum_t S[t]``).

The forward pass rounds exactly as the unfused path (the event-driven product,
then :mod:`spikeinit._kernels.lif_numba`): the same float32 operations in the
same order. The weight gradient sums in another order (rounding level).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

from . import alloc
from .bitscan import pack, words
from .event_rows import add_outer, block_state, chunks, event_current, vec_mat
from .lif_numba import _cell, _membrane, _reset
from .threads import follow_torch_threads

_F0 = np.float32(0.0)
_F1 = np.float32(1.0)

#: how the gradient from other uses of the spikes arrives: none, [T, B, N], [B, N]
GS_NONE, GS_DENSE, GS_PER_TRIAL = 0, 1, 2


def _make_forward(delta: bool, reset: int):  # type: ignore[no-untyped-def]
    """Compile the forward pass for one synapse type and one reset (closure constants:
    numba folds the branches away, so the loop over neurons vectorises)."""

    @njit(parallel=True, cache=True, nogil=True, error_model="numpy")
    def forward(x, wt, bias, has_bias, bs, bm, g, th, nblocks, mem, spk, cnt, bits):  # type: ignore[no-untyped-def]
        steps, batch, k_in = x.shape
        width = wt.shape[1]
        for c in prange(nblocks):
            lo, hi, ist, vst = block_state(c, nblocks, batch, width)
            cur = np.empty(width, np.float32)
            idx = np.empty(k_in, np.int64)
            for t in range(steps):
                for b in range(lo, hi):
                    event_current(x[t, b], wt, bias, has_bias, idx, cur)
                    ib = ist[b - lo]
                    vb = vst[b - lo]
                    mt = mem[t, b]
                    st = spk[t, b]
                    cb = cnt[b]
                    for n in range(width):
                        u = _membrane(cur[n], ib, vb, n, bs, bm, g, delta)
                        mt[n] = u
                        fired = u > th
                        sp = _F1 if fired else _F0
                        st[n] = sp
                        cb[n] += sp + u * _F0  # u * 0 = 0 unless U is inf or NaN
                        vb[n] = _reset(u, fired, th, reset)
                    pack(st, bits[t, b])  # the row's events, for a fused readout

    return forward


def _make_backward(scode: int, gs_mode: int, has_ro: bool):  # type: ignore[no-untyped-def]
    """Compile the backward pass for one surrogate and one form of the incoming
    ``dL/dS`` (closure constants, as in :mod:`spikeinit._kernels.lif_numba`, so that
    the inner loop over neurons vectorises)."""

    @njit(parallel=True, cache=True, nogil=True, error_model="numpy")
    def backward(  # type: ignore[no-untyped-def]
        mem, x, w, gspk, g_ro, w_ro, bs, bm, g, th, rg, reset, delta, detach, k,
        need_x, need_w, nblocks, gx, gwt, gb,
    ):  # fmt: skip
        steps, batch, width = mem.shape
        k_in = x.shape[2]
        n_ro = w_ro.shape[0]
        for c in prange(nblocks):
            lo, hi, cis, cvs = block_state(c, nblocks, batch, width)
            acc = gwt[c]
            accb = gb[c]
            gsr = np.zeros(width, np.float32)
            idx = np.empty(k_in, np.int64)
            for t in range(steps - 1, -1, -1):
                for b in range(lo, hi):
                    mt = mem[t, b]
                    if gs_mode == GS_DENSE:
                        gst = gspk[t, b]
                    elif gs_mode == GS_PER_TRIAL:
                        gst = gspk[0, b]
                    else:
                        gst = gspk[0, 0]
                    crow = g_ro[t, b] if has_ro else g_ro[0, 0]
                    live = 0
                    if has_ro:
                        for r in range(n_ro):
                            live += crow[r] != _F0
                    if live:  # the readout's part g_ro[t] W_ro
                        vec_mat(crow, w_ro, gsr)
                    ci = cis[b - lo]
                    cv = cvs[b - lo]
                    for n in range(width):
                        if gs_mode == GS_NONE:  # dL/dS[t]: the parts there are
                            gs = gsr[n] if live else _F0
                        else:
                            gs = gst[n] + gsr[n] if live else gst[n]
                        gu = _cell(mt[n], gs, cv[n], th, rg, reset, detach, scode, k)
                        cin = gu * g if delta else gu * g + ci[n] * bs
                        ci[n] = cin
                        cv[n] = gu * bm
                        accb[n] += cin
                    if need_w:  # dL/dW^T[k] += X[t, k] dL/dx[t] over the nonzero X[t, k]
                        add_outer(x[t, b], idx, ci, acc)
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


_COMPILED: dict[tuple[Any, ...], Any] = {}


def _kernel(make: Any, *key: Any) -> Any:
    """The compiled specialisation ``make(*key)``, built once per process."""
    full = (make.__name__, *key)
    if full not in _COMPILED:
        _COMPILED[full] = make(*key)
    return _COMPILED[full]


@follow_torch_threads
def forward(
    x: np.ndarray,
    wt: np.ndarray,
    bias: np.ndarray | None,
    consts: tuple[Any, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """``(U, spikes, counts, bits, finite)`` for input ``x [T, B, K]``, ``wt = W^T [K, N]``,
    ``bias [N]`` (float32, C-contiguous) and ``consts = (beta_s, beta_m, g, theta, reset
    code)``; ``counts = sum_t spikes[t]`` (``[B, N]``); ``bits`` the spikes' rows packed
    (``[T, B, words(N)]`` uint64, :func:`spikeinit._kernels.bitscan.pack`); ``finite``
    tells whether every ``U`` is finite (a NaN or an infinite current makes ``U``
    non-finite at its step, ``g != 0``)."""
    steps, batch, _ = x.shape
    width = wt.shape[1]
    mem = alloc.empty(steps, batch, width).numpy()
    spk = alloc.empty(steps, batch, width).numpy()
    b = np.zeros(width, np.float32) if bias is None else bias
    bs, bm, g, th, reset = consts
    nblocks = chunks(batch)
    cnt = np.zeros((batch, width), np.float32)
    bits = np.empty((steps, batch, words(width)), np.uint64)
    f32 = np.float32
    _kernel(_make_forward, bool(bs == 0.0), int(reset))(
        x, wt, b, bias is not None, f32(bs), f32(bm), f32(g), f32(th), nblocks, mem, spk, cnt,
        bits,
    )  # fmt: skip
    if not np.isfinite(cnt).all():  # a non-finite U (the count carries it): count afresh
        return mem, spk, spk.sum(axis=0, dtype=np.float32), bits, False
    return mem, spk, cnt, bits, True


@follow_torch_threads
def backward(
    mem: np.ndarray,
    x: np.ndarray,
    w: np.ndarray,
    g_spk: np.ndarray | None,
    readout: tuple[np.ndarray, np.ndarray] | None,
    consts: tuple[Any, ...],
    reset_grad: float,
    detach: bool,
    scode: int,
    steepness: float,
    need_x: bool,
    need_w: bool,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``(dL/dX or None, dL/dW^T [K, N], dL/db [N])`` from the incoming ``dL/dS``:
    ``g_spk`` (``[T, B, N]``, ``[B, N]`` when constant over time, or None) plus, with
    ``readout = (g_ro [T, B, R], W_ro [R, N])``, ``g_ro[t] W_ro``."""
    steps, batch, width = mem.shape
    k_in = x.shape[2]
    bs, bm, g, th, reset = consts
    nblocks = chunks(batch)
    gx = alloc.empty(*((steps, batch, k_in) if need_x else (1, 1, 1))).numpy()
    gwt = np.zeros((nblocks, k_in, width), np.float32)
    gb = np.zeros((nblocks, width), np.float32)
    if g_spk is None:
        gs_mode, gspk = GS_NONE, np.zeros((1, 1, 1), np.float32)
    elif g_spk.ndim == 2:
        gs_mode, gspk = GS_PER_TRIAL, g_spk[None]
    else:
        gs_mode, gspk = GS_DENSE, g_spk
    if readout is None:
        g_ro, w_ro = np.zeros((1, 1, 1), np.float32), np.zeros((1, 1), np.float32)
    else:
        g_ro, w_ro = readout
    kernel = _kernel(_make_backward, scode, gs_mode, readout is not None)
    f32 = np.float32
    kernel(
        mem, x, w, gspk, g_ro, w_ro,
        f32(bs), f32(bm), f32(g), f32(th), f32(reset_grad), reset, bs == 0.0, bool(detach),
        f32(steepness), need_x, need_w, nblocks, gx, gwt, gb,
    )  # fmt: skip
    return (gx if need_x else None), gwt.sum(axis=0), gb.sum(axis=0)
