"""Norse neurons: ``LIF``, ``LIFCell``, ``LIFRecurrent``, ``LIFRecurrentCell``, ``LI``, ``LICell``.

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
without threshold (a readout). The recurrent variants add ``W_rec z[t-1]`` to
``x[t]`` and carry their own input weights (``input_weights``, tagged ``"ff"``,
and ``recurrent_weights``, tagged ``"rec"``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..params import LIFParams
from .base import FREE_THRESHOLD, ForeignLayer, scalar

try:
    import norse.torch as _norse
    from norse.torch.functional.lif import LIFFeedForwardState, lif_feed_forward_step
    from norse.torch.module.snn import SNN, SNNCell, SNNRecurrent, SNNRecurrentCell
except ImportError:  # pragma: no cover - optional dependency
    _norse = None

SUPPORTED = ("LIF", "LIFCell", "LIFRecurrent", "LIFRecurrentCell", "LI", "LICell")


def available() -> bool:
    return _norse is not None


def is_neuron(module: nn.Module) -> bool:
    return _norse is not None and isinstance(module, (SNN, SNNCell, SNNRecurrent, SNNRecurrentCell))


def is_supported(module: nn.Module) -> bool:
    return _norse is not None and type(module) in tuple(getattr(_norse, n) for n in SUPPORTED)


def has_own_input_weights(module: nn.Module) -> bool:
    return _norse is not None and isinstance(module, (SNNRecurrent, SNNRecurrentCell))


def is_readout(module: nn.Module) -> bool:
    return _norse is not None and isinstance(module, (_norse.LI, _norse.LICell))


def reset(module: nn.Module) -> None:
    """Norse modules are stateless between calls (state is passed explicitly)."""


def params_of(neuron: Any, dt: float, notes: list[str]) -> LIFParams:
    p = neuron.p
    dt = float(neuron.dt)
    tm = scalar(p.tau_mem_inv, "norse tau_mem_inv", notes)
    ts = scalar(p.tau_syn_inv, "norse tau_syn_inv", notes)
    if scalar(p.v_leak, "norse v_leak", notes) != 0.0:
        notes.append("v_leak != 0: it shifts the membrane mean (the free sigma_U is unchanged)")
    if is_readout(neuron):
        return LIFParams.from_norse(dt, tm, ts, 1.0).replace(reset="none")
    v_th = scalar(p.v_th, "norse v_th", notes)
    if scalar(p.v_reset, "norse v_reset", notes) != 0.0:
        notes.append("v_reset != 0: Norse resets to v_reset; LIFParams reset='zero' resets to 0")
    return LIFParams.from_norse(dt, tm, ts, v_th)


class NorseLayer(ForeignLayer):
    """A weight module feeding a Norse neuron (or a Norse recurrent layer with its own weights)."""

    framework = "norse"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_readout = is_readout(self.neuron)

    def ff_weight(self) -> torch.Tensor:
        if has_own_input_weights(self.neuron):
            w = self.neuron.input_weights
            assert isinstance(w, torch.Tensor)
            return w
        return super().ff_weight()

    def rec_weight(self) -> torch.Tensor | None:
        if has_own_input_weights(self.neuron):
            w = self.neuron.recurrent_weights
            assert isinstance(w, torch.Tensor)
            return w
        return None

    def input_current(self, x: torch.Tensor) -> torch.Tensor:
        if has_own_input_weights(self.neuron):
            return F.linear(x, self.ff_weight())
        return super().input_current(x)

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
        state = neuron.initial_state(current if isinstance(neuron, SNN) else current[0])
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
        """Norse's feed-forward step with ``W_rec z[t-1]`` added to the input (as ``lif_step``)."""
        p, p_free = self._params(free), self._params(True)
        w_rec = self.neuron.recurrent_weights
        v0 = torch.full_like(current[0], float(torch.as_tensor(p.v_leak).mean()))
        state = LIFFeedForwardState(v=v0, i=torch.zeros_like(current[0]))
        z = torch.zeros_like(current[0])
        spikes, mem = [], []
        for t in range(current.shape[0]):
            prev = z if rec_spikes is None else rec_spikes[t - 1] if t > 0 else torch.zeros_like(z)
            x = current[t] + F.linear(prev, w_rec)
            z, new_state = lif_feed_forward_step(x, state, p, self.neuron.dt)
            mem.append(
                new_state.v
                if free
                else lif_feed_forward_step(x, state, p_free, self.neuron.dt)[1].v
            )
            spikes.append(z)
            state = new_state
        return torch.stack(spikes), torch.stack(mem)

    def run_current(
        self, current: torch.Tensor, free: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if has_own_input_weights(self.neuron):
            spikes, mem = self._run_recurrent(current, False, None)
            if free:
                mem = self._run_recurrent(current, True, spikes)[1]
            return spikes, mem
        spikes, mem = self._run_ff(current, False)
        if free:
            mem = self._run_ff(current, True)[1]
        return spikes, mem
