"""The adapter base class: a foreign (weights, neuron) pair that looks like a spikeinit layer.

A :class:`ForeignLayer` holds *references* to the user's own neuron and
weights (it never copies them), so everything that :func:`spikeinit.initialize`
writes through :meth:`ForeignLayer.weight_groups` lands in the user's model. It
implements the :class:`~spikeinit.nn.base.SpikingLayer` protocol on the
neuron's *input*, as the neuron receives it in the user's forward pass
(``[T, B, ...]``, stacked over the calls of a model that loops over time):

* ``params``: :class:`~spikeinit.LIFParams` mapped from the framework's neuron so
  that :func:`spikeinit.theory.psp_kernel` reproduces that framework's own
  sub-threshold update (checked in the tests); ``has_params`` is False for
  neurons with no such kernel (snnTorch ``Alpha``; no leak: ``IFNode``);
* ``weight_groups()``: the weights that feed the neuron, found by
  :mod:`spikeinit.adapters.trace` (or the neuron's own input and recurrent
  weights), tagged ``"ff"`` / ``"rec"``;
* ``input_current(x)``: the neuron's input is already its current, except for
  neurons that carry their own input weights;
* ``simulate(x, free)``: the *framework's own* neuron code run over time from
  zero state; ``free=True`` runs it with the threshold raised to ``1e30`` (so no
  spike and no reset), with recurrent input taken from the actual spikes.
"""

from __future__ import annotations

import functools
import importlib
import math
from types import ModuleType
from typing import Any, Literal

import torch
from torch import nn

from ..nn.base import SpikingLayer, WeightGroup
from ..params import LIFParams

CallMode = Literal["seq", "step"]
FREE_THRESHOLD = 1e30


@functools.cache
def lazy_import(name: str) -> ModuleType | None:
    """The optional library ``name``, imported on first use (None if absent).

    The adapters import snnTorch, Norse and SpikingJelly only when a model holds
    one of their modules: importing all three costs seconds and warnings that a
    user of spikeinit's own layers (or of the command line) should not pay.
    """
    try:
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover - optional dependency
        return None


def from_library(module: Any, package: str) -> bool:
    """Whether ``module``'s class (or a base class) comes from ``package``."""
    return any(c.__module__.split(".")[0] == package for c in type(module).__mro__)


def defined_in(module: Any, *prefixes: str) -> bool:
    """Whether ``module``'s class (or a base class) is defined in a module starting with
    one of ``prefixes`` (e.g. ``"snntorch._neurons"``)."""
    return any(c.__module__.startswith(prefixes) for c in type(module).__mro__)


def scalar(value: Any, what: str, notes: list[str]) -> float:
    """A float from a number or tensor; per-neuron tensors give their mean (noted)."""
    if isinstance(value, torch.Tensor):
        t = value.detach().float()
        if t.numel() == 0:
            raise ValueError(f"{what} is an empty tensor")
        if t.numel() > 1:
            notes.append(
                f"{what} is per-neuron ({t.numel()} values, {float(t.min()):.4g}.."
                f"{float(t.max()):.4g}); its mean {float(t.mean()):.4g} is used"
            )
        return float(t.mean())
    return float(value)


def fold_apply(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module`` applied to ``[T, B, ...]`` with time folded into the batch."""
    steps, batch = x.shape[:2]
    out = module(x.reshape(steps * batch, *x.shape[2:]))
    return out.reshape(steps, batch, *out.shape[1:])


def shift_in_time(spikes: torch.Tensor) -> torch.Tensor:
    """``S[t-1]`` with zeros at ``t = 0``."""
    out = torch.zeros_like(spikes)
    out[1:] = spikes[:-1]
    return out


class ForeignLayer(SpikingLayer):
    """One framework neuron seen through the spikeinit protocol.

    Subclasses set ``framework`` and implement :meth:`run_current` with the
    framework's own neuron update; :meth:`own_weight_groups` lists weights the
    neuron carries itself (recurrent weights, Norse's recurrent input weights).
    """

    framework: str = "foreign"
    is_readout: bool = False
    #: the membrane leaks; False for integrate-and-fire neurons (no stationary sigma_U)
    leaky: bool = True
    #: the free membrane is not linear in the input current (a rectified membrane,
    #: conductances): the measured rule is iterated, as for recurrent neurons
    nonlinear: bool = False

    def __init__(
        self,
        name: str,
        neuron: nn.Module,
        params: LIFParams | None,
        *,
        mode: CallMode = "seq",
        steps: int | None = None,
        root: nn.Module | None = None,
        notes: list[str] | None = None,
    ) -> None:
        super().__init__(params if params is not None else LIFParams())
        self.has_params = params is not None
        # plain tuple: the user's modules are referenced, not registered as children
        self._mods: tuple[nn.Module, nn.Module | None] = (neuron, root)
        self.layer_name = name
        self.mode: CallMode = mode
        self.steps = steps
        self.notes: list[str] = list(notes or [])
        #: the weights that feed the neuron from outside it, set by the finder
        self.groups: list[WeightGroup] = []
        #: bias tensors on the knob paths (a constant current per channel)
        self.bias_tensors: list[torch.Tensor] = []
        #: the model's output reads this neuron (its spikes or membrane) per sample, set by
        #: the finder from the trace (docs/science.md, section 'Output layers')
        self.decoded: bool = self.is_readout

    @property
    def neuron(self) -> Any:
        """The user's neuron module (typed ``Any``: its attributes are the framework's)."""
        return self._mods[0]

    # -- protocol -----------------------------------------------------------------
    def own_weight_groups(self) -> list[WeightGroup]:
        """Weights inside the neuron module (none by default)."""
        return []

    def has_own_input_weights(self) -> bool:
        return any(g.kind == "ff" for g in self.own_weight_groups())

    def weight_groups(self) -> list[WeightGroup]:
        own = self.own_weight_groups()
        if self.has_own_input_weights():
            return own
        return self.groups + own

    def ff_weight(self) -> torch.Tensor:
        ff = [g.weight for g in self.weight_groups() if g.kind == "ff"]
        if not ff:
            raise ValueError(f"{self.layer_name}: no feed-forward weight feeds this neuron")
        return ff[0]

    def rec_weight(self) -> torch.Tensor | None:
        rec = [g.weight for g in self.weight_groups() if g.kind == "rec"]
        return rec[0] if rec else None

    def bias_parameters(self) -> list[torch.Tensor]:
        return list(self.bias_tensors)

    @property
    def fan_in(self) -> int:
        ff = [g.weight for g in self.weight_groups() if g.kind == "ff"]
        if not ff:
            return 0
        w = ff[0]
        return int(w.shape[1] * math.prod(w.shape[2:])) if w.dim() > 1 else 1

    def input_current(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def run_current(
        self, current: torch.Tensor, free: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def free_membrane(self, current: torch.Tensor) -> torch.Tensor:
        """The free membrane for ``current`` (threshold and reset off)."""
        return self.run_current(current, free=True)[1]

    def simulate(self, x: torch.Tensor, free: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            return self.run_current(self.input_current(x), free=free)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.simulate(x)[0]

    def extra_repr(self) -> str:
        return f"{self.framework}: {self.layer_name}, mode={self.mode}"
