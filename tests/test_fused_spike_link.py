"""A fused readout of a fused SpikingLinear's spikes hands its gradient over (nn.layers._SpikeLink).

The readout's backward passes its narrow current gradient ``dL/dx_ro`` to the
layer, which forms ``dL/dS = dL/dx_ro W_ro`` row by row and adds the gradient
of the spikes' other uses (a spike count: constant over time; any other: dense).
The same sums in the same order as the readout's own ``dL/dS`` followed by
autograd's addition, so every gradient equals the unlinked path's bit for bit
(the unlinked path: the readout reads ``spikes * 1.0``, a copy without the link),
and the naive float32 loops of tests/test_linear_lif_fused.py and
tests/test_readout_fused.py to rounding.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from test_linear_lif_fused import naive_layer
from test_readout_fused import naive_readout

import spikeinit as si
from spikeinit._kernels import linear_lif_backend, readout_backend

pytestmark = pytest.mark.skipif(
    linear_lif_backend() is None or readout_backend() is None, reason="numba not installed"
)


@pytest.fixture(autouse=True)
def _handoff() -> Iterator[None]:
    """The tests below run their forwards with the hand-off on (it is opt-in)."""
    with si.nn.spike_gradient_handoff():
        yield


def _net(bias: bool) -> tuple[si.nn.SpikingLinear, si.nn.Readout, torch.Tensor]:
    torch.manual_seed(0)
    p = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)
    hidden = si.nn.SpikingLinear(20, 24, params=p, bias=bias)
    readout = si.nn.Readout(24, 5, params=si.LIFParams(tau_mem=0.2, tau_syn=10e-3, dt=2e-3))
    with torch.no_grad():
        hidden.weight.mul_(8.0)
        if bias:
            hidden.bias.normal_(0.0, 0.1)
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(50, 6, 20, generator=gen) < 0.05).float().requires_grad_()
    return hidden, readout, x


def _loss(out: torch.Tensor, spikes: torch.Tensor, other: str) -> torch.Tensor:
    loss = torch.nn.functional.cross_entropy(out.max(dim=0).values, torch.arange(6) % 5)
    if other == "count":  # a homeostasis term: dL/dS constant over time
        loss = loss + 0.5 * torch.relu(spikes.sum(dim=0) - 1.0).square().mean()
    elif other == "dense":  # a term whose dL/dS varies over time
        ramp = torch.linspace(0.0, 1.0, spikes.shape[0])[:, None, None]
        loss = loss + 0.1 * (spikes * ramp).sum()
    return loss


def _grads(linked: bool, other: str, bias: bool) -> list[torch.Tensor]:
    hidden, readout, x = _net(bias)
    spikes = hidden(x)
    assert hidden._fused_lif_consts(x) is not None
    out = readout(spikes if linked else spikes * 1.0)
    assert (out.grad_fn.link is not None) == linked  # the readout's ctx: linked or not
    params = [x, hidden.weight, readout.weight] + ([hidden.bias] if bias else [])
    return list(torch.autograd.grad(_loss(out, spikes, other), params))


@pytest.mark.parametrize(("other", "bias"), [("none", False), ("count", True), ("dense", False)])
def test_linked_gradients_equal_the_unlinked_path(other: str, bias: bool) -> None:
    got = _grads(True, other, bias)
    want = _grads(False, other, bias)
    for a, e in zip(got, want, strict=True):
        assert torch.equal(a, e)
    assert float(got[1].abs().max()) > 0


def test_linked_gradients_match_the_naive_loops() -> None:
    hidden, readout, x = _net(False)
    out = readout(hidden(x))
    ref_spikes = naive_layer(hidden, x)
    ref = naive_readout(ref_spikes, readout.weight, None, readout.params).float()
    params = [x, hidden.weight, readout.weight]
    got = torch.autograd.grad(_loss(out, hidden(x), "none"), params)
    want = torch.autograd.grad(_loss(ref, ref_spikes, "none"), params)
    for a, e in zip(got, want, strict=True):
        scale = float(e.abs().max()) + 1e-12
        torch.testing.assert_close(a / scale, e / scale, rtol=0, atol=1e-5)


def test_partial_and_repeated_backward_passes() -> None:
    hidden, readout, x = _net(False)
    spikes = hidden(x)
    out = readout(spikes)
    loss = _loss(out, spikes, "count")
    # the readout's backward alone (the layer does not run): its hand-over is dropped,
    # so a later pass through the count alone gets the count's gradient only
    (g_ro,) = torch.autograd.grad(loss, [readout.weight], retain_graph=True)
    count = 0.5 * torch.relu(spikes.sum(dim=0) - 1.0).square().mean()
    (g_count,) = torch.autograd.grad(count, [hidden.weight], retain_graph=True)
    hidden2, readout2, x2 = _net(False)
    s2 = hidden2(x2)
    (want_count,) = torch.autograd.grad(
        0.5 * torch.relu(s2.sum(dim=0) - 1.0).square().mean(), [hidden2.weight]
    )
    assert torch.equal(g_count, want_count)
    # two full passes over a retained graph give the same gradient twice
    first = torch.autograd.grad(loss, [hidden.weight, readout.weight], retain_graph=True)
    second = torch.autograd.grad(loss, [hidden.weight, readout.weight])
    want = _grads(False, "count", False)
    assert torch.equal(first[0], want[1]) and torch.equal(second[0], want[1])
    assert torch.equal(first[1], g_ro) and torch.equal(second[1], want[2])


def test_the_link_is_used_once_and_not_after_an_in_place_change() -> None:
    hidden, readout, x = _net(False)
    spikes = hidden(x)
    out1 = readout(spikes)  # claims the link
    out2 = readout(spikes)  # the plain fused readout
    assert out1.grad_fn.link is not None and out2.grad_fn.link is None
    params = [x, hidden.weight, readout.weight]
    got = torch.autograd.grad((out1.max(0).values - 2 * out2.max(0).values).sum(), params)
    h2, r2, x2 = _net(False)
    s2 = h2(x2) * 1.0
    loss2 = (r2(s2).max(0).values - 2 * r2(s2).max(0).values).sum()
    want = torch.autograd.grad(loss2, [x2, h2.weight, r2.weight])
    for a, e in zip(got, want, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-6, atol=1e-7)

    h3, r3, x3 = _net(False)
    s3 = h3(x3)
    s3.mul_(0.5)  # changed after the layer: no hand-over
    out3 = r3(s3)
    assert out3.grad_fn.link is None


def test_off_by_default_so_the_spikes_gradient_stays_visible() -> None:
    """Outside the context the readout returns dL/dS through autograd: the gradient
    of the loss with respect to the spikes is there, and equals the plain path's."""
    with si.nn.spike_gradient_handoff(False):
        hidden, readout, x = _net(False)
        spikes = hidden(x)
        out = readout(spikes)
    assert out.grad_fn.link is None
    (got,) = torch.autograd.grad(_loss(out, spikes, "count"), [spikes])
    plain = spikes.detach().requires_grad_()
    (want,) = torch.autograd.grad(_loss(readout(plain), plain, "count"), [plain])
    assert torch.equal(got, want) and float(got.abs().sum()) > 0


def test_the_trainer_runs_its_training_forwards_with_the_handoff() -> None:
    from spikeinit.nn import layers

    hidden, readout, _ = _net(False)
    seen: list[bool] = []
    readout.register_forward_hook(lambda m, a, o: seen.append(layers._HANDOFF.get()))
    with si.nn.spike_gradient_handoff(False):
        gen = torch.Generator().manual_seed(2)
        x = (torch.rand(50, 16, 20, generator=gen) < 0.05).float()  # [T, N, K]
        y = torch.arange(16) % 5
        cfg = si.train.TrainConfig(epochs=1, batch_size=8, lr=1e-3)
        si.train.Trainer(torch.nn.Sequential(hidden, readout), cfg).fit((x, y), (x, y))
    assert True in seen  # the training batches
    assert False in seen  # evaluation: no gradient, no hand-off
