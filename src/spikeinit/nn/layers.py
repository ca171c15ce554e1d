"""Spiking layers: linear, 1-D and 2-D convolution, and the leaky readout.

All take time-first input ``[T, B, ...]`` and start from zero state on every
forward call. Feed-forward currents for all time steps come from one matmul
(or one convolution with time folded into the batch).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import sparse_input as event_input
from .._kernels import linear_lif_backend, readout_backend
from .._kernels.rule import RESET_CODES, SURROGATE_CODES, lif_step
from .._validate import positive_int
from ..kept import attach as keep
from ..kept import spike_bits, spike_density
from ..neuron import check_finite_current, get_kernel_backend, lif_sequence
from ..params import LIFParams
from ..surrogate import Surrogate
from .base import SpikingLayer, WeightGroup, check_sequence_input


def _default_uniform_(w: torch.Tensor, fan_in: int) -> None:
    """PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        w.uniform_(-bound, bound)


def _fused_path_ok(layer: SpikingLinear, x: torch.Tensor, backend: Any) -> bool:
    """Whether a fused event-driven kernel (``backend()``: the fused layer's or the
    readout's numba module) may compute ``layer``'s forward on ``x``: the ``auto`` or
    ``numba`` kernel backend with the module importable, a float32 CPU bias or none, a
    plain Tensor input sparse enough for the event-driven rule of
    :mod:`spikeinit.sparse_input`, and finite weights (the event scan would skip a NaN
    weight where the input is 0, where the dense product spreads it)."""
    if get_kernel_backend() not in ("auto", "numba") or backend() is None:
        return False
    bias = layer.bias
    if bias is not None and (bias.dtype != torch.float32 or bias.device.type != "cpu"):
        return False
    if type(x) is not torch.Tensor:
        return False
    flat = x.reshape(-1, layer.in_features)
    density = spike_density(x)  # known for the spikes of a fused layer
    if not event_input.uses_sparse_path(flat, layer.weight, layer.sparse_input, density):
        return False
    return bool(np.isfinite(layer.weight.detach().numpy()).all())  # CPU float32 here


def _event_operands(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> tuple[torch.Tensor, np.ndarray, np.ndarray | None]:
    """``(x, W^T, b)`` for the fused kernels: detached, contiguous, the last two as numpy."""
    wt = weight.detach().t().contiguous().numpy()
    b = None if bias is None else bias.detach().contiguous().numpy()
    return x.detach().contiguous(), wt, b


def _param_grads(
    ctx: Any, gx: np.ndarray | None, gwt: np.ndarray, gb: np.ndarray
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The gradients of the first three inputs ``(x, weight, bias)`` that autograd asks
    for, from the kernels' ``dL/dx``, ``dL/dW^T`` and ``dL/db``."""
    need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
    need_b = ctx.has_bias and ctx.needs_input_grad[2]
    grad_x = torch.from_numpy(gx) if need_x and gx is not None else None
    grad_w = torch.from_numpy(gwt).t().contiguous() if need_w else None
    grad_b = torch.from_numpy(gb) if need_b else None
    return grad_x, grad_w, grad_b


#: the attribute of a fused layer's spikes that carries ``(link, token, version)``
_LINK_ATTR = "_spikeinit_link"

_HANDOFF: ContextVar[bool] = ContextVar("spikeinit_spike_gradient_handoff", default=False)


@contextlib.contextmanager
def spike_gradient_handoff(enabled: bool = True) -> Iterator[None]:
    """Within this context, a fused :class:`Readout` that reads the spikes of a fused
    feed-forward :class:`SpikingLinear` hands its gradient to that layer instead of
    returning ``dL/dS = dL/dx_ro W_ro`` through autograd (:class:`_SpikeLink`): the
    wide ``[T, B, N]`` gradient is never stored nor added. Parameter and input
    gradients are the same bit for bit (``tests/test_fused_spike_link.py``).

    The price: the readout's part of ``dL/dS`` does not pass through the spike tensor
    in autograd's graph, so ``torch.autograd.grad(loss, spikes)``, hooks and
    ``retain_grad()`` on those spikes would not see it. Off by default for that
    reason; :class:`spikeinit.train.Trainer` enables it for its own training steps,
    where nothing looks at the spikes' gradient. Only forwards run inside the context
    are affected (the backward may run outside it)."""
    token = _HANDOFF.set(bool(enabled))
    try:
        yield
    finally:
        _HANDOFF.reset(token)


class _SpikeLink:
    """The hand-over from a fused readout that reads the spikes of a fused layer
    (:class:`_FusedReadout`) to that layer's backward (:class:`_FusedLinearLIF`):
    the readout's narrow current gradient ``dL/dx_ro [T, B, R]`` and weight ``W_ro``,
    from which the layer forms ``dL/dS = dL/dx_ro W_ro`` row by row, so that the wide
    ``[T, B, N]`` gradient is never stored nor added to the other uses' gradient."""

    __slots__ = ("claimed", "readout")

    def __init__(self) -> None:
        self.claimed = False
        self.readout: tuple[np.ndarray, np.ndarray] | None = None

    def take(self, ran: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """The readout's part if the readout's backward ran in this pass (``ran``: the
        layer's token got a gradient); cleared either way."""
        part, self.readout = self.readout, None
        return part if ran else None


class _FusedLinearLIF(torch.autograd.Function):
    """Spikes of a feed-forward :class:`SpikingLinear` on sparse input in one compiled
    pass, and the adjoint with the weight gradient taken at the input events
    (:mod:`spikeinit._kernels.linear_lif_numba`; docs/science.md, section 'The
    reference neuron'). The second output is a token: a fused readout of these spikes
    takes it as its input, so that its backward runs first and hands its part of
    ``dL/dS`` over through the :class:`_SpikeLink`. The third is the spike count
    ``sum_t S[t]``, the fourth the spikes' rows as bits (no gradient; :mod:`spikeinit.kept`)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        layer: SpikingLinear,
        consts: tuple[Any, ...],
        link: _SpikeLink,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        kernels = linear_lif_backend()
        assert kernels is not None
        xs, wt, b = _event_operands(x, weight, bias)
        mem, spk, counts, bits, finite = kernels.forward(xs.numpy(), wt, b, consts)
        if not finite:
            # a NaN or an infinite current makes U non-finite at its step (g != 0): the
            # unfused path names it (a U that overflowed from finite currents passes)
            check_finite_current(layer.input_current(x.detach()))
        ctx.set_materialize_grads(False)
        ctx.consts, ctx.link = consts, link
        ctx.surrogate, ctx.detach_reset = layer.surrogate, layer.detach_reset
        ctx.reset_grad = lif_step(layer.params).reset_grad
        ctx.has_bias = bias is not None
        ctx.save_for_backward(torch.from_numpy(mem), xs, weight)
        # sum_t S[t] and the spikes' bits, for spikeinit.kept
        counts_t, bits_t = torch.from_numpy(counts), torch.from_numpy(bits.view(np.int64))
        ctx.mark_non_differentiable(counts_t, bits_t)
        return torch.from_numpy(spk), torch.zeros(()), counts_t, bits_t

    @staticmethod
    def backward(ctx: Any, grad_spk: torch.Tensor | None, grad_token: torch.Tensor | None, *_: Any):  # type: ignore[override]
        readout = ctx.link.take(grad_token is not None)
        if grad_spk is None and readout is None:
            return None, None, None, None, None, None
        mem, xs, weight = ctx.saved_tensors
        kernels = linear_lif_backend()
        assert kernels is not None
        gs = None
        if grad_spk is not None:
            gs = grad_spk.detach().to(torch.float32)
            # constant over time (the gradient of a spike count sum_t S[t]): one [B, N] row
            gs = gs[0].contiguous() if gs.dim() == 3 and gs.stride(0) == 0 else gs.contiguous()
        sg = ctx.surrogate
        gx, gwt, gb = kernels.backward(
            mem.numpy(), xs.numpy(), weight.detach().contiguous().numpy(),
            None if gs is None else gs.numpy(), readout, ctx.consts, ctx.reset_grad,
            ctx.detach_reset, SURROGATE_CODES[sg.name], sg.steepness,
            ctx.needs_input_grad[0], ctx.needs_input_grad[1],
        )  # fmt: skip
        return (*_param_grads(ctx, gx, gwt, gb), None, None, None)


class SpikingLinear(SpikingLayer):
    """``y = W x`` into LIF neurons; ``recurrent=True`` adds ``R S[t-1]``.

    Input ``[T, B, in_features]`` -> spikes ``[T, B, out_features]``.

    ``sparse_input`` chooses how ``W x`` is computed (:mod:`spikeinit.sparse_input`):
    ``None`` (default) uses the event-driven path when the input is sparser
    than the measured break-even (float32 CPU), ``True`` always where
    supported, ``False`` always the dense GEMM.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        params: LIFParams | None = None,
        recurrent: bool = False,
        bias: bool = False,
        surrogate: str | Surrogate = "superspike",
        surrogate_scale: float | None = None,
        detach_reset: bool = True,
        sparse_input: bool | None = None,
    ) -> None:
        super().__init__(params, surrogate, surrogate_scale, detach_reset)
        positive_int("in_features", in_features)
        if sparse_input is not None and not isinstance(sparse_input, bool):
            raise TypeError(f"sparse_input must be True, False or None, got {sparse_input!r}")
        self.sparse_input = sparse_input
        positive_int("out_features", out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.recurrent_weight = (
            nn.Parameter(torch.empty(out_features, out_features)) if recurrent else None
        )
        self.reset_parameters()

    def bias_parameters(self) -> list[torch.Tensor]:
        return [self.bias] if self.bias is not None else []

    def reset_parameters(self) -> None:
        _default_uniform_(self.weight, self.in_features)
        if self.recurrent_weight is not None:
            _default_uniform_(self.recurrent_weight, self.out_features)

    @property
    def fan_in(self) -> int:
        return self.in_features

    def weight_groups(self) -> list[WeightGroup]:
        groups = [WeightGroup("weight", self.weight, "ff")]
        if self.recurrent_weight is not None:
            groups.append(WeightGroup("recurrent_weight", self.recurrent_weight, "rec"))
        return groups

    def recurrent_matrix(self) -> torch.Tensor | None:
        return self.recurrent_weight

    def input_current(self, x: torch.Tensor) -> torch.Tensor:
        x = check_sequence_input(x, 3, type(self).__name__, (self.in_features,), self.weight.dtype)
        steps, batch = x.shape[:2]
        flat = x.reshape(steps * batch, -1)
        out = event_input.linear(flat, self.weight, self.bias, self.sparse_input)
        return out.reshape(steps, batch, self.out_features)

    def _fused_lif_consts(self, x: torch.Tensor) -> tuple[Any, ...] | None:
        """``(beta_s, beta_m, g, theta, reset code)`` if the fused feed-forward kernel
        (:mod:`spikeinit._kernels.linear_lif_numba`) runs this forward, else None: no
        recurrence, update-first order with a zero, subtract or no reset, a surrogate the
        kernels know, and the conditions of :func:`_fused_path_ok`."""
        cls = type(self)
        if self.recurrent_weight is not None:
            return None
        if (  # a subclass with its own current or dynamics keeps them
            cls.input_current is not SpikingLinear.input_current
            or cls.run_current is not SpikingLayer.run_current
        ):
            return None
        r = lif_step(self.params)
        if r.spike_first or r.reset not in (0, 1, 2) or r.gain == 0.0:
            return None
        if self.surrogate.name not in SURROGATE_CODES:
            return None
        if not _fused_path_ok(self, x, linear_lif_backend):
            return None
        return (r.beta_syn, r.beta_mem, r.gain, r.threshold, r.reset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_sequence_input(x, 3, type(self).__name__, (self.in_features,), self.weight.dtype)
        consts = self._fused_lif_consts(x)
        if consts is None:
            return super().forward(x)
        link = _SpikeLink()
        spikes, token, counts, bits = _FusedLinearLIF.apply(
            x, self.weight, self.bias, self, consts, link
        )
        keep(spikes, "count", counts)
        keep(spikes, "bits", bits)
        if spikes.requires_grad:  # a fused readout of these spikes hands its gradient over
            setattr(spikes, _LINK_ATTR, (link, token, spikes._version))
        return spikes  # type: ignore[no-any-return]

    def extra_repr(self) -> str:
        rec = ", recurrent=True" if self.recurrent_weight is not None else ""
        return f"{self.in_features}, {self.out_features}{rec}"


class _SpikingConv(SpikingLayer):
    _conv: type[nn.Conv1d] | type[nn.Conv2d]
    _spatial_dims: int

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        params: LIFParams | None = None,
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = 0,
        bias: bool = False,
        surrogate: str | Surrogate = "superspike",
        surrogate_scale: float | None = None,
        detach_reset: bool = True,
    ) -> None:
        super().__init__(params, surrogate, surrogate_scale, detach_reset)
        positive_int("in_channels", in_channels)
        positive_int("out_channels", out_channels)
        self.conv = self._conv(
            in_channels,
            out_channels,
            kernel_size,  # type: ignore[arg-type]
            stride=stride,  # type: ignore[arg-type]
            padding=padding,  # type: ignore[arg-type]
            bias=bias,
        )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.reset_parameters()

    def bias_parameters(self) -> list[torch.Tensor]:
        return [self.conv.bias] if self.conv.bias is not None else []

    def reset_parameters(self) -> None:
        _default_uniform_(self.conv.weight, self.fan_in)
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)

    @property
    def weight(self) -> torch.Tensor:
        return self.conv.weight

    @property
    def fan_in(self) -> int:
        return self.in_channels * math.prod(self.conv.kernel_size)

    def weight_groups(self) -> list[WeightGroup]:
        return [WeightGroup("conv.weight", self.conv.weight, "ff")]

    def input_current(self, x: torch.Tensor) -> torch.Tensor:
        name = type(self).__name__
        if not isinstance(x, torch.Tensor) or x.dim() != self._spatial_dims + 3:
            dims = "C, L" if self._spatial_dims == 1 else "C, H, W"
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name}: expected input of shape [T, B, {dims}], got {shape}")
        x = check_sequence_input(
            x, x.dim(), name, (self.in_channels, *x.shape[3:]), self.conv.weight.dtype
        )
        steps, batch = x.shape[:2]
        flat = x.reshape(steps * batch, *x.shape[2:])
        conv = self.conv
        if (
            self._spatial_dims == 1
            and isinstance(conv.padding, tuple)
            and conv.dilation == (1,)
            and conv.groups == 1
            and conv.padding_mode == "zeros"
        ):  # spike input: event-driven where it is sparse enough (spikeinit.sparse_input)
            out = event_input.conv1d(
                flat,
                conv.weight,
                conv.bias,
                conv.stride[0],
                conv.padding[0],  # type: ignore[arg-type]
            )
        else:
            out = conv(flat)
        return out.reshape(steps, batch, *out.shape[1:])


class SpikingConv1d(_SpikingConv):
    """Conv1d into LIF neurons: ``[T, B, C, L]`` -> ``[T, B, C_out, L_out]``."""

    _conv = nn.Conv1d
    _spatial_dims = 1


class SpikingConv2d(_SpikingConv):
    """Conv2d into LIF neurons: ``[T, B, C, H, W]`` -> ``[T, B, C_out, H_out, W_out]``."""

    _conv = nn.Conv2d
    _spatial_dims = 2


class _FusedReadout(torch.autograd.Function):
    """``U`` of a readout from its input spikes in one compiled pass, and its adjoint
    (:mod:`spikeinit._kernels.readout_numba`; docs/science.md, section 'The reference
    neuron', with no threshold and no reset); also (no gradient) ``max_t U`` and its
    first step (:mod:`spikeinit.kept`).

    The first input is the spikes themselves (``link`` None: the backward returns
    ``dL/dS``), or the token of the fused :class:`SpikingLinear` that produced them
    (``link`` its :class:`_SpikeLink`: the backward hands ``dL/dx_ro`` to that layer
    in place of ``dL/dS`` and a zero gradient to the token). ``spikes`` is the data
    the kernel reads, in both cases."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        first: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        spikes: torch.Tensor,
        consts: tuple[float, float, float],
        link: _SpikeLink | None,
        bits: np.ndarray | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        kernels = readout_backend()
        assert kernels is not None
        xs, wt, b = _event_operands(spikes, weight, bias)
        mem, top, at = kernels.forward(xs.numpy(), wt, b, *consts, bits=bits)
        ctx.consts, ctx.link, ctx.bits = consts, link, bits
        ctx.has_bias = bias is not None
        ctx.save_for_backward(xs, weight)
        kept = (torch.from_numpy(top), torch.from_numpy(at))
        ctx.mark_non_differentiable(*kept)
        return torch.from_numpy(mem), *kept

    @staticmethod
    def backward(ctx: Any, grad_mem: torch.Tensor, *_: Any):  # type: ignore[override]
        xs, weight = ctx.saved_tensors
        kernels = readout_backend()
        assert kernels is not None
        need_first, linked = ctx.needs_input_grad[0], ctx.link is not None
        w = weight.detach().contiguous().numpy()
        g = grad_mem.detach().to(torch.float32).contiguous().numpy()
        g_first, gwt, gb = kernels.backward(
            xs.numpy(), w, g, *ctx.consts, need_first and not linked, ctx.needs_input_grad[1],
            need_first and linked, bits=ctx.bits,
        )  # fmt: skip
        grad_first, grad_w, grad_b = _param_grads(ctx, None if linked else g_first, gwt, gb)
        if need_first and linked:  # dL/dx_ro to the layer; the token's gradient is zero
            assert g_first is not None
            ctx.link.readout = (g_first, w)
            grad_first = torch.zeros(())
        return grad_first, grad_w, grad_b, None, None, None, None


class Readout(SpikingLinear):
    """Non-spiking leaky integrator: the LIF filter with no threshold.

    Returns the membrane trace ``U`` ``[T, B, out_features]`` (the input to the
    losses in :mod:`spikeinit.losses`).

    On float32 CPU tensors with numba, sparse input (the event-driven rule of
    :mod:`spikeinit.sparse_input`) and the default update order, the input
    product and the filter run fused (:mod:`spikeinit._kernels.readout_numba`):
    the same ``U`` as the unfused path, bit for bit, in one pass.
    """

    is_readout = True

    def __init__(
        self,
        in_features: int,
        out_features: int,
        params: LIFParams | None = None,
        bias: bool = False,
    ) -> None:
        super().__init__(in_features, out_features, params, recurrent=False, bias=bias)
        self.params = self.params.replace(reset="none")

    def run_current(
        self, current: torch.Tensor, free: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        _, mem = lif_sequence(current, self.params, return_mem=True)
        return torch.zeros_like(mem), mem

    def _fused_consts(self, x: torch.Tensor) -> tuple[float, float, float] | None:
        """``(beta_s, beta_m, g)`` if the fused kernel computes this forward, else None
        (update-first order, no reset, and the conditions of :func:`_fused_path_ok`)."""
        r = lif_step(self.params)
        if r.spike_first or r.reset != RESET_CODES["none"]:
            return None
        if not _fused_path_ok(self, x, readout_backend):
            return None
        return (r.beta_syn, r.beta_mem, r.gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_sequence_input(x, 3, type(self).__name__, (self.in_features,), self.weight.dtype)
        consts = self._fused_consts(x)
        if consts is None:
            return self.run_current(self.input_current(x))[1]
        link, token, version = getattr(x, _LINK_ATTR, (None, None, None))
        mem: torch.Tensor
        if (  # the spikes of a fused layer, unchanged since: hand the gradient over
            link is not None
            and not link.claimed
            and x._version == version
            and torch.is_grad_enabled()
            and _HANDOFF.get()
        ):
            link.claimed = True
            first = token
        else:
            first, link = x, None
        mem, top, at = _FusedReadout.apply(
            first, self.weight, self.bias, x.detach(), consts, link, spike_bits(x)
        )
        if not bool(torch.isfinite(mem.detach().sum())):
            # a NaN or an infinity in the input: the unfused path names it
            check_finite_current(self.input_current(x))
        else:  # for the max-over-time loss (spikeinit.kept)
            keep(mem, "max", top, at)
        return mem
