"""Activity regularisers: homeostatic bounds on spike counts.

The fluctuation-driven-initialisation experiments (Rossbroich, Gygax & Zenke
2022; docs/science.md, section 'Homeostasis') keep spikes flowing in deep networks
with quadratic penalties on the number of spikes per trial::

    count = sum_t S[t]                                   # [B, *units]
    lower bound: strength * mean(relu(threshold - count)^2)
    upper bound: strength * mean(relu(count - threshold)^2)

The granularity of ``count`` before the penalty is an option:

* ``per_neuron=True`` (stork's ``dims=False``): every neuron's own count;
* the default: the count averaged over all units of a sample, ``[B]``;
* ``dims=d``: the count averaged over dimension(s) ``d`` of the count tensor
  ``[B, *units]`` (time already summed), e.g. ``dims=1`` for the units of a
  linear layer or the channels of a convolution.

Published settings (stork's notebooks): Randman and SHD feed-forward use a
lower bound of strength 100, threshold 1e-3, per neuron, with an upper bound
of strength 0.1 and threshold 4 (Randman) or 7 (SHD) spikes, ``dims=1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from ._validate import nonneg_finite
from .kept import spike_counts

Bound = Literal["lower", "upper"]
BOUNDS: tuple[str, ...] = ("lower", "upper")


def _spike_counts(spikes: torch.Tensor) -> torch.Tensor:
    """``sum_t S[t]`` (``[B, *units]``) of spikes ``[T, B, *units]``."""
    if not isinstance(spikes, torch.Tensor) or spikes.dim() < 3:
        shape = tuple(spikes.shape) if isinstance(spikes, torch.Tensor) else type(spikes)
        raise ValueError(f"spikes must have shape [T, B, ...units], got {shape}")
    return spike_counts(spikes)


@dataclass(frozen=True)
class ActivityRegularizer:
    """A quadratic lower or upper bound on spike counts per trial.

    Attributes:
        strength: penalty weight, >= 0.
        threshold: bound on the spike count (spikes per trial), >= 0.
        bound: ``"lower"`` penalises counts below ``threshold``, ``"upper"``
            counts above it.
        per_neuron: penalise each neuron's count (stork's ``dims=False``).
        dims: average the count ``[B, *units]`` over these dimension(s) before
            the penalty. ``None`` with ``per_neuron=False`` averages over all
            units of each sample. Cannot be combined with ``per_neuron``.
        layers: indices (in module order) of the hidden spiking layers this
            regulariser applies to; ``None`` means all of them.

    Calling it on spikes ``[T, B, ...]`` returns a scalar tensor.
    """

    strength: float
    threshold: float
    bound: Bound = "lower"
    per_neuron: bool = False
    dims: int | tuple[int, ...] | None = None
    layers: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        nonneg_finite("strength", self.strength)
        nonneg_finite("threshold", self.threshold)
        if self.bound not in BOUNDS:
            raise ValueError(f"bound must be one of {list(BOUNDS)}, got {self.bound!r}")
        if not isinstance(self.per_neuron, bool):
            raise TypeError(f"per_neuron must be a bool, got {type(self.per_neuron).__name__}")
        if self.dims is not None:
            dims = (self.dims,) if isinstance(self.dims, int) else self.dims
            if (
                isinstance(self.dims, bool)
                or not isinstance(dims, tuple)
                or not dims
                or not all(isinstance(d, int) and not isinstance(d, bool) for d in dims)
            ):
                raise ValueError(
                    f"dims must be None, an int or a non-empty tuple of ints, got {self.dims!r}"
                )
            if self.per_neuron:
                raise ValueError(
                    "per_neuron=True and dims are exclusive: per_neuron penalises every "
                    f"neuron's count, dims averages it (got dims={self.dims!r})"
                )
        if self.layers is not None:
            if not isinstance(self.layers, tuple) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in self.layers
            ):
                raise ValueError(f"layers must be None or a tuple of ints, got {self.layers!r}")

    def counts(self, spikes: torch.Tensor) -> torch.Tensor:
        """The counts the penalty compares with ``threshold`` (see the class doc)."""
        return self._reduce(_spike_counts(spikes))

    def _reduce(self, count: torch.Tensor) -> torch.Tensor:
        """The counts of :meth:`counts` from the per-neuron counts ``[B, *units]``."""
        if self.per_neuron:
            return count
        if self.dims is None:
            return count.reshape(count.shape[0], -1).mean(dim=1)
        return count.mean(dim=self.dims)

    def applies_to(self, index: int, n_layers: int) -> bool:
        """Whether this regulariser acts on hidden layer ``index`` of ``n_layers``."""
        if self.layers is None:
            return True
        return any(index == (i % n_layers if i < 0 else i) for i in self.layers)

    def __call__(self, spikes: torch.Tensor) -> torch.Tensor:
        return self._penalty(self.counts(spikes))

    def penalty_from_counts(self, neuron_counts: torch.Tensor) -> torch.Tensor:
        """The penalty from per-neuron spike counts ``sum_t S[t]`` (``[B, *units]``),
        for callers that already have them (:func:`activity_penalty` sums each
        layer's spikes once for all its regularisers)."""
        return self._penalty(self._reduce(neuron_counts))

    def _penalty(self, count: torch.Tensor) -> torch.Tensor:
        if self.bound == "lower":
            excess = torch.relu(self.threshold - count)
        else:
            excess = torch.relu(count - self.threshold)
        return self.strength * excess.square().mean()

    def to_dict(self) -> dict[str, object]:
        """Plain values (JSON- and ``weights_only``-checkpoint-safe)."""
        return {
            "strength": float(self.strength),
            "threshold": float(self.threshold),
            "bound": self.bound,
            "per_neuron": self.per_neuron,
            "dims": list(self.dims) if isinstance(self.dims, tuple) else self.dims,
            "layers": None if self.layers is None else list(self.layers),
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ActivityRegularizer:
        """Inverse of :meth:`to_dict`."""
        dims = d.get("dims")
        layers = d.get("layers")
        return cls(
            strength=d["strength"],  # type: ignore[arg-type]
            threshold=d["threshold"],  # type: ignore[arg-type]
            bound=d.get("bound", "lower"),  # type: ignore[arg-type]
            per_neuron=bool(d.get("per_neuron", False)),
            dims=tuple(dims) if isinstance(dims, list) else dims,  # type: ignore[arg-type]
            layers=tuple(layers) if isinstance(layers, list) else None,  # type: ignore[arg-type]
        )


def lower_bound(
    strength: float, threshold: float, per_neuron: bool = False, dims: int | None = None
) -> ActivityRegularizer:
    """``strength * mean(relu(threshold - count)^2)``."""
    return ActivityRegularizer(strength, threshold, "lower", per_neuron=per_neuron, dims=dims)


def upper_bound(
    strength: float, threshold: float, per_neuron: bool = False, dims: int | None = None
) -> ActivityRegularizer:
    """``strength * mean(relu(count - threshold)^2)``."""
    return ActivityRegularizer(strength, threshold, "upper", per_neuron=per_neuron, dims=dims)


def activity_penalty(
    regularizers: tuple[ActivityRegularizer, ...] | list[ActivityRegularizer],
    hidden_spikes: list[torch.Tensor],
) -> torch.Tensor | None:
    """Sum of every regulariser over the hidden layers it applies to (``None`` if none).

    Each layer's spikes are summed over time once, however many regularisers use them.
    """
    total: torch.Tensor | None = None
    n = len(hidden_spikes)
    counts: dict[int, torch.Tensor] = {}
    for reg in regularizers:
        for i, spikes in enumerate(hidden_spikes):
            if reg.applies_to(i, n):
                if i not in counts:
                    counts[i] = _spike_counts(spikes)
                term = reg.penalty_from_counts(counts[i])
                total = term if total is None else total + term
    return total
