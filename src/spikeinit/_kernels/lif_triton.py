"""Fused LIF forward/backward loops over time as Triton kernels (float32, CUDA).

The maths is the generic step of :mod:`spikeinit._kernels.rule` (every neuron
convention; the listing below is the reference order) and its adjoint in
:mod:`spikeinit.neuron`. The input
``[T, B, ...]`` is viewed as ``[T, M]``; without a recurrent matrix the ``M``
neurons are independent, so each program takes a block of ``BLOCK`` neurons and
runs the whole time loop for them in registers:

* forward: ``I = beta_s I + x[t]`` (``I = x[t]`` for a delta synapse),
  ``U = beta_m V + g I``, ``S = U > theta``, ``V = reset(U, S)``; writes ``S[t]``
  and ``U[t]``;
* backward (``t = T-1 .. 0``), with ``c_v = dL/dV[t]`` and ``c_i = dL/dI[t+1]``::

      gS = dL/dS[t]  [- c_v U (zero) | - theta c_v (subtract)  if the reset is not detached]
      gU = gS sigma'(U - theta) + (0 if U > theta else c_v  (zero reset) | c_v) + dL/dU[t]
      c_i = g gU + beta_s c_i      -> dL/dx[t]
      c_v = beta_m gU

  and returns ``dL/dI0 = beta_s c_i``, ``dL/dV0 = c_v``.

Floating-point contraction (FMA) is switched off where the compiler allows it,
so the forward pass rounds as the torch loop does. Recurrent layers (a matrix
``R`` coupling the neurons) stay in the torch loop on the GPU, where the
per-step ``addmm`` is already a single cuBLAS call.

Testing without a GPU: with ``TRITON_INTERPRET=1`` set before this module is
imported, Triton runs the kernels in its interpreter on CPU tensors, and
:func:`supports` accepts them (``tests/test_kernel_triton.py``).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import torch
import triton
import triton.language as tl

from ..params import LIFParams
from ..surrogate import Surrogate
from .rule import SURROGATE_CODES, lif_step

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
BLOCK = 128
_LAUNCH = {} if INTERPRET else {"enable_fp_fusion": False}


@triton.jit
def _surrogate_grad(x, k, CODE: tl.constexpr):  # type: ignore[no-untyped-def]
    if CODE == 0:  # superspike / fast sigmoid: 1 / (k|x| + 1)^2
        d = k * tl.abs(x) + 1.0
        r = 1.0 / (d * d)
    elif CODE == 1:  # atan: (k/2) / (1 + (pi k x / 2)^2)
        y = 1.5707963267948966 * k * x
        r = (k * 0.5) / (1.0 + y * y)
    elif CODE == 2:  # sigmoid: k s (1 - s), s = sigmoid(k x)
        s = 1.0 / (1.0 + tl.exp(-(k * x)))
        r = k * s * (1.0 - s)
    else:  # triangle: k max(0, 1 - k|x|)
        r = k * tl.maximum(1.0 - k * tl.abs(x), 0.0)
    return r


@triton.jit
def _reset(b, s, threshold, RESET: tl.constexpr):  # type: ignore[no-untyped-def]
    """``R(b, s)`` of :mod:`spikeinit._kernels.rule`: 0 zero, 1 subtract, else none."""
    if RESET == 0:
        r = b * (1.0 - s)
    elif RESET == 1:
        r = b - threshold * s
    else:
        r = b
    return r


@triton.jit
def _forward_kernel(  # type: ignore[no-untyped-def]
    x_ptr, i0_ptr, v0_ptr, spk_ptr, mem_ptr, steps, m,
    beta_syn, beta_mem, gain, threshold,
    RESET: tl.constexpr, ORDER: tl.constexpr, DELTA: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < m
    i = tl.load(i0_ptr + offs, mask=mask, other=0.0)
    v = tl.load(v0_ptr + offs, mask=mask, other=0.0)
    s_prev = tl.zeros((BLOCK,), dtype=tl.float32)
    for t in range(steps):
        base = tl.cast(t, tl.int64) * m
        if ORDER == 1:  # stork: spike from the previous membrane, input one step late
            s = tl.where(v > threshold, 1.0, 0.0)
            u = _reset(v * beta_mem + i * gain, s, threshold, RESET)
            xt = tl.load(x_ptr + base - m + offs, mask=mask & (t > 0), other=0.0)
            if DELTA:
                i = xt
            else:
                i = i * beta_syn + xt
            v = u
        else:
            xt = tl.load(x_ptr + base + offs, mask=mask, other=0.0)
            if DELTA:
                i = xt
            else:
                i = i * beta_syn + xt
            u = v * beta_mem + i * gain
            if RESET == 3:  # snnTorch: theta S[t-1] after the decay
                u = u - threshold * s_prev
            s = tl.where(u > threshold, 1.0, 0.0)
            if RESET == 3:
                v = u
            else:
                v = _reset(u, s, threshold, RESET)
            s_prev = s
        tl.store(mem_ptr + base + offs, u, mask=mask)
        tl.store(spk_ptr + base + offs, s, mask=mask)


@triton.jit
def _backward_kernel(  # type: ignore[no-untyped-def]
    mem_ptr, v0_ptr, gs_ptr, gm_ptr, gx_ptr, gi0_ptr, gv0_ptr, steps, m,
    beta_syn, beta_mem, gain, threshold, reset_grad, k,
    RESET: tl.constexpr, DELTA: tl.constexpr, DETACH: tl.constexpr, CODE: tl.constexpr,
    HAS_GS: tl.constexpr, HAS_GM: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < m
    c_v = tl.zeros((BLOCK,), dtype=tl.float32)
    c_i = tl.zeros((BLOCK,), dtype=tl.float32)
    for r in range(steps):
        base = tl.cast(steps - 1 - r, tl.int64) * m
        u = tl.load(mem_ptr + base + offs, mask=mask, other=0.0)
        if HAS_GS:
            gs = tl.load(gs_ptr + base + offs, mask=mask, other=0.0)
        else:
            gs = tl.zeros((BLOCK,), dtype=tl.float32)
        if not DETACH:
            if RESET == 0:
                gs = gs - c_v * u
            elif RESET != 2:  # subtract, decayed (1) or not (3)
                gs = gs - reset_grad * c_v
        g_u = gs * _surrogate_grad(u - threshold, k, CODE)
        if RESET == 0:
            g_u = g_u + tl.where(u > threshold, 0.0, c_v)
        else:
            g_u = g_u + c_v
        if HAS_GM:
            g_u = g_u + tl.load(gm_ptr + base + offs, mask=mask, other=0.0)
        if DELTA:
            c_i = g_u * gain
        else:
            c_i = g_u * gain + beta_syn * c_i
        tl.store(gx_ptr + base + offs, c_i, mask=mask)
        c_v = g_u * beta_mem
    tl.store(gi0_ptr + offs, c_i * beta_syn, mask=mask)
    tl.store(gv0_ptr + offs, c_v, mask=mask)


@triton.jit
def _backward_kernel_spike_first(  # type: ignore[no-untyped-def]
    mem_ptr, v0_ptr, gs_ptr, gm_ptr, gx_ptr, gi0_ptr, gv0_ptr, steps, m,
    beta_syn, beta_mem, gain, threshold, reset_grad, k,
    RESET: tl.constexpr, DELTA: tl.constexpr, DETACH: tl.constexpr, CODE: tl.constexpr,
    HAS_GS: tl.constexpr, HAS_GM: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """stork's order: the adjoint of ``spikeinit.neuron._backward_torch_spike_first``."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < m
    v0 = tl.load(v0_ptr + offs, mask=mask, other=0.0)
    c_b = tl.zeros((BLOCK,), dtype=tl.float32)
    c_s = tl.zeros((BLOCK,), dtype=tl.float32)
    c_i = tl.zeros((BLOCK,), dtype=tl.float32)
    for r in range(steps):
        t = steps - 1 - r
        base = tl.cast(t, tl.int64) * m
        u = tl.load(mem_ptr + base + offs, mask=mask, other=0.0)
        u_prev = tl.load(mem_ptr + base - m + offs, mask=mask & (t > 0), other=0.0)
        u_prev = tl.where(t > 0, u_prev, v0)
        tl.store(gx_ptr + base + offs, c_i, mask=mask)
        if HAS_GS:
            gs = tl.load(gs_ptr + base + offs, mask=mask, other=0.0)
        else:
            gs = tl.zeros((BLOCK,), dtype=tl.float32)
        g_u = c_s * _surrogate_grad(u - threshold, k, CODE) + c_b * beta_mem
        if HAS_GM:
            g_u = g_u + tl.load(gm_ptr + base + offs, mask=mask, other=0.0)
        if not DETACH:
            if RESET == 1:
                gs = gs - threshold * g_u
        if RESET == 0:
            g_b = tl.where(u_prev > threshold, 0.0, g_u)
        else:
            g_b = g_u
        if DELTA:
            c_i = c_b * gain
        else:
            c_i = c_b * gain + beta_syn * c_i
        c_b = g_b
        c_s = gs
    tl.store(gv0_ptr + offs, c_s * _surrogate_grad(v0 - threshold, k, CODE) + c_b * beta_mem,
             mask=mask)  # fmt: skip
    if DELTA:
        tl.store(gi0_ptr + offs, c_b * gain, mask=mask)
    else:
        tl.store(gi0_ptr + offs, c_b * gain + beta_syn * c_i, mask=mask)


def supports(x: torch.Tensor, w_rec: torch.Tensor | None) -> bool:
    """Feed-forward float32 on CUDA (or on the CPU under ``TRITON_INTERPRET=1``)."""
    on_device = x.is_cuda or (INTERPRET and x.device.type == "cpu")
    return w_rec is None and on_device and x.dtype == torch.float32 and type(x) is torch.Tensor


def _grid(m: int) -> tuple[int]:
    return (triton.cdiv(m, BLOCK),)


def _on_device(t: torch.Tensor) -> Any:
    """Launch on ``t``'s GPU: Triton launches on the *current* CUDA device."""
    return torch.cuda.device(t.device) if t.is_cuda else contextlib.nullcontext()


def forward(
    x: torch.Tensor,
    i0: torch.Tensor,
    v0: torch.Tensor,
    w_rec: torch.Tensor | None,
    params: LIFParams,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes and membrane ``U`` (both ``[T, B, ...]``)."""
    if w_rec is not None:
        raise ValueError("the Triton LIF kernel is feed-forward only (w_rec must be None)")
    r = lif_step(params)
    x = x.contiguous()
    steps, m = x.shape[0], x[0].numel()
    mem, spk = torch.empty_like(x), torch.empty_like(x)
    with _on_device(x):
        _forward_kernel[_grid(m)](
            x, i0.contiguous(), v0.contiguous(), spk, mem, steps, m,
            float(r.beta_syn), float(r.beta_mem), float(r.gain), float(r.threshold),
            RESET=r.reset, ORDER=r.order, DELTA=r.delta, BLOCK=BLOCK, **_LAUNCH,
        )  # fmt: skip
    return spk, mem


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
    initial membrane) is read by stork's order only."""
    if w_rec is not None:
        raise ValueError("the Triton LIF kernel is feed-forward only (w_rec must be None)")
    r = lif_step(params)
    mem = mem.contiguous()
    steps, m = mem.shape[0], mem[0].numel()
    gx = torch.empty_like(mem)
    gi0, gv0 = torch.empty_like(mem[0]), torch.empty_like(mem[0])
    gs = g_spk.to(mem.dtype).contiguous() if g_spk is not None else mem
    gm = g_mem.to(mem.dtype).contiguous() if g_mem is not None else mem
    v0c = gi0 if v0 is None else v0.to(mem.dtype).expand_as(mem[0]).contiguous()
    kernel = _backward_kernel_spike_first if r.spike_first else _backward_kernel
    with _on_device(mem):
        kernel[_grid(m)](
            mem, v0c, gs, gm, gx, gi0, gv0, steps, m,
            float(r.beta_syn), float(r.beta_mem), float(r.gain), float(r.threshold),
            float(r.reset_grad), float(surrogate.steepness),
            RESET=r.reset, DELTA=r.delta, DETACH=bool(detach_reset),
            CODE=SURROGATE_CODES[surrogate.name],
            HAS_GS=g_spk is not None, HAS_GM=g_mem is not None, BLOCK=BLOCK, **_LAUNCH,
        )  # fmt: skip
    return gx, gi0, gv0
