"""The fused feed-forward SpikingLinear (spikeinit._kernels.linear_lif_numba).

Forward: equal, spike for spike and bit for bit in U, to the unfused path (the
event-driven product, then the LIF kernel), and to a naive step-by-step loop
of docs/science.md ('The reference neuron') in float32. Backward: autograd
through the naive loop with the same surrogate (reset detached or not).
"""

from __future__ import annotations

import pytest
import torch

import spikeinit as si
from spikeinit._kernels import linear_lif_backend
from spikeinit.neuron import NonFiniteCurrentError
from spikeinit.nn.base import SpikingLayer

pytestmark = pytest.mark.skipif(linear_lif_backend() is None, reason="numba not installed")


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v, sg):  # type: ignore[no-untyped-def, override]
        ctx.save_for_backward(v)
        ctx.sg = sg
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, g):  # type: ignore[no-untyped-def, override]
        (v,) = ctx.saved_tensors
        return g * ctx.sg.grad(v), None


def naive_layer(layer: si.nn.SpikingLinear, x: torch.Tensor) -> torch.Tensor:
    """I = beta_s I + W x[t] + b; U = beta_m V + g I; S = H(U - theta); V = reset(U, S)."""
    p = layer.params
    bs, bm, g, th = p.beta_syn, p.beta_mem, p.gain, p.threshold
    i = torch.zeros(x.shape[1], layer.out_features)
    v = torch.zeros_like(i)
    out = []
    for t in range(x.shape[0]):
        cur = x[t] @ layer.weight.t()
        if layer.bias is not None:
            cur = cur + layer.bias
        i = cur if p.delta_synapse else i * bs + cur
        u = v * bm + i * g
        s = _Spike.apply(u - th, layer.surrogate)
        r = s.detach() if layer.detach_reset else s
        if p.reset == "zero":
            v = u * (1.0 - r)
        elif p.reset == "subtract":
            v = u - th * r
        else:
            v = u
        out.append(s)
    return torch.stack(out)


CASES = [
    # (K, N, bias, tau_syn, reset, surrogate, detach_reset)
    (20, 48, False, 10e-3, "zero", "superspike", True),
    (37, 21, True, 10e-3, "subtract", "atan", False),
    (16, 9, True, None, "none", "sigmoid", True),
    (64, 30, False, 5e-3, "zero", "triangle", False),
]


@pytest.mark.parametrize(("k", "n", "bias", "tau_syn", "reset", "sg", "detach"), CASES)
def test_fused_linear_lif_matches_unfused_and_naive(k, n, bias, tau_syn, reset, sg, detach):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    p = si.LIFParams(tau_mem=20e-3, tau_syn=tau_syn, dt=2e-3, reset=reset)
    layer = si.nn.SpikingLinear(k, n, params=p, bias=bias, surrogate=sg, detach_reset=detach)
    with torch.no_grad():
        layer.weight.mul_(8.0)  # enough drive for spikes and resets
        if bias:
            layer.bias.normal_(0.0, 0.1)
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(60, 7, k, generator=gen) < 0.05).float().requires_grad_()
    assert layer._fused_lif_consts(x) is not None  # the fused path runs
    out = layer(x)
    unfused = SpikingLayer.forward(layer, x)
    assert torch.equal(out, unfused)
    ref = naive_layer(layer, x)
    assert torch.equal(out, ref)
    assert 0 < float(out.detach().mean()) < 0.5

    gout = torch.randn(out.shape, generator=gen)
    params = [x, layer.weight] + ([layer.bias] if bias else [])
    got = torch.autograd.grad(out, params, gout)
    want = torch.autograd.grad(ref, params, gout)
    for a, e in zip(got, want, strict=True):
        scale = float(e.abs().max()) + 1e-12
        torch.testing.assert_close(a / scale, e / scale, rtol=0, atol=1e-5)


def test_fused_linear_lif_names_a_non_finite_input() -> None:
    layer = si.nn.SpikingLinear(16, 5, params=si.LIFParams(dt=2e-3))
    x = (torch.rand(10, 2, 16, generator=torch.Generator().manual_seed(3)) < 0.05).float()
    x[4, 0, 2] = float("inf")
    assert layer._fused_lif_consts(x) is not None
    with pytest.raises(NonFiniteCurrentError, match="first at time step 4"):
        layer(x)


def test_other_cases_keep_the_unfused_path() -> None:
    x = (torch.rand(10, 2, 16, generator=torch.Generator().manual_seed(4)) < 0.05).float()
    rec = si.nn.SpikingLinear(16, 5, recurrent=True)
    assert rec._fused_lif_consts(x) is None
    stork = si.nn.SpikingLinear(16, 5, params=si.LIFParams(convention="stork"))
    assert stork._fused_lif_consts(x) is None
    dense = si.nn.SpikingLinear(16, 5, sparse_input=False)
    assert dense._fused_lif_consts(x) is None
    prev = si.neuron.set_kernel_backend("torch")
    try:
        assert si.nn.SpikingLinear(16, 5)._fused_lif_consts(x) is None
    finally:
        si.neuron.set_kernel_backend(prev)
