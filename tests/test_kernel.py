"""The fused LIF kernel against the naive autograd reference, and gradcheck."""

import itertools

import pytest
import torch
from reference import lif_reference

from spikeinit import LIFParams, lif_sequence

RESETS = ["zero", "subtract", "none"]
SYNAPSES = [10e-3, None]


def _params(reset, tau_syn, **kw):
    return LIFParams(tau_mem=20e-3, tau_syn=tau_syn, dt=1e-3, threshold=1.0, reset=reset, **kw)


def _inputs(seed, shape=(40, 3, 7), dtype=torch.float32, scale=None):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype)
    return x * (scale if scale is not None else 1.0) + 0.3


@pytest.mark.parametrize(
    "reset,tau_syn,detach,recurrent",
    list(itertools.product(RESETS, SYNAPSES, [True, False], [False, True])),
)
def test_kernel_matches_reference(reset, tau_syn, detach, recurrent):
    p = _params(reset, tau_syn)
    # gain-adjusted scale so that neurons fire at moderate rates in both synapse types
    scale = 8.0 if tau_syn is not None else 0.5
    x = _inputs(0, scale=scale)
    g = torch.Generator().manual_seed(1)
    w = (torch.randn(7, 7, generator=g) * 0.3) if recurrent else None
    i0 = torch.randn(3, 7, generator=g) * 0.2
    v0 = torch.rand(3, 7, generator=g) * 0.5

    xa, i0a, v0a = (t.clone().requires_grad_() for t in (x, i0, v0))
    wa = w.clone().requires_grad_() if w is not None else None
    spk, mem = lif_sequence(
        xa, p, detach_reset=detach, recurrent_weight=wa, initial_state=(i0a, v0a), return_mem=True
    )
    xb, i0b, v0b = (t.clone().requires_grad_() for t in (x, i0, v0))
    wb = w.clone().requires_grad_() if w is not None else None
    spk_ref, mem_ref = lif_reference(xb, p, detach_reset=detach, w_rec=wb, i0=i0b, v0=v0b)

    assert 0.02 < spk_ref.mean() < 0.98, "test input should make neurons fire sometimes"
    assert torch.equal(spk, spk_ref)
    torch.testing.assert_close(mem, mem_ref, atol=1e-6, rtol=0)

    gw = torch.Generator().manual_seed(2)
    g_spk = torch.randn(spk.shape, generator=gw)
    g_mem = torch.randn(mem.shape, generator=gw)
    ((spk * g_spk).sum() + (mem * g_mem).sum()).backward()
    ((spk_ref * g_spk).sum() + (mem_ref * g_mem).sum()).backward()
    for a, b in [(xa, xb), (i0a, i0b), (v0a, v0b)] + ([(wa, wb)] if recurrent else []):
        expected = b.grad if b.grad is not None else torch.zeros_like(a)  # delta: I0 unused
        torch.testing.assert_close(a.grad, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("surrogate", ["superspike", "fast_sigmoid", "atan", "sigmoid", "triangle"])
def test_kernel_surrogates_match_reference(surrogate):
    p = _params("subtract", 10e-3)
    x = _inputs(3, scale=8.0)
    xa = x.clone().requires_grad_()
    xb = x.clone().requires_grad_()
    lif_sequence(xa, p, surrogate=surrogate).sum().backward()
    lif_reference(xb, p, surrogate=surrogate)[0].sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, atol=1e-5, rtol=1e-5)
    assert xa.grad.abs().sum() > 0


@pytest.mark.parametrize("reset,tau_syn", list(itertools.product(RESETS, SYNAPSES)))
def test_gradcheck_float64(reset, tau_syn):
    """Finite differences on the smooth part. The input stays sub-threshold, far
    from theta, and the triangle surrogate (scale 2) is zero there, so the true
    derivative and the surrogate path agree and both outputs can be checked."""
    p = _params(reset, tau_syn)
    g = torch.Generator().manual_seed(4)
    x = (torch.rand(12, 2, 3, generator=g, dtype=torch.float64) * 0.05).requires_grad_()
    i0 = (torch.rand(2, 3, generator=g, dtype=torch.float64) * 0.1).requires_grad_()
    v0 = (torch.rand(2, 3, generator=g, dtype=torch.float64) * 0.1).requires_grad_()
    w = (torch.randn(3, 3, generator=g, dtype=torch.float64) * 0.1).requires_grad_()

    def f(x, i0, v0, w):
        return lif_sequence(
            x,
            p,
            recurrent_weight=w,
            initial_state=(i0, v0),
            return_mem=True,
            surrogate="triangle",
            surrogate_scale=2.0,
        )

    assert torch.autograd.gradcheck(f, (x, i0, v0, w))


def test_gradcheck_through_surrogate_with_spikes():
    """With spikes present the surrogate path is not a true derivative, so compare the
    float64 kernel with the float64 autograd reference instead, to 1e-10."""
    p = _params("zero", 10e-3)
    x = _inputs(5, dtype=torch.float64, scale=8.0).requires_grad_()
    x2 = x.detach().clone().requires_grad_()
    s1, m1 = lif_sequence(x, p, detach_reset=False, return_mem=True)
    s2, m2 = lif_reference(x2, p, detach_reset=False)
    (s1.sum() + m1.pow(2).sum()).backward()
    (s2.sum() + m2.pow(2).sum()).backward()
    torch.testing.assert_close(x.grad, x2.grad, atol=1e-10, rtol=1e-10)


def test_conv_shaped_input_and_default_state():
    p = _params("zero", 10e-3)
    x = _inputs(6, shape=(10, 2, 3, 4, 4), scale=8.0)
    spk = lif_sequence(x, p)
    ref, _ = lif_reference(x, p)
    assert spk.shape == x.shape and torch.equal(spk, ref)


def test_kernel_input_errors():
    p = _params("zero", 10e-3)
    with pytest.raises(TypeError, match="floating-point"):
        lif_sequence(torch.zeros(3, 2, dtype=torch.long), p)
    with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
        lif_sequence(torch.zeros(3), p)
    with pytest.raises(ValueError, match="recurrent_weight"):
        lif_sequence(torch.zeros(3, 2, 4), p, recurrent_weight=torch.zeros(3, 3))
    with pytest.raises(TypeError, match="params"):
        lif_sequence(torch.zeros(3, 2), {"tau_mem": 1})
    with pytest.raises(ValueError, match="surrogate must be one of"):
        lif_sequence(torch.zeros(3, 2), p, surrogate="nope")
