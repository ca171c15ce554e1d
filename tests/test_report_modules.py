"""``report.modules`` says why each module left alone was left alone (issue 25, item 4).

A neuron's own parameters (Norse ``tau_mem_inv`` held as an ``nn.Parameter`` by the
model, SpikingJelly's learnable ``w`` with a data-free rule) are neuron parameters; a
module between the weights and a neuron (LayerNorm) is passed through; a module that
feeds a module that looks like a neuron of no known class is not "feeding no neuron".
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import spikeinit as si


def _reasons(report: si.InitReport) -> dict[str, str | None]:
    return {m.name: m.reason for m in report.modules if not m.initialised}


def test_a_norse_time_constant_held_by_the_model_is_a_neuron_parameter() -> None:
    norse = pytest.importorskip("norse.torch")

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tau_mem_inv = nn.Parameter(torch.full((16,), 100.0))
            self.fc = nn.Linear(10, 16)
            self.lif = norse.LIF(p=norse.LIFParameters(tau_mem_inv=self.tau_mem_inv))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lif(self.fc(x))[0]

    torch.manual_seed(0)
    net = Net()
    report = si.initialize(net, (torch.rand(40, 2, 10) < 0.3).float(), seed=0)
    reason = _reasons(report)[""]
    assert reason is not None and "neuron parameters (lif.p.tau_mem_inv)" in reason
    assert "feeds no" not in reason


def test_a_learnable_time_constant_with_a_data_free_rule_is_a_neuron_parameter() -> None:
    sj = pytest.importorskip("spikingjelly.activation_based.neuron")
    net = nn.Sequential(nn.Linear(10, 8), sj.ParametricLIFNode(), nn.Linear(8, 4))
    report = si.initialize(net, None, method="micheli", seed=0)
    reasons = _reasons(report)
    assert reasons["1"] is not None and reasons["1"].startswith("neuron parameters")
    assert reasons["2"] is not None and "feeds no spiking neuron" in reasons["2"]


def test_a_layernorm_between_weights_and_neuron_is_passed_through() -> None:
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 8), nn.LayerNorm(8), snn.Leaky(beta=0.9, init_hidden=True))
    report = si.initialize(net, (torch.rand(30, 2, 10) < 0.3).float(), time_dim=0, seed=0)
    reason = _reasons(report)["1"]
    assert reason is not None and "between the weights and neuron '2'" in reason


class Unknown(nn.Module):
    """A neuron of a class spikeinit does not know (its spike breaks the graph)."""

    def __init__(self) -> None:
        super().__init__()
        self.threshold = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > self.threshold).float()


def test_a_module_feeding_an_unknown_neuron_is_not_said_to_feed_none() -> None:
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(10, 8), Unknown(), nn.Linear(8, 4), snn.Leaky(beta=0.9, init_hidden=True)
    )
    report = si.initialize(net, torch.rand(30, 2, 10), time_dim=0, seed=0)
    reasons = _reasons(report)
    assert "'1' (Unknown)" in str(reasons["0"]) and "si.register_neuron" in str(reasons["0"])
    assert "feeds no" not in str(reasons["0"])
    assert "looks like a neuron of no class spikeinit knows" in str(reasons["1"])
