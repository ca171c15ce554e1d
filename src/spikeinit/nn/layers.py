"""Spiking layers: linear, 1-D and 2-D convolution, and the leaky readout.

All take time-first input ``[T, B, ...]`` and start from zero state on every
forward call. Feed-forward currents for all time steps come from one matmul
(or one convolution with time folded into the batch).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .. import sparse_input as event_input
from .._kernels import linear_lif_backend, readout_backend
from .._kernels.rule import RESET_CODES, SURROGATE_CODES, step_rule
from .._validate import positive_int
from ..neuron import check_finite_current, get_kernel_backend, lif_sequence
from ..params import LIFParams
from ..surrogate import Surrogate
from .base import SpikingLayer, WeightGroup, check_sequence_input


def _default_uniform_(w: torch.Tensor, fan_in: int) -> None:
    """PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        w.uniform_(-bound, bound)


class _FusedLinearLIF(torch.autograd.Function):
    """Spikes of a feed-forward :class:`SpikingLinear` on sparse input in one compiled
    pass, and the adjoint with the weight gradient taken at the input events
    (:mod:`spikeinit._kernels.linear_lif_numba`; docs/science.md, section 'The
    reference neuron')."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        layer: SpikingLinear,
        consts: tuple[Any, ...],
    ) -> torch.Tensor:
        kernels = linear_lif_backend()
        assert kernels is not None
        xs = x.detach().contiguous()
        wt = weight.detach().t().contiguous().numpy()
        b = None if bias is None else bias.detach().contiguous().numpy()
        mem, spk = kernels.forward(xs.numpy(), wt, b, consts)
        mem_t = torch.from_numpy(mem)
        if not bool(torch.isfinite(mem_t.sum())):
            # a NaN or an infinite current makes U non-finite at its step (g != 0): the
            # unfused path names it (a U that overflowed from finite currents passes)
            check_finite_current(layer.input_current(x.detach()))
        ctx.consts = consts
        ctx.surrogate, ctx.detach_reset = layer.surrogate, layer.detach_reset
        ctx.reset_grad = step_rule(layer.params).reset_grad
        ctx.has_bias = bias is not None
        ctx.save_for_backward(mem_t, xs, weight)
        return torch.from_numpy(spk)

    @staticmethod
    def backward(ctx: Any, grad_spk: torch.Tensor | None):  # type: ignore[override]
        mem, xs, weight = ctx.saved_tensors
        kernels = linear_lif_backend()
        assert kernels is not None
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_b = ctx.has_bias and ctx.needs_input_grad[2]
        gs = None if grad_spk is None else grad_spk.detach().to(torch.float32).contiguous()
        sg = ctx.surrogate
        gx, gwt, gb = kernels.backward(
            mem.numpy(), xs.numpy(), weight.detach().contiguous().numpy(),
            None if gs is None else gs.numpy(), None, ctx.consts, ctx.reset_grad,
            ctx.detach_reset, SURROGATE_CODES[sg.name], sg.steepness, need_x, need_w,
        )  # fmt: skip
        grad_x = torch.from_numpy(gx) if need_x else None
        grad_w = torch.from_numpy(gwt).t().contiguous() if need_w else None
        grad_b = torch.from_numpy(gb) if need_b else None
        return grad_x, grad_w, grad_b, None, None


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
        (:mod:`spikeinit._kernels.linear_lif_numba`) runs this forward, else None: float32
        CPU, numba, no recurrence, update-first order with a zero, subtract or no reset,
        input sparse enough for the event-driven rule of :mod:`spikeinit.sparse_input`."""
        cls = type(self)
        if self.recurrent_weight is not None:
            return None
        if (  # a subclass with its own current or dynamics keeps them
            cls.input_current is not SpikingLinear.input_current
            or cls.run_current is not SpikingLayer.run_current
        ):
            return None
        if get_kernel_backend() not in ("auto", "numba") or linear_lif_backend() is None:
            return None
        r = step_rule(self.params)
        if r.spike_first or r.reset not in (0, 1, 2) or r.gain == 0.0:
            return None
        if self.surrogate.name not in SURROGATE_CODES:
            return None
        bias_ok = self.bias is None or (
            self.bias.dtype == torch.float32 and self.bias.device.type == "cpu"
        )
        if not bias_ok or type(x) is not torch.Tensor:
            return None
        flat = x.reshape(-1, self.in_features)
        if not event_input.uses_sparse_path(flat, self.weight, self.sparse_input):
            return None
        if not bool(torch.isfinite(self.weight).all()):
            return None
        return (r.beta_syn, r.beta_mem, r.gain, r.threshold, r.reset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_sequence_input(x, 3, type(self).__name__, (self.in_features,), self.weight.dtype)
        consts = self._fused_lif_consts(x)
        if consts is None:
            return super().forward(x)
        spikes: torch.Tensor = _FusedLinearLIF.apply(x, self.weight, self.bias, self, consts)
        return spikes

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
    neuron', with no threshold and no reset)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        consts: tuple[float, float, float],
    ) -> torch.Tensor:
        kernels = readout_backend()
        assert kernels is not None
        xs = x.detach().contiguous()
        wt = weight.detach().t().contiguous().numpy()
        b = None if bias is None else bias.detach().contiguous().numpy()
        mem = kernels.forward(xs.numpy(), wt, b, *consts)
        ctx.consts = consts
        ctx.has_bias = bias is not None
        ctx.save_for_backward(xs, weight)
        return torch.from_numpy(mem)

    @staticmethod
    def backward(ctx: Any, grad_mem: torch.Tensor):  # type: ignore[override]
        xs, weight = ctx.saved_tensors
        kernels = readout_backend()
        assert kernels is not None
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_b = ctx.has_bias and ctx.needs_input_grad[2]
        g = grad_mem.detach().to(torch.float32).contiguous().numpy()
        gx, gwt, gb = kernels.backward(
            xs.numpy(), weight.detach().contiguous().numpy(), g, *ctx.consts,
            need_x, need_w,
        )  # fmt: skip
        grad_x = torch.from_numpy(gx) if need_x else None
        grad_w = torch.from_numpy(gwt).t().contiguous() if need_w else None
        grad_b = torch.from_numpy(gb) if need_b else None
        return grad_x, grad_w, grad_b, None


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
        """``(beta_s, beta_m, g)`` if the fused kernel computes this forward, else None."""
        if get_kernel_backend() not in ("auto", "numba") or readout_backend() is None:
            return None
        r = step_rule(self.params)
        if r.spike_first or r.reset != RESET_CODES["none"]:
            return None
        flat = x.reshape(-1, self.in_features)
        if not event_input.uses_sparse_path(flat, self.weight, self.sparse_input):
            return None
        bias_ok = self.bias is None or (
            self.bias.dtype == torch.float32 and self.bias.device.type == "cpu"
        )
        if not bias_ok or type(x) is not torch.Tensor:
            return None
        return (r.beta_syn, r.beta_mem, r.gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_sequence_input(x, 3, type(self).__name__, (self.in_features,), self.weight.dtype)
        consts = self._fused_consts(x)
        if consts is None or not bool(torch.isfinite(self.weight).all()):
            return self.run_current(self.input_current(x))[1]
        mem: torch.Tensor = _FusedReadout.apply(x, self.weight, self.bias, consts)
        if not bool(torch.isfinite(mem.detach().sum())):
            # a NaN or an infinity in the input: the unfused path names it
            check_finite_current(self.input_current(x))
        return mem
