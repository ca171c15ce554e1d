"""The adapter base class: a foreign (weights, neuron) pair that looks like a spikeinit layer.

A :class:`ForeignLayer` holds *references* to the user's own modules (it never
copies weights), so everything that :func:`spikeinit.initialize` writes through
:meth:`ForeignLayer.weight_groups` lands in the user's model. It implements the
:class:`~spikeinit.nn.base.SpikingLayer` protocol:

* ``params``: :class:`~spikeinit.LIFParams` mapped from the framework's neuron so
  that :func:`spikeinit.theory.psp_kernel` reproduces that framework's own
  sub-threshold update (checked in the tests);
* ``weight_groups()``: the weight module's ``.weight`` tagged ``"ff"``, and a
  recurrent weight tagged ``"rec"`` where the neuron has one;
* ``fan_in``; ``input_current(x)``: the weight module applied to ``[T, B, ...]``;
* ``simulate(x, free)``: the *framework's own* neuron code run over time from
  zero state; ``free=True`` runs it with the threshold raised to ``1e30`` (so no
  spike and no reset), with recurrent input taken from the actual spikes.

**Capturing the input.** :func:`spikeinit.initialize` and
:func:`spikeinit.diagnose` find a layer's input with a forward pre-hook on the
layer. A ForeignLayer is not part of the user's model, so
:meth:`ForeignLayer.register_forward_pre_hook` installs the hook on the module
that receives the layer's input in the user's model (the weight module, or the
neuron for neurons with their own input weights) and calls the given hook once
per forward pass with the whole ``[T, B, ...]`` input: directly if that module
is called once with the whole sequence, or stacked over the ``T`` calls of a
model that loops over time. It also resets the framework's neuron states (which
snnTorch and SpikingJelly keep between calls) when the hook is installed and
removed, so every captured pass starts from zero state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

from ..nn.base import SpikingLayer, WeightGroup
from ..params import LIFParams

CallMode = Literal["seq", "step"]
WEIGHT_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d)
FREE_THRESHOLD = 1e30


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


def weight_module(producer: nn.Module, neuron_name: str) -> nn.Module:
    """The single Linear/Conv module inside ``producer`` (or ``producer`` itself)."""
    if isinstance(producer, WEIGHT_TYPES):
        return producer
    found = [m for m in producer.modules() if isinstance(m, WEIGHT_TYPES)]
    n_params = sum(p.numel() for p in producer.parameters())
    if len(found) == 1:
        own = sum(p.numel() for p in found[0].parameters())
        if own == n_params:
            return found[0]
    raise ValueError(
        f"neuron {neuron_name!r} is fed by {type(producer).__name__}, which is not a "
        "Linear/Conv1d/Conv2d layer (or a container holding exactly one and no other "
        "parameters); supported: nn.Linear, nn.Conv1d, nn.Conv2d and their subclasses "
        "(SpikingJelly layer.Linear/Conv2d, SeqToANNContainer, Norse Lift)"
    )


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


class _Handle:
    def __init__(self, handle: Any, on_remove: Callable[[], None]) -> None:
        self._handle, self._on_remove = handle, on_remove

    def remove(self) -> None:
        self._handle.remove()
        self._on_remove()


class ForeignLayer(SpikingLayer):
    """One foreign layer (weight module + neuron) seen through the spikeinit protocol.

    Subclasses set ``framework`` and implement :meth:`run_current` with the
    framework's own neuron update.
    """

    framework: str = "foreign"
    is_readout: bool = False

    def __init__(
        self,
        name: str,
        neuron: nn.Module,
        producer: nn.Module | None,
        params: LIFParams,
        *,
        mode: CallMode = "seq",
        capture_mode: CallMode | None = None,
        steps: int | None = None,
        root: nn.Module | None = None,
        notes: list[str] | None = None,
    ) -> None:
        super().__init__(params)
        # plain tuple: the user's modules are referenced, not registered as children
        self._mods: tuple[nn.Module, nn.Module | None, nn.Module | None] = (
            neuron,
            producer,
            root,
        )
        self.layer_name = name
        self.mode: CallMode = mode
        self.capture_mode: CallMode = capture_mode or mode
        self.steps = steps
        self.notes: list[str] = list(notes or [])
        self._weight_module = None if producer is None else weight_module(producer, name)

    # -- the user's modules ------------------------------------------------------
    @property
    def neuron(self) -> Any:
        """The user's neuron module (typed ``Any``: its attributes are the framework's)."""
        return self._mods[0]

    @property
    def producer(self) -> nn.Module | None:
        return self._mods[1]

    @property
    def capture_module(self) -> nn.Module:
        return self.producer if self.producer is not None else self.neuron

    # -- protocol -----------------------------------------------------------------
    def ff_weight(self) -> torch.Tensor:
        assert self._weight_module is not None
        w = self._weight_module.weight
        assert isinstance(w, torch.Tensor)
        return w

    def rec_weight(self) -> torch.Tensor | None:
        return None

    def biases(self) -> list[torch.Tensor]:
        """The bias tensors that add a constant current (weight module, recurrent Linear)."""
        out = []
        for module in (self._weight_module, getattr(self.neuron, "recurrent", None)):
            bias = getattr(module, "bias", None)
            if isinstance(bias, torch.Tensor):
                out.append(bias)
        return out

    def zero_bias_(self) -> bool:
        """Set the biases to 0 (called by the fluctuation rule); True if there were any."""
        biases = self.biases()
        with torch.no_grad():
            for b in biases:
                b.zero_()
        return bool(biases)

    def weight_groups(self) -> list[WeightGroup]:
        groups = [WeightGroup(f"{self.layer_name}:ff", self.ff_weight(), "ff")]
        rec = self.rec_weight()
        if rec is not None:
            groups.append(WeightGroup(f"{self.layer_name}:rec", rec, "rec"))
        return groups

    @property
    def fan_in(self) -> int:
        w = self.ff_weight()
        return int(w.shape[1] * math.prod(w.shape[2:]))

    def input_current(self, x: torch.Tensor) -> torch.Tensor:
        producer = self.producer
        assert producer is not None
        if self.mode == "seq":
            out = producer(x)
            if not isinstance(out, torch.Tensor):
                out = out[0]
            return out
        return fold_apply(producer, x)

    def run_current(
        self, current: torch.Tensor, free: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def simulate(self, x: torch.Tensor, free: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            return self.run_current(self.input_current(x), free=free)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.simulate(x)[0]

    # -- capture -------------------------------------------------------------------
    def reset_states(self) -> None:
        from .find import reset_states

        root = self._mods[2]
        reset_states(root if root is not None else self.neuron)

    def register_forward_pre_hook(  # type: ignore[override]
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False
    ) -> Any:
        """Call ``hook(self, (x,))`` once per forward pass with this layer's whole input."""
        buffer: list[torch.Tensor] = []
        steps = self.steps

        def inner(_m: nn.Module, args: tuple[Any, ...]) -> None:
            x = args[0]
            if self.capture_mode == "seq" or steps is None:
                hook(self, (x,))
                return
            if buffer and buffer[0].shape != x.shape:
                buffer.clear()
            buffer.append(x)
            if len(buffer) == steps:
                stacked = torch.stack(buffer)
                buffer.clear()
                hook(self, (stacked,))

        self.reset_states()
        handle = self.capture_module.register_forward_pre_hook(inner, prepend=prepend)
        return _Handle(handle, self.reset_states)

    def extra_repr(self) -> str:
        return f"{self.framework}: {self.layer_name}, mode={self.mode}"
