"""Fused LIF forward/backward loops over time, compiled with numba (float32, CPU).

The maths is the generic step of :mod:`spikeinit._kernels.rule` (every neuron
convention) and its adjoint in :mod:`spikeinit.neuron`, written so
that the forward pass rounds exactly as the pure-torch loop does: every
operation is a float32 operation, in the same order, with no fused
multiply-add (numba does not contract ``a * b + c`` without ``fastmath``).

Layout: the time-major input ``[T, B, ...]`` is viewed as ``[T, M]``.

* Feed-forward: the ``M`` neurons are independent; threads take contiguous
  chunks of neurons and run the whole time loop on them (inner loop over the
  chunk is contiguous and vectorises).
* Recurrent forward: ``R S[t-1]`` is one torch GEMM per step (the same call
  as the reference, so that ``U`` agrees bit for bit whatever order the BLAS
  sums in), followed by one compiled call for the rest of the step.
* Recurrent backward: fully fused; threads take batch rows and compute
  ``dL/dI[t+1] R`` as a vector-matrix product per row and step (the order of
  that sum only matters to rounding in the gradients).

Compiled functions are cached on disk (``cache=True``): the first call on a
machine compiles (a few seconds), later processes load the cache.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from numba import njit, prange

from ..params import LIFParams
from ..surrogate import Surrogate
from .rule import RESET_DEFERRED, SURROGATE_CODES, LIFStep, lif_step
from .threads import follow_torch_threads

_F0 = np.float32(0.0)
_F1 = np.float32(1.0)
_PI_HALF = np.float32(math.pi / 2.0)


@njit(cache=True, inline="always")
def _surrogate(x, code, k):  # type: ignore[no-untyped-def]
    ax = x if x >= _F0 else -x  # |x| (written out: numba's abs() blocks vectorising)
    if code == 0:  # superspike / fast sigmoid: 1 / (k|x| + 1)^2
        d = k * ax + _F1
        return _F1 / (d * d)
    if code == 1:  # atan: (k/2) / (1 + (pi k x / 2)^2)
        y = _PI_HALF * k * x
        return (k / np.float32(2.0)) / (_F1 + y * y)
    if code == 2:  # sigmoid: k s (1 - s), s = sigmoid(k x)
        s = _F1 / (_F1 + np.exp(-(k * x)))
        return k * s * (_F1 - s)
    y = _F1 - k * ax
    return k * y if y > _F0 else _F0  # triangle: k max(0, 1 - k|x|)


@njit(cache=True, inline="always")
def _membrane(xj, ist, vst, j, bs, bm, g, delta):  # type: ignore[no-untyped-def]
    """``U[t] = beta_m V[t-1] + g I[t]`` of neuron ``j`` for input ``x[t] = xj``, with
    ``I[t] = beta_s I[t-1] + x[t]`` kept in ``ist`` (``I[t] = x[t]`` for a delta synapse)
    and ``V[t-1]`` read from ``vst`` (update-first order)."""
    if delta:
        i = xj
    else:
        i = ist[j] * bs + xj
        ist[j] = i
    return vst[j] * bm + i * g


@njit(cache=True, inline="always")
def _reset(b, fired, th, reset):  # type: ignore[no-untyped-def]
    """``R(b, s)`` of :mod:`spikeinit._kernels.rule`: 0 zero, 1 subtract, else none."""
    if reset == 0:
        return _F0 if fired else b
    if reset == 1:
        return b - th if fired else b
    return b


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _forward_ff(x, i0, v0, bs, bm, g, th, reset, delta, chunk, mem, spk):  # type: ignore[no-untyped-def]
    """Update-first order, reset codes 0-2 (spikeinit; snnTorch's zero reset)."""
    steps, m = x.shape
    nchunks = (m + chunk - 1) // chunk
    for c in prange(nchunks):
        lo = c * chunk
        n = min(m, lo + chunk) - lo
        ist = i0[lo : lo + n].copy()
        vst = v0[lo : lo + n].copy()
        for t in range(steps):
            xt = x[t, lo : lo + n]
            mt = mem[t, lo : lo + n]
            st = spk[t, lo : lo + n]
            for j in range(n):
                u = _membrane(xt[j], ist, vst, j, bs, bm, g, delta)
                mt[j] = u
                fired = u > th
                st[j] = _F1 if fired else _F0
                if reset == 0:
                    vst[j] = _F0 if fired else u
                elif reset == 1:
                    vst[j] = u - th if fired else u
                else:
                    vst[j] = u


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _forward_ff_late(x, i0, v0, bs, bm, g, th, reset, delta, chunk, mem, spk):  # type: ignore[no-untyped-def]
    """Update-first order, reset code 3: snnTorch's theta S[t-1] after the decay.
    (Its own function: a branch or a conditional load in ``_forward_ff``'s loop keeps
    that loop from vectorising.)"""
    steps, m = x.shape
    nchunks = (m + chunk - 1) // chunk
    for c in prange(nchunks):
        lo = c * chunk
        n = min(m, lo + chunk) - lo
        ist = i0[lo : lo + n].copy()
        vst = v0[lo : lo + n].copy()
        none = np.zeros(n, np.float32)  # S[-1]
        for t in range(steps):
            xt = x[t, lo : lo + n]
            mt = mem[t, lo : lo + n]
            st = spk[t, lo : lo + n]
            sp = spk[t - 1, lo : lo + n] if t > 0 else none
            for j in range(n):
                u = _membrane(xt[j], ist, vst, j, bs, bm, g, delta) - th * sp[j]
                mt[j] = u
                st[j] = _F1 if u > th else _F0
                vst[j] = u


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _forward_ff_sf(x, i0, v0, bs, bm, g, th, reset, delta, chunk, mem, spk):  # type: ignore[no-untyped-def]
    """stork's order: spike from the previous membrane, input one step late."""
    steps, m = x.shape
    nchunks = (m + chunk - 1) // chunk
    for c in prange(nchunks):
        lo = c * chunk
        n = min(m, lo + chunk) - lo
        ist = i0[lo : lo + n].copy()
        vst = v0[lo : lo + n].copy()
        for t in range(steps):
            mt = mem[t, lo : lo + n]
            st = spk[t, lo : lo + n]
            xp = x[max(t - 1, 0), lo : lo + n]
            live = t > 0
            for j in range(n):
                v = vst[j]
                fired = v > th
                u = _reset(v * bm + ist[j] * g, fired, th, reset)
                inp = xp[j] if live else _F0
                ist[j] = inp if delta else ist[j] * bs + inp
                mt[j] = u
                st[j] = _F1 if fired else _F0
                vst[j] = u


@njit(cache=True, nogil=True, error_model="numpy")
def _step_rec(xt, rec, ist, vst, bs, bm, g, th, reset, order, delta, sp, mt, st):  # type: ignore[no-untyped-def]
    """One forward step given the recurrent input ``rec = S[t-1] R^T`` from torch's GEMM
    (``xt`` is ``x[t]``, or ``x[t-1]`` in stork's order; ``sp`` is ``S[t-1]``)."""
    for j in range(xt.shape[0]):
        inp = xt[j] + rec[j]
        if order == 1:
            v = vst[j]
            fired = v > th
            u = _reset(v * bm + ist[j] * g, fired, th, reset)
            ist[j] = inp if delta else ist[j] * bs + inp
            mt[j] = u
            st[j] = _F1 if fired else _F0
            vst[j] = u
            continue
        if delta:
            i = inp
        else:
            i = ist[j] * bs + inp
            ist[j] = i
        u = vst[j] * bm + i * g
        if reset == 3:
            u = u - th if sp[j] > _F0 else u
        mt[j] = u
        fired = u > th
        st[j] = _F1 if fired else _F0
        vst[j] = _reset(u, fired, th, reset)


@njit(cache=True, inline="always")
def _cell(u, gs, cvj, th, rg, reset, detach, scode, k):  # type: ignore[no-untyped-def]
    """dL/dU[t] from dL/dS[t] (``gs``) and dL/dV[t] (``cvj``), without the g_mem term
    (update-first order; ``rg`` is the rule's ``reset_grad``)."""
    if not detach:
        if reset == 0:
            gs = gs - cvj * u
        elif reset != 2:
            gs = gs - rg * cvj
    gu = gs * _surrogate(u - th, scode, k)
    if reset == 0:
        return gu + (_F0 if u > th else cvj)
    return gu + cvj


# fmt: off
@njit(cache=True, inline="always")
def _adjoint_step(  # type: ignore[no-untyped-def]
    mt, pt, a, gst, gmt, c1, c2, c3, gxt, bs, bm, g, th, rg, reset, delta, detach, scode, k,
    has_gs, has_gm, order,
):
    # fmt: on
    """One step of the adjoint recursion back in time, over the neurons of one row.

    ``mt = U[t]``, ``pt = U[t-1]`` (``V0`` at ``t = 0``), ``a = dL/dI[t+1] R`` (the
    recurrent term, zero at the last step), ``gst``/``gmt`` the incoming ``dL/dS[t]``,
    ``dL/dU[t]`` (read only if ``has_gs``/``has_gm``); writes ``gxt = dL/dx[t]`` and
    updates the carries in place. Update-first order (``c1 = dL/dI``, ``c2 = dL/dV``)::

        dL/dS[t] = gS[t] + a                       dL/dU[t] = _cell(...) + gU[t]
        dL/dI[t] = g dL/dU[t] + beta_s dL/dI[t+1]  dL/dV[t-1] = beta_m dL/dU[t]

    stork's order (``order == 1``, :func:`spikeinit.neuron._backward_torch_spike_first`,
    ``c1 = dL/dI[t+1]``, ``c2 = dL/dB[t+1]``, ``c3 = dL/dS[t+1]``)::

        dL/dx[t] = c1        dL/dU[t] = gU[t] + beta_m c2 + c3 sigma'(U[t] - theta)
        dL/dS[t] = gS[t] + a [- theta dL/dU[t]]     dL/dI[t] = g c2 + beta_s c1
        dL/dB[t] = dL/dU[t] (1 - S[t])  (zero reset)  |  dL/dU[t]
    """
    for j in range(mt.shape[0]):
        u = mt[j]
        gs = gst[j] + a[j] if has_gs else a[j]
        if order == 1:
            gxt[j] = c1[j]
            gu = c3[j] * _surrogate(u - th, scode, k) + c2[j] * bm
            if has_gm:
                gu = gu + gmt[j]
            if not detach and reset == 1:
                gs = gs - th * gu
            gb = (_F0 if pt[j] > th else gu) if reset == 0 else gu
            c1[j] = c2[j] * g if delta else c2[j] * g + c1[j] * bs
            c2[j] = gb
            c3[j] = gs
            continue
        gu = _cell(u, gs, c2[j], th, rg, reset, detach, scode, k)
        if has_gm:
            gu = gu + gmt[j]
        cij = gu * g if delta else gu * g + c1[j] * bs
        c1[j] = cij
        gxt[j] = cij
        c2[j] = gu * bm


# fmt: off
@njit(cache=True, inline="always")
def _adjoint_row(  # type: ignore[no-untyped-def]
    t, b, mem, v0, a, gspk, gmem, c1, c2, c3, gx, bs, bm, g, th, rg, reset, delta, detach,
    scode, k, has_gs, has_gm, order,
):
    # fmt: on
    """:func:`_adjoint_step` at step ``t`` for batch row ``b`` of ``[T, B, N]`` arrays
    (``gspk``/``gmem`` are ``[1, 1, 1]`` dummies unless ``has_gs``/``has_gm``)."""
    gst = gspk[t if has_gs else 0, b if has_gs else 0]
    gmt = gmem[t if has_gm else 0, b if has_gm else 0]
    pt = mem[t - 1, b] if t > 0 else v0[b]
    _adjoint_step(
        mem[t, b], pt, a, gst, gmt, c1, c2, c3, gx[t, b], bs, bm, g, th, rg, reset, delta,
        detach, scode, k, has_gs, has_gm, order,
    )  # fmt: skip


@njit(cache=True, inline="always")
def _adjoint_end(c1, c2, c3, v0, bs, bm, g, th, delta, scode, k, order, gi0, gv0):  # type: ignore[no-untyped-def]
    """``dL/dI0`` and ``dL/dV0`` from the carries after :func:`_adjoint_step` at ``t = 0``."""
    for j in range(c1.shape[0]):
        if order == 1:
            gv0[j] = c3[j] * _surrogate(v0[j] - th, scode, k) + c2[j] * bm
            gi0[j] = c2[j] * g if delta else c2[j] * g + c1[j] * bs
        else:
            gi0[j] = c1[j] * bs
            gv0[j] = c2[j]


def _make_backward(scode: int, has_gs: bool, has_gm: bool, rec: bool, order: int):  # type: ignore[no-untyped-def]
    """Compile the backward loop for one surrogate, one set of incoming gradients and
    one step order (:mod:`spikeinit._kernels.rule`).

    These are closure constants, so numba folds the branches away and the inner
    loop vectorises (a runtime switch with a non-vectorisable ``exp`` in one arm,
    or a conditional load, keeps the whole loop scalar). numba's disk cache
    keys on the closure values (plain ints and bools only). Reset, synapse type
    and ``detach`` stay runtime arguments: they are plain selects.
    """

    @njit(parallel=True, cache=True, nogil=True, error_model="numpy")
    def backward_ff(  # type: ignore[no-untyped-def]
        mem, v0, gspk, gmem, bs, bm, g, th, rg, reset, delta, detach, k, chunk, gx, gi0, gv0
    ):
        steps, m = mem.shape
        nchunks = (m + chunk - 1) // chunk
        for c in prange(nchunks):
            lo = c * chunk
            n = min(m, lo + chunk) - lo
            c1 = np.zeros(n, np.float32)
            c2 = np.zeros(n, np.float32)
            c3 = np.zeros(n, np.float32)
            a = np.zeros(n, np.float32)  # no recurrent term
            for t in range(steps - 1, -1, -1):
                pt = mem[t - 1, lo : lo + n] if t > 0 else v0[lo : lo + n]
                gst = gspk[t if has_gs else 0, lo : lo + n]
                gmt = gmem[t if has_gm else 0, lo : lo + n]
                _adjoint_step(
                    mem[t, lo : lo + n], pt, a, gst, gmt, c1, c2, c3, gx[t, lo : lo + n],
                    bs, bm, g, th, rg, reset, delta, detach, scode, k, has_gs, has_gm, order,
                )  # fmt: skip
            _adjoint_end(
                c1, c2, c3, v0[lo : lo + n], bs, bm, g, th, delta, scode, k, order,
                gi0[lo : lo + n], gv0[lo : lo + n],
            )  # fmt: skip

    @njit(parallel=True, cache=True, nogil=True, error_model="numpy")
    def backward_rec(  # type: ignore[no-untyped-def]
        mem, v0, w, gspk, gmem, bs, bm, g, th, rg, reset, delta, detach, k, gx, gi0, gv0
    ):
        steps, batch, n = mem.shape
        for b in prange(batch):
            c1 = np.zeros(n, np.float32)  # dL/dI[t+1]
            c2 = np.zeros(n, np.float32)  # dL/dV[t] | stork's order: dL/dB[t+1]
            c3 = np.zeros(n, np.float32)  # stork's order: dL/dS[t+1]
            acc = np.zeros(n, np.float32)
            for t in range(steps - 1, -1, -1):
                for j in range(n):
                    acc[j] = _F0
                if t < steps - 1:  # dL/dI[t+1] R
                    for q in range(n):
                        cq = c1[q]
                        if cq != _F0:
                            row = w[q]
                            for j in range(n):
                                acc[j] += cq * row[j]
                _adjoint_row(
                    t, b, mem, v0, acc, gspk, gmem, c1, c2, c3, gx, bs, bm, g, th, rg,
                    reset, delta, detach, scode, k, has_gs, has_gm, order,
                )  # fmt: skip
            _adjoint_end(c1, c2, c3, v0[b], bs, bm, g, th, delta, scode, k, order, gi0[b], gv0[b])

    return backward_rec if rec else backward_ff


_BACKWARD: dict[tuple[int, bool, bool, bool, int], Any] = {}


def _backward_kernel(scode: int, has_gs: bool, has_gm: bool, rec: bool, order: int) -> Any:
    key = (scode, has_gs, has_gm, rec, order)
    if key not in _BACKWARD:
        _BACKWARD[key] = _make_backward(*key)
    return _BACKWARD[key]


# -- torch-facing wrappers -----------------------------------------------------


def supports(x: torch.Tensor, w_rec: torch.Tensor | None) -> bool:
    """Whether this backend handles the case (float32 CPU, no autocast subclass)."""
    ok = x.device.type == "cpu" and x.dtype == torch.float32 and type(x) is torch.Tensor
    if w_rec is not None:
        ok = ok and w_rec.device.type == "cpu" and w_rec.dtype == torch.float32
    return ok


def _chunk(m: int) -> int:
    """Neurons per thread task: ~4 tasks per thread, 64..4096, a multiple of 16."""
    per = -(-m // (4 * max(1, torch.get_num_threads())))
    return int(min(4096, max(64, -(-per // 16) * 16)))


def _consts(r: LIFStep) -> tuple[np.float32, np.float32, np.float32, np.float32]:
    return (
        np.float32(r.beta_syn),
        np.float32(r.beta_mem),
        np.float32(r.gain),
        np.float32(r.threshold),
    )


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


@follow_torch_threads
def forward(
    x: torch.Tensor,
    i0: torch.Tensor,
    v0: torch.Tensor,
    w_rec: torch.Tensor | None,
    params: LIFParams,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and membrane ``U`` (both ``[T, B, ...]``) for contiguous float32 ``x``."""
    r = lif_step(params)
    bs, bm, g, th = _consts(r)
    mem = torch.empty_like(x)
    spk = torch.empty_like(x)
    codes = (r.reset, r.order, r.delta)
    steps = x.shape[0]
    if w_rec is None:
        kernel = _forward_ff_sf if r.spike_first else _forward_ff
        if r.reset == RESET_DEFERRED:
            kernel = _forward_ff_late
        kernel(
            _np(x).reshape(steps, -1), _np(i0).reshape(-1), _np(v0).reshape(-1),
            bs, bm, g, th, r.reset, r.delta, _chunk(x[0].numel()),
            mem.numpy().reshape(steps, -1), spk.numpy().reshape(steps, -1),
        )  # fmt: skip
    else:
        # R S[t-1] is torch's own GEMM, as in the pure-torch loop and the reference, so
        # that U agrees to the last bit whatever order the BLAS sums in; the rest of the
        # step is one compiled call.
        xs, ms, ss = _np(x).reshape(steps, -1), mem.numpy(), spk.numpy()
        ist, vst = _np(i0).reshape(-1).copy(), _np(v0).reshape(-1).copy()
        rec = torch.zeros_like(x[0])
        rec_np, wt = rec.numpy().reshape(-1), w_rec.detach().t()
        ms2, ss2 = ms.reshape(steps, -1), ss.reshape(steps, -1)
        zeros = np.zeros_like(xs[0])
        for t in range(steps):
            if t > 0:
                torch.mm(spk[t - 1], wt, out=rec)
            xt = xs[t] if not r.spike_first else (xs[t - 1] if t > 0 else zeros)
            sp = ss2[t - 1] if t > 0 else zeros
            _step_rec(xt, rec_np, ist, vst, bs, bm, g, th, *codes, sp, ms2[t], ss2[t])
    return spk, mem


@follow_torch_threads
def backward(
    mem: torch.Tensor,
    g_spk: torch.Tensor | None,
    g_mem: torch.Tensor | None,
    w_rec: torch.Tensor | None,
    params: LIFParams,
    surrogate: Surrogate,
    detach_reset: bool,
    v0: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``dL/dx`` ``[T, B, ...]``, ``dL/dI0`` and ``dL/dV0`` (``[B, ...]``); ``v0`` (the
    initial membrane, broadcast to ``[B, ...]``) is read by stork's order only."""
    r = lif_step(params)
    bs, bm, g, th = _consts(r)
    scode, k = SURROGATE_CODES[surrogate.name], np.float32(surrogate.steepness)
    steps = mem.shape[0]
    gx = torch.empty_like(mem)
    gi0 = torch.empty_like(mem[0])
    gv0 = torch.empty_like(mem[0])
    v0_np = _np(torch.zeros_like(mem[0]) if v0 is None else v0.to(mem.dtype).expand_as(mem[0]))
    dummy = np.zeros((1,) * mem.dim(), np.float32)
    gs_np = _np(g_spk.to(mem.dtype)) if g_spk is not None else dummy
    gm_np = _np(g_mem.to(mem.dtype)) if g_mem is not None else dummy
    kernel = _backward_kernel(
        scode, g_spk is not None, g_mem is not None, w_rec is not None, r.order
    )
    consts = (bs, bm, g, th, np.float32(r.reset_grad), r.reset, r.delta, bool(detach_reset), k)
    if w_rec is None:
        kernel(
            mem.numpy().reshape(steps, -1), v0_np.reshape(-1), gs_np.reshape(gs_np.shape[0], -1),
            gm_np.reshape(gm_np.shape[0], -1), *consts, _chunk(mem[0].numel()),
            gx.numpy().reshape(steps, -1), gi0.numpy().reshape(-1), gv0.numpy().reshape(-1),
        )  # fmt: skip
    else:
        kernel(
            mem.numpy(), v0_np, _np(w_rec), gs_np, gm_np, *consts,
            gx.numpy(), gi0.numpy(), gv0.numpy(),
        )  # fmt: skip
    return gx, gi0, gv0
