"""``si.register_neuron``: a neuron class of one's own, taught in a few lines (issue 25).

The example of docs/interop.md, section 'Your own neuron', is executed here as written
(a tiny LIF ``nn.Module`` with ``beta`` and ``threshold`` and its adapter), and checked:
every neuron at sigma_U = 1 theta, the free membrane that of the kernel the adapter
gives, the neurons refused by name before the registration and after its removal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import spikeinit as si
from spikeinit.adapters import (
    NeuronAdapter,
    find_layers,
    free_copy,
    registered_neurons,
    supported_neurons,
    unregister_neuron,
)
from spikeinit.init.outputs import OUTPUT_SIGMA_U
from spikeinit.neuron import lif_sequence

ROOT = Path(__file__).resolve().parents[1]


def _doc_block() -> str:
    text = (ROOT / "docs" / "interop.md").read_text()
    section = text.split("## Your own neuron", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


@pytest.fixture
def doc_scope() -> Iterator[dict[str, Any]]:
    scope: dict[str, Any] = {"__name__": "interop_doc"}
    exec(compile(_doc_block(), "docs/interop.md [Your own neuron]", "exec"), scope)
    try:
        yield scope
    finally:
        unregister_neuron(scope["MyLIF"])


def test_the_documented_example_runs_and_hits_the_target(doc_scope: dict[str, Any]) -> None:
    my_lif, report, net, x = (doc_scope[k] for k in ("MyLIF", "report", "net", "x"))
    assert my_lif in registered_neurons()
    assert isinstance(doc_scope["MyLIFAdapter"](), NeuronAdapter)  # the Protocol, at runtime
    assert supported_neurons()["registered MyLIF"] == ("MyLIF",)
    assert [layer.name for layer in report.layers] == ["1", "3"]
    aims = {layer.name: layer.target_sigma_u_theta for layer in report.layers}
    assert aims == {"1": 1.0, "3": OUTPUT_SIGMA_U}  # the last layer's spikes are the output
    assert all(abs(la.sigma_u_theta / aims[la.name] - 1.0) < 0.02 for la in report.layers)
    diag = si.diagnose(net, x, time_dim=0)
    assert all(abs(la.sigma_u_theta / aims[la.name] - 1.0) < 0.02 for la in diag.layers)
    assert all(layer.predicted_sigma_u_filtered is not None for layer in diag.layers)
    # the weights were set in the user's own Linear modules
    assert {m.name for m in report.modules if m.initialised} == {"0", "2"}


def test_the_free_membrane_is_the_adapters_kernel(doc_scope: dict[str, Any]) -> None:
    net, x = doc_scope["net"], doc_scope["x"]
    layers = find_layers(net, x, time_dim=0)
    layer = layers[0][1]
    current = torch.nn.functional.linear(x, net[0].weight, net[0].bias)
    free = layer.free_membrane(current)
    p = layer.params.replace(reset="none", threshold=1e30)
    _, ref = lif_sequence(current.reshape(50, -1), p, return_mem=True)
    torch.testing.assert_close(free.reshape(50, -1), ref, rtol=1e-5, atol=1e-5)
    spikes, _ = layer.simulate(current)
    assert 0 < float(spikes.mean()) < 0.5  # the neuron's own spikes, with its threshold


def test_unregistered_it_is_refused_by_name(doc_scope: dict[str, Any]) -> None:
    net, x, my_lif = doc_scope["net"], doc_scope["x"], doc_scope["MyLIF"]
    unregister_neuron(my_lif)
    with pytest.raises(ValueError, match=r"no known class: '1' \(MyLIF\), '3' \(MyLIF\)"):
        si.initialize(net, x, time_dim=0)


class SeqLIF(nn.Module):
    """A neuron that takes the whole sequence and returns (spikes, membrane)."""

    def __init__(self, beta: float = 0.9) -> None:
        super().__init__()
        self.beta = beta
        self.v_th = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        u = torch.zeros_like(x[0])
        spikes, mems = [], []
        for t in range(x.shape[0]):
            u = self.beta * u + x[t]
            s = (u > self.v_th).float()
            mems.append(u)
            spikes.append(s)
            u = u * (1 - s)
        return torch.stack(spikes), torch.stack(mems)


class SeqNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(30, 20)
        self.lif = SeqLIF()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lif(self.fc(x))[0]


class SeqAdapter:
    mode = "seq"

    def threshold(self, neuron: SeqLIF) -> float:
        return float(neuron.v_th.detach())

    def free(self, neuron: SeqLIF) -> nn.Module:
        return free_copy(neuron, "v_th")

    def reset(self, neuron: SeqLIF) -> None:
        pass

    def output(self, neuron: SeqLIF, out: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return out


def test_a_sequence_neuron_without_params_is_set_by_measurement() -> None:
    si.register_neuron(SeqLIF, SeqAdapter())
    try:
        torch.manual_seed(0)
        net = SeqNet()
        x = (torch.rand(40, 3, 30) < 0.1).float()
        before = net.lif.v_th.detach().clone()
        report = si.initialize(net, x, seed=0)  # a "seq" neuron: no time_dim needed
        layer = report.layers[0]
        assert abs(layer.sigma_u_theta / layer.target_sigma_u_theta - 1.0) < 0.02
        assert any("no LIFParams form given" in n for n in report.layers[0].notes)
        assert torch.equal(net.lif.v_th.detach(), before)  # the neuron's own threshold kept
        assert free_copy(net.lif, "v_th").v_th.item() == pytest.approx(1e30)
    finally:
        unregister_neuron(SeqLIF)
    assert SeqLIF not in registered_neurons()


def test_a_framework_class_the_adapter_refuses_can_be_registered() -> None:
    snn = pytest.importorskip("snntorch")

    class Adapter:
        mode = "step"

        def threshold(self, n: Any) -> float:
            return float(n.threshold)

        def free(self, n: Any) -> nn.Module:
            return free_copy(n, "threshold")

        def reset(self, n: Any) -> None:
            n.reset_mem()

        def output(self, n: Any, out: Any) -> tuple[torch.Tensor, torch.Tensor]:
            return (out[0] if isinstance(out, tuple) else out), n.mem

    net = nn.Sequential(nn.Linear(10, 8), snn.DeltaLeaky(beta=0.9, init_hidden=True))
    x = (torch.rand(30, 2, 10) < 0.3).float()
    with pytest.raises(ValueError, match=r"'1' \(snntorch DeltaLeaky\).*does not support"):
        si.initialize(net, x, time_dim=0)
    si.register_neuron(snn.DeltaLeaky, Adapter())
    try:
        report = si.initialize(net, x, time_dim=0, seed=0)
        layer = report.layers[0]
        assert abs(layer.sigma_u_theta / layer.target_sigma_u_theta - 1.0) < 0.05
    finally:
        unregister_neuron(snn.DeltaLeaky)


def test_register_neuron_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="nn.Module class"):
        si.register_neuron(object, SeqAdapter())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="lacks output"):

        class NoOutput:
            mode = "seq"

            def threshold(self, n: Any) -> float:
                return 1.0

            def free(self, n: Any) -> Any:
                return n

            def reset(self, n: Any) -> None:
                pass

        si.register_neuron(SeqLIF, NoOutput())  # type: ignore[arg-type]
    bad = SeqAdapter()
    bad.mode = "steps"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="'step'.*'seq'"):
        si.register_neuron(SeqLIF, bad)
    assert SeqLIF not in registered_neurons()
