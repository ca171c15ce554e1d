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

Other Norse neuron models (docs/science.md, 'Other neuron models: what sigma_U means'),
each run through Norse's own step with its threshold parameter at ``1e30``:

* **refractory** (``LIFRefrac*``, ``LIFAdExRefrac*``): a spike starts a countdown
  ``rho`` during which ``v`` is held; with the threshold off no spike ever starts it,
  so the free membrane is the LIF one (its ``LIFParams`` are those of ``p.lif``);
* **exponential** (``LIFEx*``) and **adaptive exponential** (``LIFAdEx*``): Norse's
  spike-initiation term ``delta_T exp((v - v_th) / delta_T)`` is part of the spike
  mechanism; with ``v_th = 1e30`` it is 0, so the free membrane is the linear
  sub-threshold one (for AdEx with its sub-threshold adaptation current
  ``a' = a + dt tau_ada_inv (adaptation_current (v - v_leak) - a)``, which has no
  ``LIFParams`` form: measured alone); sigma_U is in units of ``v_th`` (``v_leak = 0``
  by default), as for LIF;
* **integrate-and-fire** (``IAF``, ``IAFCell``: ``v' = v + x``): no leak, so sigma_U
  is the std of the per-step input (as SpikingJelly's ``IFNode``);
* ``LIBoxCell``: a leaky integrator with no synaptic current, a readout.

Refused with a reason (:func:`refusal`): ``CobaLIFCell`` (its step drops the input),
``Izhikevich*`` (the quadratic term diverges with the spike reset off), the
multi-compartment ``LIFMC*`` cells and ``LIFCorrelation`` (a plasticity wrapper).
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
    "LIBoxCell",
    "LIFRefracCell",
    "LIFRefracRecurrent",
    "LIFRefracRecurrentCell",
    "IAF",
    "IAFCell",
    "LIFEx",
    "LIFExCell",
    "LIFExRecurrent",
    "LIFExRecurrentCell",
    "LIFAdEx",
    "LIFAdExCell",
    "LIFAdExRecurrent",
    "LIFAdExRecurrentCell",
    "LIFAdExRefracCell",
    "LIFAdExRefracRecurrent",
    "LIFAdExRefracRecurrentCell",
)
#: parameter / state fields that nest the integrating neuron's (refractory variants)
NESTED = ("lif", "lif_adex")
READOUTS = ("LI", "LICell", "LILinearCell", "LIBoxCell")
#: the reason each refused class has no sigma_U spikeinit can set, and the way forward
REFUSED = {
    "CobaLIFCell": (
        "Norse's coba_lif_step overwrites the input's conductance jump with the recurrent "
        "one (g_e = state.g_e + W_rec+ z, computed twice), so its input never reaches the "
        "membrane and no input weight changes sigma_U; keep its weights, or use LIFCell"
    ),
    "Izhikevich": (
        "the Izhikevich update's quadratic term 0.04 v^2 is the spike upswing itself: with "
        "the spike reset off the membrane runs to infinity once it passes the unstable "
        "fixed point, so there is no free membrane whose std could be set; set the input "
        "weights with a data-independent rule (kaiming_normal_) or keep them"
    ),
    "LIFMC": (
        "a multi-compartment neuron (its compartments couple through g_coupling): sigma_U "
        "of which compartment is not defined; keep its weights or use a data-independent "
        "rule"
    ),
    "LIFCorrelation": (
        "a LIF cell wrapped with correlation traces for plasticity (its input and output "
        "are (spikes, state) pairs of another layout): use LIFCell for the neuron"
    ),
    "CubaLIF": (
        "Norse's NIR-import CubaLIF (its r, v_leak, tau_syn, tau_mem are per-neuron NIR "
        "arrays, stepped by its own forward): convert the NIR graph to LIFBoxCell / LIFCell "
        "modules, or keep its weights"
    ),
}


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
    return is_neuron(module) and isinstance(
        module, tuple(getattr(_nt(), n) for n in READOUTS if hasattr(_nt(), n))
    )


def refusal(module: nn.Module) -> str | None:
    """Why a refused Norse class has no sigma_U spikeinit can set, and the way forward."""
    name = type(module).__name__
    for key, why in REFUSED.items():
        if name.startswith(key):
            return why
    return None


def is_leaky(module: nn.Module) -> bool:
    """False for Norse's integrate-and-fire ``IAF`` / ``IAFCell`` (``v' = v + x``)."""
    return not type(module).__name__.startswith("IAF")


def lif_part(p: Any) -> Any:
    """The integrating neuron's parameters (``p.lif`` of a refractory neuron, else ``p``)."""
    for name in NESTED:
        if hasattr(p, name):
            return lif_part(getattr(p, name))
    return p


def free_parameters(p: Any) -> Any:
    """``p`` with the threshold ``v_th`` at ``1e30`` (inside ``p.lif`` where nested)."""
    for name in NESTED:
        if hasattr(p, name):
            return p._replace(**{name: free_parameters(getattr(p, name))})
    if hasattr(p, "v_th"):
        return p._replace(v_th=torch.as_tensor(FREE_THRESHOLD))
    return p


def membrane(state: Any) -> torch.Tensor:
    """The membrane ``v`` of a Norse state (``state.lif.v`` where nested)."""
    for name in NESTED:
        if hasattr(state, name):
            return membrane(getattr(state, name))
    return state.v  # type: ignore[no-any-return]


def carries_state(module: nn.Module) -> bool:
    """Norse passes its state explicitly: a cell starts from rest unless given one."""
    return False


def reset(module: nn.Module) -> None:
    """Norse modules are stateless between calls (state is passed explicitly)."""


def params_of(neuron: Any, dt: float, notes: list[str]) -> LIFParams | None:
    name = type(neuron).__name__
    if not is_leaky(neuron):
        notes.append(
            f"Norse {name} has no leak (v' = v + x; its free membrane is a random walk): "
            "sigma_U is the std of its per-step input, in units of v_th"
        )
        return None
    if "Ex" in name:
        notes.append(
            f"Norse {name}: with the threshold off (v_th = 1e30) the exponential spike-"
            "initiation term delta_T exp((v - v_th)/delta_T) is 0, and sigma_U is the std of "
            "the sub-threshold membrane"
            + (" with its adaptation current" if "AdEx" in name else "")
            + " in units of v_th; no LIFParams form, the weights are set by measurement alone"
        )
        return None
    p = lif_part(neuron.p)
    if "Refrac" in name:
        notes.append(
            f"Norse {name}: with the threshold off no spike starts the refractory countdown, "
            "so the free membrane is the LIF one (LIFParams of p.lif)"
        )
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
    v_th = getattr(lif_part(neuron.p), "v_th", None)
    return 1.0 if v_th is None else float(torch.as_tensor(v_th).float().mean())


class NorseLayer(ForeignLayer):
    """A Norse neuron (or a Norse layer with its own input and recurrent weights)."""

    framework = "norse"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_readout = is_readout(self.neuron)
        self.leaky = is_leaky(self.neuron)

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
        return free_parameters(self.neuron.p) if free else self.neuron.p

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
                mem.append(
                    membrane(new_state) if free else membrane(act(current[t], state, p_free, dt)[1])
                )
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
                mem.append(membrane(new_state))
            else:
                p_free = self._params(True)
                mem.append(membrane(neuron.activation(x, state, w_in, w_r, p_free, neuron.dt)[1]))
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
