"""A fully connected layer that obeys Dale's law (stork's ``DalianLayer``).

The initialisation rule is in docs/science.md, section "Dale's law".

**Populations.** ``n_exc`` excitatory (E) and ``n_inh`` inhibitory (I) LIF
neurons (default ``n_inh = n_exc // ei_ratio``, ``ei_ratio = 4``). Every neuron
has two synaptic currents: an excitatory one with time constant ``tau_exc``
(fed by the input and by E neurons) and an inhibitory one with ``tau_inh``
(fed by I neurons). Inhibition is *subtracted* in the membrane::

    Ie[t] = exp(-dt/tau_exc) Ie[t-1] + x_exc[t]
    Ii[t] = exp(-dt/tau_inh) Ii[t-1] + x_inh[t]
    U[t]  = beta_m V[t-1] + (1 - beta_m) (Ie[t] - Ii[t])

in the reference order; ``params.convention`` selects snnTorch's or stork's order
instead (stork's ``ExcInhLIFGroup`` for ``"stork"``; docs/science.md, section
'Neuron conventions').

**Connections** (all weights non-negative; names as in stork)::

    x -> E  w_xe   "exc"   feed-forward        x -> I  w_xi   "exc"   feed-forward
    I -> E  w_ie   "inh"   always               I -> I  w_ii   "inh"   always
    E -> E  w_ee   "exc"   recurrent=True       E -> I  w_ei   "exc"   recurrent=True

Connections within the layer carry the spikes of step ``t-1``. stork keeps the
I->E and I->I connections even without recurrent excitation; so does this layer.

**Output.** The layer's output is the E population's spikes only,
``[T, B, in_features] -> [T, B, n_exc]`` (stork: ``output_group = nodes_exc``);
the I population is internal. :meth:`simulate` likewise returns the E spikes
and E membrane; :meth:`simulate_populations` returns both populations.

**Non-negativity.** Each stored weight ``v`` acts as ``relu(v)`` in the forward
pass, with a straight-through gradient (the gradient of ``v`` is that of the
effective weight, also where ``v < 0``). Weights can therefore never act
negatively and a weight pushed below zero can come back, as with stork's
projection (``MinMaxConstraint(min=0)`` after each step). Nothing needs to be
called by the trainer; :meth:`constrain_` clamps the stored values to ``>= 0``
for those who want stork's projected gradient exactly (call it after each
optimiser step).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._kernels.rule import RESET_DEFERRED, apply_reset, lif_step
from .._validate import positive_int
from ..neuron import check_finite_current, free_membrane
from ..params import LIFParams
from ..surrogate import Surrogate, spike
from .base import SpikingLayer, WeightGroup, check_sequence_input
from .layers import _default_uniform_


class _ReluSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, w: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return w.clamp(min=0.0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad


def nonneg(w: torch.Tensor) -> torch.Tensor:
    """``relu(w)`` with a straight-through gradient (the Dale layer's constraint)."""
    return _ReluSTE.apply(w)  # type: ignore[no-any-return]


class DaleLinear(SpikingLayer):
    """Dale's-law layer: E and I populations, output = E spikes (see module docstring).

    Args:
        in_features: input size (excitatory afferents).
        n_exc: number of E neurons (the output size).
        n_inh: number of I neurons; default ``n_exc // ei_ratio``.
        params: LIF parameters (``tau_mem``, ``threshold``, ``reset``, ``dt``); their
            ``tau_syn`` is replaced by ``tau_exc`` / ``tau_inh``.
        tau_exc, tau_inh: synaptic time constants (s) of the E and I currents.
        recurrent: add E->E and E->I recurrent excitation.
    """

    def __init__(
        self,
        in_features: int,
        n_exc: int,
        n_inh: int | None = None,
        params: LIFParams | None = None,
        *,
        ei_ratio: float = 4.0,
        tau_exc: float = 10e-3,
        tau_inh: float = 20e-3,
        recurrent: bool = True,
        surrogate: str | Surrogate = "superspike",
        surrogate_scale: float | None = None,
        detach_reset: bool = True,
    ) -> None:
        super().__init__(params, surrogate, surrogate_scale, detach_reset)
        positive_int("in_features", in_features)
        positive_int("n_exc", n_exc)
        if not ei_ratio > 0:
            raise ValueError(f"ei_ratio must be > 0, got {ei_ratio!r}")
        if n_inh is None:
            n_inh = max(1, int(n_exc / ei_ratio))
        positive_int("n_inh", n_inh)
        self.in_features, self.n_exc, self.n_inh = in_features, n_exc, n_inh
        self.params_exc = self.params.replace(tau_syn=tau_exc)
        self.params_inh = self.params.replace(tau_syn=tau_inh)
        self.params = self.params_exc  # the protocol's params: the E synapse
        self.tau_exc, self.tau_inh = tau_exc, tau_inh
        self.recurrent = recurrent
        self.w_xe = nn.Parameter(torch.empty(n_exc, in_features))
        self.w_xi = nn.Parameter(torch.empty(n_inh, in_features))
        self.w_ie = nn.Parameter(torch.empty(n_exc, n_inh))
        self.w_ii = nn.Parameter(torch.empty(n_inh, n_inh))
        self.w_ee = nn.Parameter(torch.empty(n_exc, n_exc)) if recurrent else None
        self.w_ei = nn.Parameter(torch.empty(n_inh, n_exc)) if recurrent else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Non-negative uniform ``U(0, 1/sqrt(fan_in))`` (the real init is si.initialize)."""
        for g in self.weight_groups():
            _default_uniform_(g.weight, g.weight.shape[1])
            with torch.no_grad():
                g.weight.abs_()

    @torch.no_grad()
    def constrain_(self) -> None:
        """Clamp the stored weights to ``>= 0`` (stork's projection; optional)."""
        for g in self.weight_groups():
            g.weight.clamp_(min=0.0)

    # -- protocol --------------------------------------------------------------------
    @property
    def fan_in(self) -> int:
        return self.in_features

    def weight_groups(self) -> list[WeightGroup]:
        groups = [
            WeightGroup("w_xe", self.w_xe, "exc"),
            WeightGroup("w_xi", self.w_xi, "exc"),
            WeightGroup("w_ie", self.w_ie, "inh"),
            WeightGroup("w_ii", self.w_ii, "inh"),
        ]
        if self.w_ee is not None and self.w_ei is not None:
            groups += [WeightGroup("w_ee", self.w_ee, "exc"), WeightGroup("w_ei", self.w_ei, "exc")]
        return groups

    def input_current(self, x: torch.Tensor) -> torch.Tensor:
        """Feed-forward excitatory current to E and I, concatenated: ``[T, B, n_exc + n_inh]``."""
        x = check_sequence_input(x, 3, type(self).__name__, (self.in_features,), self.w_xe.dtype)
        w = torch.cat([nonneg(self.w_xe), nonneg(self.w_xi)])
        steps, batch = x.shape[:2]
        return (x.reshape(steps * batch, -1) @ w.t()).reshape(steps, batch, -1)

    def _rec_matrices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(R_exc, R_inh)``, each ``[N, N]`` over the concatenated population (E first)."""
        ne, ni = self.n_exc, self.n_inh
        ref = self.w_ie
        zeros_ee = ref.new_zeros(ne, ne)
        zeros_ei = ref.new_zeros(ni, ne)
        w_ee = nonneg(self.w_ee) if self.w_ee is not None else zeros_ee
        w_ei = nonneg(self.w_ei) if self.w_ei is not None else zeros_ei
        r_exc = torch.cat(
            [
                torch.cat([w_ee, ref.new_zeros(ne, ni)], 1),
                torch.cat([w_ei, ref.new_zeros(ni, ni)], 1),
            ]
        )
        r_inh = torch.cat(
            [
                torch.cat([zeros_ee, nonneg(self.w_ie)], 1),
                torch.cat([zeros_ei, nonneg(self.w_ii)], 1),
            ]
        )
        return r_exc, r_inh

    def _loop(self, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both populations over time: ``(spikes, U)``, each ``[T, B, n_exc + n_inh]``."""
        check_finite_current(current)
        r_exc, r_inh = self._rec_matrices()
        r_both = torch.cat([r_exc, r_inh])  # [2N, N]
        if not bool(torch.isfinite(r_both).all()):
            raise ValueError("the recurrent weight contains NaN or inf")
        n = self.n_exc + self.n_inh
        be, bi = self.params_exc.beta_syn, self.params_inh.beta_syn
        bm, g, th = self.params.beta_mem, self.params.gain, self.params.threshold
        step = lif_step(self.params)  # the generic step (spikeinit._kernels.rule)
        ie = torch.zeros_like(current[0])
        ii = torch.zeros_like(current[0])
        v = torch.zeros_like(current[0])
        s_prev: torch.Tensor | None = None
        spikes: list[torch.Tensor] = []
        mems: list[torch.Tensor] = []
        for t in range(current.shape[0]):
            if step.spike_first:  # stork's ExcInhLIFGroup: input one step late
                s = spike(v - th, self.surrogate)
                s_r = s.detach() if self.detach_reset else s
                u = apply_reset(v * bm + (ie - ii) * g, s_r, step)
                if s_prev is not None:
                    rec = s_prev @ r_both.t()
                    ie = ie * be + (current[t - 1] + rec[:, :n])
                    ii = ii * bi + rec[:, n:]
                else:
                    ie, ii = ie * be, ii * bi
                v = u
            else:
                if s_prev is None:
                    ie = current[t]
                else:
                    rec = s_prev @ r_both.t()
                    ie = ie * be + current[t] + rec[:, :n]
                    ii = ii * bi + rec[:, n:]
                u = v * bm + (ie - ii) * g
                if step.reset == RESET_DEFERRED and s_prev is not None:
                    u = u - th * (s_prev.detach() if self.detach_reset else s_prev)
                s = spike(u - th, self.surrogate)
                s_r = s.detach() if self.detach_reset else s
                v = u if step.reset == RESET_DEFERRED else apply_reset(u, s_r, step)
            spikes.append(s)
            mems.append(u)
            s_prev = s
        return torch.stack(spikes), torch.stack(mems)

    def simulate_populations(
        self, x: torch.Tensor, free: bool = False
    ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """``{"exc": (spikes, U), "inh": (spikes, U)}``; ``free=True`` gives the free
        membranes (recurrent input from the actual spikes, threshold and reset off)."""
        current = self.input_current(x)
        spikes, mem = self._loop(current)
        if free:
            mem = self._free_membrane(current, spikes)
        ne = self.n_exc
        return {"exc": (spikes[..., :ne], mem[..., :ne]), "inh": (spikes[..., ne:], mem[..., ne:])}

    def _free_membrane(self, current: torch.Tensor, spikes: torch.Tensor) -> torch.Tensor:
        r_exc, r_inh = self._rec_matrices()
        u_exc = free_membrane(current, self.params_exc, spikes, lambda s: s @ r_exc.t())
        u_inh = free_membrane(
            torch.zeros_like(current), self.params_inh, spikes, lambda s: s @ r_inh.t()
        )
        return u_exc - u_inh

    def run_current(
        self, current: torch.Tensor, free: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """E population ``(spikes, U)`` for the concatenated feed-forward ``current``."""
        spikes, mem = self._loop(current)
        if free:
            mem = self._free_membrane(current, spikes)
        return spikes[..., : self.n_exc], mem[..., : self.n_exc]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run_current(self.input_current(x))[0]

    def extra_repr(self) -> str:
        return (
            f"{self.in_features}, n_exc={self.n_exc}, n_inh={self.n_inh}, "
            f"tau_exc={self.tau_exc}, tau_inh={self.tau_inh}, recurrent={self.recurrent}"
        )
