import pytest
import torch
from reference import lif_reference
from torch.nn import functional as F

import spikeinit as si
from spikeinit import losses

P = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-3)


def _spikes(shape, p=0.2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).float()


def test_linear_matches_per_step_reference():
    layer = si.nn.SpikingLinear(20, 8, params=P, recurrent=True)
    with torch.no_grad():
        layer.weight.mul_(30)
    x = _spikes((50, 4, 20))
    cur = torch.stack([x[t] @ layer.weight.T for t in range(50)])
    ref, _ = lif_reference(cur, P, w_rec=layer.recurrent_weight)
    out = layer(x)
    assert out.shape == (50, 4, 8) and out.sum() > 0
    assert torch.equal(out, ref)


def test_layers_compose_and_restart_from_zero_state():
    model = torch.nn.Sequential(
        si.nn.SpikingLinear(20, 16, params=P),
        si.nn.SpikingLinear(16, 16, params=P),
        si.nn.Readout(16, 3, params=P),
    )
    x = _spikes((30, 2, 20))
    a, b = model(x), model(x)
    assert a.shape == (30, 2, 3)
    assert torch.equal(a, b)  # no state carried between calls


def test_conv_layers_fold_time_into_batch():
    c1 = si.nn.SpikingConv1d(2, 4, 3, params=P, stride=2)
    x = _spikes((10, 3, 2, 17))
    with torch.no_grad():
        c1.conv.weight.mul_(20)
    cur = c1.input_current(x)
    direct = torch.stack([F.conv1d(x[t], c1.conv.weight, stride=2) for t in range(10)])
    torch.testing.assert_close(cur, direct)
    assert c1.fan_in == 6 and c1(x).shape == (10, 3, 4, 8)
    c2 = si.nn.SpikingConv2d(2, 3, (3, 3), params=P, padding=1)
    assert c2.fan_in == 18
    assert c2(_spikes((5, 2, 2, 6, 6))).shape == (5, 2, 3, 6, 6)


def test_protocol_tags_and_fan_in():
    layer = si.nn.SpikingLinear(7, 5, params=P, recurrent=True)
    kinds = [(g.name, g.kind) for g in layer.weight_groups()]
    assert kinds == [("weight", "ff"), ("recurrent_weight", "rec")]
    assert layer.fan_in == 7 and layer.params is P


def test_free_membrane_is_linear_filter():
    layer = si.nn.SpikingLinear(10, 4, params=P)
    x = _spikes((40, 2, 10))
    spikes, free = layer.simulate(x, free=True)
    cur = layer.input_current(x)
    _, expected = lif_reference(cur, P.replace(reset="none"))
    torch.testing.assert_close(free, expected)


def test_readout_is_leaky_integrator_without_spikes():
    r = si.nn.Readout(6, 2, params=P)
    x = _spikes((25, 3, 6))
    out = r(x)
    _, expected = lif_reference(r.input_current(x), P.replace(reset="none"))
    torch.testing.assert_close(out, expected)


def test_bad_shapes_and_dtypes():
    layer = si.nn.SpikingLinear(10, 4, params=P)
    with pytest.raises(ValueError, match=r"\[T, B, 10\]"):
        layer(torch.zeros(5, 2, 9))
    with pytest.raises(ValueError, match=r"\[T, B, 10\]"):
        layer(torch.zeros(2, 10))
    with pytest.raises(TypeError, match="floating point"):
        layer(torch.zeros(5, 2, 10, dtype=torch.bool))
    with pytest.raises(ValueError, match="C, H, W"):
        si.nn.SpikingConv2d(2, 3, 3, params=P)(torch.zeros(5, 2, 2, 6))
    with pytest.raises(ValueError, match="out_features"):
        si.nn.SpikingLinear(10, 0)
    with pytest.raises(TypeError, match="LIFParams"):
        si.nn.SpikingLinear(10, 3, params={"tau_mem": 0.02})


def test_losses_against_direct_computation():
    g = torch.Generator().manual_seed(0)
    trace = torch.randn(12, 5, 4, generator=g)
    y = torch.tensor([0, 1, 2, 3, 1])

    def ce(z):
        return -(z.log_softmax(-1)[torch.arange(5), y]).mean()

    torch.testing.assert_close(losses.max_over_time_ce(trace, y), ce(trace.max(0).values))
    torch.testing.assert_close(losses.mean_over_time_ce(trace, y), ce(trace.mean(0)))
    torch.testing.assert_close(losses.sum_over_time_ce(trace, y), ce(trace.sum(0)))
    spk = (trace > 0.5).float()
    torch.testing.assert_close(losses.spike_count_ce(spk, y), ce(spk.sum(0)))
    with pytest.raises(ValueError, match="target"):
        losses.max_over_time_ce(trace, y[:3])
    with pytest.raises(ValueError, match=r"\[T, B, C\]"):
        losses.max_over_time_ce(trace[0], y)


def test_logits_are_the_per_class_scores_over_time():
    g = torch.Generator().manual_seed(1)
    trace = torch.randn(30, 6, 3, generator=g)
    trace[4, 2, 1] = float("nan")  # a NaN wins the maximum, as in max(dim=0)
    trace[:, 0, 0] = 0.0  # ties
    want = {"max": trace.max(0).values, "mean": trace.mean(0), "sum": trace.sum(0)}
    for name, scores in want.items():
        torch.testing.assert_close(
            losses.logits(trace, name), scores, rtol=0, atol=0, equal_nan=True
        )
