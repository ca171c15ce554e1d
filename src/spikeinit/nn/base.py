"""The spiking-layer protocol that initialisers and diagnostics read.

Every spiking layer exposes:

* ``params``: its :class:`~spikeinit.LIFParams`;
* ``weight_groups()``: its weights, each tagged ``"ff"`` (feed-forward),
  ``"rec"`` (recurrent), ``"exc"`` or ``"inh"``;
* ``fan_in``: the number of feed-forward inputs per neuron;
* ``input_current(x)``: the feed-forward current for input ``x`` ``[T, B, ...]``;
* ``simulate(x, free=False)``: ``(spikes, membrane)``; with ``free=True`` the
  threshold and reset are switched off (the *free* membrane potential), with
  recurrent input taken from the layer's actual spikes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..neuron import free_membrane, lif_sequence
from ..params import LIFParams
from ..surrogate import Surrogate, as_surrogate

WeightKind = Literal["ff", "rec", "exc", "inh"]


@dataclass(frozen=True)
class WeightGroup:
    """One weight tensor of a layer and its role."""

    name: str
    weight: torch.Tensor
    kind: WeightKind


def check_sequence_input(
    x: torch.Tensor,
    min_dim: int,
    name: str,
    features: tuple[int, ...],
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``x`` if it is a float ``[T, B, *features]`` tensor, else a clear error.

    With ``dtype`` (the layer's weight dtype) a float input of another precision
    (float16, float64, bfloat16) is cast to it, so every layer computes in its
    own precision.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: input must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name}: input must be floating point (cast spikes with .float()), got {x.dtype}"
        )
    expected = len(features) + 2
    if x.dim() != expected or tuple(x.shape[2 : 2 + len(features)]) != features:
        shape = ", ".join(str(f) for f in features)
        raise ValueError(f"{name}: expected input of shape [T, B, {shape}], got {tuple(x.shape)}")
    if dtype is not None and x.dtype != dtype:
        x = x.to(dtype)
    return x


class SpikingLayer(nn.Module):
    """Base class: weights -> current -> LIF kernel. Subclasses define the current."""

    params: LIFParams
    #: a non-spiking leaky integrator (no threshold); initialisers treat it as a readout
    is_readout: bool = False

    def __init__(
        self,
        params: LIFParams | None,
        surrogate: str | Surrogate = "superspike",
        surrogate_scale: float | None = None,
        detach_reset: bool = True,
    ) -> None:
        super().__init__()
        params = LIFParams() if params is None else params
        if not isinstance(params, LIFParams):
            raise TypeError(f"params must be LIFParams, got {type(params).__name__}")
        self.params = params
        self.surrogate = as_surrogate(surrogate, surrogate_scale)
        self.detach_reset = detach_reset

    # -- protocol --------------------------------------------------------------
    @property
    def fan_in(self) -> int:
        raise NotImplementedError

    def weight_groups(self) -> list[WeightGroup]:
        raise NotImplementedError

    def input_current(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def bias_parameters(self) -> list[torch.Tensor]:
        """The biases added to the layer's input current (none by default)."""
        return []

    def zero_bias_(self) -> bool:
        """Set the input biases to 0, as the fluctuation rule assumes (it sets the mean
        through mu_W, docs/science.md, section 'Fluctuation-driven initialisation');
        True if the layer had any."""
        biases = self.bias_parameters()
        with torch.no_grad():
            for b in biases:
                b.zero_()
        return bool(biases)

    def recurrent_matrix(self) -> torch.Tensor | None:
        return None

    # -- simulation --------------------------------------------------------------
    def run_current(
        self, current: torch.Tensor, free: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """LIF dynamics for a given feed-forward current: ``(spikes, U)``."""
        rec = self.recurrent_matrix()
        spikes, mem = lif_sequence(
            current,
            self.params,
            surrogate=self.surrogate,
            detach_reset=self.detach_reset,
            recurrent_weight=rec,
            return_mem=True,
        )
        if not free:
            return spikes, mem
        w = rec
        matrix = (lambda s: s @ w.t()) if w is not None else None
        return spikes, free_membrane(current, self.params, spikes, matrix)

    def simulate(self, x: torch.Tensor, free: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(spikes, U)`` for input ``x``; ``free=True`` gives the free membrane."""
        return self.run_current(self.input_current(x), free=free)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        current = self.input_current(x)
        rec = self.recurrent_matrix()
        return lif_sequence(
            current,
            self.params,
            surrogate=self.surrogate,
            detach_reset=self.detach_reset,
            recurrent_weight=rec,
        )  # type: ignore[return-value]
