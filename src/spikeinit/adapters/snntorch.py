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

Two sequence neurons (one call takes ``[T, B, N]``; docs/science.md, 'Other neuron
models: what sigma_U means'):

* ``StateLeaky``: the membrane is the causal convolution of the input with
  ``exp(-t / tau)``, ``tau = 1 / (1 - beta)``, with no reset (spikes, with
  ``output=True``, are the thresholded membrane): the free membrane *is* its
  membrane, ``Leaky``'s free kernel with ``beta' = exp(-1 / tau)`` (no
  ``LIFParams`` form when ``kernel_truncation_steps`` cuts it). With
  ``output=False`` it emits no spikes: a readout;
* ``LeakyParallel``: a ``torch.nn.RNN`` with ReLU, ``U[t] = relu(W_ih x[t] + b_ih +
  W_hh U[t-1] + b_hh)`` (``W_hh = diag(beta)``), no reset: sigma_U is the std of that
  rectified membrane, set through its own input weight ``rnn.weight_ih_l0``
  (measured alone: the rectification has no ``LIFParams`` form).

Refused with a reason (:func:`refusal`): ``SLSTM`` and ``SConv2dLSTM`` (LSTM-style:
the membrane is an LSTM cell's output, bounded by ``tanh``), and the other classes
that ``snntorch`` does not export at its top level.
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

SUPPORTED = (
    "Leaky",
    "Synaptic",
    "RLeaky",
    "RSynaptic",
    "Lapicque",
    "Alpha",
    "StateLeaky",
    "LeakyParallel",
)
#: neurons that take the whole sequence ``[T, B, N]`` in one call
SEQUENCE = ("StateLeaky", "LeakyParallel")
LSTM_STYLE = (
    "an LSTM-style cell: its membrane is the LSTM's output o * tanh(c), bounded in "
    "(-1, 1) by the gates, and its weights are the four gates' (their pre-activations "
    "W x + U h + b feed sigmoids and a tanh, not a leaky membrane), so there is no free "
    "membrane whose std sigma_U could be set by its input weights; keep PyTorch's "
    "default LSTM initialisation of its gate weights, or set them with a "
    "data-independent rule (kaiming_normal_)"
)
REFUSED = {"SLSTM": LSTM_STYLE, "SConv2dLSTM": LSTM_STYLE}
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


def refusal(module: nn.Module) -> str | None:
    """Why a refused snnTorch class has no sigma_U spikeinit can set, and the way forward."""
    return REFUSED.get(type(module).__name__)


def is_sequence(module: nn.Module) -> bool:
    """``StateLeaky`` / ``LeakyParallel``: one call takes the whole ``[T, B, N]``."""
    return is_supported(module) and type(module).__name__ in SEQUENCE


def is_step(module: nn.Module) -> bool:
    """snnTorch neurons advance one time step per call, except :data:`SEQUENCE`."""
    return not is_sequence(module)


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
    name = type(neuron).__name__
    if name == "LeakyParallel":
        notes.append(
            "snnTorch LeakyParallel: a ReLU RNN (U = relu(W_ih x + b + diag(beta) U[t-1])), "
            "no reset; sigma_U is the std of that rectified membrane, set by measurement alone"
        )
        return None
    if name == "StateLeaky":
        tau = scalar(neuron.tau, "snntorch StateLeaky tau", notes)
        if neuron.kernel_truncation_steps is not None or not tau > 1.0:
            notes.append(
                "snnTorch StateLeaky: a truncated (or sub-step) decay kernel has no LIFParams "
                "form; the weights are set by measurement of its membrane alone"
            )
            return None
        notes.append(
            "snnTorch StateLeaky: no reset; its membrane is the free one, Leaky's kernel with "
            "beta = exp(-1/tau)"
        )
        return LIFParams.from_snntorch(math.exp(-1.0 / tau), threshold_of(neuron), "none", dt=dt)
    if name == "Alpha":
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        name = type(self.neuron).__name__
        self.is_readout = name == "StateLeaky" and not self.neuron.output
        self.nonlinear = name == "LeakyParallel"  # a rectified membrane

    def own_weight_groups(self) -> list[WeightGroup]:
        """``RLeaky`` / ``RSynaptic``: the recurrent ``nn.Linear`` / ``nn.Conv2d``;
        ``LeakyParallel``: its RNN's input weight (the neuron's own)."""
        if type(self.neuron).__name__ == "LeakyParallel":
            w = self.neuron.rnn.weight_ih_l0
            return [WeightGroup(f"{self.layer_name}.rnn.weight_ih_l0", w, "ff")]
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

    def zero_bias_(self) -> bool:
        """``LeakyParallel``: its RNN's biases are set to 0 too, but are no knob for the
        mean: a rectified neuron's response to a constant current is 0 where it is
        silent, and a shift moves its std (the measured mean is what the weights give)."""
        had = super().zero_bias_()
        rnn: Any = getattr(self.neuron, "rnn", None)
        if type(self.neuron).__name__ != "LeakyParallel" or not rnn.bias:
            return had
        with torch.no_grad():
            rnn.bias_ih_l0.zero_()
            rnn.bias_hh_l0.zero_()
        return True

    def input_current(self, x: torch.Tensor) -> torch.Tensor:
        if type(self.neuron).__name__ == "LeakyParallel":
            return torch.nn.functional.linear(x, self.neuron.rnn.weight_ih_l0)
        return x

    def _run_sequence(self, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``StateLeaky``: its own forward. ``LeakyParallel``: its own ReLU RNN fed the
        current through an identity input weight, spikes by its own ``spike_grad``."""
        neuron = self.neuron
        if type(neuron).__name__ == "StateLeaky":
            out = neuron(current)
            if isinstance(out, tuple):
                return out[0], out[1]
            return torch.zeros_like(out), out
        rnn: Any = neuron.rnn
        n = rnn.hidden_size
        unit: Any = nn.RNN(n, n, nonlinearity="relu", bias=rnn.bias).to(current.device)
        with torch.no_grad():
            unit.weight_ih_l0.copy_(torch.eye(n))
            unit.weight_hh_l0.copy_(rnn.weight_hh_l0)
            if rnn.bias:
                unit.bias_ih_l0.copy_(rnn.bias_ih_l0)
                unit.bias_hh_l0.copy_(rnn.bias_hh_l0)
        mem = unit(current)[0]
        spikes = neuron.spike_grad(mem - neuron.threshold) * neuron.graded_spikes_factor
        return spikes, mem

    def own_biases(self) -> list[torch.Tensor]:
        if type(self.neuron).__name__ == "LeakyParallel":
            return []  # set to 0 by zero_bias_, never a shift knob (see there)
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
        if is_sequence(self.neuron):  # no reset: the membrane is the free one
            return self._run_sequence(current)
        if isinstance(getattr(self.neuron, "recurrent", None), nn.Conv2d) and current.dim() < 5:
            raise ValueError(
                f"{self.layer_name}: snnTorch {type(self.neuron).__name__} with a convolutional "
                f"recurrent connection (conv2d_channels) receives unbatched steps (its input "
                f"over time has shape {list(current.shape)}, [T, C, H, W]); spikeinit reads "
                "the axis after time as the batch: give x a batch axis, [T, B, C, H, W] "
                "(x.unsqueeze(1) for one sample)"
            )
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
