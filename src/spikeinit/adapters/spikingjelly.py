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
``single_step_functional_forward`` step by step, from the states its own
``materialize_states`` gives.

More neuron classes (docs/science.md, 'Other neuron models: what sigma_U means'):

* ``CUBALIFNode`` (current-based: ``I = c_decay I + x``, ``H = v_decay V + I``): the
  synaptic kernel of :meth:`LIFParams.from_snntorch` with ``alpha = c_decay`` and
  ``beta = v_decay``; its reset is applied to ``H`` before the next decay (the
  reference neuron's decayed reset, ``convention="spikeinit"``);
* ``OTTTLIFNode`` / ``SLTTLIFNode`` (online training): ``LIFNode``'s update (they
  only detach the membrane for the gradient and track a presynaptic trace);
* ``NonSpikingLIFNode``: ``LIFNode``'s charge without fire or reset, a readout (its
  ``decode`` only reduces the membrane sequence it returns);
* ``SimpleLIFNode`` / ``SimpleIFNode``: the pure-PyTorch teaching nodes (charge, fire,
  reset as methods, the state in ``v``): ``LIFNode``'s / ``IFNode``'s update, run
  through their own ``neuronal_charge`` / ``neuronal_fire`` / ``neuronal_reset``.

Refused with a reason (:func:`refusal`): the quadratic / exponential nodes
(``QIFNode``, ``EIFNode``, ``IzhikevichNode``: their spike upswing is in the charge
equation, which diverges with the threshold off), the spiking RNN cells (LSTM-style:
the spikes are thresholded gate pre-activations, with no membrane), the parallel
spiking neurons (``PSN``: a learnt T x T mixing of the inputs, no time constant), and
``LIAFNode`` (an analog output).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from ..neuron import lif_sequence
from ..params import LIFParams
from .base import FREE_THRESHOLD, ForeignLayer, defined_in, from_library, lazy_import, scalar

SUPPORTED = (
    "LIFNode",
    "ParametricLIFNode",
    "IFNode",
    "CUBALIFNode",
    "OTTTLIFNode",
    "SLTTLIFNode",
    "NonSpikingLIFNode",
    "SimpleLIFNode",
    "SimpleIFNode",
)
#: integrate-and-fire nodes (no leak: sigma_U is the per-step input's std)
NO_LEAK = ("IFNode", "SimpleIFNode")
#: the pure-PyTorch nodes: charge, fire and reset as methods, the state in ``v``
SIMPLE = ("SimpleLIFNode", "SimpleIFNode")
#: classes whose update is ``LIFNode``'s (``lif_sequence`` reproduces their free membrane)
LIF_UPDATE = ("LIFNode", "ParametricLIFNode", "OTTTLIFNode", "SLTTLIFNode", "SimpleLIFNode")
LSTM_STYLE = (
    "its spikes are thresholded gate pre-activations of a recurrent cell (H(W x + U h + b) "
    "in place of tanh / sigmoid), with no leaky membrane: there is no free membrane whose "
    "std sigma_U could be set, and the gates' targets are those of an ANN recurrent cell; "
    "keep PyTorch's default initialisation of its weights, or set them with a data-"
    "independent rule (kaiming_normal_)"
)
DIVERGES = (
    "the spike upswing is part of its charge equation ({term}): with the threshold off "
    "the membrane runs to infinity once it passes {point}, so there is no free membrane "
    "whose std could be set; set the weights that feed it with a data-independent rule "
    "or keep them"
)
#: the reason each refused class has no sigma_U spikeinit can set, and the way forward
REFUSED = {
    "QIFNode": DIVERGES.format(
        term="the quadratic a0 (V - V_rest)(V - V_c)", point="the critical voltage V_c"
    ),
    "EIFNode": DIVERGES.format(
        term="the exponential delta_T exp((V - V_rh) / delta_T), whose rheobase V_rh is "
        "not the threshold",
        point="the rheobase V_rh",
    ),
    "IzhikevichNode": DIVERGES.format(
        term="the quadratic a0 (V - V_rest)(V - V_c) with an adaptation current",
        point="the critical voltage V_c",
    ),
    "SpikingLSTM": LSTM_STYLE,
    "SpikingGRU": LSTM_STYLE,
    "SpikingVanillaRNN": LSTM_STYLE,
    "PSN": (
        "a parallel spiking neuron: its membrane is a learnt T x T (or k-tap) mixing of "
        "the whole input sequence, with no time constant and no state, so sigma_U depends "
        "on that learnt matrix; keep its weights, or register it with si.register_neuron"
    ),
    "MaskedPSN": "see PSN: a masked learnt mixing of the input sequence, with no time constant",
    "SlidingPSN": "see PSN: a learnt k-tap mixing of the input sequence, with no time constant",
    "ILC": (
        "an intra-layer-connection node: its own Conv1d (conn) feeds each population's "
        "spikes back into the next step's input, a recurrent weight inside the node that "
        "the adapter does not read or run; keep its weights, or register it with "
        "si.register_neuron"
    ),
    "Noisy": (
        "a noisy node: while training it adds learnt coloured noise (sigma_init, one draw "
        "per step) to its membrane and spikes, so sigma_U would include a fluctuation that "
        "no weight sets; register it with si.register_neuron (its free membrane with "
        "is_training=False), or keep its weights"
    ),
    "LIAFNode": (
        "its output is an analog act(H), not spikes, so the next layer's input statistics "
        "are not those of a spiking layer; its membrane is LIFNode's: register it with "
        "si.register_neuron if sigma_U of that membrane is what you want"
    ),
}


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


def _class(name: str) -> Any:
    neurons = _neurons()
    return getattr(neurons, name, None)


def is_supported(module: nn.Module) -> bool:
    return is_neuron(module) and type(module) in tuple(
        c for c in map(_class, SUPPORTED) if c is not None
    )


def refusal(module: nn.Module) -> str | None:
    """Why a refused SpikingJelly class has no sigma_U spikeinit can set, and the way forward."""
    name = type(module).__name__
    for prefix in ("ILC", "Noisy"):
        if name.startswith(prefix):
            return REFUSED[prefix]
    return REFUSED.get(name.removesuffix("Cell")) or REFUSED.get(name)


def is_nonspiking(module: nn.Module) -> bool:
    """``NonSpikingLIFNode``: a leaky integrator without fire or reset (a readout)."""
    cls = _class("NonSpikingLIFNode")
    return cls is not None and type(module) is cls


def is_step(module: nn.Module) -> bool:
    """Single-step mode (``step_mode='s'``): one call per time step. ``NonSpikingLIFNode``
    always takes the whole ``[T, B, ...]`` sequence."""
    if is_nonspiking(module):
        return False
    return getattr(module, "step_mode", "s") == "s"


def is_memory(module: nn.Module) -> bool:
    """Any SpikingJelly module that keeps state between calls (neurons, containers)."""
    return from_library(module, "spikingjelly") and isinstance(module, _base().MemoryModule)


def carries_state(module: nn.Module) -> bool:
    """SpikingJelly nodes keep their membrane between calls (until ``reset()``);
    ``NonSpikingLIFNode`` starts each call from zero."""
    return not is_nonspiking(module)


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
    if is_nonspiking(neuron):
        tau = float(neuron.tau)
        return LIFParams.from_spikingjelly(tau, True, 1.0, 0.0, dt=dt).replace(reset="none")
    if type(neuron).__name__ == "CUBALIFNode":
        v_reset = neuron.v_reset
        notes.append(
            "CUBALIFNode: I = c_decay I + x, H = v_decay V + I (from_snntorch's synaptic "
            "kernel, alpha = c_decay, beta = v_decay; the reset is decayed)"
        )
        return LIFParams.from_snntorch(
            float(neuron.v_decay),
            float(neuron.v_threshold),
            "subtract" if v_reset is None else "zero",
            alpha=float(neuron.c_decay),
            dt=dt,
            convention="spikeinit",
        )
    if is_supported(neuron) and type(neuron).__name__ in NO_LEAK:
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
    return 1.0 if is_nonspiking(neuron) else float(neuron.v_threshold)


class SpikingJellyLayer(ForeignLayer):
    """A weight module feeding a SpikingJelly LIF node, simulated by SpikingJelly itself."""

    framework = "spikingjelly"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.leaky = type(self.neuron).__name__ not in NO_LEAK
        self.is_readout = is_nonspiking(self.neuron)

    def _run(self, current: torch.Tensor, free: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """SpikingJelly's own step from its own initial states (``materialize_states``)."""
        if self.is_readout:
            return self._run_nonspiking(current)
        if type(self.neuron).__name__ in SIMPLE:
            return self._run_simple(current, free)
        node = copy.deepcopy(self.neuron)
        probe = copy.deepcopy(self.neuron)
        probe.v_threshold = FREE_THRESHOLD
        if free:
            node = probe
        node.reset()
        states = node.materialize_states((current[0],), tuple(node._memories.values()), "s")
        spikes, mem = [], []
        for t in range(current.shape[0]):
            outputs, next_states = node.single_step_functional_forward((current[t],), states)
            if free:
                mem.append(next_states[0])
            else:
                # the membrane H before the reset: the same step without threshold
                h = probe.single_step_functional_forward((current[t],), states)[1][0]
                mem.append(h)
            spikes.append(outputs[0])
            states = next_states
        return torch.stack(spikes), torch.stack(mem)

    def _run_simple(self, current: torch.Tensor, free: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """``SimpleLIFNode`` / ``SimpleIFNode``: their own charge, fire and reset methods
        from ``v = v_reset``; the membrane is ``v`` after the charge (before the reset)."""
        node = copy.deepcopy(self.neuron)
        if free:
            node.v_threshold = FREE_THRESHOLD
        v_reset = self.neuron.v_reset
        node.v = torch.full_like(current[0], 0.0 if v_reset is None else float(v_reset))
        spikes, mem = [], []
        for t in range(current.shape[0]):
            node.neuronal_charge(current[t])
            mem.append(node.v.clone())
            spike = node.neuronal_fire()
            node.neuronal_reset(spike)
            spikes.append(spike)
        return torch.stack(spikes), torch.stack(mem)

    def _run_nonspiking(self, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``NonSpikingLIFNode``: its own ``neuronal_charge`` from ``v = 0``, no spikes."""
        node = copy.copy(self.neuron)  # its own __dict__: the user's node.v is left as it was
        node.v = torch.zeros_like(current[0])
        mem = []
        for t in range(current.shape[0]):
            node.neuronal_charge(current[t])
            mem.append(node.v)
        stacked = torch.stack(mem)
        return torch.zeros_like(stacked), stacked

    def free_membrane(self, current: torch.Tensor) -> torch.Tensor:
        """The linear (free) response, which :meth:`LIFParams.from_spikingjelly` maps exactly.

        SpikingJelly's own step is run when there is no exact mapping (IF, a
        reset value other than 0). The equality with SpikingJelly's step is tested.
        """
        v_reset = getattr(self.neuron, "v_reset", None)
        lif_update = type(self.neuron).__name__ in LIF_UPDATE
        if not (self.has_params and lif_update) or (v_reset is not None and float(v_reset) != 0.0):
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
