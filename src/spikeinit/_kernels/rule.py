"""The LIF step, written once: one table of coefficients and codes for every backend.

Every kernel backend (the pure-torch loop in :mod:`spikeinit.neuron`, numba in
:mod:`spikeinit._kernels.lif_numba`, Triton in :mod:`spikeinit._kernels.lif_triton`)
reads a :class:`LIFStep` made by :func:`lif_step` from :class:`~spikeinit.LIFParams`
and runs the same generic step (docs/science.md, sections 'The reference neuron'
and 'Neuron conventions'). With ``v`` the stored membrane, ``i`` the synaptic
current and ``s_prev`` the previous spike, one step on input ``inp`` is::

    order 0 (spikeinit, snntorch)          order 1 (stork)
      i  = beta_s i + inp                    s  = H(v - theta)
      u  = beta_m v + g i                    u  = R(beta_m v + g i, s)
      u -= theta s_prev    (reset code 3)    i  = beta_s i + inp
      s  = H(u - theta)                      v  = u
      v  = R(u, s)         (codes 0-2)
      v  = u               (code 3)

with the reset ``R(u, s)``: code 0 ``u (1 - s)``, 1 ``u - theta s``, 2 ``u``; code
3 is snnTorch's subtract reset, applied after the next decay. ``beta_s = 0`` (a
delta synapse) gives ``i = inp``. Stork's input is one step late:
``inp[t] = x[t-1] + R S[t-1]``; the other orders use ``inp[t] = x[t] + R S[t-1]``.
Each step writes ``S[t] = s`` and ``U[t] = u`` (stork: the membrane after the reset,
as stork stores it).

The backward pass is the adjoint of that step (:func:`spikeinit.neuron._backward_torch`
documents it); ``reset_grad`` is the factor of ``-dL/dU[t+1]``'s carry ``c_v`` in
``dL/dS[t]`` for a subtract reset that is not detached (``theta`` for code 1,
``theta / beta_m`` for code 3, whose reset skips the decay).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..params import LIFParams
from ..surrogate import SURROGATE_TABLE

#: formula codes the compiled kernels (numba and Triton) branch on, from the one table
SURROGATE_CODES: dict[str, int] = {name: spec.code for name, spec in SURROGATE_TABLE.items()}
#: reset codes of the generic step (see the module docstring)
RESET_CODES: dict[str, int] = {"zero": 0, "subtract": 1, "none": 2}
RESET_DEFERRED = 3  # snnTorch's subtract reset: theta S[t-1] subtracted after the decay
ORDER_UPDATE_FIRST = 0
ORDER_SPIKE_FIRST = 1


@dataclass(frozen=True)
class LIFStep:
    """The coefficients and codes of one neuron's step (module docstring)."""

    beta_syn: float
    beta_mem: float
    gain: float
    threshold: float
    reset: int
    order: int
    reset_grad: float

    @property
    def delta(self) -> bool:
        """A delta synapse: ``i = inp`` (no synaptic state)."""
        return self.beta_syn == 0.0

    @property
    def spike_first(self) -> bool:
        return self.order == ORDER_SPIKE_FIRST


def lif_step(params: LIFParams) -> LIFStep:
    """The :class:`LIFStep` of ``params`` (its ``reset`` and ``convention``)."""
    reset = RESET_CODES[params.reset]
    if params.convention == "snntorch" and params.reset == "subtract":
        reset = RESET_DEFERRED
    order = ORDER_SPIKE_FIRST if params.convention == "stork" else ORDER_UPDATE_FIRST
    th, bm = params.threshold, params.beta_mem
    return LIFStep(
        beta_syn=params.beta_syn,
        beta_mem=bm,
        gain=params.gain,
        threshold=th,
        reset=reset,
        order=order,
        reset_grad=th / bm if reset == RESET_DEFERRED else th,
    )


def apply_reset(b: torch.Tensor, s: torch.Tensor, step: LIFStep) -> torch.Tensor:
    """``R(b, s)`` (codes 0-2; code 3 leaves ``b``), for the torch loop and the
    autograd loops (``nn.dale``); the compiled kernels write the same three cases."""
    if step.reset == 0:
        return b * (1.0 - s)
    if step.reset == 1:
        return b - step.threshold * s
    return b


#: the names before issue 26 ("rule" now means an initialisation rule only)
StepRule = LIFStep
step_rule = lif_step
