"""The LIF sequence kernel: one autograd Function, hand-written BPTT.

Reference update (SCIENCE.md section 1), for input current ``x[t]`` and an
optional recurrent matrix ``R`` fed the layer's own spikes from ``t-1``::

    I[t] = beta_s I[t-1] + x[t] + R S[t-1]        (beta_s = 0: delta synapse)
    U[t] = beta_m V[t-1] + g I[t]
    S[t] = H(U[t] - theta)
    V[t] = U[t] (1 - S[t])  |  U[t] - theta S[t]  |  U[t]

The backward pass runs the adjoint recursion over time (with ``x = U - theta``
and ``sigma'`` the surrogate)::

    dL/dS[t] = gS[t] + (dL/dI[t+1]) R  [- dL/dV[t] * dV/dS  if the reset is not detached]
    dL/dU[t] = gU[t] + dL/dV[t] * dV/dU + dL/dS[t] * sigma'(x)
    dL/dI[t] = g dL/dU[t] + beta_s dL/dI[t+1]     (= dL/dx[t])
    dL/dV[t-1] = beta_m dL/dU[t]

Only ``U`` is stored for the backward pass; spikes are recomputed as
``U > theta``.

Backends: the loops over time run in a fused compiled kernel
(:mod:`spikeinit._kernels.lif_numba`) when numba is installed and the case is
supported (float32 CPU tensors); otherwise, and for float64, CUDA or other
devices, in the pure-torch loop below. Both give identical spikes. Select with
:func:`set_kernel_backend` or the environment variable ``SPIKEINIT_KERNEL``
(``auto``, ``torch`` or ``numba``).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import torch

from ._kernels import numba_backend
from .params import LIFParams
from .surrogate import Surrogate, as_surrogate

KERNEL_BACKENDS: tuple[str, ...] = ("auto", "torch", "numba")
_backend = os.environ.get("SPIKEINIT_KERNEL", "auto")
if _backend not in KERNEL_BACKENDS:
    _backend = "auto"


def set_kernel_backend(name: str) -> str:
    """Choose the LIF kernel backend; returns the previous choice.

    ``"auto"`` (default) uses the fused numba kernel where it is available and
    supports the case, ``"torch"`` always the pure-torch loop, and
    ``"numba"`` requires numba (cases it does not support still use torch).
    """
    global _backend
    if name not in KERNEL_BACKENDS:
        raise ValueError(f"kernel backend must be one of {KERNEL_BACKENDS}, got {name!r}")
    if name == "numba" and numba_backend() is None:
        raise RuntimeError("the numba kernel backend needs numba: pip install numba")
    previous, _backend = _backend, name
    return previous


def get_kernel_backend() -> str:
    """The current backend choice (see :func:`set_kernel_backend`)."""
    return _backend


def _fast_kernel(x: torch.Tensor, w_rec: torch.Tensor | None) -> ModuleType | None:
    if _backend == "torch":
        return None
    fast = numba_backend()
    if fast is None or not fast.supports(x, w_rec):
        return None
    return fast


class _LIFSequence(torch.autograd.Function):
    """Forward loop over time; backward is the adjoint recursion in the module docstring."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        i0: torch.Tensor,
        v0: torch.Tensor,
        w_rec: torch.Tensor | None,
        params: LIFParams,
        surrogate: Surrogate,
        detach_reset: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.set_materialize_grads(False)
        ctx.params, ctx.surrogate, ctx.detach_reset = params, surrogate, detach_reset
        ctx.has_rec = w_rec is not None
        fast = _fast_kernel(x, w_rec)
        ctx.fast = fast
        if fast is not None:
            spikes, mem = fast.forward(x, i0, v0, w_rec, params)
        else:
            spikes, mem = _forward_torch(x, i0, v0, w_rec, params)
        ctx.save_for_backward(mem, w_rec if w_rec is not None else x.new_empty(0))
        return spikes, mem

    @staticmethod
    def backward(ctx: Any, g_spk: torch.Tensor | None, g_mem: torch.Tensor | None):  # type: ignore[override]
        mem, w_rec = ctx.saved_tensors
        params: LIFParams = ctx.params
        rec = w_rec if ctx.has_rec else None
        if ctx.fast is not None:
            grad_x, grad_i0, grad_v0 = ctx.fast.backward(
                mem, g_spk, g_mem, rec, params, ctx.surrogate, ctx.detach_reset
            )
        else:
            grad_x, grad_i0, grad_v0 = _backward_torch(
                mem, g_spk, g_mem, rec, params, ctx.surrogate, ctx.detach_reset
            )
        grad_w = None
        if rec is not None and ctx.needs_input_grad[3]:
            n = mem.shape[-1]
            spikes = (mem[:-1] > params.threshold).to(mem.dtype)
            grad_w = grad_x[1:].reshape(-1, n).t() @ spikes.reshape(-1, n)
        return grad_x, grad_i0, grad_v0, grad_w, None, None, None


def _forward_torch(
    x: torch.Tensor,
    i0: torch.Tensor,
    v0: torch.Tensor,
    w_rec: torch.Tensor | None,
    params: LIFParams,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pure-torch forward loop: ``(spikes, U)``."""
    bs, bm, g, th = params.beta_syn, params.beta_mem, params.gain, params.threshold
    mem = torch.empty_like(x)
    spikes = torch.empty_like(x)
    i_state, v_state = i0, v0
    for t in range(x.shape[0]):
        inp = x[t]
        if w_rec is not None and t > 0:
            inp = torch.addmm(inp, spikes[t - 1], w_rec.t())
        i_state = inp if bs == 0.0 else i_state * bs + inp
        u = v_state * bm + i_state * g
        mem[t] = u
        s = spikes[t]
        s.copy_(u > th)
        if params.reset == "zero":
            v_state = u * (1.0 - s)
        elif params.reset == "subtract":
            v_state = u - th * s
        else:
            v_state = u
    return spikes, mem


def _backward_torch(
    mem: torch.Tensor,
    g_spk: torch.Tensor | None,
    g_mem: torch.Tensor | None,
    w_rec: torch.Tensor | None,
    params: LIFParams,
    surrogate: Surrogate,
    detach_reset: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pure-torch adjoint loop: ``(dL/dx, dL/dI0, dL/dV0)``."""
    bs, bm, g, th = params.beta_syn, params.beta_mem, params.gain, params.threshold
    steps = mem.shape[0]
    grad_x = torch.empty_like(mem)
    c_v = torch.zeros_like(mem[0])
    c_i = torch.zeros_like(mem[0])
    for t in range(steps - 1, -1, -1):
        u = mem[t]
        gs = g_spk[t] if g_spk is not None else torch.zeros_like(u)
        if w_rec is not None and t < steps - 1:
            gs = torch.addmm(gs, c_i, w_rec)
        if not detach_reset:
            if params.reset == "zero":
                gs = gs - c_v * u
            elif params.reset == "subtract":
                gs = gs - th * c_v
        g_u = gs * surrogate.grad(u - th)
        g_u = g_u + (torch.where(u > th, 0.0, c_v) if params.reset == "zero" else c_v)
        if g_mem is not None:
            g_u = g_u + g_mem[t]
        c_i = g_u * g if bs == 0.0 else torch.add(g_u * g, c_i, alpha=bs)
        grad_x[t] = c_i
        c_v = g_u * bm
    return grad_x, c_i * bs, c_v


def lif_sequence(
    current: torch.Tensor,
    params: LIFParams,
    *,
    surrogate: str | Surrogate = "superspike",
    surrogate_scale: float | None = None,
    detach_reset: bool = True,
    recurrent_weight: torch.Tensor | None = None,
    initial_state: tuple[torch.Tensor, torch.Tensor] | None = None,
    return_mem: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Run LIF neurons over a whole sequence.

    Args:
        current: input current ``x``, shape ``[T, B, ...]``, floating point.
        params: the neuron's :class:`LIFParams`.
        surrogate: surrogate name (see :mod:`spikeinit.surrogate`) or object.
        surrogate_scale: its steepness; ``None`` uses the surrogate's default.
        detach_reset: if False, gradients also flow through the reset term.
        recurrent_weight: optional ``[N, N]`` matrix ``R``; requires ``[T, B, N]``
            input and feeds ``R S[t-1]`` into ``I[t]``.
        initial_state: ``(I0, V0)``, each broadcastable to ``[B, ...]``;
            zeros by default.
        return_mem: also return the membrane trace ``U`` (before reset).

    Returns:
        Spikes ``[T, B, ...]`` (same dtype as ``current``), and ``U`` if requested.
    """
    if not isinstance(params, LIFParams):
        raise TypeError(f"params must be LIFParams, got {type(params).__name__}")
    if not isinstance(current, torch.Tensor):
        raise TypeError(f"current must be a torch.Tensor, got {type(current).__name__}")
    if not current.is_floating_point():
        raise TypeError(f"current must be a floating-point tensor, got dtype {current.dtype}")
    if current.dim() < 2:
        raise ValueError(
            f"current must have shape [T, B, ...] (at least 2 dims), got {tuple(current.shape)}"
        )
    if current.shape[0] == 0:
        raise ValueError("current must have at least one time step (T >= 1), got T = 0")
    state_shape = current.shape[1:]
    if recurrent_weight is not None:
        n = current.shape[-1]
        if current.dim() != 3 or recurrent_weight.shape != (n, n):
            raise ValueError(
                "recurrent_weight must be [N, N] with current [T, B, N]; got "
                f"weight {tuple(recurrent_weight.shape)} and current {tuple(current.shape)}"
            )
    if initial_state is None:
        i0 = current.new_zeros(state_shape)
        v0 = current.new_zeros(state_shape)
    else:
        i0 = torch.broadcast_to(initial_state[0], state_shape).to(current)
        v0 = torch.broadcast_to(initial_state[1], state_shape).to(current)
    sg = as_surrogate(surrogate, surrogate_scale)
    spikes, mem = _LIFSequence.apply(
        current.contiguous(), i0, v0, recurrent_weight, params, sg, detach_reset
    )
    return (spikes, mem) if return_mem else spikes
