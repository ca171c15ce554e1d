"""snnTorch neurons: ``Leaky``, ``Synaptic``, ``RLeaky``, ``RSynaptic``.

snnTorch's update (``reset_delay=True``, the default), with ``R`` the reset
signal computed from the previous membrane, ``R[t] = H(U[t-1] - theta)``::

    Leaky:     U[t] = beta U[t-1] + x[t] - theta R[t]                 (subtract)
               U[t] = beta (1 - R[t]) U[t-1] + x[t]                   (zero)
    Synaptic:  I[t] = alpha I[t-1] + x[t];  U[t] = beta U[t-1] + I[t] - theta R[t]
    RLeaky / RSynaptic: x[t] also gets ``recurrent(S[t-1])`` (an nn.Linear)

so the PSP kernel is that of :meth:`LIFParams.from_snntorch` (``input_scale = 1``,
``tau = -dt / ln(beta)``) exactly. The subtract reset is *not decayed* (the
reference neuron's is); the adapter's :meth:`~SnnTorchLayer.run_current` runs
snnTorch's own module, so spikes are snnTorch's. snnTorch has no ``dt``: the
time constants and rates are in units of the ``dt`` given to
:func:`~spikeinit.adapters.find_layers` (default 1 ms).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ..params import LIFParams
from .base import FREE_THRESHOLD, ForeignLayer, fold_apply, scalar, shift_in_time

try:
    import snntorch as _snn
except ImportError:  # pragma: no cover - optional dependency
    _snn = None

SUPPORTED = ("Leaky", "Synaptic", "RLeaky", "RSynaptic")
STATE_NAMES = ("mem", "syn", "spk")


def available() -> bool:
    return _snn is not None


def is_neuron(module: nn.Module) -> bool:
    """Any snnTorch neuron (supported or not)."""
    return _snn is not None and isinstance(module, _snn.SpikingNeuron)


def is_supported(module: nn.Module) -> bool:
    return _snn is not None and type(module) in tuple(getattr(_snn, n) for n in SUPPORTED)


def has_own_input_weights(module: nn.Module) -> bool:
    return False


def reset(module: nn.Module) -> None:
    """Empty the state buffers so that the next call starts from zeros."""
    for name in STATE_NAMES:
        value = getattr(module, name, None)
        if isinstance(value, torch.Tensor):
            setattr(module, name, torch.zeros(0, device=value.device, dtype=value.dtype))


def params_of(neuron: Any, dt: float, notes: list[str]) -> LIFParams:
    beta = scalar(neuron.beta, "snntorch beta", notes)
    alpha = scalar(neuron.alpha, "snntorch alpha", notes) if hasattr(neuron, "alpha") else None
    threshold = scalar(neuron.threshold, "snntorch threshold", notes)
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
            "snnTorch's subtract reset is not decayed (U = beta U + x - theta S[t-1]); "
            "LIFParams' reference subtract reset is; simulate() runs snnTorch's own rule"
        )
    return LIFParams.from_snntorch(beta, threshold, reset_name, alpha=alpha, dt=dt)


class SnnTorchLayer(ForeignLayer):
    """A weight module feeding an snnTorch neuron, simulated by snnTorch itself."""

    framework = "snntorch"

    def rec_weight(self) -> torch.Tensor | None:
        rec = getattr(self.neuron, "recurrent", None)
        if rec is None:
            return None
        if not isinstance(rec, (nn.Linear, nn.Conv2d)):
            raise ValueError(
                f"{self.layer_name}: snnTorch {type(self.neuron).__name__} with a one-to-one "
                "recurrent weight V (all_to_all=False) is not supported; use all_to_all=True"
            )
        return rec.weight

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
            free_neuron.threshold.fill_(FREE_THRESHOLD)
            rec = getattr(free_neuron, "recurrent", None)
            if rec is not None:
                # recurrent input from the actual spikes, added to the current
                current = current + fold_apply(self.neuron.recurrent, shift_in_time(spikes))
                for p in rec.parameters():
                    p.zero_()
        _, free_mem = self._step_all(free_neuron, current)
        return spikes, free_mem
