"""Norse neurons: LIF, LSNN, LIFBox and LI, as modules over time, cells and recurrent layers.

Norse's step (``lif_feed_forward_step``; ``dt`` and ``tau_*_inv`` in seconds)::

    i' = i + x[t]                                   (input jumps into the current)
    v' = v + dt tau_mem_inv ((v_leak - v) + i')     (forward Euler)
    i  = (1 - dt tau_syn_inv) i'
    z  = H(v' - v_th);   v = (1 - z) v' + z v_reset

This is the reference update with ``beta_s = 1 - dt tau_syn_inv``,
``beta_m = 1 - dt tau_mem_inv`` and input gain ``dt tau_mem_inv``
(:meth:`LIFParams.from_norse`), so the PSP kernel is Norse's exactly. ``v_leak``
(the resting potential, and the initial state) only shifts the mean; a
``v_reset`` other than 0 is a reset to that value (noted). ``LI`` is the same
without threshold (a readout); ``LILinearCell`` is an ``LICell`` with its own
input weights. ``LIFBoxCell`` has no synaptic current (a delta synapse:
``v' = v + dt tau_mem_inv (v_leak - v + x)``). ``LSNN`` adds an adaptive
threshold ``v_th + beta b`` (``b`` jumps with each spike and decays with
``tau_adapt``): spikeinit initialises for the baseline threshold ``v_th``
(the free membrane, with no spikes, never adapts) and notes it. The recurrent
variants add ``W_rec z[t-1]`` to ``W_in x[t]`` and carry their own input
weights (``input_weights``, tagged ``"ff"``, and ``recurrent_weights``, tagged
``"rec"``); their free membrane is Norse's own step with the actual spikes'
recurrent input appended to the input (``[x, z[t-1]]`` through ``[W_in, W_rec]``).
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..nn.base import WeightGroup
from ..params import LIFParams
from .base import FREE_THRESHOLD, ForeignLayer, from_library, lazy_import, scalar

SUPPORTED = (
    "LIF",
    "LIFCell",
    "LIFRecurrent",
    "LIFRecurrentCell",
    "LSNN",
    "LSNNCell",
    "LSNNRecurrent",
    "LSNNRecurrentCell",
    "LIFBoxCell",
    "LI",
    "LICell",
    "LILinearCell",
)


def _nt() -> Any:
    return lazy_import("norse.torch")


def _snn_classes() -> Any:
    return lazy_import("norse.torch.module.snn")


def _li() -> Any:
    return lazy_import("norse.torch.functional.leaky_integrator")


def available() -> bool:
    return _nt() is not None


#: Norse neuron classes outside the ``SNN*`` bases (``CobaLIFCell``, ``LIFCorrelation``,
#: ``CubaLIF`` of its NIR import), by name; encoders and decoders are not neurons
NEURON_NAME = re.compile(r"LIF|^LI|IAF|Izhikevich|LSNN|AdEx")


def is_neuron(module: nn.Module) -> bool:
    """Any Norse neuron (supported or not)."""
    if not from_library(module, "norse") or _nt() is None:
        return False
    m = _snn_classes()
    if isinstance(module, (m.SNN, m.SNNCell, m.SNNRecurrent, m.SNNRecurrentCell)) or isinstance(
        module, _nt().LILinearCell
    ):
        return True
    name = type(module).__name__
    return bool(NEURON_NAME.search(name)) and not name.endswith(("Encoder", "Decoder"))


def is_supported(module: nn.Module) -> bool:
    return is_neuron(module) and type(module) in tuple(
        getattr(_nt(), n) for n in SUPPORTED if hasattr(_nt(), n)
    )


def is_step(module: nn.Module) -> bool:
    """Cells advance one step per call; ``LIF``, ``LI``, ... take the whole sequence."""
    m = _snn_classes()
    return is_neuron(module) and isinstance(
        module, (m.SNNCell, m.SNNRecurrentCell, _nt().LILinearCell)
    )


def has_own_input_weights(module: nn.Module) -> bool:
    m = _snn_classes()
    return is_neuron(module) and isinstance(
        module, (m.SNNRecurrent, m.SNNRecurrentCell, _nt().LILinearCell)
    )


def is_readout(module: nn.Module) -> bool:
    return is_neuron(module) and isinstance(module, (_nt().LI, _nt().LICell, _nt().LILinearCell))


def carries_state(module: nn.Module) -> bool:
    """Norse passes its state explicitly: a cell starts from rest unless given one."""
    return False


def reset(module: nn.Module) -> None:
    """Norse modules are stateless between calls (state is passed explicitly)."""


def params_of(neuron: Any, dt: float, notes: list[str]) -> LIFParams:
    p = neuron.p
    dt = float(neuron.dt)
    tm = scalar(p.tau_mem_inv, "norse tau_mem_inv", notes)
    ts = scalar(p.tau_syn_inv, "norse tau_syn_inv", notes) if hasattr(p, "tau_syn_inv") else None
    if hasattr(p, "tau_adapt_inv"):
        notes.append(
            "LSNN: adaptive threshold v_th + beta b; initialised for the baseline threshold "
            "v_th (the free membrane has no spikes, so no adaptation)"
        )
    if scalar(p.v_leak, "norse v_leak", notes) != 0.0:
        notes.append("v_leak != 0: it shifts the membrane mean (the free sigma_U is unchanged)")
    if is_readout(neuron):
        return LIFParams.from_norse(dt, tm, ts, 1.0).replace(reset="none")
    v_th = scalar(p.v_th, "norse v_th", notes)
    if scalar(p.v_reset, "norse v_reset", notes) != 0.0:
        notes.append("v_reset != 0: Norse resets to v_reset; LIFParams reset='zero' resets to 0")
    return LIFParams.from_norse(dt, tm, ts, v_th)


def threshold_of(neuron: Any) -> float:
    v_th = getattr(neuron.p, "v_th", None)
    return 1.0 if v_th is None else float(torch.as_tensor(v_th).float().mean())


class NorseLayer(ForeignLayer):
    """A Norse neuron (or a Norse layer with its own input and recurrent weights)."""

    framework = "norse"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_readout = is_readout(self.neuron)

    def own_weight_groups(self) -> list[WeightGroup]:
        if not has_own_input_weights(self.neuron):
            return []
        groups = [WeightGroup(f"{self.layer_name}.input_weights", self.neuron.input_weights, "ff")]
        rec = getattr(self.neuron, "recurrent_weights", None)
        if isinstance(rec, torch.Tensor):
            groups.append(WeightGroup(f"{self.layer_name}.recurrent_weights", rec, "rec"))
        return groups

    def input_current(self, x: torch.Tensor) -> torch.Tensor:
        if has_own_input_weights(self.neuron):
            return F.linear(x, self.neuron.input_weights)
        return x

    def _params(self, free: bool) -> Any:
        p = self.neuron.p
        if free and hasattr(p, "v_th"):
            return p._replace(v_th=torch.as_tensor(FREE_THRESHOLD))
        return p

    def _run_ff(self, current: torch.Tensor, free: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Norse's own step function, from Norse's own initial state."""
        neuron, dt = self.neuron, self.neuron.dt
        act = neuron.activation
        p, p_free = self._params(free), self._params(True)
        seq = isinstance(neuron, _snn_classes().SNN)
        state = neuron.initial_state(current if seq else current[0])
        spikes, mem = [], []
        for t in range(current.shape[0]):
            out, new_state = act(current[t], state, p, dt)
            if self.is_readout:
                spikes.append(torch.zeros_like(out))
                mem.append(out)
            else:
                spikes.append(out)
                # the membrane before the reset: the same step without threshold
                mem.append(new_state.v if free else act(current[t], state, p_free, dt)[1].v)
            state = new_state
        return torch.stack(spikes), torch.stack(mem)

    def _run_recurrent(
        self, current: torch.Tensor, free: bool, rec_spikes: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Norse's own recurrent step, fed ``current = W_in x`` through an identity input.

        With ``rec_spikes`` the recurrent input is taken from those spikes (appended
        to the input through ``W_rec``) and the module's own recurrent weights are
        zero: the free membrane with the actual spikes' recurrent input.
        """
        neuron = self.neuron
        if isinstance(neuron, _nt().LILinearCell):
            return self._run_li(current)
        p = self._params(free)
        w_rec = neuron.recurrent_weights
        n = current.shape[-1]
        eye = torch.eye(n, dtype=current.dtype, device=current.device)
        if rec_spikes is None:
            w_in, w_r = eye, w_rec
        else:
            w_in, w_r = torch.cat([eye, w_rec], dim=1), torch.zeros_like(w_rec)
        state = neuron.initial_state(
            current[0] if isinstance(neuron, _snn_classes().SNNRecurrentCell) else current
        )
        spikes, mem = [], []
        for t in range(current.shape[0]):
            x = current[t]
            if rec_spikes is not None:
                prev = rec_spikes[t - 1] if t > 0 else torch.zeros_like(rec_spikes[0])
                x = torch.cat([x, prev], dim=-1)
            z, new_state = neuron.activation(x, state, w_in, w_r, p, neuron.dt)
            if free:
                mem.append(new_state.v)
            else:
                p_free = self._params(True)
                mem.append(neuron.activation(x, state, w_in, w_r, p_free, neuron.dt)[1].v)
            spikes.append(z)
            state = new_state
        return torch.stack(spikes), torch.stack(mem)

    def _run_li(self, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``LILinearCell``: a leaky integrator of ``W_in x`` (no spikes)."""
        neuron = self.neuron
        v = torch.as_tensor(neuron.p.v_leak, dtype=current.dtype).expand_as(current[0]).clone()
        state = _li().LIState(v=v, i=torch.zeros_like(current[0]))
        mem = []
        for t in range(current.shape[0]):
            out, state = _li().li_feed_forward_step(current[t], state, neuron.p, neuron.dt)
            mem.append(out)
        stacked = torch.stack(mem)
        return torch.zeros_like(stacked), stacked

    def run_current(
        self, current: torch.Tensor, free: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if has_own_input_weights(self.neuron):
            spikes, mem = self._run_recurrent(current, False, None)
            if free and not self.is_readout:
                mem = self._run_recurrent(current, True, spikes)[1]
            return spikes, mem
        spikes, mem = self._run_ff(current, False)
        if free:
            mem = self._run_ff(current, True)[1]
        return spikes, mem
