"""Convolutional spiking layers with a recurrent convolution (stork's recurrent ConvLayer).

The layer's own spikes from step ``t-1`` pass through a *same-padded* convolution
(stride 1, odd kernel, default 5) into the synaptic current::

    I[t] = beta_s I[t-1] + (W_ff * x)[t] + (W_rec * S)[t-1]
    U[t] = beta_m V[t-1] + g I[t]         S[t] = H(U[t] - theta)     V[t] = reset(U[t], S[t])

A dense matrix for the first layer of the SHD net (16 x 68 units) would cost
``B N^2`` per step (about 14 times the convolution), so the recurrence runs as
the convolution itself through :func:`spikeinit.neuron.lif_sequence` with
``recurrent_op=ConvRecurrence(W_rec)``: the fused autograd Function with the
hand-written backward pass through time. Per step, the forward pass is one
convolution ``W_rec * S[t-1]`` and the backward pass one transposed convolution
``W_rec^T * dL/dI[t+1]``, plus a few element-wise operations, with no autograd
graph; only ``U`` is stored, and ``dL/dW_rec`` is one weight-gradient
convolution over all steps after the loop. ``tests/test_recurrent_conv.py``
checks it against a step-by-step autograd loop and against the dense-matrix
formulation (:func:`recurrent_conv_matrix`) run through ``lif_sequence``.

Weight groups: ``("conv.weight", "ff")`` with fan-in ``C_in * prod(kernel)`` and
``("recurrent.weight", "rec")`` with fan-in ``C_out * prod(rec_kernel)``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..neuron import ConvRecurrence, free_membrane, lif_sequence
from ..params import LIFParams
from ..surrogate import Surrogate
from .base import WeightGroup
from .layers import SpikingConv1d, SpikingConv2d, _default_uniform_, _SpikingConv


class _RecurrentConvMixin(_SpikingConv):
    recurrent: nn.Conv1d | nn.Conv2d

    def _make_recurrent(self, rec_kernel_size: int) -> None:
        if isinstance(rec_kernel_size, bool) or not isinstance(rec_kernel_size, int):
            raise ValueError(
                f"rec_kernel_size must be an odd positive integer, got {rec_kernel_size!r}"
            )
        if rec_kernel_size < 1 or rec_kernel_size % 2 == 0:
            raise ValueError(
                f"rec_kernel_size must be odd and positive (same padding), got {rec_kernel_size!r}"
            )
        self.rec_kernel_size = rec_kernel_size
        self.recurrent = self._conv(
            self.out_channels,
            self.out_channels,
            rec_kernel_size,
            padding=rec_kernel_size // 2,
            bias=False,
        )
        _default_uniform_(self.recurrent.weight, self.rec_fan_in)

    @property
    def rec_fan_in(self) -> int:
        """Recurrent fan-in: ``out_channels * prod(rec_kernel)``."""
        return self.out_channels * self.rec_kernel_size**self._spatial_dims

    def weight_groups(self) -> list[WeightGroup]:
        return [
            WeightGroup("conv.weight", self.conv.weight, "ff"),
            WeightGroup("recurrent.weight", self.recurrent.weight, "rec"),
        ]

    def _rec(self, s: torch.Tensor) -> torch.Tensor:
        return self.recurrent(s)

    def run_current(
        self, current: torch.Tensor, free: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(spikes, U)``; ``free=True``: recurrent input from the actual spikes, then
        the linear filter with threshold and reset off (:func:`spikeinit.neuron.free_membrane`,
        aligned with the layer's convention): ``U_free`` is the membrane for
        ``x[t] + (W_rec * S)[t-1]`` with ``reset="none"``."""
        spikes, mem = lif_sequence(
            current,
            self.params,
            surrogate=self.surrogate,
            detach_reset=self.detach_reset,
            recurrent_op=ConvRecurrence(self.recurrent.weight),
            return_mem=True,
        )
        if not free:
            return spikes, mem
        return spikes, free_membrane(current, self.params, spikes, self._rec_sequence)

    def _rec_sequence(self, s: torch.Tensor) -> torch.Tensor:
        """The recurrent convolution of spikes ``[T', B, C, L]``, step by step."""
        out = self.recurrent(s.reshape(-1, *s.shape[2:]))
        return out.reshape(*s.shape[:2], *out.shape[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run_current(self.input_current(x))[0]

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, rec_kernel_size={self.rec_kernel_size}"


class RecurrentSpikingConv1d(_RecurrentConvMixin, SpikingConv1d):
    """Conv1d into LIF neurons plus a same-padded recurrent Conv1d of the layer's own
    spikes (kernel ``rec_kernel_size``, default 5): ``[T, B, C, L]`` -> ``[T, B, C_out, L_out]``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        params: LIFParams | None = None,
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = 0,
        rec_kernel_size: int = 5,
        bias: bool = False,
        surrogate: str | Surrogate = "superspike",
        surrogate_scale: float | None = None,
        detach_reset: bool = True,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, params, stride, padding, bias,
            surrogate, surrogate_scale, detach_reset,
        )  # fmt: skip
        self._make_recurrent(rec_kernel_size)


class RecurrentSpikingConv2d(_RecurrentConvMixin, SpikingConv2d):
    """Conv2d into LIF neurons plus a same-padded recurrent Conv2d of the layer's own
    spikes: ``[T, B, C, H, W]`` -> ``[T, B, C_out, H_out, W_out]``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        params: LIFParams | None = None,
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = 0,
        rec_kernel_size: int = 5,
        bias: bool = False,
        surrogate: str | Surrogate = "superspike",
        surrogate_scale: float | None = None,
        detach_reset: bool = True,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, params, stride, padding, bias,
            surrogate, surrogate_scale, detach_reset,
        )  # fmt: skip
        self._make_recurrent(rec_kernel_size)


def recurrent_conv_matrix(layer: _RecurrentConvMixin, spatial: tuple[int, ...]) -> torch.Tensor:
    """The recurrent convolution as a dense ``[N, N]`` matrix for output maps of shape
    ``spatial`` (``N = C_out * prod(spatial)``); differentiable in the weights.
    For tests and small layers."""
    n = layer.out_channels * int(torch.tensor(spatial).prod())
    eye = torch.eye(n, dtype=layer.recurrent.weight.dtype).reshape(n, layer.out_channels, *spatial)
    cols = layer.recurrent(eye).reshape(n, n)  # row j = R applied to basis vector j
    return cols.t()
