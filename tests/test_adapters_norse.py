"""Norse models through spikeinit's adapters."""

from __future__ import annotations

import pytest
import torch
from torch import nn

norse = pytest.importorskip("norse.torch")

import spikeinit as si  # noqa: E402
from spikeinit.adapters import find_layers  # noqa: E402
from spikeinit.init.outputs import OUTPUT_SIGMA_U  # noqa: E402
from spikeinit.neuron import lif_sequence  # noqa: E402

T, B, N_IN = 100, 16, 200


pytestmark = pytest.mark.usefixtures("one_thread")


def poisson(seed: int = 0, n: int = N_IN) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, B, n, generator=g) < 0.02).float()


def tutorial() -> nn.Module:
    torch.manual_seed(0)
    return norse.SequentialState(
        nn.Linear(N_IN, 128),
        norse.LIF(),
        nn.Linear(128, 64),
        norse.LIFRecurrent(64, 48),
        nn.Linear(48, 32),
        norse.LI(),
    )


def test_find_layers_sequential_state() -> None:
    net = tutorial()
    layers = find_layers(net, poisson())
    assert [type(layer.neuron).__name__ for _, layer in layers] == ["LIF", "LIFRecurrent", "LI"]
    rec = layers[1][1]
    assert [g.kind for g in rec.weight_groups()] == ["ff", "rec"]
    assert rec.weight_groups()[0].weight is net[3].input_weights
    assert layers[2][1].is_readout and layers[2][1].params.reset == "none"


def test_kernel_and_spikes_match_the_reference() -> None:
    """Norse's step is the reference update (from_norse): same kernel, same spikes."""
    net = norse.SequentialState(nn.Linear(1, 1), norse.LIF())
    layer = find_layers(net)[0][1]
    impulse = torch.zeros(80, 1, 1)
    impulse[0] = 1.0
    _, mem = layer.run_current(impulse, free=True)
    torch.testing.assert_close(
        mem.flatten().double(), si.theory.psp_kernel(layer.params)[:80], rtol=1e-4, atol=1e-6
    )
    current = torch.randn(T, B, 1) * 8.0 + 4.0
    spikes, mem = layer.run_current(current)
    ref_s, ref_m = lif_sequence(current, layer.params, return_mem=True)
    assert torch.equal(spikes, ref_s)
    torch.testing.assert_close(mem, ref_m, rtol=1e-4, atol=1e-4)


def test_cell_in_a_time_loop() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(N_IN, 32)
            self.cell = norse.LIFCell()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            state, out = None, []
            for t in range(x.shape[0]):
                z, state = self.cell(self.fc(x[t]), state)
                out.append(z)
            return torch.stack(out)

    x = poisson()
    report = si.initialize(Net(), x, method="fluctuation", seed=2)
    layer = report.layers[0]  # its spikes are the output: the decode-aware target
    assert layer.output == "spikes" and layer.target_sigma_u_theta == OUTPUT_SIGMA_U
    assert abs(layer.measured_sigma_u / OUTPUT_SIGMA_U - 1.0) < 0.1


def test_fluctuation_init_hits_sigma_u() -> None:
    x = poisson()
    net = tutorial()
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
    print(
        "norse sigma_U  default init:",
        [round(d.free_mem_std, 3) for d in default.layers],
        " fluctuation:",
        [round(s, 3) for s in measured],
        " calibrated:",
        [round(s, 3) for s in calibrated],
    )


def test_unsupported_neuron_is_named() -> None:
    net = norse.SequentialState(nn.Linear(4, 4), norse.LIFMCRecurrentCell(4, 4))
    with pytest.raises(ValueError, match="LIFMCRecurrentCell.*multi-compartment.*supported"):
        si.diagnose(net, poisson(n=4), time_dim=0)
