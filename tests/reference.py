"""Plain step-by-step autograd reference of the LIF update (SCIENCE.md section 1).

Kept deliberately naive: one Python step per time step, autograd does the rest.
The fused kernel in ``spikeinit.neuron`` is tested against it.
"""

from __future__ import annotations

import torch

from spikeinit.params import LIFParams
from spikeinit.surrogate import spike


def lif_reference(
    x: torch.Tensor,
    params: LIFParams,
    surrogate: str = "superspike",
    detach_reset: bool = True,
    w_rec: torch.Tensor | None = None,
    i0: torch.Tensor | None = None,
    v0: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    import math

    beta_m = math.exp(-params.dt / params.tau_mem)
    delta = params.tau_syn is None
    beta_s = 0.0 if delta else math.exp(-params.dt / params.tau_syn)
    if params.input_scale is not None:
        gain = params.input_scale
    else:
        gain = 1.0 if delta else 1.0 - beta_m
    i = torch.zeros_like(x[0]) if i0 is None else i0
    v = torch.zeros_like(x[0]) if v0 is None else v0
    s_prev = torch.zeros_like(x[0])
    spikes, mems = [], []
    for t in range(x.shape[0]):
        inp = x[t]
        if w_rec is not None:
            inp = inp + s_prev @ w_rec.T
        i = inp if delta else beta_s * i + inp
        u = beta_m * v + gain * i
        s = spike(u - params.threshold, surrogate)
        s_reset = s.detach() if detach_reset else s
        if params.reset == "zero":
            v = u * (1 - s_reset)
        elif params.reset == "subtract":
            v = u - params.threshold * s_reset
        else:
            v = u
        spikes.append(s)
        mems.append(u)
        s_prev = s
    return torch.stack(spikes), torch.stack(mems)
