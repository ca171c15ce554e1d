"""spikeinit.kept: the count a fused layer keeps equals the sum over time.

Values: ``spikes.sum(dim=0)`` exactly (0/1 spikes); gradient: the sum's own
(every step gets ``dL/dcount``), so a regulariser through the kept count trains
exactly as through the sum; after an in-place change the sum is taken afresh.
"""

from __future__ import annotations

import pytest
import torch

import spikeinit as si
from spikeinit._kernels import linear_lif_backend
from spikeinit.kept import max_over_time, mean_spikes, spike_counts, spike_density
from spikeinit.losses import max_over_time_ce
from spikeinit.nn.base import SpikingLayer
from spikeinit.regularizers import ActivityRegularizer, activity_penalty
from spikeinit.sparse_input import uses_sparse_path

pytestmark = pytest.mark.skipif(linear_lif_backend() is None, reason="numba not installed")


def _layer_and_input() -> tuple[si.nn.SpikingLinear, torch.Tensor]:
    torch.manual_seed(0)
    layer = si.nn.SpikingLinear(20, 16, params=si.LIFParams(tau_mem=20e-3, dt=2e-3))
    with torch.no_grad():
        layer.weight.mul_(8.0)
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(40, 5, 20, generator=gen) < 0.05).float()
    return layer, x


def test_kept_counts_equal_the_sum_and_train_the_same() -> None:
    layer, x = _layer_and_input()
    assert layer._fused_lif_consts(x) is not None
    spikes = layer(x)
    counts = spike_counts(spikes)
    assert type(counts.grad_fn).__name__ == "_KeptCountsBackward"  # the kept count ran
    assert torch.equal(counts, spikes.detach().sum(dim=0))
    assert float(counts.detach().max()) > 0
    assert mean_spikes(spikes) == pytest.approx(float(spikes.detach().mean()), rel=1e-6)
    assert spike_density(spikes) == mean_spikes(spikes)
    # a readout of these spikes chooses its path by that exact density
    flat, w = spikes.reshape(-1, 16), torch.zeros(3, 16)
    assert uses_sparse_path(flat, w, None, spike_density(spikes))
    assert not uses_sparse_path(flat, w, None, 0.5)
    assert uses_sparse_path(flat, w, True, 0.5) and not uses_sparse_path(flat, w, False, 0.0)

    regs = (
        ActivityRegularizer(100.0, 1e-3, "lower", per_neuron=True),
        ActivityRegularizer(0.1, 0.5, "upper", dims=1),
    )
    penalty = activity_penalty(regs, [spikes])
    (got,) = torch.autograd.grad(penalty, [layer.weight], retain_graph=True)
    plain = spikes * 1.0  # no kept count: the sum over time
    assert type(spike_counts(plain).grad_fn).__name__ == "SumBackward1"
    (want,) = torch.autograd.grad(activity_penalty(regs, [plain]), [layer.weight])
    assert torch.equal(got, want)
    assert float(got.abs().max()) > 0


def test_an_in_place_change_drops_the_kept_count() -> None:
    layer, x = _layer_and_input()
    with torch.no_grad():
        spikes = layer(x)
        spikes[0] = 1.0
    assert torch.equal(spike_counts(spikes), spikes.sum(dim=0))
    assert mean_spikes(spikes) == float(spikes.mean())


def test_kept_maximum_equals_torch_max_with_ties_and_trains_the_same() -> None:
    torch.manual_seed(0)
    readout = si.nn.Readout(24, 4, params=si.LIFParams(tau_mem=0.2, tau_syn=10e-3, dt=2e-3))
    with torch.no_grad():
        readout.weight[0].fill_(-1.0)  # class 0: U = 0 for the silent first steps, then < 0
    gen = torch.Generator().manual_seed(2)
    x = (torch.rand(30, 6, 24, generator=gen) < 0.1).float()
    x[:8] = 0.0  # ties at U = 0: the first maximal step wins, as in torch.max(dim=0)
    out = readout(x)
    assert readout._fused_consts(x) is not None
    values = max_over_time(out)
    assert type(values.grad_fn).__name__ == "_KeptMaxBackward"
    want = out.max(dim=0)
    assert torch.equal(values, want.values)
    assert torch.equal(out._spikeinit_kept["max"][0][1], want.indices)
    assert bool((want.indices[:, 0] == 0).all())  # the tie case ran
    assert torch.equal(max_over_time(out, values_only=True), want.values)
    y = torch.arange(6) % 4
    (got,) = torch.autograd.grad(max_over_time_ce(out, y), [readout.weight], retain_graph=True)
    ce = torch.nn.functional.cross_entropy(want.values, y)
    (ref,) = torch.autograd.grad(ce, [readout.weight])
    assert torch.equal(got, ref)
    with torch.no_grad():
        out.mul_(2.0)  # changed in place: reduced afresh
    assert torch.equal(max_over_time(out), out.max(dim=0).values)


def test_a_membrane_overflowing_from_finite_currents_keeps_exact_counts() -> None:
    layer = si.nn.SpikingLinear(4, 3, params=si.LIFParams(tau_mem=20e-3, dt=2e-3))
    with torch.no_grad():
        layer.weight.fill_(3e38)  # finite, but I = beta_s I + x overflows to inf
    x = torch.zeros(6, 2, 4)
    x[1:3, 0, 0] = 1.0
    assert layer._fused_lif_consts(x) is not None
    spikes = layer(x)  # a finite current: no error, as on the unfused path
    assert torch.equal(spikes, SpikingLayer.forward(layer, x))
    assert torch.equal(spike_counts(spikes), spikes.sum(dim=0))


def test_an_in_place_change_drops_the_kept_bits() -> None:
    from spikeinit.kept import spike_bits

    layer, x = _layer_and_input()
    with torch.no_grad():
        spikes = layer(x)
        assert spike_bits(spikes) is not None
        spikes[0] = 1.0
    assert spike_bits(spikes) is None
