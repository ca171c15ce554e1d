"""snnTorch neurons: ``Leaky``, ``Synaptic``, ``RLeaky``, ``RSynaptic``, ``Lapicque``, ``Alpha``.

snnTorch's update (``reset_delay=True``, the default), with ``R`` the reset
signal computed from the previous membrane, ``R[t] = H(U[t-1] - theta)``::

    Leaky:     U[t] = beta U[t-1] + x[t] - theta R[t]                 (subtract)
               U[t] = beta (1 - R[t]) U[t-1] + x[t]                   (zero)
    Synaptic:  I[t] = alpha I[t-1] + x[t];  U[t] = beta U[t-1] + I[t] - theta R[t]
    RLeaky / RSynaptic: x[t] also gets ``recurrent(S[t-1])`` (an nn.Linear)

so the PSP kernel is that of :meth:`LIFParams.from_snntorch` (``input_scale = 1``,
``tau = -dt / ln(beta)``) exactly. ``Lapicque`` is the RC circuit
``U[t] = (1 - T/(RC)) U[t-1] + (T/C) x[t]`` (``T`` its ``time_step``): a delta
synapse with decay ``1 - T/(RC)`` and input gain ``T/C``. ``Alpha`` drives the
membrane with the difference of an excitatory and an inhibitory synaptic trace
(decays ``alpha`` and ``beta``), a kernel that ``LIFParams`` cannot express:
spikeinit sets its weights by measurement only (``has_params`` is False). The
subtract reset is *not decayed* (the reference neuron's is): the mapped
``LIFParams`` carry ``convention="snntorch"``, so spikeinit's own theory and
kernels use snnTorch's neuron (docs/science.md, section 'Neuron conventions');
the adapter's :meth:`~SnnTorchLayer.run_current` runs snnTorch's own module, so
spikes are snnTorch's. ``Synaptic`` and ``Lapicque`` with the zero reset also drop
the step's drive (``U[t] = (beta U[t-1] + I[t]) (1 - S[t-1])``), which no convention
expresses; their ``LIFParams`` keep ``Leaky``'s zero reset. snnTorch has no ``dt``: the
time constants and rates are in units of the ``dt`` given to
:func:`~spikeinit.adapters.find_layers` (default 1 ms).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from ..nn.base import WeightGroup
from ..params import LIFParams
from .base import (
    FREE_THRESHOLD,
    ForeignLayer,
    defined_in,
    fold_apply,
    from_library,
    lazy_import,
    scalar,
    shift_in_time,
)

SUPPORTED = ("Leaky", "Synaptic", "RLeaky", "RSynaptic", "Lapicque", "Alpha")
STATE_NAMES = ("mem", "syn", "spk", "syn_exc", "syn_inh")


def _snn() -> Any:
    return lazy_import("snntorch")


def available() -> bool:
    return _snn() is not None


#: modules of ``snntorch._neurons`` that are parts of a neuron, not neurons
PARTS = ("RecurrentOneToOne",)


def is_neuron(module: nn.Module) -> bool:
    """Any snnTorch neuron (supported or not): a ``SpikingNeuron``, or a module defined in
    ``snntorch._neurons`` outside that base (``LeakyParallel``, ``LeakyKernel``)."""
    if not from_library(module, "snntorch"):
        return False
    if isinstance(module, _snn().SpikingNeuron):
        return True
    return defined_in(module, "snntorch._neurons") and type(module).__name__ not in PARTS


def is_supported(module: nn.Module) -> bool:
    return is_neuron(module) and type(module) in tuple(getattr(_snn(), n) for n in SUPPORTED)


def is_step(module: nn.Module) -> bool:
    """snnTorch neurons advance one time step per call."""
    return True


def carries_state(module: nn.Module) -> bool:
    """``init_hidden=True``: the neuron keeps its state between calls."""
    return bool(getattr(module, "init_hidden", False))


def reset(module: nn.Module) -> None:
    """Empty the state buffers so that the next call starts from zeros."""
    for name in STATE_NAMES:
        value = getattr(module, name, None)
        if isinstance(value, torch.Tensor):
            setattr(module, name, torch.zeros(0, device=value.device, dtype=value.dtype))


def params_of(neuron: Any, dt: float, notes: list[str]) -> LIFParams | None:
    if type(neuron).__name__ == "Alpha":
        notes.append(
            "snnTorch Alpha: its kernel (difference of two synaptic traces) has no LIFParams "
            "form; the weights are set by measurement of the free membrane alone"
        )
        return None
    threshold = scalar(neuron.threshold, "snntorch threshold", notes)
    if type(neuron).__name__ == "Lapicque":
        step = scalar(neuron.time_step, "snntorch time_step", notes)
        r, c = scalar(neuron.R, "snntorch R", notes), scalar(neuron.C, "snntorch C", notes)
        decay = 1.0 - step / (r * c)
        if not math.exp(-1.0) < decay < 1.0:  # tau_mem <= dt has no LIFParams form
            notes.append(
                f"snnTorch Lapicque: decay 1 - time_step/(R C) = {decay:.4g} is faster than one "
                "step (or not a decay); the weights are set by measurement alone"
            )
            return None
        return LIFParams(
            tau_mem=-dt / math.log(decay),
            tau_syn=None,
            dt=dt,
            threshold=threshold,
            reset=LIFParams.from_snntorch(0.5, 1.0, str(neuron.reset_mechanism)).reset,
            input_scale=step / c,
            convention="snntorch",
        )
    beta = scalar(neuron.beta, "snntorch beta", notes)
    alpha = scalar(neuron.alpha, "snntorch alpha", notes) if hasattr(neuron, "alpha") else None
    for name, value in (("beta", beta), ("alpha", alpha)):
        if value is not None and not 0.0 < value < 1.0:
            raise ValueError(
                f"snnTorch {type(neuron).__name__}: {name} = {value!r} is outside (0, 1), "
                "which has no time constant (snnTorch clamps it to [0, 1])"
            )
    if isinstance(getattr(neuron, "beta", None), nn.Parameter):
        notes.append("beta is learnable: its current value is used")
    if isinstance(getattr(neuron, "threshold", None), nn.Parameter):
        notes.append("threshold is learnable: its current value is used")
    reset_name = str(neuron.reset_mechanism)
    if reset_name == "subtract":
        notes.append(
            "snnTorch's subtract reset is not decayed (U = beta U + x - theta S[t-1]): "
            "LIFParams(convention='snntorch'); simulate() runs snnTorch's own module"
        )
    return LIFParams.from_snntorch(beta, threshold, reset_name, alpha=alpha, dt=dt)


def threshold_of(neuron: Any) -> float:
    return float(torch.as_tensor(neuron.threshold).float().mean())


class SnnTorchLayer(ForeignLayer):
    """A weight module feeding an snnTorch neuron, simulated by snnTorch itself."""

    framework = "snntorch"

    def own_weight_groups(self) -> list[WeightGroup]:
        """``RLeaky`` / ``RSynaptic``: the recurrent ``nn.Linear`` / ``nn.Conv2d``."""
        rec = getattr(self.neuron, "recurrent", None)
        if rec is None:
            return []
        if not isinstance(rec, (nn.Linear, nn.Conv2d)):
            v = getattr(rec, "V", None)  # all_to_all=False: one weight per neuron, U += V S[t-1]
            if not isinstance(v, torch.Tensor):
                raise ValueError(
                    f"{self.layer_name}: snnTorch {type(self.neuron).__name__}'s recurrent "
                    f"module {type(rec).__name__} has no weight spikeinit can set"
                )
            return [WeightGroup(f"{self.layer_name}.recurrent.V", v, "rec")]
        return [WeightGroup(f"{self.layer_name}.recurrent", rec.weight, "rec")]

    def own_biases(self) -> list[torch.Tensor]:
        rec = getattr(self.neuron, "recurrent", None)
        bias = getattr(rec, "bias", None)
        return [bias] if isinstance(bias, torch.Tensor) else []

    def _step_all(self, neuron: Any, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        reset(neuron)
        spikes, mems = [], []
        for t in range(current.shape[0]):
            out: Any = neuron(current[t])
            spikes.append(out[0] if isinstance(out, tuple) else out)
            mems.append(neuron.mem)
        return torch.stack(spikes), torch.stack(mems)

    def run_current(
        self, current: torch.Tensor, free: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        neuron = copy.deepcopy(self.neuron)
        spikes, mem = self._step_all(neuron, current)
        if not free:
            return spikes, mem
        free_neuron = copy.deepcopy(self.neuron)
        with torch.no_grad():
            if isinstance(free_neuron.threshold, nn.Parameter):
                free_neuron.threshold.fill_(FREE_THRESHOLD)
            else:  # may be an integer buffer (threshold=20)
                shape = torch.as_tensor(free_neuron.threshold).shape
                free_neuron.threshold = torch.full(shape, FREE_THRESHOLD)
            rec = getattr(free_neuron, "recurrent", None)
            if rec is not None:
                # recurrent input from the actual spikes, added to the current
                current = current + fold_apply(self.neuron.recurrent, shift_in_time(spikes))
                for p in rec.parameters():
                    p.zero_()
        _, free_mem = self._step_all(free_neuron, current)
        return spikes, free_mem
