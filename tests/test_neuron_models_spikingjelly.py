"""SpikingJelly's current-based, online-learning and non-spiking LIF nodes (issue 25):
spikeinit's layer runs SpikingJelly's own step spike for spike, its free membrane is
SpikingJelly's own forward with ``v_threshold = 1e30``, and one call lands sigma_U on
target. The refused nodes name their reason; the divergence that makes QIF / EIF /
Izhikevich nodes refused is checked on SpikingJelly's own code.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

neuron = pytest.importorskip("spikingjelly.activation_based.neuron")
from spikingjelly.activation_based import functional, layer  # noqa: E402

import spikeinit as si  # noqa: E402
from spikeinit.adapters import find_layers  # noqa: E402

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore")]

T, B, N = 40, 4, 6

NODES = {
    "CUBALIFNode": lambda: neuron.CUBALIFNode(),
    "CUBALIFNode_soft": lambda: neuron.CUBALIFNode(c_decay=0.8, v_decay=0.9, v_reset=None),
    "OTTTLIFNode": lambda: neuron.OTTTLIFNode(tau=2.0).eval(),
    "OTTTLIFNode_training": lambda: neuron.OTTTLIFNode(tau=2.0),
    "SLTTLIFNode": lambda: neuron.SLTTLIFNode(tau=4.0, v_reset=None),
    "SimpleLIFNode": lambda: neuron.SimpleLIFNode(tau=3.0, decay_input=True),
    "SimpleLIFNode_no_decay_input": lambda: neuron.SimpleLIFNode(tau=3.0, decay_input=False),
    "SimpleIFNode": lambda: neuron.SimpleIFNode(),
}


def _own(node: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SpikingJelly's own single-step forward: the spikes and ``node.v`` after each step."""
    functional.reset_net(node)
    spikes, mems = [], []
    with torch.no_grad():
        for t in range(x.shape[0]):
            out = node(x[t])
            spikes.append(out[0] if isinstance(out, (list, tuple)) else out)
            mems.append(node.v.clone())
    functional.reset_net(node)
    return torch.stack(spikes), torch.stack(mems)


@pytest.mark.parametrize("name", list(NODES))
def test_spikes_and_free_membrane_are_spikingjellys_own(name: str) -> None:
    node = NODES[name]()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(T, B, N, generator=g) * 1.5
    [(_, lay)] = find_layers(nn.Sequential(node), x, time_dim=0)
    spikes, _ = lay.simulate(x)
    own_spikes, _ = _own(node, x)
    assert spikes.sum() > 0
    assert torch.equal(spikes, own_spikes)
    free = copy.deepcopy(node)
    free.v_threshold = 1e30
    _, own_free = _own(free, x)
    torch.testing.assert_close(lay.free_membrane(x), own_free)


@pytest.mark.parametrize("name", ["CUBALIFNode", "CUBALIFNode_soft"])
def test_cuba_kernel_is_the_synaptic_one(name: str) -> None:
    """The mapped LIFParams' PSP kernel is SpikingJelly's own impulse response."""
    node = NODES[name]()
    impulse = torch.zeros(60, 1, 1)
    impulse[0] = 1.0
    [(_, lay)] = find_layers(nn.Sequential(node), impulse, time_dim=0)
    free = copy.deepcopy(node)
    free.v_threshold = 1e30
    _, own = _own(free, impulse)
    kernel = si.theory.psp_kernel(lay.params)
    n = min(len(kernel), 60)
    assert n >= 30
    torch.testing.assert_close(own.flatten()[:n].double(), kernel[:n], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("decode", [None, "mean-mem", "last_mem"])
def test_nonspiking_lif_is_a_readout_run_by_its_own_charge(decode: str | None) -> None:
    node = neuron.NonSpikingLIFNode(tau=3.0, decode=decode)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(T, B, N, generator=g)
    [(_, lay)] = find_layers(nn.Sequential(node), x)
    assert lay.is_readout and lay.mode == "seq"
    spikes, mem = lay.simulate(x)
    assert not spikes.any()
    own = neuron.NonSpikingLIFNode(tau=3.0)(x)  # decode=None: the membrane sequence
    torch.testing.assert_close(mem, torch.stack(own))


@pytest.mark.parametrize(
    "name", ["CUBALIFNode", "OTTTLIFNode", "SLTTLIFNode", "SimpleLIFNode", "SimpleIFNode"]
)
def test_one_call_lands_hidden_layer_on_target(name: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        layer.Linear(40, 32), NODES[name](), layer.Linear(32, 10), neuron.LIFNode()
    )
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(80, 8, 40, generator=g) < 0.1).float()
    report = si.initialize(model, x, time_dim=0, seed=0)
    functional.reset_net(model)
    diag = si.diagnose(model, x, time_dim=0)
    target = {la.name: la.target_sigma_u_theta for la in report.layers}
    for d in diag.layers:
        assert d.sigma_u_theta == pytest.approx(target[d.name], rel=0.10), d.name


def test_nonspiking_readout_model_lands_on_target() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        layer.Linear(40, 32, step_mode="m"),
        neuron.LIFNode(step_mode="m"),
        layer.Linear(32, 10, step_mode="m"),
        neuron.NonSpikingLIFNode(decode="mean-mem"),
    )
    x = (torch.rand(80, 8, 40, generator=torch.Generator().manual_seed(4)) < 0.1).float()
    si.initialize(model, x, seed=0)
    functional.reset_net(model)
    diag = si.diagnose(model, x)
    assert [d.state for d in diag.layers][-1] == "readout"
    assert diag.layers[0].sigma_u_theta == pytest.approx(1.0, rel=0.10)


@pytest.mark.parametrize("cls", ["QIFNode", "EIFNode", "IzhikevichNode"])
def test_divergent_nodes_are_refused_and_do_diverge(cls: str) -> None:
    """With the threshold off, SpikingJelly's own update runs to infinity (the reason)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        node = getattr(neuron, cls)()
    free = copy.deepcopy(node)
    free.v_threshold = 1e30
    x = torch.full((400, 1, 1), 2.0)
    _, v = _own(free, x)
    assert not torch.isfinite(v[-1]).all() or v[-1].abs().max() > 1e6
    with pytest.raises(ValueError) as err:
        si.initialize(nn.Sequential(nn.Linear(N, N), node), torch.rand(T, B, N), time_dim=0)
    msg = str(err.value)
    assert f"'1' (spikingjelly {cls})" in msg and "runs to infinity" in msg


@pytest.mark.parametrize("cls", ["SpikingLSTM", "SpikingGRU"])
def test_spiking_rnns_are_refused_as_lstm_style(cls: str) -> None:
    from spikingjelly.activation_based import rnn

    model = getattr(rnn, cls)(N, N, 1)
    with pytest.raises(ValueError) as err:
        si.initialize(model, torch.rand(T, B, N))
    msg = str(err.value)
    assert f"(spikingjelly {cls})" in msg
    assert "gate pre-activations" in msg and "kaiming_normal_" in msg
