"""Recurrent convolution layers, pooling wrappers and time-constant dropout."""

from __future__ import annotations

import torch

import spikeinit as si
from spikeinit.neuron import lif_sequence
from spikeinit.nn import (
    RecurrentSpikingConv1d,
    RecurrentSpikingConv2d,
    SpikingAvgPool2d,
    SpikingMaxPool1d,
    SpikingMaxPool2d,
    TimeConstantDropout,
)
from spikeinit.nn.recurrent_conv import recurrent_conv_matrix


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
    assert 0.0 < float(spikes.mean()) < 0.5
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
