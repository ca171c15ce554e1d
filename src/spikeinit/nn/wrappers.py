"""Time-first helpers: apply a per-sample module to every time step, flatten, plain LIF."""

from __future__ import annotations

import torch
from torch import nn

from ..params import LIFParams
from ..surrogate import Surrogate
from .base import SpikingLayer, WeightGroup


class TimeFold(nn.Module):
    """Apply ``module`` to ``[T, B, ...]`` with time folded into the batch.

    For stateless per-sample modules: pooling (``TimeFold(nn.MaxPool2d(2))``),
    ``nn.Flatten``, normalisation. Not for dropout, whose mask must stay constant
    over time (see :class:`TimeConstantDropout`).
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3:
            raise ValueError(f"TimeFold: expected input [T, B, ...], got {tuple(x.shape)}")
        steps, batch = x.shape[:2]
        y = self.module(x.reshape(steps * batch, *x.shape[2:]))
        return y.reshape(steps, batch, *y.shape[1:])


class Flatten(nn.Module):
    """``[T, B, d1, d2, ...]`` -> ``[T, B, d1 * d2 * ...]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3:
            raise ValueError(f"Flatten: expected input [T, B, ...], got {tuple(x.shape)}")
        return x.reshape(x.shape[0], x.shape[1], -1)


class LIF(SpikingLayer):
    """LIF neurons with no weights: the input *is* the current.

    Micheli et al.'s first layer (raw pixels injected as current into 784 LIF
    neurons) is ``LIF(params)``. It has no weight groups, so initialisers skip it.
    """

    def __init__(
        self,
        params: LIFParams | None = None,
        surrogate: str | Surrogate = "superspike",
        surrogate_scale: float | None = None,
        detach_reset: bool = True,
    ) -> None:
        super().__init__(params, surrogate, surrogate_scale, detach_reset)
        self._fan_in = 1

    @property
    def fan_in(self) -> int:
        return self._fan_in

    def weight_groups(self) -> list[WeightGroup]:
        return []

    def input_current(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() < 2:
            raise ValueError("LIF: expected a floating-point input current of shape [T, B, ...]")
        return x


class TimeConstantDropout(nn.Module):
    """Dropout whose mask is drawn once per sample and kept for all time steps."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be in [0, 1), got {p!r}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty_like(x[0]).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)
