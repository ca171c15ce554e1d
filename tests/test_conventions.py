"""Neuron conventions: spikeinit's layers spike for spike against snnTorch and stork.

* ``convention="snntorch"`` against snnTorch's own ``Leaky`` / ``Synaptic`` modules
  (subtract reset, several beta and thresholds, random input), spikes equal, membranes
  and gradients (snnTorch's default ``atan`` surrogate) close;
* ``convention="stork"`` against a transcription of stork's simulation loop written
  here (``LIFGroup.forward`` then the connections' ``propagate``, as stork's
  ``RecurrentSpikingModel.run`` does), for a two-layer network with a recurrent layer;
* every backend (torch loop, numba) against the autograd references below, forward and
  backward. Triton runs the same comparisons in its interpreter
  (``tests/test_kernel_triton.py``).
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import spikeinit as si
from spikeinit import LIFParams, lif_sequence, neuron
from spikeinit._kernels import numba_backend
from spikeinit.surrogate import SURROGATES, spike

snntorch = pytest.importorskip("snntorch")

BACKENDS = ["torch"] + (["numba"] if numba_backend() is not None else [])


@pytest.fixture(params=BACKENDS)
def backend(request):
    previous = neuron.set_kernel_backend(request.param)
    yield request.param
    neuron.set_kernel_backend(previous)


# --------------------------------------------------------------------------- snnTorch
def _snntorch_run(module, x):
    """snnTorch's own module, stepped over ``x [T, B, N]``: ``(spikes, mem)``."""
    mem = module.init_leaky() if hasattr(module, "init_leaky") else None
    spikes, mems = [], []
    state = None
    for t in range(x.shape[0]):
        if isinstance(module, snntorch.Synaptic):
            if state is None:
                state = module.init_synaptic()
            spk, syn, mem = module(x[t], *state)
            state = (syn, mem)
        else:
            spk, mem = module(x[t], mem)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


@pytest.mark.parametrize("beta,threshold", [(0.5, 1.0), (0.9, 1.0), (0.95, 0.5), (0.8, 2.0)])
def test_leaky_subtract_spike_for_spike(backend, beta, threshold):
    g = torch.Generator().manual_seed(int(beta * 100) + int(threshold * 10))
    x = torch.randn(50, 4, 16, generator=g) * threshold + 0.4 * threshold * (1 - beta) * 3
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    lif = snntorch.Leaky(beta=beta, threshold=threshold, reset_mechanism="subtract")
    spk_ref, mem_ref = _snntorch_run(lif, xb)
    p = LIFParams.from_snntorch(beta, threshold, "subtract")
    assert p.convention == "snntorch"
    spk, mem = lif_sequence(xa, p, surrogate="atan", return_mem=True)
    assert 0.05 < float(spk_ref.detach().mean()) < 0.95
    assert torch.equal(spk, spk_ref)
    torch.testing.assert_close(mem, mem_ref, atol=1e-6, rtol=0)
    # gradients: snnTorch's default surrogate is atan(alpha=2), spikeinit's "atan" at 2
    gw = torch.Generator().manual_seed(5)
    g_spk, g_mem = torch.randn(spk.shape, generator=gw), torch.randn(spk.shape, generator=gw)
    ((spk * g_spk).sum() + (mem * g_mem).sum()).backward()
    ((spk_ref * g_spk).sum() + (mem_ref * g_mem).sum()).backward()
    torch.testing.assert_close(xa.grad, xb.grad, atol=1e-5, rtol=1e-5)


def test_the_reference_convention_differs_from_snntorch():
    """The test above can fail: spikeinit's decayed reset gives other spikes."""
    x = torch.randn(50, 4, 16, generator=torch.Generator().manual_seed(0)) + 0.3
    spk_ref, _ = _snntorch_run(snntorch.Leaky(beta=0.9, reset_mechanism="subtract"), x)
    p = LIFParams.from_snntorch(0.9, convention="spikeinit")
    assert not torch.equal(lif_sequence(x, p), spk_ref)


def test_synaptic_subtract_spike_for_spike(backend):
    x = torch.randn(40, 3, 12, generator=torch.Generator().manual_seed(3)) * 0.6 + 0.1
    syn = snntorch.Synaptic(alpha=0.8, beta=0.9, threshold=1.0, reset_mechanism="subtract")
    spk_ref, mem_ref = _snntorch_run(syn, x)
    p = LIFParams.from_snntorch(0.9, 1.0, "subtract", alpha=0.8)
    spk, mem = lif_sequence(x, p, surrogate="atan", return_mem=True)
    assert 0.05 < float(spk_ref.detach().mean()) < 0.95
    assert torch.equal(spk, spk_ref)
    torch.testing.assert_close(mem, mem_ref, atol=1e-6, rtol=0)


def test_spiking_linear_matches_snntorch_network(backend):
    """spikeinit's own layers (SpikingLinear) against nn.Linear + snntorch.Leaky, 2 layers."""
    torch.manual_seed(0)
    net = torch.nn.ModuleList(
        [torch.nn.Linear(20, 30, bias=False), torch.nn.Linear(30, 10, bias=False)]
    )
    p = LIFParams.from_snntorch(0.8, 1.0, "subtract")
    ours = [si.nn.SpikingLinear(20, 30, p, surrogate="atan"),
            si.nn.SpikingLinear(30, 10, p, surrogate="atan")]  # fmt: skip
    with torch.no_grad():
        for a, b in zip(ours, net, strict=True):
            a.weight.copy_(b.weight * 3)
            b.weight.mul_(3)
    x = (torch.rand(30, 5, 20) < 0.3).float()
    out, h = [], x
    for layer in ours:
        h = layer(h)
        out.append(h)
    ref, h = [], x
    for lin in net:
        h = _snntorch_run(snntorch.Leaky(beta=0.8, reset_mechanism="subtract"), lin(h))[0]
        ref.append(h)
    for a, b in zip(out, ref, strict=True):
        assert 0.02 < float(b.detach().mean()) < 0.98
        assert torch.equal(a, b)


# --------------------------------------------------------------------------- stork
class _StorkLIF:
    """stork's ``LIFGroup`` (nodes/lif/base.py), in our words: one ``evolve`` per step;
    the spike is taken from the membrane of the previous step, the membrane from the
    previous synaptic current, and the multiplicative reset zeroes the new membrane."""

    def __init__(self, shape, tau_mem, tau_syn, dt, surrogate, diff_reset=False):
        self.dcy_mem = math.exp(-dt / tau_mem)
        self.scl_mem = 1.0 - self.dcy_mem
        self.dcy_syn = math.exp(-dt / tau_syn)
        self.mem, self.syn = torch.zeros(shape), torch.zeros(shape)
        self.input = torch.zeros(shape)
        self.surrogate, self.diff_reset = surrogate, diff_reset
        self.outs, self.mems = [], []

    def evolve(self):
        out = spike(self.mem - 1.0, self.surrogate)
        rst = out if self.diff_reset else out.detach()
        new_syn = self.dcy_syn * self.syn + self.input
        new_mem = (self.dcy_mem * self.mem + self.scl_mem * self.syn) * (1.0 - rst)
        self.out, self.mem, self.syn = out, new_mem, new_syn
        self.outs.append(out)
        self.mems.append(new_mem)
        self.input = torch.zeros_like(self.input)  # clear_input


def _stork_network(x, w1, w_rec, w2, tau_mem, tau_syn, dt, surrogate="superspike"):
    """Input group -> LIF (recurrent) -> LIF, simulated in stork's order: every group
    evolves, then every connection adds ``W out`` to its target's input."""
    batch = x.shape[1]
    h1 = _StorkLIF((batch, w1.shape[0]), tau_mem, tau_syn, dt, surrogate)
    h2 = _StorkLIF((batch, w2.shape[0]), tau_mem, tau_syn, dt, surrogate)
    for t in range(x.shape[0]):
        inp_out = x[t]  # the input group's evolve: out = data[t]
        h1.evolve()
        h2.evolve()
        h1.input = h1.input + inp_out @ w1.t()  # propagate: input -> h1
        h1.input = h1.input + h1.out @ w_rec.t()  # h1 -> h1
        h2.input = h2.input + h1.out @ w2.t()  # h1 -> h2
    return [(torch.stack(h.outs), torch.stack(h.mems)) for h in (h1, h2)]


@pytest.mark.parametrize("tau_mem,tau_syn", [(10e-3, 5e-3), (20e-3, 10e-3)])
def test_stork_network_spike_for_spike(backend, tau_mem, tau_syn):
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(60, 4, 20, generator=g) < 0.2).float()
    w1 = torch.randn(24, 20, generator=g) * 1.5 + 0.3
    w_rec = torch.randn(24, 24, generator=g) * 0.5
    w2 = torch.randn(12, 24, generator=g) * 1.5 + 0.5
    leaves = [w.clone().requires_grad_() for w in (w1, w_rec, w2)]
    ref = _stork_network(x, *leaves, tau_mem, tau_syn, 1e-3)

    p = LIFParams.from_stork(tau_mem=tau_mem, tau_syn=tau_syn)
    l1 = si.nn.SpikingLinear(20, 24, p, recurrent=True)
    l2 = si.nn.SpikingLinear(24, 12, p)
    with torch.no_grad():
        l1.weight.copy_(w1)
        l1.recurrent_weight.copy_(w_rec)
        l2.weight.copy_(w2)
    s1, u1 = l1.simulate(x)
    s2, u2 = l2.simulate(s1)
    for (s, u), (s_ref, u_ref) in zip([(s1, u1), (s2, u2)], ref, strict=True):
        assert 0.02 < float(s_ref.detach().mean()) < 0.9
        assert torch.equal(s, s_ref)
        torch.testing.assert_close(u, u_ref, atol=1e-5, rtol=0)
    # gradients (stork's SuperSpike, steepness 20 = spikeinit's superspike default)
    gw = torch.Generator().manual_seed(2)
    g1, g2 = torch.randn(s2.shape, generator=gw), torch.randn(u1.shape, generator=gw)
    ((s2 * g1).sum() + (u1 * g2).sum()).backward()
    ((ref[1][0] * g1).sum() + (ref[0][1] * g2).sum()).backward()
    for ours, theirs in zip([l1.weight, l1.recurrent_weight, l2.weight], leaves, strict=True):
        torch.testing.assert_close(ours.grad, theirs.grad, atol=1e-4, rtol=1e-4)


def test_the_reference_convention_differs_from_stork():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(60, 4, 8, generator=g) * 6 + 1.0
    p = LIFParams.from_stork()
    stork = lif_sequence(x, p)
    assert not torch.equal(stork, lif_sequence(x, p.replace(convention="spikeinit")))
    # the input arrives one step late and the spike one step after the membrane
    assert float(stork[:2].abs().sum()) == 0.0


# ------------------------------------------------------------- autograd references
def _reference(x, params, surrogate, detach, w_rec, i0, v0):
    """Naive autograd loop of the three conventions (docs/science.md, 'Neuron
    conventions'), written independently of spikeinit's kernels."""
    bm = math.exp(-params.dt / params.tau_mem)
    bs = 0.0 if params.tau_syn is None else math.exp(-params.dt / params.tau_syn)
    g = params.gain
    th = params.threshold
    i, v = i0, v0
    s_prev = torch.zeros_like(x[0])
    x_prev = torch.zeros_like(x[0])
    spikes, mems = [], []
    for t in range(x.shape[0]):
        rec_in = s_prev @ w_rec.t() if w_rec is not None else 0.0
        if params.convention == "stork":
            s = spike(v - th, surrogate)
            r = s.detach() if detach else s
            b = bm * v + g * i
            if params.reset == "zero":
                u = b * (1 - r)
            else:
                u = b - th * r if params.reset == "subtract" else b
            i = bs * i + (x_prev + rec_in)
            v = u
        else:
            i = bs * i + (x[t] + rec_in)
            u = bm * v + g * i
            r_prev = s_prev.detach() if detach else s_prev
            if params.convention == "snntorch" and params.reset == "subtract":
                u = u - th * r_prev
            s = spike(u - th, surrogate)
            r = s.detach() if detach else s
            if params.convention == "snntorch" and params.reset == "subtract":
                v = u
            elif params.reset == "zero":
                v = u * (1 - r)
            elif params.reset == "subtract":
                v = u - th * r
            else:
                v = u
        spikes.append(s)
        mems.append(u)
        s_prev, x_prev = s, x[t]
    return torch.stack(spikes), torch.stack(mems)


def _case(conv, reset, tau_syn, recurrent, seed=0, shape=(30, 4, 9)):
    p = LIFParams(tau_mem=20e-3, tau_syn=tau_syn, reset=reset, convention=conv)
    g = torch.Generator().manual_seed(seed)
    scale = 8.0 if tau_syn is not None else 0.5
    x = torch.randn(shape, generator=g) * scale + 0.3
    n = shape[-1]
    w = torch.randn(n, n, generator=g) * 0.3 if recurrent else None
    i0 = torch.randn(shape[1:], generator=g) * 0.2
    v0 = torch.rand(shape[1:], generator=g) * 1.2  # some start above threshold
    return p, x, w, i0, v0


def _run(fn, p, x, w, i0, v0, surrogate, detach):
    leaves = [t.clone().requires_grad_() for t in (x, i0, v0)]
    wl = w.clone().requires_grad_() if w is not None else None
    if fn is None:
        spk, mem = _reference(leaves[0], p, surrogate, detach, wl, leaves[1], leaves[2])
    else:
        spk, mem = lif_sequence(
            leaves[0], p, surrogate=surrogate, detach_reset=detach, recurrent_weight=wl,
            initial_state=(leaves[1], leaves[2]), return_mem=True,
        )  # fmt: skip
    gen = torch.Generator().manual_seed(7)
    g_spk, g_mem = torch.randn(spk.shape, generator=gen), torch.randn(mem.shape, generator=gen)
    ((spk * g_spk).sum() + (mem * g_mem).sum()).backward()
    out = [spk.detach(), mem.detach()]
    for t in leaves + ([wl] if wl is not None else []):
        out.append(t.grad if t.grad is not None else torch.zeros_like(t))
    return out


def _assert_match(a, b):
    """Spikes equal, U within 1e-6, gradients within 1e-5 of their largest entry (the
    float32 reference itself is that far from a float64 one where gradients reach 100,
    with the reset not detached)."""
    assert torch.equal(a[0], b[0]), "spikes differ"
    torch.testing.assert_close(a[1], b[1], atol=1e-6, rtol=0)
    for ga, gb in zip(a[2:], b[2:], strict=True):
        scale = max(1.0, float(gb.abs().max()))
        torch.testing.assert_close(ga, gb, atol=1e-5 * scale, rtol=1e-5)


CASES = [
    (conv, reset, tau_syn, rec, detach)
    for conv, reset, tau_syn, rec, detach in itertools.product(
        ["snntorch", "stork"],
        ["zero", "subtract", "none"],
        [10e-3, None],
        [False, True],
        [True, False],
    )
    if not (conv == "stork" and reset == "zero" and not detach)
]


@pytest.mark.parametrize("conv,reset,tau_syn,recurrent,detach", CASES)
def test_backend_matches_reference(backend, conv, reset, tau_syn, recurrent, detach):
    p, x, w, i0, v0 = _case(conv, reset, tau_syn, recurrent)
    ref = _run(None, p, x, w, i0, v0, "superspike", detach)
    assert 0.02 < float(ref[0].detach().mean()) < 0.98
    _assert_match(_run(lif_sequence, p, x, w, i0, v0, "superspike", detach), ref)


@pytest.mark.parametrize("conv", ["spikeinit", "snntorch", "stork"])
@pytest.mark.parametrize("surrogate", sorted(SURROGATES))
def test_every_surrogate_in_every_convention(backend, conv, surrogate):
    p, x, w, i0, v0 = _case(conv, "subtract", 10e-3, True, seed=3)
    ref = _run(None, p, x, w, i0, v0, surrogate, False)
    got = _run(lif_sequence, p, x, w, i0, v0, surrogate, False)
    _assert_match(got, ref)
    assert got[2].abs().sum() > 0


def test_stork_zero_reset_needs_detach():
    with pytest.raises(ValueError, match="detach_reset"):
        lif_sequence(torch.zeros(3, 1, 2), LIFParams.from_stork(), detach_reset=False)


def test_every_backend_implements_the_interface():
    from spikeinit._kernels import KernelBackend, triton_backend

    for load in (numba_backend, triton_backend):
        module = load()
        if module is not None:
            assert isinstance(module, KernelBackend)


def test_convention_is_validated():
    with pytest.raises(ValueError, match="convention"):
        LIFParams(convention="norse")  # type: ignore[arg-type]
    assert LIFParams().convention == "spikeinit"
    p = LIFParams.from_stork(tau_mem=20e-3, tau_syn=10e-3)
    assert p.reset == "zero" and p.gain == pytest.approx(1 - math.exp(-1 / 20))


DALE_CASES = [("snntorch", "subtract"), ("stork", "zero"), ("stork", "subtract"),
              ("spikeinit", "subtract")]  # fmt: skip


@pytest.mark.parametrize("conv,reset", DALE_CASES)
def test_dale_layer_follows_the_convention(conv, reset):
    """DaleLinear's own autograd loop, with the inhibitory and recurrent weights at 0,
    is the plain LIF layer of its excitatory synapse: same spikes as lif_sequence."""
    p = LIFParams(reset=reset, convention=conv)
    layer = si.nn.DaleLinear(12, 8, 2, p, recurrent=True)
    with torch.no_grad():
        for name in ("w_ie", "w_ii", "w_ee", "w_ei"):
            getattr(layer, name).zero_()
        layer.w_xe.mul_(0.4)
    x = (torch.rand(40, 3, 12, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    current = layer.input_current(x)
    spk, mem = layer.run_current(current)
    ref_spk, ref_mem = lif_sequence(current[..., :8], layer.params_exc, return_mem=True)
    assert 0.02 < float(ref_spk.detach().mean()) < 0.9
    assert torch.equal(spk, ref_spk)
    torch.testing.assert_close(mem, ref_mem, atol=1e-6, rtol=0)


@pytest.mark.parametrize("conv", ["spikeinit", "snntorch", "stork"])
def test_free_membrane_of_a_recurrent_layer(conv):
    """The free membrane is the layer's own membrane once the threshold is out of reach
    (then no reset happens either), whatever the convention's input alignment."""
    p = LIFParams(reset="subtract", convention=conv, threshold=1.0)
    layer = si.nn.SpikingLinear(10, 6, p, recurrent=True)
    x = (torch.rand(30, 2, 10, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    with torch.no_grad():
        layer.weight.abs_().mul_(1.5)
        spikes, free = layer.simulate(x, free=True)
        assert 0.02 < float(spikes.mean()) < 0.9
        # a copy with an unreachable threshold, fed the same recurrent spikes as input
        high = si.nn.SpikingLinear(10, 6, p.replace(threshold=1e6))
        high.weight.copy_(layer.weight)
        current = layer.input_current(x) + neuron.recurrent_presyn(spikes, p) @ (
            layer.recurrent_weight.t()
        )
        _, mem = high.run_current(current)
    torch.testing.assert_close(free, mem, atol=1e-5, rtol=1e-5)
