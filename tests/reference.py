"""Plain step-by-step autograd reference of the LIF update.

The update is the one of docs/science.md, section 'The reference neuron'.

Kept deliberately naive: one Python step per time step, autograd does the rest.
The fused kernel in ``spikeinit.neuron`` is tested against it.
"""

from __future__ import annotations

import torch

from spikeinit.params import LIFParams
from spikeinit.surrogate import Surrogate, spike


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


def lif_loop(
    current: torch.Tensor,
    params: LIFParams,
    recurrent: torch.nn.Module | None,
    surrogate: Surrogate | str = "superspike",
    detach_reset: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pure-torch LIF loop over ``current [T, B, ...]`` with ``recurrent(S[t-1])`` added
    to the input at step ``t`` (any shape-preserving module, e.g. the same-padded
    recurrent convolution of ``RecurrentSpikingConv1d/2d``). Returns ``(spikes, U)``.
    Differentiable by autograd (surrogate gradient on ``U - theta``); every per-step
    tensor is kept in the graph, so it is slow and memory-hungry: a test reference."""
    bs, bm, g, th = params.beta_syn, params.beta_mem, params.gain, params.threshold
    i_state = torch.zeros_like(current[0])
    v_state = torch.zeros_like(current[0])
    s_prev: torch.Tensor | None = None
    spikes: list[torch.Tensor] = []
    mems: list[torch.Tensor] = []
    for t in range(current.shape[0]):
        inp = current[t]
        if recurrent is not None and s_prev is not None:
            inp = inp + recurrent(s_prev)
        i_state = inp if bs == 0.0 else i_state * bs + inp
        u = v_state * bm + i_state * g
        s = spike(u - th, surrogate)
        s_r = s.detach() if detach_reset else s
        if params.reset == "zero":
            v_state = u * (1.0 - s_r)
        elif params.reset == "subtract":
            v_state = u - th * s_r
        else:
            v_state = u
        spikes.append(s)
        mems.append(u)
        s_prev = s
    return torch.stack(spikes), torch.stack(mems)
