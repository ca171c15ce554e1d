"""Fused LIF loops with a recurrent same-padded 1-D convolution, compiled with numba.

The layer of :class:`spikeinit.neuron.ConvRecurrence` on state ``[B, C, L]`` with
weight ``W [C, C, K]`` (odd ``K``, padding ``p = K // 2``)::

    (R s)[o, l] = sum_c sum_j W[o, c, j] s[c, l + j - p]           (zero outside 0..L-1)
    (g R)[c, m] = sum_o sum_j W[o, c, j] g[o, m - j + p]           (the transpose)
    dL/dW[o, c, j] = sum_t sum_b sum_l dL/dI[t][b, o, l] S[t-1][b, c, l + j - p]

The step and its adjoint are those of :mod:`spikeinit._kernels.rule` and
:func:`spikeinit.neuron._backward_torch` (every convention), as in
:mod:`spikeinit._kernels.lif_numba`, whose per-neuron helpers this module reuses.
What differs is the recurrent operator, run inside the compiled loop instead of one
torch call per step:

* forward: ``R S[t-1]`` is event-driven, ``S`` being binary: each spike ``(c, q)``
  adds the kernel column ``W[:, c, :]`` at the positions it reaches (cost
  ``nnz(S) C K`` instead of ``C^2 K L`` per sample and step);
* backward: ``dL/dI[t+1] R`` is the dense transposed convolution, as dot products
  of the flipped weight with sliding windows of ``dL/dI[t+1]`` copied channels last
  (:mod:`spikeinit._kernels.window_numba`); the rest of the step is
  :func:`spikeinit._kernels.lif_numba._adjoint_step`;
* weight gradient: event-driven over the spikes recomputed from the stored ``U``
  (no ``[T, B, C, L]`` spike tensor is allocated), in the backward pass itself, which
  has ``dL/dI`` channels last and padded at hand; per-thread partial sums.

Threads take batch rows in chunks (every sample runs its own time loop). Sums run in
another order than torch's convolution, so ``U`` agrees with the pure-torch loop to
rounding (``tests/test_conv_numba.py``).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import torch
from numba import njit, prange

from ..params import LIFParams
from ..surrogate import Surrogate
from . import alloc
from .lif_numba import _adjoint_end, _adjoint_row, _consts, _np, _step_rec
from .rule import SURROGATE_CODES, lif_step
from .threads import follow_torch_threads
from .window_numba import window_dots

_F0 = np.float32(0.0)


@njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def _forward_conv1d(x, i0, v0, wf, bs, bm, g, th, reset, order, delta, mem, spk):  # type: ignore[no-untyped-def]
    """``x, mem, spk``: ``[T, B, C*L]``; ``i0, v0``: ``[B, C*L]``; ``wf[c, j * C + o] =
    W[o, c, K - 1 - j]`` (flipped, channels last): a spike at ``(c, q)`` adds ``wf[c]`` to
    one contiguous block of the zero-padded, channels-last recurrent input; the rest of
    the step is :func:`spikeinit._kernels.lif_numba._step_rec`."""
    steps, batch, n = x.shape
    cn = wf.shape[0]
    kn = wf.shape[1] // cn
    length = n // cn
    pad = kn // 2
    for b in prange(batch):
        ist = i0[b].copy()
        vst = v0[b].copy()
        rec = np.zeros((length + 2 * pad) * cn, np.float32)  # [(L + 2p), C], padded
        flat = np.zeros(n, np.float32)
        zeros = np.zeros(n, np.float32)
        for t in range(steps):
            rec[:] = _F0
            if t > 0:
                sp = spk[t - 1, b]
                for c in range(cn):
                    col = wf[c]
                    for q in range(length):
                        if sp[c * length + q] != _F0:
                            base = q * cn
                            for e in range(kn * cn):
                                rec[base + e] += col[e]
            for c in range(cn):  # back to the neuron order [C, L]
                for q in range(length):
                    flat[c * length + q] = rec[(q + pad) * cn + c]
            xt = x[t, b] if order != 1 else (x[t - 1, b] if t > 0 else zeros)
            sp = spk[t - 1, b] if t > 0 else zeros
            _step_rec(
                xt, flat, ist, vst, bs, bm, g, th, reset, order, delta, sp, mem[t, b], spk[t, b]
            )


@njit(cache=True, nogil=True, error_model="numpy")
def _transpose_conv(ci, wt, cpad, acc, out, cn, length):  # type: ignore[no-untyped-def]
    """``out[c * L + m] = (g R)[c, m] = sum_o sum_j W[o, c, j] ci[o * L + m - j + p]``.

    ``ci`` is copied channels last into the zero-padded ``cpad [(L + 2p), C]`` (its pad
    rows stay zero), so that ``acc[m, c] = sum_e cpad[m C + e] wt[c, e]`` with
    ``wt[c, j C + o] = W[o, c, K - 1 - j]`` is a dot product with a contiguous window
    (:func:`spikeinit._kernels.window_numba.window_dots`); ``acc`` goes back to the
    neuron order ``[C, L]``."""
    pad = wt.shape[1] // cn // 2
    for o in range(cn):
        for m in range(length):
            cpad[(m + pad) * cn + o] = ci[o * length + m]
    window_dots(cpad, wt, cn, length, acc)
    for c in range(cn):
        for m in range(length):
            out[c * length + m] = acc[m * cn + c]


def _make_backward(scode: int, has_gs: bool, has_gm: bool, order: int):  # type: ignore[no-untyped-def]
    """The backward loop for one surrogate, one set of incoming gradients and one step
    order (closure constants, as in :func:`spikeinit._kernels.lif_numba._make_backward`);
    the step itself is :func:`spikeinit._kernels.lif_numba._adjoint_step`."""

    @njit(parallel=True, cache=True, nogil=True, error_model="numpy")
    def backward_conv(  # type: ignore[no-untyped-def]
        mem, v0, wt, gspk, gmem, bs, bm, g, th, rg, reset, delta, detach, k, want_w,
        gx, gi0, gv0, gw,
    ):  # fmt: skip
        steps, batch, n = mem.shape
        cn = wt.shape[0]
        length = n // cn
        kc = wt.shape[1]
        pad = kc // cn // 2
        chunks = gw.shape[0]  # one partial weight gradient per chunk of rows
        per = (batch + chunks - 1) // chunks
        for ch in prange(chunks):
            c1 = np.zeros(n, np.float32)
            c2 = np.zeros(n, np.float32)
            c3 = np.zeros(n, np.float32)
            a = np.zeros(n, np.float32)  # dL/dI[t+1] R, zero at the last step
            cpad = np.zeros((length + 2 * pad) * cn, np.float32)
            acc = np.zeros(n, np.float32)
            for b in range(ch * per, min(batch, (ch + 1) * per)):
                for j in range(n):  # a fresh row: no carries, no recurrent term yet
                    c1[j] = c2[j] = c3[j] = a[j] = _F0
                for t in range(steps - 1, -1, -1):
                    if t < steps - 1:
                        _transpose_conv(c1, wt, cpad, acc, a, cn, length)
                        if want_w:  # cpad holds the dL/dI that S[t] feeds
                            if order == 1:  # S[t] = U[t-1] > theta pairs with dL/dx[t]
                                sp = mem[t - 1, b] if t > 0 else v0[b]
                            else:  # S[t] = U[t] > theta pairs with dL/dx[t+1]
                                sp = mem[t, b]
                            _add_spike_windows(sp, th, cpad, gw[ch], cn, length, kc)
                    _adjoint_row(
                        t, b, mem, v0, a, gspk, gmem, c1, c2, c3, gx, bs, bm, g, th, rg,
                        reset, delta, detach, scode, k, has_gs, has_gm, order,
                    )  # fmt: skip
                _adjoint_end(
                    c1, c2, c3, v0[b], bs, bm, g, th, delta, scode, k, order, gi0[b], gv0[b]
                )

    return backward_conv


_BACKWARD: dict[tuple[int, bool, bool, int], Any] = {}


def _backward_kernel(scode: int, has_gs: bool, has_gm: bool, order: int) -> Any:
    key = (scode, has_gs, has_gm, order)
    if key not in _BACKWARD:
        _BACKWARD[key] = _make_backward(*key)
    return _BACKWARD[key]


@njit(cache=True, nogil=True, inline="always")
def _add_spike_windows(sp, th, cpad, out, cn, length, kc):  # type: ignore[no-untyped-def]
    """Event-driven weight gradient of one row and step: each spike ``sp[c, q] > theta``
    adds the window ``cpad[q C : q C + K C]`` of the padded, channels-last ``dL/dI`` to
    ``out[c]``, i.e. ``dL/dW[o, c, K - 1 - j] += dL/dI[o, q + j - p]``."""
    for c in range(cn):
        row = out[c]
        for q in range(length):
            if sp[c * length + q] > th:
                base = q * cn
                for e in range(kc):
                    row[e] += cpad[base + e]


# -- torch-facing wrappers -----------------------------------------------------


def _flipped(weight: torch.Tensor) -> np.ndarray:
    """``[C_in, K * C_out]`` with ``[c, j * C + o] = W[o, c, K - 1 - j]``: the forward's
    event columns and the backward's transposed-convolution rows."""
    w = weight.detach().flip(2).permute(1, 2, 0).reshape(weight.shape[1], -1)
    return np.ascontiguousarray(_np(w))


def supports(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """float32 CPU state ``[T, B, C, L]`` and a ``[C, C, K]`` weight (1-D convolution)."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and type(x) is torch.Tensor
        and x.dim() == 4
        and weight.dim() == 3
        and weight.device.type == "cpu"
        and weight.dtype == torch.float32
    )


@follow_torch_threads
def forward(
    x: torch.Tensor, i0: torch.Tensor, v0: torch.Tensor, weight: torch.Tensor, params: LIFParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and membrane ``U`` (both ``[T, B, C, L]``) for contiguous float32 ``x``."""
    r = lif_step(params)
    bs, bm, g, th = _consts(r)
    steps, batch = x.shape[:2]
    mem = alloc.empty(*x.shape)
    spk = alloc.empty(*x.shape)
    _forward_conv1d(
        _np(x).reshape(steps, batch, -1), _np(i0).reshape(batch, -1),
        _np(v0).reshape(batch, -1), _flipped(weight), bs, bm, g, th,
        r.reset, r.order, r.delta,
        mem.numpy().reshape(steps, batch, -1), spk.numpy().reshape(steps, batch, -1),
    )  # fmt: skip
    return spk, mem


@follow_torch_threads
def backward(
    mem: torch.Tensor,
    g_spk: torch.Tensor | None,
    g_mem: torch.Tensor | None,
    weight: torch.Tensor,
    params: LIFParams,
    surrogate: Surrogate,
    detach_reset: bool,
    v0: torch.Tensor | None = None,
    weight_grad: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``dL/dx`` ``[T, B, C, L]``, ``dL/dI0`` and ``dL/dV0`` (``[B, C, L]``), and with
    ``weight_grad`` ``dL/dW`` ``[C, C, K]`` (else ``None``), accumulated in the same
    pass: ``dL/dW[o, c, j] = sum_t sum_b sum_l dL/dI[t][b, o, l] S[t-1][b, c, l + j - p]``
    over the spikes recomputed from ``U`` (one partial sum per thread chunk of rows)."""
    r = lif_step(params)
    bs, bm, g, th = _consts(r)
    scode, k = SURROGATE_CODES[surrogate.name], np.float32(surrogate.steepness)
    steps, batch, cn = mem.shape[:3]
    gx = alloc.empty(*mem.shape)
    gi0 = torch.empty_like(mem[0])
    gv0 = torch.empty_like(mem[0])
    v0_np = _np(torch.zeros_like(mem[0]) if v0 is None else v0.to(mem.dtype).expand_as(mem[0]))
    dummy = np.zeros((1, 1, 1), np.float32)

    def flat(t: torch.Tensor | None) -> np.ndarray:
        return _np(t.to(mem.dtype)).reshape(steps, batch, -1) if t is not None else dummy

    wt = _flipped(weight)
    nchunks = max(1, min(batch, numba.get_num_threads()))
    gw = np.zeros((nchunks, cn, wt.shape[1]), np.float32)
    kernel = _backward_kernel(scode, g_spk is not None, g_mem is not None, r.order)
    kernel(
        mem.numpy().reshape(steps, batch, -1), v0_np.reshape(batch, -1), wt,
        flat(g_spk), flat(g_mem), bs, bm, g, th, np.float32(r.reset_grad), r.reset, r.delta,
        bool(detach_reset), k, bool(weight_grad),
        gx.numpy().reshape(steps, batch, -1), gi0.numpy().reshape(batch, -1),
        gv0.numpy().reshape(batch, -1), gw,
    )  # fmt: skip
    if not weight_grad:
        return gx, gi0, gv0, None
    flipped = torch.from_numpy(gw.sum(axis=0)).reshape(cn, -1, cn)  # [c, K - 1 - j, o]
    return gx, gi0, gv0, flipped.flip(1).permute(2, 0, 1).contiguous().to(weight.dtype)
