"""SpikingJelly models through spikeinit's adapters."""

from __future__ import annotations

import pytest
import torch
from torch import nn

sj = pytest.importorskip("spikingjelly.activation_based")

from spikingjelly.activation_based import layer as sjl  # noqa: E402
from spikingjelly.activation_based import neuron as sjn  # noqa: E402

import spikeinit as si  # noqa: E402
from spikeinit.adapters import find_layers  # noqa: E402
from spikeinit.neuron import lif_sequence  # noqa: E402

T, B, N_IN = 100, 16, 200


pytestmark = pytest.mark.usefixtures("one_thread")


def poisson(seed: int = 0, n: int = N_IN) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, n, generator=g) < 0.02).float()


def tutorial() -> nn.Module:
    """Multi-step style: layer.Linear and SeqToANNContainer, LIF and PLIF nodes."""
    torch.manual_seed(0)
    return nn.Sequential(
        sjl.Linear(N_IN, 128, step_mode="m"),
        sjn.LIFNode(tau=10.0, step_mode="m"),
        sjl.SeqToANNContainer(nn.Linear(128, 64)),
        sjn.ParametricLIFNode(init_tau=10.0, decay_input=False, v_reset=None, step_mode="m"),
        sjl.Linear(64, 32, step_mode="m"),
        sjn.LIFNode(tau=5.0, v_reset=-0.2, step_mode="m"),
    )


@pytest.mark.parametrize(
    "node",
    [
        lambda: sjn.LIFNode(tau=4.0),
        lambda: sjn.LIFNode(tau=4.0, decay_input=False, v_reset=None),
        lambda: sjn.ParametricLIFNode(init_tau=3.0),
    ],
)
def test_kernel_matches_the_reference(node) -> None:
    layer = find_layers(nn.Sequential(nn.Linear(1, 1), node()))[0][1]
    impulse = torch.zeros(20, 1, 1)
    impulse[0] = 1.0
    _, mem = layer.run_current(impulse, free=True)
    torch.testing.assert_close(
        mem.flatten().double(), si.theory.psp_kernel(layer.params)[:20], rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("v_reset", [0.0, None])
def test_spikes_match_the_reference(v_reset) -> None:
    """Hard reset to 0 and the (decayed) soft reset are the reference update exactly."""
    node = sjn.LIFNode(tau=4.0, v_reset=v_reset, step_mode="m")
    layer = find_layers(nn.Sequential(nn.Linear(1, 30), node))[0][1]
    current = torch.randn(T, B, 30) * 2.0 + 1.0
    spikes, mem = layer.run_current(current)
    ref_s, ref_m = lif_sequence(current, layer.params, return_mem=True)
    assert torch.equal(spikes, ref_s)
    torch.testing.assert_close(mem, ref_m, rtol=1e-5, atol=1e-5)


def test_fluctuation_init_hits_sigma_u() -> None:
    x = poisson()
    net = tutorial()
    layers = find_layers(net, x)
    assert [layer.mode for _, layer in layers] == ["seq"] * 3
    assert any("learnable" in n for n in layers[1][1].notes)
    assert any("v_reset" in n for n in layers[2][1].notes)
    default = si.diagnose(net, x)
    report = si.initialize(net, x, method="fluctuation", seed=0)
    measured = [layer.measured_sigma_u for layer in report.layers]
    # each layer at its target: sigma_u = 1 (hidden), 0.5 (the output layer, decode-aware)
    aims = [la.target_sigma_u_theta * la.threshold for la in report.layers]
    assert aims[:-1] == [1.0] * (len(aims) - 1) and report.layers[-1].output is not None
    assert all(abs(s / a - 1.0) < 0.10 for s, a in zip(measured, aims, strict=True)), measured
    cal = si.initialize(net, x, method="fluctuation", seed=0, calibrate=True)
    calibrated = [layer.measured_sigma_u for layer in cal.layers]
    assert all(abs(s / a - 1.0) <= 0.02 + 1e-9 for s, a in zip(calibrated, aims, strict=True))
    out = net(x)  # the user's own model still runs, from a clean state
    assert out.shape == (T, B, 32)
    print(
        "spikingjelly sigma_U  default init:",
        [round(d.free_mem_std, 3) for d in default.layers],
        " fluctuation:",
        [round(s, 3) for s in measured],
        " calibrated:",
        [round(s, 3) for s in calibrated],
    )


def test_unsupported_neuron_is_named() -> None:
    net = nn.Sequential(sjl.Linear(4, 4, step_mode="m"), sjn.IzhikevichNode(step_mode="m"))
    with pytest.raises(ValueError, match="IzhikevichNode.*supported"):
        si.initialize(net, poisson(n=4), method="fluctuation")
