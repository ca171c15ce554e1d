"""sinabs neurons: ``IAF``, ``LIF``, ``ALIF``, ``ExpLeak``, their ``Squeeze`` / ``Recurrent`` forms.

sinabs (SynSense; ``sinabs.layers``) runs a whole sequence per call, **batch
first**: a neuron takes ``[B, T, ...]``; a ``Squeeze`` neuron takes ``[B*T, ...]``
(time folded into the batch, batch-major, unfolded with its ``batch_size`` or
``num_timesteps``), so that it can sit between ``Conv2d`` and ``SumPool2d``
layers. The adapter turns either into spikeinit's time-first ``[T, B, ...]``
(:func:`time_first`) and back, and runs sinabs' own layer for every simulation.

sinabs' step (``sinabs.layers.functional.lif.lif_forward_single``; ``tau`` in
*steps*, ``alpha = exp(-1 / tau)``)::

    i[t] = alpha_syn (i[t-1] + x[t])          (tau_syn None: i[t] = x[t])
    v[t] = alpha_mem v[t-1] + g i[t]          g = 1 - alpha_mem if norm_input else 1
    s[t] = spike_fn(v[t], theta)              MultiSpike: floor(v / theta) spikes if v > 0
                                              SingleSpike: H(v - theta)
    v[t] = v[t] - theta s[t]                  (MembraneSubtract; MembraneReset: v (1 - H(s)) + r)
    v[t] = max(v[t], min_v_mem)               (if min_v_mem is set)

so the PSP kernel is that of ``LIFParams(tau_mem = tau dt, tau_syn = tau_syn dt,
input_scale = alpha_syn g)`` exactly (:func:`params_of`); the subtract reset is
applied before the next decay, as in spikeinit's reference neuron
(``convention="spikeinit"``). sinabs has no ``dt``: its time constants are
counted in steps, and spikeinit's rates use the ``dt`` given to
:func:`~spikeinit.adapters.find_layers` (default 1 ms).

* ``IAF`` is ``LIF`` with ``alpha_mem = 1`` and ``g = 1``: no leak, so no
  stationary sigma_U; spikeinit targets the std of its per-step input, as for
  SpikingJelly's ``IFNode`` (``leaky`` is False).
* ``ALIF`` (Bellec et al. 2018) fires at ``b0 + adapt_scale b`` with ``b``
  decaying with ``tau_adapt`` and jumping with each spike: spikeinit sets the
  weights for the baseline ``b0`` (its ``spike_threshold``), since the free
  membrane has no spikes and so no adaptation. With ``norm_input`` it scales the
  stored synaptic current itself, so its synaptic decay is
  ``alpha_syn (1 - alpha_mem)``.
* ``ExpLeak`` has no spike function: a leaky integrator whose output is its
  membrane (a readout; ``norm_input`` defaults to False).
* ``IAFRecurrent`` / ``LIFRecurrent`` / ``ALIFRecurrent`` add
  ``rec_connect(s[t-1])`` to ``x[t]``; the weight module in ``rec_connect`` is
  the ``"rec"`` weight group, and their free membrane takes the recurrent input
  of the actual spikes (as the other adapters do).

The free membrane is sinabs' own layer with the threshold at ``1e30`` (no spike,
no reset) and without ``min_v_mem``: a lower bound on the membrane is a
non-linearity of its own, and sigma_U is a property of the linear response
(noted where it is set). ``SumPool2d`` (``LPPool2d`` with ``p = 1``: a sum over
each window) has no weights: the trace passes through it like any pooling.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from torch import nn

from ..nn.base import WeightGroup
from ..params import LIFParams
from .base import FREE_THRESHOLD, ForeignLayer, from_library, lazy_import, scalar, shift_in_time
from .trace import WEIGHT_TYPES

SUPPORTED = (
    "IAF",
    "IAFSqueeze",
    "IAFRecurrent",
    "LIF",
    "LIFSqueeze",
    "LIFRecurrent",
    "ALIF",
    "ALIFSqueeze",
    "ALIFRecurrent",
    "ExpLeak",
    "ExpLeakSqueeze",
)
#: the modules of sinabs.layers that define the supported classes (ALIFSqueeze is not
#: re-exported by ``sinabs.layers``)
_HOMES = ("sinabs.layers.iaf", "sinabs.layers.lif", "sinabs.layers.alif", "sinabs.layers.exp_leak")


def _layers() -> Any:
    """``sinabs.layers`` (never ``sinabs.backend``: its DynapCNN part imports samna)."""
    return lazy_import("sinabs.layers")


def available() -> bool:
    return _layers() is not None


def _classes() -> tuple[type, ...]:
    out: list[type] = []
    for home in _HOMES:
        mod = lazy_import(home)
        if mod is None:  # pragma: no cover - sinabs absent
            continue
        out.extend(getattr(mod, n) for n in SUPPORTED if hasattr(mod, n))
    return tuple(out)


def is_neuron(module: nn.Module) -> bool:
    """Any sinabs stateful layer (its neurons' base ``StatefulLayer``), supported or not."""
    return from_library(module, "sinabs") and isinstance(module, _layers().StatefulLayer)


def is_supported(module: nn.Module) -> bool:
    return is_neuron(module) and type(module) in _classes()


def is_step(module: nn.Module) -> bool:
    """sinabs layers take the whole sequence in one call."""
    return False


def carries_state(module: nn.Module) -> bool:
    """sinabs layers keep ``v_mem`` (and ``i_syn``, ``b``) from one call to the next."""
    return True


def reset(module: nn.Module) -> None:
    """sinabs' own ``reset_states()``: the state buffers back to zero."""
    if is_neuron(module):
        module.reset_states()  # type: ignore[operator]


def is_squeeze(module: nn.Module) -> bool:
    return is_neuron(module) and isinstance(module, _layers().SqueezeMixin)


def is_readout(module: nn.Module) -> bool:
    """No spike function (``ExpLeak``): the output is the membrane."""
    return getattr(module, "spike_fn", None) is None


def is_recurrent(module: nn.Module) -> bool:
    return isinstance(getattr(module, "rec_connect", None), nn.Module)


def is_iaf(module: nn.Module) -> bool:
    return type(module).__name__.startswith("IAF")


def unfold(module: Any, x: torch.Tensor) -> torch.Tensor:
    """A ``Squeeze`` layer's ``[B*T, ...]`` input as ``[B, T, ...]`` (as sinabs unfolds it)."""
    return x.reshape(int(module.batch_size), int(module.num_timesteps), *x.shape[1:])


def time_first(module: Any, x: torch.Tensor) -> torch.Tensor:
    """The layer's input as it receives it (``[B, T, ...]``, ``[B*T, ...]``) as ``[T, B, ...]``."""
    if is_squeeze(module):
        x = unfold(module, x)
    return x.transpose(0, 1)


def batch_dim(module: nn.Module) -> int | None:
    """Which axis of the layer's input is the batch: 0 (``[B, T, ...]``), or None for a
    ``Squeeze`` layer (its axis 0 is batch and time together)."""
    return None if is_squeeze(module) else 0


def _decay(value: Any, what: str, notes: list[str]) -> float:
    return scalar(value.detach() if isinstance(value, torch.Tensor) else value, what, notes)


def _reset_name(neuron: Any, notes: list[str]) -> str:
    fn = neuron.reset_fn
    name = type(fn).__name__
    if name == "MembraneSubtract":
        if fn.subtract_value is not None:
            notes.append(
                f"MembraneSubtract(subtract_value={fn.subtract_value}): the reset subtracts that "
                "value, not theta; mapped to reset='subtract'"
            )
        return "subtract"
    if name == "MembraneReset":
        if float(fn.reset_value) != 0.0:
            notes.append(
                f"MembraneReset(reset_value={fn.reset_value}): sinabs adds reset_value to every "
                "neuron's membrane at every step (v (1 - H(s)) + r), a constant drive; the free "
                "membrane includes it (a mean shift)"
            )
        return "zero"
    notes.append(f"reset_fn {name}: not one of sinabs' resets; mapped to reset='subtract'")
    return "subtract"


def params_of(neuron: Any, dt: float, notes: list[str]) -> LIFParams | None:
    """The ``LIFParams`` whose PSP kernel is sinabs' own (module docstring), or None (IAF)."""
    cls = type(neuron).__name__
    if is_iaf(neuron):
        notes.append(
            f"sinabs {cls} has no leak (its free membrane is a random walk): sigma_U is the std "
            "of its per-step input, in units of theta"
            + ("; its tau_syn filter is not part of that std" if neuron.tau_syn is not None else "")
        )
        return None
    alpha_m = _decay(neuron.alpha_mem_calculated, "sinabs alpha_mem", notes)
    syn = neuron.alpha_syn_calculated
    alpha_s = None if syn is None else _decay(syn, "sinabs alpha_syn", notes)
    for name, value in (("alpha_mem", alpha_m), ("alpha_syn", alpha_s)):
        if value is not None and not 0.0 < value < 1.0:
            raise ValueError(
                f"sinabs {cls}: {name} = {value!r} is outside (0, 1): no time constant"
            )
    norm = bool(neuron.norm_input)
    gain = 1.0 - alpha_m if norm else 1.0
    alif = cls.startswith("ALIF")
    if alpha_s is not None:
        if alif and norm:  # ALIF scales the stored i_syn itself: i = (1 - a_m) a_s (i + x)
            alpha_s = alpha_s * (1.0 - alpha_m)
            gain = alpha_s
        else:  # i = a_s (i + x): the reference current times a_s
            gain = alpha_s * gain
    if alif:
        notes.append(
            "sinabs ALIF: adaptive threshold b0 + adapt_scale b; initialised for the baseline "
            "threshold b0 (spike_threshold; the free membrane has no spikes, so no adaptation)"
        )
    if getattr(neuron, "train_alphas", False):
        notes.append("train_alphas: the decays are learnable; their current values are used")
    if is_readout(neuron):
        threshold, reset_name = 1.0, "none"
    else:
        threshold = threshold_of(neuron)
        reset_name = _reset_name(neuron, notes)
        spike_fn = getattr(neuron.spike_fn, "__name__", type(neuron.spike_fn).__name__)
        if spike_fn != "SingleSpike":
            notes.append(
                f"sinabs spike_fn {spike_fn}: several spikes per step (floor(v / theta)) where "
                "the reference neuron emits one; the free membrane (the PSP kernel) is exact, "
                "spikes are sinabs' own"
            )
    if neuron.min_v_mem is not None:
        notes.append(
            f"min_v_mem = {float(torch.as_tensor(neuron.min_v_mem)):.4g} clips the membrane from "
            "below; the free membrane (sigma_U) is the linear response, without it"
        )
    return LIFParams(
        tau_mem=-dt / math.log(alpha_m),
        tau_syn=None if alpha_s is None else -dt / math.log(alpha_s),
        dt=dt,
        threshold=threshold,
        reset=reset_name,  # type: ignore[arg-type]
        input_scale=gain,
        convention="spikeinit",
    )


def threshold_of(neuron: Any) -> float:
    """``spike_threshold`` (ALIF: its baseline ``b0``); 1 for a readout (no threshold)."""
    if is_readout(neuron):
        return 1.0
    value = neuron.b0 if type(neuron).__name__.startswith("ALIF") else neuron.spike_threshold
    return float(torch.as_tensor(value).detach().float().mean())


def _init_arguments(cls: type) -> set[str]:
    """The keyword arguments ``cls(...)`` takes, through ``**kwargs`` passed to its bases."""
    names: set[str] = set()
    for c in cls.__mro__:
        params = inspect.signature(c.__init__).parameters.values()  # type: ignore[misc]
        names |= {p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD} - {"self"}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return names


class _Recorder:
    """A sinabs spike function that records the membrane it is given, then spikes as the
    wrapped one does (sinabs calls ``spike_fn.apply(*states, threshold, surrogate)``)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.mems: list[torch.Tensor] = []

    @property
    def required_states(self) -> list[str]:
        return list(self.fn.required_states)

    def apply(self, *args: Any) -> torch.Tensor:
        self.mems.append(args[self.required_states.index("v_mem")].detach().clone())
        return self.fn.apply(*args)  # type: ignore[no-any-return]


class _Silent(nn.Module):
    """A ``rec_connect`` that adds nothing (the free run takes the recurrent input outside)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


def clone(neuron: Any, free: bool, batch: int) -> Any:
    """A new layer of ``neuron``'s class with its arguments and parameter values, state
    empty; ``free``: threshold ``1e30``, no ``min_v_mem``; ``rec_connect`` adds nothing.

    Built from sinabs' ``arg_dict`` (sinabs' own deepcopy shares ``rec_connect``, reassigns
    the data of its parameters, and drops ALIF's ``norm_input``); a ``Squeeze`` layer
    gets ``batch_size=batch``.
    """
    args = dict(neuron.arg_dict)
    accepted = _init_arguments(type(neuron))
    args["shape"] = None
    args["record_states"] = False
    if "norm_input" in accepted:
        args["norm_input"] = neuron.norm_input
    if is_squeeze(neuron):
        args["batch_size"], args["num_timesteps"] = batch, None
    if is_recurrent(neuron):  # SinabsLayer._run puts the user's one back where it is wanted
        args["rec_connect"] = _Silent()
    own = {n: p for n, p in neuron.named_parameters(recurse=False)}
    skip = set()
    if free and not is_readout(neuron):
        args["spike_threshold"] = torch.tensor(FREE_THRESHOLD)
        args["min_v_mem"] = None
        skip = {"spike_threshold", "min_v_mem"}
    elif free:
        args["min_v_mem"] = None
        skip = {"min_v_mem"}
    args = {k: v for k, v in args.items() if k in accepted}
    new = type(neuron)(**args)
    with torch.no_grad():
        for name, p in new.named_parameters(recurse=False):
            if name in own and name not in skip:
                p.data = own[name].detach().clone()
    return new


class SinabsLayer(ForeignLayer):
    """A sinabs neuron layer, run by sinabs itself on time-first ``[T, B, ...]`` currents."""

    framework = "sinabs"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_readout = is_readout(self.neuron)
        self.leaky = not is_iaf(self.neuron)

    def _rec_module(self) -> nn.Module | None:
        rec = getattr(self.neuron, "rec_connect", None)
        if rec is None:
            return None
        found = [m for m in rec.modules() if isinstance(m, WEIGHT_TYPES)]
        if len(found) != 1:
            raise ValueError(
                f"{self.layer_name}: sinabs {type(self.neuron).__name__}'s rec_connect "
                f"({type(rec).__name__}) holds {len(found)} weight modules; spikeinit sets one "
                "(an nn.Linear or nn.Conv, alone or in an nn.Sequential with weightless modules)"
            )
        return found[0]

    def own_weight_groups(self) -> list[WeightGroup]:
        """``*Recurrent``: the weight module inside ``rec_connect`` (tagged ``"rec"``)."""
        rec = self._rec_module()
        if rec is None:
            return []
        names = {id(m): n for n, m in self.neuron.rec_connect.named_modules()}
        inner = names[id(rec)]
        path = f"{self.layer_name}.rec_connect" + (f".{inner}" if inner else "")
        return [WeightGroup(f"{path}.weight", rec.weight, "rec")]  # type: ignore[arg-type]

    def own_biases(self) -> list[torch.Tensor]:
        rec = self._rec_module()
        bias = getattr(rec, "bias", None)
        return [bias] if isinstance(bias, torch.Tensor) else []

    def _run(self, current: torch.Tensor, free: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """sinabs' own layer on ``[T, B, ...]`` in one call: its output, and the membrane
        that its spike function receives at each step (before the reset), time first.

        The membrane is read at the spike function (a recording wrapper around it), not
        from sinabs' ``recordings`` (ALIF's alias the next step's state) nor by calling the
        layer step by step (ALIF does not carry ``i_syn`` from call to call). A free
        recurrent layer's ``rec_connect`` adds nothing (the caller adds the actual
        spikes' recurrent input); otherwise sinabs adds ``rec_connect(s[t-1])`` itself.
        """
        steps, batch = current.shape[:2]
        layer = clone(self.neuron, free, batch)
        if is_recurrent(self.neuron) and not free:
            layer.rec_connect = self.neuron.rec_connect  # referenced, never changed
        recorder = None if layer.spike_fn is None else _Recorder(layer.spike_fn)
        if recorder is not None:
            layer.spike_fn = recorder
        x = current.transpose(0, 1).contiguous()
        if is_squeeze(self.neuron):
            out = layer(x.flatten(0, 1)).reshape(batch, steps, *x.shape[2:])
        else:
            out = layer(x)
        mem = out if recorder is None else torch.stack(recorder.mems, 1)
        return out.transpose(0, 1), mem.transpose(0, 1)

    def run_current(
        self, current: torch.Tensor, free: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            if self.is_readout:
                mem = self._run(current, free)[1]
                return torch.zeros_like(mem), mem
            spikes, mem = self._run(current, False)
            if not free:
                return spikes, mem
            if is_recurrent(self.neuron):
                # the recurrent input of the actual spikes, added to the current
                prev = shift_in_time(spikes)
                rec = self.neuron.rec_connect(prev.reshape(-1, *prev.shape[2:]))
                current = current + rec.reshape(current.shape)
            return spikes, self._run(current, True)[1]
