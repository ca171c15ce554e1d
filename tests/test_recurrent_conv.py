"""Recurrent convolution layers, pooling wrappers and time-constant dropout."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from reference import lif_loop

import spikeinit as si
from spikeinit import LIFParams
from spikeinit.neuron import ConvRecurrence, MatrixRecurrence, lif_sequence
from spikeinit.nn import (
    RecurrentSpikingConv1d,
    RecurrentSpikingConv2d,
    SpikingAvgPool2d,
    SpikingMaxPool1d,
    SpikingMaxPool2d,
    TimeConstantDropout,
)
from spikeinit.nn.recurrent_conv import recurrent_conv_matrix

pytestmark = pytest.mark.usefixtures("one_thread")  # loops of many small ops


def _strong(layer: torch.nn.Module) -> None:
    with torch.no_grad():
        layer.conv.weight.mul_(4.0)
        layer.recurrent.weight.mul_(3.0)


def test_conv1d_matches_dense_recurrent_matrix() -> None:
    torch.manual_seed(0)
    layer = RecurrentSpikingConv1d(2, 3, 3, rec_kernel_size=5).double()
    _strong(layer)
    x = (torch.rand(30, 4, 2, 12, dtype=torch.float64) < 0.3).double()
    spikes, mem = layer.simulate(x)
    assert 0.0 < float(spikes.detach().mean()) < 0.5
    cur = layer.input_current(x).reshape(30, 4, -1)
    rec = recurrent_conv_matrix(layer, (10,))
    ref_s, ref_u = lif_sequence(cur, layer.params, recurrent_weight=rec, return_mem=True)
    torch.testing.assert_close(spikes.reshape(30, 4, -1), ref_s)
    torch.testing.assert_close(mem.reshape(30, 4, -1), ref_u)
    # gradients with respect to both weights agree with the dense formulation
    g_out = torch.randn_like(ref_s)
    (spikes.reshape(30, 4, -1) * g_out).sum().backward()
    g_rec, g_ff = layer.recurrent.weight.grad.clone(), layer.conv.weight.grad.clone()
    layer.zero_grad()
    cur = layer.input_current(x).reshape(30, 4, -1)
    rec = recurrent_conv_matrix(layer, (10,))
    out = lif_sequence(cur, layer.params, recurrent_weight=rec)
    (out * g_out).sum().backward()  # type: ignore[operator]
    torch.testing.assert_close(layer.recurrent.weight.grad, g_rec)
    torch.testing.assert_close(layer.conv.weight.grad, g_ff)


def test_conv2d_matches_dense_and_free_membrane() -> None:
    torch.manual_seed(1)
    layer = RecurrentSpikingConv2d(2, 2, 3, padding=1, rec_kernel_size=3).double()
    _strong(layer)
    x = (torch.rand(25, 2, 2, 5, 5, dtype=torch.float64) < 0.3).double()
    spikes, _ = layer.simulate(x)
    cur = layer.input_current(x).reshape(25, 2, -1)
    rec = recurrent_conv_matrix(layer, (5, 5))
    ref_s = lif_sequence(cur, layer.params, recurrent_weight=rec)
    torch.testing.assert_close(spikes.reshape(25, 2, -1), ref_s)
    # free membrane: recurrent input from the actual spikes, reset and threshold off
    _, free = layer.simulate(x, free=True)
    cur_free = cur.clone()
    cur_free[1:] += spikes.reshape(25, 2, -1)[:-1] @ rec.t()
    _, ref_free = lif_sequence(cur_free, layer.params.replace(reset="none"), return_mem=True)
    torch.testing.assert_close(free.reshape(25, 2, -1), ref_free)


RESETS = ["zero", "subtract", "none"]
SYNAPSES = [10e-3, None]  # current and delta synapse


def _layer(dims: int, reset: str, tau_syn: float | None, detach: bool, **kw):
    """A small float64 recurrent conv layer with strong weights, and a sparse input."""
    p = LIFParams(tau_mem=20e-3, tau_syn=tau_syn, dt=1e-3, threshold=1.0, reset=reset)
    if dims == 1:
        layer = RecurrentSpikingConv1d(
            2, 3, 3, params=p, rec_kernel_size=5, detach_reset=detach, **kw
        )
        x = torch.rand(30, 3, 2, 12, dtype=torch.float64) < 0.3
    else:
        layer = RecurrentSpikingConv2d(
            2, 2, 3, params=p, padding=1, rec_kernel_size=3, detach_reset=detach, **kw
        )
        x = torch.rand(30, 3, 2, 5, 5, dtype=torch.float64) < 0.3
    layer = layer.double()
    _strong(layer)
    return layer, x.double()


def _assert_rel(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-4) -> None:
    """``|a - b| <= rel (|b| + max |b|)`` element-wise."""
    scale = float(b.abs().max())
    assert scale > 0, "reference gradient is zero"
    torch.testing.assert_close(a, b, rtol=rel, atol=rel * scale)


def _run_three_ways(layer, x, g_spk, g_mem):
    """Spikes, U and the gradients w.r.t. (input, conv.weight, recurrent.weight) of
    ``sum(S g_spk) + sum(U g_mem)`` for the fused layer, the autograd loop and the
    dense-matrix formulation (each on its own copy of the layer)."""
    steps, batch = x.shape[:2]
    out = []
    for how in ("fused", "loop", "dense"):
        lay = copy.deepcopy(layer)
        xi = x.clone().requires_grad_()
        if how == "fused":
            spikes, mem = lay.simulate(xi)
        elif how == "loop":
            cur = lay.input_current(xi)
            spikes, mem = lif_loop(cur, lay.params, lay.recurrent, lay.surrogate, lay.detach_reset)
        else:
            cur = lay.input_current(xi)
            rec = recurrent_conv_matrix(lay, tuple(cur.shape[3:]))
            spikes, mem = lif_sequence(
                cur.reshape(steps, batch, -1),
                lay.params,
                surrogate=lay.surrogate,
                detach_reset=lay.detach_reset,
                recurrent_weight=rec,
                return_mem=True,
            )
            spikes, mem = spikes.reshape(cur.shape), mem.reshape(cur.shape)
        ((spikes * g_spk).sum() + (mem * g_mem).sum()).backward()
        grads = (xi.grad, lay.conv.weight.grad, lay.recurrent.weight.grad)
        out.append((spikes.detach(), mem.detach(), grads))
    return out


@pytest.mark.parametrize(
    "dims,reset,tau_syn,detach",
    list(itertools.product([1, 2], RESETS, SYNAPSES, [True, False])),
)
def test_fused_matches_autograd_loop_and_dense_matrix(dims, reset, tau_syn, detach) -> None:
    torch.manual_seed(10 + dims)
    layer, x = _layer(dims, reset, tau_syn, detach)
    shape = layer.input_current(x).shape
    g_spk = torch.randn(shape, dtype=torch.float64)
    g_mem = torch.randn(shape, dtype=torch.float64)
    (s, u, grads), *refs = _run_three_ways(layer, x, g_spk, g_mem)
    assert 0.02 < float(s.mean()) < 0.95, "the test input should make neurons fire sometimes"
    for s_ref, u_ref, grads_ref in refs:
        assert torch.equal(s, s_ref)
        torch.testing.assert_close(u, u_ref, rtol=0, atol=1e-5)
        for g, g_ref in zip(grads, grads_ref, strict=True):
            _assert_rel(g, g_ref)


@pytest.mark.parametrize("surrogate", ["superspike", "fast_sigmoid", "atan", "sigmoid", "triangle"])
def test_fused_surrogates_match_autograd_loop(surrogate) -> None:
    torch.manual_seed(20)
    layer, x = _layer(1, "subtract", 10e-3, False, surrogate=surrogate)
    shape = layer.input_current(x).shape
    g_spk = torch.randn(shape, dtype=torch.float64)
    (s, u, grads), (s_ref, u_ref, grads_ref), _ = _run_three_ways(
        layer, x, g_spk, torch.zeros(shape, dtype=torch.float64)
    )
    assert torch.equal(s, s_ref)
    for g, g_ref in zip(grads, grads_ref, strict=True):
        _assert_rel(g, g_ref)


def test_fused_float32_matches_autograd_loop() -> None:
    """The realistic dtype: float32 spikes and gradients agree with the autograd loop."""
    torch.manual_seed(21)
    layer, x = _layer(1, "zero", 10e-3, True)
    layer, x = layer.float(), x.float()
    shape = layer.input_current(x).shape
    g_spk = torch.randn(shape)
    (s, u, grads), (s_ref, u_ref, grads_ref), _ = _run_three_ways(layer, x, g_spk, 0.0 * g_spk)
    assert float(s.mean()) > 0.02
    assert torch.equal(s, s_ref)
    torch.testing.assert_close(u, u_ref, rtol=0, atol=1e-5)
    for g, g_ref in zip(grads, grads_ref, strict=True):
        _assert_rel(g, g_ref)


@pytest.mark.parametrize("dims", [1, 2])
def test_conv_recurrence_gradcheck_float64(dims) -> None:
    """Finite differences on the smooth part (as tests/test_kernel.py): the input stays
    sub-threshold, far from theta, where the triangle surrogate (scale 2) is zero, so
    the true derivative and the surrogate path agree for both outputs."""
    p = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-3, threshold=1.0, reset="zero")
    g = torch.Generator().manual_seed(5)
    state = (2, 2, 5) if dims == 1 else (2, 2, 3, 4)
    kernel = (2, 2, 3) if dims == 1 else (2, 2, 3, 1)
    x = torch.rand(8, *state, generator=g, dtype=torch.float64) * 0.05
    i0 = torch.rand(state, generator=g, dtype=torch.float64) * 0.1
    v0 = torch.rand(state, generator=g, dtype=torch.float64) * 0.1
    w = torch.randn(kernel, generator=g, dtype=torch.float64) * 0.1
    inputs = tuple(t.requires_grad_() for t in (x, i0, v0, w))

    def f(x, i0, v0, w):
        return lif_sequence(
            x,
            p,
            recurrent_op=ConvRecurrence(w),
            initial_state=(i0, v0),
            return_mem=True,
            surrogate="triangle",
            surrogate_scale=2.0,
        )

    assert torch.autograd.gradcheck(f, inputs)


def test_recurrence_operators_are_linear_maps_and_adjoints() -> None:
    """``apply_transpose`` is the adjoint of ``apply`` and ``weight_grad`` the gradient
    of ``sum_t <g[t], R s[t]>``, for the convolution and the dense matrix."""
    torch.manual_seed(6)
    ops = [
        (ConvRecurrence(torch.randn(3, 3, 5, dtype=torch.float64)), (4, 3, 7)),
        (ConvRecurrence(torch.randn(2, 2, 3, 5, dtype=torch.float64)), (4, 2, 4, 6)),
        (MatrixRecurrence(torch.randn(6, 6, dtype=torch.float64)), (4, 6)),
    ]
    for op, state in ops:
        s = torch.randn(state, dtype=torch.float64)
        g = torch.randn(state, dtype=torch.float64)
        torch.testing.assert_close((op.apply(s) * g).sum(), (s * op.apply_transpose(g)).sum())
        torch.testing.assert_close(op.apply_add(g, s), g + op.apply(s))
        torch.testing.assert_close(op.apply_transpose_add(s, g), s + op.apply_transpose(g))
        w = op.weight.clone().requires_grad_()
        s_seq = torch.randn(3, *state, dtype=torch.float64)
        g_seq = torch.randn(3, *state, dtype=torch.float64)
        terms = [(op.with_weight(w).apply(s_seq[t]) * g_seq[t]).sum() for t in range(3)]
        torch.stack(terms).sum().backward()
        torch.testing.assert_close(op.weight_grad(g_seq, s_seq), w.grad)


def test_conv_recurrence_single_step_and_errors() -> None:
    w = torch.randn(3, 3, 5, requires_grad=True)
    x = torch.randn(1, 2, 3, 8, requires_grad=True)
    spikes = lif_sequence(x, LIFParams(), recurrent_op=ConvRecurrence(w))
    spikes.sum().backward()  # type: ignore[union-attr]
    assert w.grad is not None and not w.grad.any()
    with pytest.raises(ValueError, match="odd"):
        ConvRecurrence(torch.randn(3, 3, 4))
    with pytest.raises(ValueError, match=r"\[C, C, k\]"):
        ConvRecurrence(torch.randn(3, 2, 5))
    with pytest.raises(ValueError, match="ConvRecurrence"):
        lif_sequence(torch.randn(4, 2, 2, 8), LIFParams(), recurrent_op=ConvRecurrence(w))
    with pytest.raises(ValueError, match="ConvRecurrence"):
        lif_sequence(torch.randn(4, 2, 3, 8, 8), LIFParams(), recurrent_op=ConvRecurrence(w))
    with pytest.raises(ValueError, match="not both"):
        lif_sequence(
            torch.randn(4, 2, 3),
            LIFParams(),
            recurrent_weight=torch.eye(3),
            recurrent_op=MatrixRecurrence(torch.eye(3)),
        )
    with pytest.raises(TypeError, match="Recurrence"):
        lif_sequence(torch.randn(4, 2, 3), LIFParams(), recurrent_op=torch.eye(3))  # type: ignore[arg-type]


def test_matrix_recurrence_op_equals_recurrent_weight() -> None:
    torch.manual_seed(7)
    p = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-3, threshold=1.0)
    x = torch.randn(20, 3, 5) * 8.0
    w = torch.randn(5, 5) * 0.5
    a = lif_sequence(x, p, recurrent_weight=w, return_mem=True)
    b = lif_sequence(x, p, recurrent_op=MatrixRecurrence(w), return_mem=True)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_weight_groups_and_fan_in() -> None:
    layer = RecurrentSpikingConv1d(4, 8, 7, stride=3, rec_kernel_size=5)
    groups = layer.weight_groups()
    assert [(g.name, g.kind) for g in groups] == [
        ("conv.weight", "ff"),
        ("recurrent.weight", "rec"),
    ]
    assert layer.fan_in == 4 * 7 and layer.rec_fan_in == 8 * 5
    assert RecurrentSpikingConv2d(2, 3, 3, rec_kernel_size=3).rec_fan_in == 3 * 9
    try:
        RecurrentSpikingConv1d(1, 2, 3, rec_kernel_size=4)
    except ValueError as err:
        assert "odd" in str(err)
    else:  # pragma: no cover
        raise AssertionError("even recurrent kernel accepted")


def test_initialize_recurrent_conv_hits_sigma_u() -> None:
    torch.manual_seed(2)
    model = torch.nn.Sequential(
        RecurrentSpikingConv1d(1, 8, 21, stride=10), RecurrentSpikingConv1d(8, 8, 7, stride=3)
    )
    x = (torch.rand(200, 4, 1, 300) < 15.8 * 2e-3).float()
    rep = si.initialize(model, x, seed=0)
    for entry in rep.layers:
        assert abs(entry.measured_sigma_u - 1.0) < 0.1, str(rep)
        assert [g.kind for g in entry.groups] == ["ff", "rec"]
    rep = si.initialize(model, x, seed=0, calibrate=True)
    for entry in rep.layers:
        assert abs(entry.measured_sigma_u - 1.0) < 0.02, str(rep)


def test_pooling_wrappers() -> None:
    x = (torch.rand(3, 2, 4, 6, 6) < 0.3).float()
    y = SpikingMaxPool2d(2)(x)
    assert y.shape == (3, 2, 4, 3, 3) and set(y.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(y[1, 0, 0, 0, 0], x[1, 0, 0, :2, :2].max())
    a = SpikingAvgPool2d(2)(x)
    torch.testing.assert_close(a[2, 1, 3, 1, 2], x[2, 1, 3, 2:4, 4:6].mean())
    assert SpikingMaxPool1d(3)(torch.rand(2, 2, 3, 9)).shape == (2, 2, 3, 3)


def test_time_constant_dropout() -> None:
    torch.manual_seed(3)
    drop = TimeConstantDropout(0.5)
    x = torch.ones(10, 4, 50)
    y = drop(x)
    # the same units are dropped at every step, survivors scaled by 1 / (1 - p)
    assert torch.equal(y, y[0].expand_as(y))
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    assert 0.3 < float((y[0] == 0).float().mean()) < 0.7
    drop.eval()
    assert torch.equal(drop(x), x)


@pytest.mark.parametrize("convention", ["spikeinit", "snntorch", "stork"])
def test_free_membrane_is_the_membrane_without_reset_in_every_convention(convention) -> None:
    """With no reset, a recurrent conv layer's actual membrane is its free membrane (the
    recurrent input from its own spikes, threshold and reset off), whatever the update
    order: an independent check of the alignment of the recurrent input."""
    torch.manual_seed(2)
    params = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-3, reset="none", convention=convention)
    layer = RecurrentSpikingConv1d(2, 3, 3, params=params, padding=1, rec_kernel_size=3).double()
    _strong(layer)
    x = (torch.rand(30, 2, 2, 8, dtype=torch.float64) < 0.3).double()
    spikes, mem = layer.simulate(x)
    assert 0 < float(spikes.detach().mean()) < 1  # spikes reach the recurrent convolution
    _, free = layer.simulate(x, free=True)
    torch.testing.assert_close(free, mem)
