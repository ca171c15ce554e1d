"""The fused numba loops of a 1-D recurrent convolution (spikeinit._kernels.conv_numba)
against the pure-torch loop (one torch convolution per step) and the autograd loop."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from reference import lif_loop
from torch.nn.grad import conv1d_weight

from spikeinit import LIFParams, neuron
from spikeinit._kernels import conv_backend
from spikeinit.neuron import ConvRecurrence, lif_sequence
from spikeinit.nn import RecurrentSpikingConv1d
from spikeinit.surrogate import as_surrogate

pytestmark = [
    pytest.mark.skipif(conv_backend() is None, reason="numba is not installed"),
    pytest.mark.usefixtures("one_thread"),
]


@pytest.fixture
def torch_backend():
    def run(fn):
        previous = neuron.set_kernel_backend("torch")
        try:
            return fn()
        finally:
            neuron.set_kernel_backend(previous)

    return run


def _assert_rel(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-4) -> None:
    scale = float(b.abs().max())
    assert scale > 0, "reference gradient is zero"
    torch.testing.assert_close(a, b, rtol=rel, atol=rel * scale)


def _layer(params: LIFParams, detach: bool, surrogate: str = "superspike", seed: int = 0):
    torch.manual_seed(seed)
    layer = RecurrentSpikingConv1d(
        2, 3, 3, params=params, rec_kernel_size=5, detach_reset=detach, surrogate=surrogate
    )
    with torch.no_grad():
        layer.conv.weight.mul_(4.0)
        layer.recurrent.weight.mul_(3.0)
    x = (torch.rand(30, 3, 2, 14) < 0.3).float()
    return layer, x


def _run(layer, x, g_spk, g_mem):
    lay = copy.deepcopy(layer)
    xi = x.clone().requires_grad_()
    spikes, mem = lay.simulate(xi)
    ((spikes * g_spk).sum() + (mem * g_mem).sum()).backward()
    return spikes.detach(), mem.detach(), (xi.grad, lay.conv.weight.grad, lay.recurrent.weight.grad)


CASES = [
    (conv, reset, tau_syn, detach)
    for conv, reset, tau_syn, detach in itertools.product(
        ["spikeinit", "snntorch", "stork"],
        ["zero", "subtract", "none"],
        [10e-3, None],
        [True, False],
    )  # fmt: skip
    if not (conv == "stork" and reset == "zero" and not detach)  # unsupported combination
]


@pytest.mark.parametrize("convention,reset,tau_syn,detach", CASES)
def test_fused_conv_matches_torch_loop(torch_backend, convention, reset, tau_syn, detach) -> None:
    p = LIFParams(
        tau_mem=20e-3, tau_syn=tau_syn, dt=1e-3, threshold=1.0, reset=reset, convention=convention
    )
    layer, x = _layer(p, detach)
    shape = layer.input_current(x).shape
    g_spk, g_mem = torch.randn(shape), torch.randn(shape)
    s, u, grads = _run(layer, x, g_spk, g_mem)
    s_ref, u_ref, grads_ref = torch_backend(lambda: _run(layer, x, g_spk, g_mem))
    assert 0.02 < float(s.mean()) < 0.95, "the test input should make neurons fire sometimes"
    assert torch.equal(s, s_ref)
    torch.testing.assert_close(u, u_ref, rtol=0, atol=1e-5)
    for g, g_ref in zip(grads, grads_ref, strict=True):
        _assert_rel(g, g_ref)


@pytest.mark.parametrize("surrogate", ["superspike", "atan", "sigmoid", "triangle"])
def test_fused_conv_matches_autograd_loop(surrogate) -> None:
    """Independent reference: the step-by-step autograd loop with the layer's own
    ``nn.Conv1d`` as the recurrence (reference convention, spike output only)."""
    p = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-3, threshold=1.0, reset="subtract")
    layer, x = _layer(p, False, surrogate, seed=3)
    shape = layer.input_current(x).shape
    g_spk = torch.randn(shape)
    s, u, grads = _run(layer, x, g_spk, torch.zeros(shape))
    lay = copy.deepcopy(layer)
    xi = x.clone().requires_grad_()
    s_ref, u_ref = lif_loop(lay.input_current(xi), p, lay.recurrent, lay.surrogate, False)
    (s_ref * g_spk).sum().backward()
    assert float(s.mean()) > 0.02
    assert torch.equal(s, s_ref.detach())
    torch.testing.assert_close(u, u_ref.detach(), rtol=0, atol=1e-5)
    for g, g_ref in zip(
        grads, (xi.grad, lay.conv.weight.grad, lay.recurrent.weight.grad), strict=True
    ):
        _assert_rel(g, g_ref)


def test_fused_conv_initial_state_and_batched_threads() -> None:
    """Non-zero initial state (its gradients too) and two threads over the batch give
    the torch loop's result."""
    torch.manual_seed(4)
    p = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-3, reset="subtract", convention="stork")
    x = torch.randn(20, 5, 4, 9) * 3.0
    w = torch.randn(4, 4, 3) * 0.5
    i0, v0 = torch.rand(5, 4, 9), torch.rand(5, 4, 9) * 1.5
    g_spk, g_mem = torch.randn_like(x), torch.randn_like(x)

    def run():
        ins = [t.clone().requires_grad_() for t in (x, w, i0, v0)]
        s, u = lif_sequence(
            ins[0], p, recurrent_op=ConvRecurrence(ins[1]), initial_state=(ins[2], ins[3]),
            return_mem=True,
        )  # fmt: skip
        ((s * g_spk).sum() + (u * g_mem).sum()).backward()
        return s.detach(), u.detach(), [t.grad for t in ins]

    n = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        s, u, grads = run()
    finally:
        torch.set_num_threads(n)
    previous = neuron.set_kernel_backend("torch")
    try:
        s_ref, u_ref, grads_ref = run()
    finally:
        neuron.set_kernel_backend(previous)
    assert 0.02 < float(s.mean()) < 0.95
    assert torch.equal(s, s_ref)
    torch.testing.assert_close(u, u_ref, rtol=0, atol=1e-5)
    for g, g_ref in zip(grads, grads_ref, strict=True):
        _assert_rel(g, g_ref)


@pytest.mark.parametrize("order", [0, 1])
def test_event_driven_weight_grad_is_the_convolution_weight_gradient(order) -> None:
    """The weight gradient accumulated in the backward pass equals torch's convolution
    weight gradient of the ``dL/dI`` it returns and the spikes recomputed from ``U``
    (paired as the kernel pairs them); the other outputs do not depend on asking for it."""
    fast = conv_backend()
    torch.manual_seed(5)
    conv = "stork" if order else "spikeinit"
    p = LIFParams(threshold=1.0, convention=conv)
    mem = torch.randn(12, 4, 3, 10) + 0.5
    v0 = torch.rand(4, 3, 10) * 2.0
    g_spk, g_mem = torch.randn_like(mem), torch.randn_like(mem)
    w = torch.randn(3, 3, 5)
    surrogate = as_surrogate("superspike")  # the kernels the layer tests compile
    args = (mem, g_spk, g_mem, w, p, surrogate, True, v0 if order else None)
    *rest, none = fast.backward(*args, weight_grad=False)
    gx, gi0, gv0, got = fast.backward(*args, weight_grad=True)
    assert none is None
    for a, b in zip(rest, (gx, gi0, gv0), strict=True):
        assert torch.equal(a, b)
    spikes = neuron.spikes_of(mem, p, v0 if order else None)[:-1]
    g = gx[:-1] if order else gx[1:]
    want = conv1d_weight(spikes.reshape(-1, 3, 10), list(w.shape), g.reshape(-1, 3, 10), padding=2)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_torch_backend_and_float64_do_not_use_the_fused_conv() -> None:
    x = torch.zeros(3, 2, 3, 8)
    rec = ConvRecurrence(torch.zeros(3, 3, 5))
    assert neuron._conv_kernel(x, rec) is conv_backend()
    assert neuron._conv_kernel(x.double(), rec) is None
    assert neuron._conv_kernel(x, ConvRecurrence(torch.zeros(3, 3, 3, 3))) is None
    previous = neuron.set_kernel_backend("torch")
    try:
        assert neuron._conv_kernel(x, rec) is None
    finally:
        neuron.set_kernel_backend(previous)
