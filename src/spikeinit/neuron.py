"""The LIF sequence kernel: one autograd Function, hand-written BPTT.

Reference update (docs/science.md, section 'The reference neuron'), for input
current ``x[t]`` and an
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

``params.convention`` selects snnTorch's or stork's update order instead
(docs/science.md, section 'Neuron conventions'); every backend runs the generic
step of :mod:`spikeinit._kernels.rule`, and :func:`_backward_torch_spike_first`
is the adjoint of stork's order.

Recurrent operators: ``R`` is any linear map of the per-step state
``[B, ...]`` given by a :class:`Recurrence` -- a dense matrix
(:class:`MatrixRecurrence`, ``R S = S W^T``) or a same-padded stride-1
convolution (:class:`ConvRecurrence`, ``R S = W * S``). The loops only need
``R S[t-1]`` (``apply``) in the forward pass and ``(dL/dI[t+1]) R``
(``apply_transpose``: ``g W`` or the transposed convolution) in the backward
pass; the weight gradient is computed once after the loop, batched over all
steps, from ``dL/dW = sum_t dL/dI[t] (x) S[t-1]`` (outer product for the
matrix, the convolution's weight gradient for the kernel).

Backends: the loops over time run in a fused compiled kernel when one supports
the case: :mod:`spikeinit._kernels.lif_triton` for float32 CUDA tensors without
a recurrent matrix, :mod:`spikeinit._kernels.lif_numba` for float32 CPU
tensors; otherwise (float64, recurrent layers on CUDA, other devices) the
pure-torch loop below runs. All give identical spikes. Select with
:func:`set_kernel_backend` or the environment variable ``SPIKEINIT_KERNEL``
(``auto``, ``torch``, ``numba`` or ``triton``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch.nn import functional as F
from torch.nn.grad import conv1d_weight, conv2d_weight

from ._kernels import KernelBackend, conv_backend, numba_backend, triton_backend
from ._kernels.rule import RESET_DEFERRED, LIFStep, apply_reset, lif_step
from .params import LIFParams
from .surrogate import Surrogate, as_surrogate

KERNEL_BACKENDS: tuple[str, ...] = ("auto", "torch", "numba", "triton")
_backend = os.environ.get("SPIKEINIT_KERNEL", "auto")
if _backend not in KERNEL_BACKENDS:
    _backend = "auto"


def set_kernel_backend(name: str) -> str:
    """Choose the LIF kernel backend; returns the previous choice.

    ``"auto"`` (default) uses the fused kernel that supports the case (Triton
    for float32 CUDA tensors without a recurrent matrix, numba for float32 CPU
    tensors), ``"torch"`` always the pure-torch loop, ``"numba"`` and
    ``"triton"`` only that backend (and need it installed; cases it does not
    support still use torch).
    """
    global _backend
    if name not in KERNEL_BACKENDS:
        raise ValueError(f"kernel backend must be one of {KERNEL_BACKENDS}, got {name!r}")
    if name == "numba" and numba_backend() is None:
        raise RuntimeError("the numba kernel backend needs numba: pip install numba")
    if name == "triton" and triton_backend() is None:
        raise RuntimeError("the triton kernel backend needs triton: pip install triton")
    previous, _backend = _backend, name
    return previous


def get_kernel_backend() -> str:
    """The current backend choice (see :func:`set_kernel_backend`)."""
    return _backend


def _fast_kernel(x: torch.Tensor, w_rec: torch.Tensor | None) -> KernelBackend | None:
    if _backend == "torch":
        return None
    loaders = {"auto": (triton_backend, numba_backend), "numba": (numba_backend,),
               "triton": (triton_backend,)}[_backend]  # fmt: skip
    for load in loaders:
        if load is triton_backend and not (x.is_cuda or os.environ.get("TRITON_INTERPRET") == "1"):
            continue  # CPU tensors: do not import triton at all
        fast = load()
        if fast is not None and fast.supports(x, w_rec):
            return fast
    return None


def _conv_kernel(x: torch.Tensor, rec: Recurrence | None) -> Any:
    """The fused numba loops for a 1-D :class:`ConvRecurrence` (float32 CPU), or ``None``."""
    if _backend not in ("auto", "numba") or not isinstance(rec, ConvRecurrence):
        return None
    fast = conv_backend()
    if fast is None or not fast.supports(x, rec.weight):
        return None
    return fast


@dataclass(frozen=True, eq=False)
class Recurrence:
    """A linear recurrent operator ``R`` on the per-step state ``[B, ...]``, with
    trainable ``weight`` ``W``; the input to ``I[t]`` is ``R S[t-1]``.

    Subclasses implement:

    * ``apply(s)``: ``R s`` (forward pass, ``s = S[t-1]``, shape ``[B, ...]``);
    * ``apply_transpose(g)``: ``g R = R^T g`` (backward pass, ``g = dL/dI[t+1]``);
    * ``weight_grad(grad_i, s_prev)``: ``dL/dW = sum_t d(g[t] . R s[t]) / dW`` for
      ``grad_i = dL/dI[1:]`` and ``s_prev = S[:-1]`` (``[T-1, B, ...]``), computed
      once after the loop with time folded into the batch;
    * ``check(state_shape)``: raise ``ValueError`` if ``R`` cannot act on
      ``[B, ...] = state_shape``.
    """

    weight: torch.Tensor

    def apply(self, s: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def apply_transpose(self, g: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def weight_grad(self, grad_i: torch.Tensor, s_prev: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def check(self, state_shape: tuple[int, ...]) -> None:
        raise NotImplementedError

    def apply_add(self, base: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``base + R s``."""
        return base + self.apply(s)

    def apply_transpose_add(self, base: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """``base + g R``."""
        return base + self.apply_transpose(g)

    def with_weight(self, weight: torch.Tensor) -> Recurrence:
        """The same operator with another weight tensor."""
        return replace(self, weight=weight)


@dataclass(frozen=True, eq=False)
class MatrixRecurrence(Recurrence):
    """Dense recurrent matrix ``W`` ``[N, N]`` on state ``[B, N]``: ``R s = s W^T``,
    ``g R = g W``, ``dL/dW = sum_t g[t]^T s[t-1]``. The fused numba kernel handles
    this case when available."""

    def apply(self, s: torch.Tensor) -> torch.Tensor:
        return s @ self.weight.t()

    def apply_transpose(self, g: torch.Tensor) -> torch.Tensor:
        return g @ self.weight

    def apply_add(self, base: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return torch.addmm(base, s, self.weight.t())

    def apply_transpose_add(self, base: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return torch.addmm(base, g, self.weight)

    def weight_grad(self, grad_i: torch.Tensor, s_prev: torch.Tensor) -> torch.Tensor:
        n = self.weight.shape[-1]
        return grad_i.reshape(-1, n).t() @ s_prev.reshape(-1, n)

    def check(self, state_shape: tuple[int, ...]) -> None:
        n = state_shape[-1]
        if len(state_shape) != 2 or tuple(self.weight.shape) != (n, n):
            raise ValueError(
                "recurrent_weight must be [N, N] with current [T, B, N]; got weight "
                f"{tuple(self.weight.shape)} and per-step state {tuple(state_shape)}"
            )


@dataclass(frozen=True, eq=False)
class ConvRecurrence(Recurrence):
    """Same-padded, stride-1 convolution without bias on state ``[B, C, L]`` or
    ``[B, C, H, W]``: weight ``[C, C, k]`` or ``[C, C, kh, kw]`` with odd kernel
    sizes, zero padding ``k // 2`` (as ``nn.Conv1d/2d(C, C, k, padding=k // 2,
    bias=False)``).

    ``R s = W * s`` (``conv1d/2d``); ``g R = W^T * g`` (``conv_transpose1d/2d`` with
    the same padding, which maps ``[B, C, L]`` back to ``[B, C, L]``);
    ``dL/dW`` is the convolution's weight gradient with the ``T - 1`` steps folded
    into the batch (``torch.nn.grad.conv1d_weight/conv2d_weight``).
    """

    def __post_init__(self) -> None:
        w = self.weight
        if w.dim() not in (3, 4) or w.shape[0] != w.shape[1]:
            raise ValueError(
                f"ConvRecurrence weight must be [C, C, k] or [C, C, kh, kw], got {tuple(w.shape)}"
            )
        if any(k % 2 == 0 for k in w.shape[2:]):
            raise ValueError(f"ConvRecurrence kernel sizes must be odd, got {tuple(w.shape[2:])}")

    @property
    def padding(self) -> tuple[int, ...]:
        return tuple(k // 2 for k in self.weight.shape[2:])

    def apply(self, s: torch.Tensor) -> torch.Tensor:
        if self.weight.dim() == 3:
            return F.conv1d(s, self.weight, padding=self.padding)
        return F.conv2d(s, self.weight, padding=self.padding)

    def apply_transpose(self, g: torch.Tensor) -> torch.Tensor:
        if self.weight.dim() == 3:
            return F.conv_transpose1d(g, self.weight, padding=self.padding)
        return F.conv_transpose2d(g, self.weight, padding=self.padding)

    def weight_grad(self, grad_i: torch.Tensor, s_prev: torch.Tensor) -> torch.Tensor:
        if grad_i.shape[0] == 0:  # a single step: no recurrent input
            return torch.zeros_like(self.weight)
        grad_out = grad_i.reshape(-1, *grad_i.shape[2:])
        inp = s_prev.reshape(-1, *s_prev.shape[2:])
        shape = list(self.weight.shape)
        if self.weight.dim() == 3:
            return conv1d_weight(inp, shape, grad_out, padding=self.padding)
        return conv2d_weight(inp, shape, grad_out, padding=self.padding)

    def check(self, state_shape: tuple[int, ...]) -> None:
        if len(state_shape) != self.weight.dim() or state_shape[1] != self.weight.shape[0]:
            raise ValueError(
                f"ConvRecurrence with weight {tuple(self.weight.shape)} needs current "
                f"[T, B, {self.weight.shape[0]}, ...] with {self.weight.dim() - 2} spatial "
                f"dims; got per-step state {tuple(state_shape)}"
            )


class _LIFSequence(torch.autograd.Function):
    """Forward loop over time; backward is the adjoint recursion in the module docstring."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        i0: torch.Tensor,
        v0: torch.Tensor,
        w_rec: torch.Tensor | None,
        rec: Recurrence | None,
        params: LIFParams,
        surrogate: Surrogate,
        detach_reset: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # ``w_rec`` is ``rec.weight``, passed separately so that autograd sees it.
        ctx.set_materialize_grads(False)
        ctx.params, ctx.surrogate, ctx.detach_reset = params, surrogate, detach_reset
        ctx.rec = rec
        ctx.v0 = v0.detach() if params.convention == "stork" else None
        dense = rec is None or isinstance(rec, MatrixRecurrence)
        fast = _fast_kernel(x, w_rec) if dense else None
        ctx.fast = fast
        ctx.conv = conv = None if dense else _conv_kernel(x, rec)
        if fast is not None:
            spikes, mem = fast.forward(x, i0, v0, w_rec, params)
        elif conv is not None:
            assert rec is not None
            spikes, mem = conv.forward(x, i0, v0, rec.weight, params)
        else:
            spikes, mem = _forward_torch(x, i0, v0, rec, params)
        ctx.save_for_backward(mem, w_rec if w_rec is not None else x.new_empty(0))
        return spikes, mem

    @staticmethod
    def backward(ctx: Any, g_spk: torch.Tensor | None, g_mem: torch.Tensor | None):  # type: ignore[override]
        mem, w_rec = ctx.saved_tensors
        params: LIFParams = ctx.params
        rec = ctx.rec.with_weight(w_rec) if ctx.rec is not None else None
        grad_w = None
        if ctx.fast is not None:  # no recurrence or a dense matrix
            w_dense = w_rec if rec is not None else None
            grad_x, grad_i0, grad_v0 = ctx.fast.backward(
                mem, g_spk, g_mem, w_dense, params, ctx.surrogate, ctx.detach_reset, ctx.v0
            )
        elif ctx.conv is not None:  # a 1-D recurrent convolution, fused
            want_w = rec is not None and ctx.needs_input_grad[3]
            grad_x, grad_i0, grad_v0, grad_w = ctx.conv.backward(
                mem, g_spk, g_mem, w_rec, params, ctx.surrogate, ctx.detach_reset, ctx.v0, want_w
            )
        else:
            grad_x, grad_i0, grad_v0 = _backward_torch(
                mem, g_spk, g_mem, rec, params, ctx.surrogate, ctx.detach_reset, ctx.v0
            )
        if rec is not None and ctx.needs_input_grad[3] and ctx.conv is None:
            spikes = spikes_of(mem, params, ctx.v0)[:-1]
            # dL/dI[t] pairs with S[t-1]: dL/dI[t] is grad_x[t], or grad_x[t-1] in stork's
            # order, whose input x[t-1] enters I[t]
            grad_i = grad_x[:-1] if params.convention == "stork" else grad_x[1:]
            grad_w = rec.weight_grad(grad_i, spikes)
        return grad_x, grad_i0, grad_v0, grad_w, None, None, None, None


def _forward_torch(
    x: torch.Tensor,
    i0: torch.Tensor,
    v0: torch.Tensor,
    rec: Recurrence | None,
    params: LIFParams,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pure-torch forward loop: ``(spikes, U)``; ``R S[t-1]`` is ``rec.apply``.

    The generic step of :mod:`spikeinit._kernels.rule` (every convention)."""
    r = lif_step(params)
    bs, bm, g, th = r.beta_syn, r.beta_mem, r.gain, r.threshold
    mem = torch.empty_like(x)
    spikes = torch.empty_like(x)
    i_state, v_state = i0, v0
    for t in range(x.shape[0]):
        # stork's input arrives one step late: inp[t] = x[t-1] + R S[t-1]
        inp: torch.Tensor | None = x[t] if not r.spike_first else (x[t - 1] if t > 0 else None)
        if rec is not None and t > 0:
            assert inp is not None
            inp = rec.apply_add(inp, spikes[t - 1])
        s = spikes[t]
        if r.spike_first:
            s.copy_(v_state > th)
            u = apply_reset(v_state * bm + i_state * g, s, r)
            i_state = _synapse(i_state, inp, bs)
            mem[t] = u
            v_state = u
            continue
        assert inp is not None
        i_state = _synapse(i_state, inp, bs)
        u = v_state * bm + i_state * g
        if r.reset == RESET_DEFERRED and t > 0:
            u = u - th * spikes[t - 1]
        mem[t] = u
        s.copy_(u > th)
        v_state = u if r.reset == RESET_DEFERRED else apply_reset(u, s, r)
    return spikes, mem


def _synapse(i_state: torch.Tensor, inp: torch.Tensor | None, bs: float) -> torch.Tensor:
    """``beta_s I + inp`` (``inp`` alone for a delta synapse; ``None``: no input)."""
    if inp is None:
        return i_state * bs
    return inp if bs == 0.0 else i_state * bs + inp


def _backward_torch(
    mem: torch.Tensor,
    g_spk: torch.Tensor | None,
    g_mem: torch.Tensor | None,
    rec: Recurrence | None,
    params: LIFParams,
    surrogate: Surrogate,
    detach_reset: bool,
    v0: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pure-torch adjoint loop: ``(dL/dx, dL/dI0, dL/dV0)``; ``(dL/dI[t+1]) R`` is
    ``rec.apply_transpose``. The weight gradient is left to the caller. ``v0`` (the
    initial membrane) is needed by stork's order only, whose first spike is
    ``H(V0 - theta)``."""
    r = lif_step(params)
    if r.spike_first:
        assert v0 is not None
        return _backward_torch_spike_first(mem, g_spk, g_mem, rec, r, surrogate, detach_reset, v0)
    bs, bm, g, th = r.beta_syn, r.beta_mem, r.gain, r.threshold
    steps = mem.shape[0]
    grad_x = torch.empty_like(mem)
    c_v = torch.zeros_like(mem[0])
    c_i = torch.zeros_like(mem[0])
    for t in range(steps - 1, -1, -1):
        u = mem[t]
        gs = g_spk[t] if g_spk is not None else torch.zeros_like(u)
        if rec is not None and t < steps - 1:
            gs = rec.apply_transpose_add(gs, c_i)
        if not detach_reset:
            if r.reset == 0:
                gs = gs - c_v * u
            elif r.reset != 2:  # subtract (decayed or not)
                gs = gs - r.reset_grad * c_v
        g_u = gs * surrogate.grad(u - th)
        g_u = g_u + (torch.where(u > th, 0.0, c_v) if r.reset == 0 else c_v)
        if g_mem is not None:
            g_u = g_u + g_mem[t]
        c_i = g_u * g if bs == 0.0 else torch.add(g_u * g, c_i, alpha=bs)
        grad_x[t] = c_i
        c_v = g_u * bm
    return grad_x, c_i * bs, c_v


def _backward_torch_spike_first(
    mem: torch.Tensor,
    g_spk: torch.Tensor | None,
    g_mem: torch.Tensor | None,
    rec: Recurrence | None,
    r: LIFStep,
    surrogate: Surrogate,
    detach_reset: bool,
    v0: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The adjoint of stork's order. With ``B[t] = beta_m U[t-1] + g I[t-1]`` (the
    value before the reset) and carries ``c_b = dL/dB[t+1]``, ``c_s = dL/dS[t+1]``,
    ``c_i = dL/dI[t+1]``, for ``t = T-1 .. 0``::

        dL/dx[t] = c_i                                 (x[t] enters I[t+1])
        dL/dS[t] = gS[t] + c_i R  [- theta dL/dU[t]  subtract reset, not detached]
        dL/dU[t] = gU[t] + beta_m c_b + c_s sigma'(U[t] - theta)
        dL/dB[t] = dL/dU[t] (1 - S[t])  (zero reset)  |  dL/dU[t]
        dL/dI[t] = g c_b + beta_s c_i

    and ``dL/dV0 = beta_m c_b + c_s sigma'(V0 - theta)``, ``dL/dI0 = g c_b + beta_s c_i``.
    """
    bs, bm, g, th = r.beta_syn, r.beta_mem, r.gain, r.threshold
    steps = mem.shape[0]
    grad_x = torch.empty_like(mem)
    c_b = torch.zeros_like(mem[0])
    c_s = torch.zeros_like(mem[0])
    c_i = torch.zeros_like(mem[0])
    for t in range(steps - 1, -1, -1):
        u = mem[t]
        grad_x[t] = c_i
        gs = g_spk[t] if g_spk is not None else torch.zeros_like(u)
        if rec is not None and t < steps - 1:
            gs = rec.apply_transpose_add(gs, c_i)
        g_u = torch.add(c_s * surrogate.grad(u - th), c_b, alpha=bm)
        if g_mem is not None:
            g_u = g_u + g_mem[t]
        if not detach_reset and r.reset == 1:
            gs = gs - th * g_u
        u_prev = mem[t - 1] if t > 0 else v0
        g_b = torch.where(u_prev > th, 0.0, g_u) if r.reset == 0 else g_u
        c_i = c_b * g if bs == 0.0 else torch.add(c_b * g, c_i, alpha=bs)
        c_b, c_s = g_b, gs
    grad_v0 = torch.add(c_s * surrogate.grad(v0 - th), c_b, alpha=bm)
    grad_i0 = c_b * g if bs == 0.0 else torch.add(c_b * g, c_i, alpha=bs)
    return grad_x, grad_i0, grad_v0


def spikes_of(mem: torch.Tensor, params: LIFParams, v0: torch.Tensor | None = None) -> torch.Tensor:
    """The spikes ``S`` recomputed from the stored membrane ``U`` (``[T, B, ...]``):
    ``U > theta``, or for stork's order ``U[t-1] > theta`` with ``U[-1] = v0``."""
    if params.convention != "stork":
        return (mem > params.threshold).to(mem.dtype)
    first = (v0 if v0 is not None else torch.zeros_like(mem[0])).expand_as(mem[0])
    return (torch.cat([first.unsqueeze(0), mem[:-1]]) > params.threshold).to(mem.dtype)


def recurrent_presyn(spikes: torch.Tensor, params: LIFParams) -> torch.Tensor:
    """The spikes whose recurrent input joins the layer's current at index ``t``:
    ``S[t-1]`` (zeros at ``t = 0``), or ``S[t]`` in stork's order, whose current
    ``x[t]`` itself enters one step late (docs/science.md, section 'Neuron conventions')."""
    if params.convention == "stork":
        return spikes
    return torch.cat([torch.zeros_like(spikes[:1]), spikes[:-1]])


def free_membrane(
    current: torch.Tensor,
    params: LIFParams,
    spikes: torch.Tensor | None = None,
    recurrent: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """The free membrane ``U_free [T, B, ...]`` (docs/science.md, section 'What
    sigma_U measures'): the neuron's linear filter (threshold and reset off) of the
    feed-forward ``current`` plus, for a recurrent layer, ``recurrent(S)`` of its
    actual ``spikes`` aligned as in the layer (:func:`recurrent_presyn`).

    ``recurrent`` maps spikes ``[T', B, ...]`` to the recurrent current (e.g.
    ``lambda s: s @ W.t()``); it is applied to the steps that reach the output only.
    """
    if recurrent is not None:
        if spikes is None:
            raise ValueError("free_membrane: a recurrent layer needs its spikes")
        current = current.clone()
        if params.convention == "stork":
            current += recurrent(spikes)
        elif current.shape[0] > 1:
            current[1:] += recurrent(spikes[:-1])
    _, mem = lif_sequence(current, params.replace(reset="none"), return_mem=True)
    return mem  # type: ignore[return-value]


class NonFiniteCurrentError(ValueError):
    """A NaN or an infinity reached a spiking layer's input current."""


def check_finite_current(current: torch.Tensor) -> None:
    """Raise ``ValueError`` if ``current [T, ...]`` holds a NaN or an infinity.

    The one rule for non-finite input, applied before any kernel backend runs: a
    spike ``S = H(U - theta)`` computed as ``U > theta`` turns a NaN membrane into
    *no spike*, so a single NaN would otherwise silence a neuron for the rest of
    the sequence without any NaN reaching the output.
    """
    # one reduction, no temporary: a NaN or an infinity anywhere makes the sum
    # non-finite, so a finite sum proves every entry finite (the exact test below
    # runs only when the sum is not finite, e.g. when finite entries overflow it)
    if bool(torch.isfinite(current.detach().sum())):
        return
    if bool(torch.isfinite(current).all()):
        return
    bad = ~torch.isfinite(current.detach().reshape(current.shape[0], -1))
    step = int(bad.any(dim=1).nonzero()[0, 0])
    raise NonFiniteCurrentError(
        f"current contains NaN or inf ({int(bad.sum())} entries, first at time step {step}); "
        "spikes would silently become 0 there: check the input data and the weights"
    )


def lif_sequence(
    current: torch.Tensor,
    params: LIFParams,
    *,
    surrogate: str | Surrogate = "superspike",
    surrogate_scale: float | None = None,
    detach_reset: bool = True,
    recurrent_weight: torch.Tensor | None = None,
    recurrent_op: Recurrence | None = None,
    initial_state: tuple[torch.Tensor, torch.Tensor] | None = None,
    return_mem: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Run LIF neurons over a whole sequence.

    Args:
        current: input current ``x``, shape ``[T, B, ...]``, floating point.
        params: the neuron's :class:`LIFParams`.
        surrogate: surrogate name (see :mod:`spikeinit.surrogate`) or object.
        surrogate_scale: its steepness; ``None`` uses the surrogate's default.
        detach_reset: if False, gradients also flow through the reset term (not
            available for ``convention="stork"`` with ``reset="zero"``).
        recurrent_weight: optional ``[N, N]`` matrix ``R``; requires ``[T, B, N]``
            input and feeds ``R S[t-1]`` into ``I[t]``.
        recurrent_op: optional recurrent operator instead of ``recurrent_weight``
            (at most one of the two), e.g. ``ConvRecurrence(W)`` for a same-padded
            convolution ``R S[t-1] = W * S[t-1]`` on ``[T, B, C, L]`` or
            ``[T, B, C, H, W]`` input. Its ``weight`` receives ``dL/dW``.
            ``MatrixRecurrence(W)`` is the same as ``recurrent_weight=W``.
        initial_state: ``(I0, V0)``, each broadcastable to ``[B, ...]``;
            zeros by default.
        return_mem: also return the membrane trace ``U`` (before reset).

    Returns:
        Spikes ``[T, B, ...]`` (same dtype as ``current``), and ``U`` if requested.

    Raises:
        ValueError: if ``current``, ``initial_state`` or the recurrent weight holds
            a NaN or an infinity (see :func:`check_finite_current`), whatever the
            kernel backend.
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
    check_finite_current(current)
    state_shape = current.shape[1:]
    rec: Recurrence | None = None
    if recurrent_weight is not None:
        if recurrent_op is not None:
            raise ValueError("give recurrent_weight or recurrent_op, not both")
        n = current.shape[-1]
        if current.dim() != 3 or recurrent_weight.shape != (n, n):
            raise ValueError(
                "recurrent_weight must be [N, N] with current [T, B, N]; got "
                f"weight {tuple(recurrent_weight.shape)} and current {tuple(current.shape)}"
            )
        rec = MatrixRecurrence(recurrent_weight)
    elif recurrent_op is not None:
        if not isinstance(recurrent_op, Recurrence):
            raise TypeError(f"recurrent_op must be a Recurrence, got {type(recurrent_op).__name__}")
        recurrent_op.check(tuple(state_shape))
        rec = recurrent_op
    if initial_state is None:
        i0 = current.new_zeros(state_shape)
        v0 = current.new_zeros(state_shape)
    else:
        i0 = torch.broadcast_to(initial_state[0], state_shape).to(current)
        v0 = torch.broadcast_to(initial_state[1], state_shape).to(current)
        if not (bool(torch.isfinite(i0).all()) and bool(torch.isfinite(v0).all())):
            raise ValueError("initial_state contains NaN or inf")
    if rec is not None and not bool(torch.isfinite(rec.weight).all()):
        raise ValueError("the recurrent weight contains NaN or inf")
    if params.convention == "stork" and params.reset == "zero" and not detach_reset:
        raise ValueError(
            "detach_reset=False is not supported with convention='stork' and reset='zero' "
            "(stork's default, diff_reset=False, detaches it): use detach_reset=True"
        )
    sg = as_surrogate(surrogate, surrogate_scale)
    w_rec = rec.weight if rec is not None else None
    spikes, mem = _LIFSequence.apply(
        current.contiguous(), i0, v0, w_rec, rec, params, sg, detach_reset
    )
    return (spikes, mem) if return_mem else spikes
