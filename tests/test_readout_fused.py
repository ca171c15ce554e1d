"""The fused readout (spikeinit._kernels.readout_numba) against a naive float64 loop.

Forward: the leaky integrator of docs/science.md ('The reference neuron', no
threshold, no reset) written step by step in float64; the fused kernel must
agree to float32 rounding and equal the unfused path (event-driven product,
then the LIF kernel) bit for bit. Backward: autograd through the naive loop.
"""

from __future__ import annotations

import pytest
import torch

import spikeinit as si
from spikeinit._kernels import readout_backend
from spikeinit.neuron import NonFiniteCurrentError

pytestmark = pytest.mark.skipif(readout_backend() is None, reason="numba not installed")


def naive_readout(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, p: si.LIFParams
) -> torch.Tensor:
    """I[t] = beta_s I[t-1] + W x[t] + b; U[t] = beta_m U[t-1] + g I[t] (float64)."""
    x, w = x.double(), w.double()
    bs, bm = p.beta_syn, p.beta_mem
    g = p.gain
    i = torch.zeros(x.shape[1], w.shape[0], dtype=torch.float64)
    u = torch.zeros_like(i)
    out = []
    for t in range(x.shape[0]):
        cur = x[t] @ w.t() + (0.0 if b is None else b.double())
        i = bs * i + cur
        u = bm * u + g * i
        out.append(u)
    return torch.stack(out)


def _spikes(steps: int, batch: int, k: int, density: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, k, generator=g) < density).float()


CASES = [
    # (K, N, bias, tau_syn, T, B)
    (128, 10, False, 10e-3, 40, 9),
    (37, 5, True, 10e-3, 17, 3),  # K not a multiple of anything
    (16, 3, True, None, 12, 4),  # delta synapse
    (64, 2, False, 5e-3, 1, 1),  # one step, one sample
]


@pytest.mark.parametrize(("k", "n", "bias", "tau_syn", "steps", "batch"), CASES)
def test_fused_readout_matches_naive_and_unfused(k, n, bias, tau_syn, steps, batch):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    p = si.LIFParams(tau_mem=0.2, tau_syn=tau_syn, dt=2e-3)
    r = si.nn.Readout(k, n, params=p, bias=bias)
    if bias:
        torch.nn.init.normal_(r.bias)
    x = _spikes(steps, batch, k, 0.05, 1).requires_grad_()
    assert r._fused_consts(x) is not None  # the fused path runs
    out = r(x)
    unfused = r.run_current(r.input_current(x))[1]
    assert torch.equal(out, unfused)
    ref = naive_readout(x, r.weight, r.bias, p)
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)

    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
    params = [x, r.weight] + ([r.bias] if bias else [])
    got = torch.autograd.grad(out, params, g)
    want = torch.autograd.grad(ref, params, g.double())
    for a, e in zip(got, want, strict=True):
        scale = float(e.abs().max()) + 1e-12
        torch.testing.assert_close(a.double() / scale, e.double() / scale, rtol=0, atol=2e-6)


def test_fused_readout_input_without_grad_and_frozen_weight() -> None:
    p = si.LIFParams(tau_mem=0.2, tau_syn=10e-3, dt=2e-3)
    r = si.nn.Readout(24, 4, params=p)
    x = _spikes(20, 5, 24, 0.05, 3)
    out = r(x)
    (gw,) = torch.autograd.grad(out.square().sum(), [r.weight])
    (ew,) = torch.autograd.grad(naive_readout(x, r.weight, None, p).square().sum(), [r.weight])
    torch.testing.assert_close(gw.double(), ew.double(), rtol=1e-4, atol=1e-5)
    r.weight.requires_grad_(False)
    x.requires_grad_()
    (gx,) = torch.autograd.grad(r(x).sum(), [x])
    (ex,) = torch.autograd.grad(naive_readout(x, r.weight, None, p).sum(), [x])
    torch.testing.assert_close(gx.double(), ex.double(), rtol=1e-4, atol=1e-5)


def test_fused_readout_names_a_non_finite_input() -> None:
    r = si.nn.Readout(16, 3, params=si.LIFParams(tau_mem=0.2, dt=2e-3))
    x = _spikes(10, 2, 16, 0.05, 4)
    x[3, 1, 5] = float("nan")
    assert r._fused_consts(x) is not None
    with pytest.raises(NonFiniteCurrentError, match="first at time step 3"):
        r(x)


def test_dense_or_float64_input_keeps_the_unfused_path() -> None:
    p = si.LIFParams(tau_mem=0.2, dt=2e-3)
    r = si.nn.Readout(16, 3, params=p)
    dense = torch.rand(10, 2, 16)
    assert r._fused_consts(dense) is None  # above the event-driven break-even
    torch.testing.assert_close(r(dense).double(), naive_readout(dense, r.weight, None, p))
    r64 = si.nn.Readout(16, 3, params=p).double()
    x64 = _spikes(10, 2, 16, 0.05, 5).double()
    assert r64._fused_consts(x64) is None


def test_a_fused_layers_spike_bits_give_the_same_readout_bit_for_bit() -> None:
    """A fused SpikingLinear keeps its spikes' rows as bits (spikeinit.kept); a fused
    readout of those spikes finds its events from the bits: the same U and gradients,
    bit for bit, as scanning a copy of the spikes (which carries no bits)."""
    import numpy as np

    from spikeinit._kernels import readout_numba
    from spikeinit.kept import spike_bits

    torch.manual_seed(0)
    p = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)
    layer = si.nn.SpikingLinear(20, 70, params=p)  # 70: one full word and a tail
    with torch.no_grad():
        layer.weight.mul_(6.0)
    r = si.nn.Readout(70, 4, params=si.LIFParams(tau_mem=0.2, tau_syn=10e-3, dt=2e-3))
    x = _spikes(30, 6, 20, 0.05, 5)
    spikes = layer(x)
    bits = spike_bits(spikes)
    assert bits is not None and bits.shape == (30, 6, 2)
    flags = np.zeros((30, 6, 128), bool)
    flags[..., :70] = spikes.detach().numpy() != 0
    assert np.array_equal(bits, np.packbits(flags, axis=-1, bitorder="little").view("<u8"))
    assert 0 < float(spikes.detach().mean()) < 0.5

    copy = spikes.detach().clone().requires_grad_()
    assert spike_bits(copy) is None
    out, ref = r(spikes), r(copy)
    assert torch.equal(out, ref)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(6))
    got = torch.autograd.grad(out, [r.weight, layer.weight], g, retain_graph=True)
    (want_w,) = torch.autograd.grad(ref, [r.weight], g)
    assert torch.equal(got[0], want_w)
    # the layer's gradient through the readout equals the one through the copy's dL/dS
    (gs,) = torch.autograd.grad(r(copy), [copy], g)
    (want_l,) = torch.autograd.grad(spikes, [layer.weight], gs)
    assert torch.equal(got[1], want_l)

    # the kernel reads the events from the bits alone: zeroed spikes change nothing
    wt = r.weight.detach().t().contiguous().numpy()
    zeros = np.zeros((30, 6, 70), np.float32)
    consts = r._fused_consts(spikes)
    assert consts is not None
    u_bits = readout_numba.forward(zeros, wt, None, *consts, bits=bits)[0]
    assert np.array_equal(u_bits, ref.detach().numpy())
