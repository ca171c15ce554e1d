"""SpikingJelly neurons: ``LIFNode``, ``ParametricLIFNode``, ``IFNode`` (delta synapse).

SpikingJelly's step (charge, fire, reset)::

    decay_input=True:   H = V + (x - (V - V_reset)) / tau
    decay_input=False:  H = V - (V - V_reset) / tau + x      (V_reset = 0 if soft reset)
    S = H >= V_th;      V = H - V_th S  (v_reset=None)   or   V = (1 - S) H + S V_reset

``ParametricLIFNode`` has ``1 / tau = sigmoid(w)`` with a learnable ``w``. The PSP
kernel is :meth:`LIFParams.from_spikingjelly`'s exactly: ``beta_m = 1 - 1/tau``,
input scale ``1/tau`` or 1. Unlike snnTorch, the soft reset is decayed, as in
the reference neuron. A hard reset to ``V_reset != 0`` also makes ``V_reset`` the
resting potential (a mean shift, noted). SpikingJelly has no ``dt``: the time
constants and rates use the ``dt`` given to :func:`~spikeinit.adapters.find_layers`.
``IFNode`` (``H = V + x``) has no leak: its free membrane is a random walk with
no stationary sigma_U, so spikeinit targets the std of its per-step input
instead (``leaky`` is False; see :mod:`spikeinit.init.foreign`).
``LinearRecurrentContainer`` feeds its neuron ``W [x[t], y[t-1]] + b``: the
first ``in_features`` columns of ``W`` are feed-forward, the rest recurrent.
:meth:`SpikingJellyLayer.run_current` runs SpikingJelly's own
``single_step_functional_forward`` step by step.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ..neuron import lif_sequence
from ..params import LIFParams
from .base import FREE_THRESHOLD, ForeignLayer, defined_in, from_library, lazy_import, scalar

SUPPORTED = ("LIFNode", "ParametricLIFNode", "IFNode")


def _neurons() -> Any:
    return lazy_import("spikingjelly.activation_based.neuron")


def _base() -> Any:
    return lazy_import("spikingjelly.activation_based.base")


def available() -> bool:
    return _neurons() is not None


def is_neuron(module: nn.Module) -> bool:
    """Any SpikingJelly neuron (supported or not): a ``BaseNode``, any module of its
    ``neuron`` package (``SimpleLIFNode``, ``PSN``, ...), its spiking RNNs
    (``rnn.SpikingLSTM``, ...) and the nodes of its Lynxi exchange."""
    if not from_library(module, "spikingjelly"):
        return False
    if isinstance(module, _neurons().BaseNode):
        return True
    name = type(module).__name__
    return (
        defined_in(module, "spikingjelly.activation_based.neuron")
        or (defined_in(module, "spikingjelly.activation_based.rnn") and "Spiking" in name)
        or (defined_in(module, "spikingjelly.activation_based.lynxi_exchange") and "Node" in name)
    )


def is_supported(module: nn.Module) -> bool:
    return is_neuron(module) and type(module) in (
        _neurons().LIFNode,
        _neurons().ParametricLIFNode,
        _neurons().IFNode,
    )


def is_step(module: nn.Module) -> bool:
    """Single-step mode (``step_mode='s'``): one call per time step."""
    return getattr(module, "step_mode", "s") == "s"


def is_memory(module: nn.Module) -> bool:
    """Any SpikingJelly module that keeps state between calls (neurons, containers)."""
    return from_library(module, "spikingjelly") and isinstance(module, _base().MemoryModule)


def carries_state(module: nn.Module) -> bool:
    """SpikingJelly nodes keep their membrane between calls (until ``reset()``)."""
    return True


def reset(module: Any) -> None:
    if is_memory(module):
        module.reset()


def recurrent_container_split(model: nn.Module, knob: nn.Module) -> int | None:
    """``in_features`` if ``knob`` is the ``rc`` Linear of a ``LinearRecurrentContainer``."""
    if _neurons() is None:
        return None
    for module in model.modules():
        container: Any = module
        if type(module).__name__ == "LinearRecurrentContainer" and container.rc is knob:
            return int(container.rc.in_features - container.sub_module_out_features)
    return None


def tau_of(neuron: Any, notes: list[str]) -> float:
    if isinstance(neuron, _neurons().ParametricLIFNode):
        notes.append(
            "ParametricLIFNode: tau = 1/sigmoid(w) is learnable; its current value is used"
        )
        return 1.0 / scalar(torch.sigmoid(neuron.w.detach()), "spikingjelly 1/tau", notes)
    return float(neuron.tau)


def params_of(neuron: Any, dt: float, notes: list[str]) -> LIFParams | None:
    if type(neuron) is _neurons().IFNode:
        notes.append(
            "IFNode has no leak (its free membrane is a random walk): sigma_U is the std of "
            "its per-step input, in units of theta"
        )
        return None
    tau = tau_of(neuron, notes)
    v_reset = neuron.v_reset
    if v_reset is not None and float(v_reset) != 0.0:
        notes.append(
            f"v_reset = {v_reset}: a hard reset to (and rest at) v_reset; mapped to "
            "reset='zero' (the free sigma_U is unchanged, the mean is shifted)"
        )
    p = LIFParams.from_spikingjelly(
        tau,
        bool(neuron.decay_input),
        float(neuron.v_threshold),
        None if v_reset is None else 0.0,
        dt=dt,
    )
    return p


def threshold_of(neuron: Any) -> float:
    return float(neuron.v_threshold)


class SpikingJellyLayer(ForeignLayer):
    """A weight module feeding a SpikingJelly LIF node, simulated by SpikingJelly itself."""

    framework = "spikingjelly"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.leaky = type(self.neuron) is not _neurons().IFNode

    def _run(self, current: torch.Tensor, free: bool) -> tuple[torch.Tensor, torch.Tensor]:
        node = copy.deepcopy(self.neuron)
        probe = copy.deepcopy(self.neuron)
        probe.v_threshold = FREE_THRESHOLD
        if free:
            node = probe
        v_reset = self.neuron.v_reset
        v = torch.full_like(current[0], 0.0 if v_reset is None else float(v_reset))
        spikes, mem = [], []
        for t in range(current.shape[0]):
            (spike,), (v_next, *_) = node.single_step_functional_forward((current[t],), (v,))
            if free:
                mem.append(v_next)
            else:
                # the membrane H before the reset: the same step without threshold
                mem.append(probe.single_step_functional_forward((current[t],), (v,))[1][0])
            spikes.append(spike)
            v = v_next
        return torch.stack(spikes), torch.stack(mem)

    def free_membrane(self, current: torch.Tensor) -> torch.Tensor:
        """The linear (free) response, which :meth:`LIFParams.from_spikingjelly` maps exactly.

        SpikingJelly's own step is run when there is no exact mapping (IF, a
        reset value other than 0). The equality with SpikingJelly's step is tested.
        """
        v_reset = self.neuron.v_reset
        if not self.has_params or (v_reset is not None and float(v_reset) != 0.0):
            return self._run(current, True)[1]
        free = self.params.replace(reset="none", threshold=FREE_THRESHOLD)
        flat = current.reshape(current.shape[0], -1)
        with torch.no_grad():
            _, mem = lif_sequence(flat, free, return_mem=True)
        return mem.reshape(current.shape)

    def run_current(
        self, current: torch.Tensor, free: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        spikes, mem = self._run(current, False)
        if free:
            mem = self._run(current, True)[1]
        return spikes, mem
