"""Decode-aware output layers and the input-aware default target (issue 24).

* the traced forward finds the output layer(s): neurons whose spikes or membrane reach the
  returned tensors through no module with parameters (a neuron feeding a Linear head is
  hidden);
* ``readout="auto"`` sets them to ``OUTPUT_SIGMA_U``; a number, ``"fluctuation"``,
  ``"normal"``, ``"keep"`` and a per-layer dict do what they say; the report marks them;
* ``sigma_u=None`` is 1 theta for time-varying input and ``STATIC_SIGMA_U`` for a static one;
* spikeinit's own models keep the papers' readout rule (``"auto"`` == ``"fluctuation"``).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import spikeinit as si
from spikeinit.adapters import find
from spikeinit.init.foreign import STATIC_SIGMA_U
from spikeinit.init.outputs import OUTPUT_SIGMA_U, READOUT_SIGMA_U

snn = pytest.importorskip("snntorch")


class Tutorial5(nn.Module):
    """snnTorch tutorial 5's Net (examples/tutorial_5_FCN.ipynb), sized down: the static
    input at every step, (spikes, membrane) records returned."""

    def __init__(self, n_in: int = 30, hidden: int = 40, steps: int = 20) -> None:
        super().__init__()
        self.steps = steps
        self.fc1, self.lif1 = nn.Linear(n_in, hidden), snn.Leaky(beta=0.9)
        self.fc2, self.lif2 = nn.Linear(hidden, 10), snn.Leaky(beta=0.9)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        spk_rec, mem_rec = [], []
        for t in range(self.steps):
            inp = x[t] if x.dim() == 3 else x  # time-first spikes, or a static batch
            spk1, mem1 = self.lif1(self.fc1(inp), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            spk_rec.append(spk2)
            mem_rec.append(mem2)
        return torch.stack(spk_rec), torch.stack(mem_rec)


class LinearHead(Tutorial5):
    """The same, decoded by a non-spiking Linear head on the last neuron's spike counts."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(10, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        spikes, _ = super().forward(x)
        return self.head(spikes.sum(0))


def _spikes(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(20, 16, 30, generator=g) < 0.2).float()


def _static(seed: int = 0) -> torch.Tensor:
    return torch.rand(16, 30, generator=torch.Generator().manual_seed(seed))


def test_the_trace_finds_the_decoded_layer_and_what_of_it_is_decoded():
    trace, _ = find.find_sites(Tutorial5(), _spikes())
    assert trace.outputs == {"lif2": ["spikes", "state"]}
    trace, _ = find.find_sites(LinearHead(), _spikes())
    assert trace.outputs == {}  # behind a weight: the Linear head is the output layer
    seq = nn.Sequential(
        nn.Linear(30, 20), snn.Leaky(beta=0.9, init_hidden=True),
        nn.Linear(20, 5), snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )  # fmt: skip
    trace, _ = find.find_sites(seq, _spikes(), forward=find.time_loop)
    assert list(trace.outputs) == ["3"]


def test_auto_sets_the_output_layer_to_its_own_target_and_reports_it():
    torch.manual_seed(0)
    report = si.initialize(Tutorial5(), _spikes(), seed=0)
    hidden, out = report.layers
    assert hidden.output is None and hidden.target_sigma_u_theta == 1.0
    assert abs(hidden.sigma_u_theta - 1.0) < 0.1
    assert out.output == "spikes, membrane" and "decode-aware" in out.output_rule
    assert out.target_sigma_u_theta == OUTPUT_SIGMA_U
    assert abs(out.sigma_u_theta - OUTPUT_SIGMA_U) < 0.1 * OUTPUT_SIGMA_U
    assert "(output: spikes, membrane, decode-aware" in str(report)
    # the output layer fires far less than a hidden layer set to 1 theta would
    as_hidden = si.initialize(Tutorial5(), _spikes(), seed=0, readout="fluctuation")
    assert abs(as_hidden.layers[1].sigma_u_theta - 1.0) < 0.1
    assert out.measured_rate_hz < 0.5 * as_hidden.layers[1].measured_rate_hz


def test_a_linear_head_leaves_every_spiking_layer_hidden():
    report = si.initialize(LinearHead(), _spikes(), seed=0)
    assert [la.output for la in report.layers] == [None, None]
    assert all(abs(la.sigma_u_theta - 1.0) < 0.1 for la in report.layers)


def test_keep_normal_numbers_and_per_layer_rules():
    torch.manual_seed(0)
    net = Tutorial5()
    before = net.fc2.weight.detach().clone()
    report = si.initialize(net, _spikes(), seed=0, readout="keep")
    assert torch.equal(net.fc2.weight, before)  # the framework's draw, bit for bit
    assert "readout='keep'" in report.layers[1].output_rule
    si.initialize(net, _spikes(), seed=0, readout="normal")
    assert abs(float(net.fc2.weight.detach().std()) - 40**-0.5) < 0.2 * 40**-0.5
    report = si.initialize(net, _spikes(), seed=0, readout=0.25)
    assert abs(report.layers[1].sigma_u_theta - 0.25) < 0.025
    report = si.initialize(net, _spikes(), seed=0, readout={"lif2": 2.0})
    assert abs(report.layers[1].sigma_u_theta - 2.0) < 0.2
    for bad in ("bogus", -1.0, 0.0, float("nan"), {"lif2": "nope"}):
        weights = net.fc2.weight.detach().clone()
        with pytest.raises(ValueError, match="readout must be one of"):
            si.initialize(net, _spikes(), seed=0, readout=bad)
        assert torch.equal(net.fc2.weight, weights)  # nothing changed


def test_default_sigma_u_reads_static_or_temporal_input_from_the_trace():
    temporal = si.initialize(Tutorial5(), _spikes(), seed=0)
    static = si.initialize(Tutorial5(), _static(), seed=0)
    explicit = si.initialize(Tutorial5(), _static(), seed=0, sigma_u=1.0)
    assert temporal.targets["sigma_u"] == 1.0 and static.targets["sigma_u"] == STATIC_SIGMA_U
    assert "varies in time" in temporal.layers[0].notes[-1]
    assert "static in time" in static.layers[0].notes[-1]
    assert abs(static.layers[0].sigma_u_theta - STATIC_SIGMA_U) < 0.05
    assert static.layers[0].variance == "total"
    assert abs(explicit.layers[0].sigma_u_theta - 1.0) < 0.1  # a given sigma_u is kept


def test_spikeinit_models_keep_the_papers_readout_rule():
    p = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-3)
    x = (torch.rand(100, 8, 20, generator=torch.Generator().manual_seed(0)) < 0.05).float()

    def build() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(si.nn.SpikingLinear(20, 16, params=p), si.nn.Readout(16, 4, params=p))

    auto, fluct = build(), build()
    si.initialize(auto, x, seed=0)
    si.initialize(fluct, x, seed=0, sigma_u=1.0, readout="fluctuation")
    for a, b in zip(auto.parameters(), fluct.parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="dict applies to snnTorch"):
        si.initialize(build(), x, readout={"1": "keep"})


def test_a_non_spiking_readout_gets_the_readout_target():
    """Norse's classifiers decode an LI cell's membrane (norse/notebooks
    mnist_classifiers.ipynb: LIFRecurrentCell -> Linear -> LICell, max over time)."""
    norse = pytest.importorskip("norse.torch")
    from spikeinit.init.outputs import READOUT_SIGMA_U

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.l1 = norse.LIFRecurrentCell(30, 40)
            self.fc_out = nn.Linear(40, 10, bias=False)
            self.out = norse.LICell()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s1 = so = None
            voltages = []
            for t in range(x.shape[0]):
                z, s1 = self.l1(x[t], s1)
                vo, so = self.out(self.fc_out(z), so)
                voltages.append(vo)
            return torch.stack(voltages).max(0).values

    torch.manual_seed(0)
    report = si.initialize(Net(), _spikes() * 20, seed=0)
    hidden, readout = report.layers
    assert readout.is_readout and readout.output == "membrane"
    assert readout.target_sigma_u_theta == READOUT_SIGMA_U
    assert abs(readout.sigma_u_theta - READOUT_SIGMA_U) < 0.1 * READOUT_SIGMA_U
    assert hidden.output is None and abs(hidden.sigma_u_theta - 1.0) < 0.1


def _poisson_images(seed: int = 0, steps: int = 50, batch: int = 32) -> torch.Tensor:
    """Poisson spikes of near-binary images (as PoissonEncoder on MNIST: a third of the
    pixels at rate 0.9, the rest silent): each sample's mean drive differs, which the
    temporal variance alone does not see."""
    g = torch.Generator().manual_seed(seed)
    rates = 0.9 * (torch.rand(batch, 1, 100, generator=g) < 0.3).float()
    return (torch.rand(steps, batch, 1, 100, generator=g) < rates).float()


def _free_membrane(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The output neuron's membrane over ``[T, B, N]`` from SpikingJelly's own forward with
    the threshold out of reach (independent of spikeinit's measurement)."""
    from spikingjelly.activation_based import functional

    lif = net[-1]
    saved = lif.v_threshold
    lif.v_threshold = 1e9
    functional.reset_net(net)
    v = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            net(x[t])
            v.append(lif.v.clone())
    lif.v_threshold = saved
    functional.reset_net(net)
    return torch.stack(v)


def test_an_output_layer_fed_sample_varying_spikes_is_set_on_its_whole_spread():
    """SpikingJelly's lif_fc_mnist layout (Flatten-Linear-LIFNode, one step per call,
    examples/lif_fc_mnist.py): the only layer is the output, fed Poisson spikes whose rates
    differ by sample. Its target bounds the spread over samples and time, as decoding reads
    it; the temporal spread alone would let each sample's mean move the counts."""
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import functional, layer, neuron

    torch.manual_seed(0)
    net = nn.Sequential(layer.Flatten(), layer.Linear(100, 10, bias=False),
                        neuron.LIFNode(tau=2.0))  # fmt: skip
    x = _poisson_images()
    report = si.initialize(net, x, seed=0, time_dim=0)
    functional.reset_net(net)
    (out,) = report.layers
    assert out.output is not None and out.variance == "total"
    v = _free_membrane(net, x).double()
    whole = float((v - v.mean(dim=(0, 1))).pow(2).mean(dim=(0, 1)).mean().sqrt())
    temporal = float((v - v.mean(dim=0)).pow(2).mean(dim=(0, 1)).mean().sqrt())
    assert abs(whole - OUTPUT_SIGMA_U) < 0.1 * OUTPUT_SIGMA_U, whole
    assert temporal < 0.6 * whole  # the per-sample means carry most of the spread
    diag = si.diagnose(net, x, time_dim=0)
    assert diag.layers[0].variance == "total"
    assert abs(diag.layers[0].sigma_u_theta - whole) < 0.02 * whole


class MembraneOut(Tutorial5):
    """The same network returning only the output layer's membrane record (its spikes are
    not returned): decoded by its membrane."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)[1]


def test_an_output_decoded_by_its_membrane_gets_the_membrane_target():
    torch.manual_seed(0)
    auto = si.initialize(MembraneOut(), _spikes(), seed=0)
    out = auto.layers[1]
    assert out.output == "membrane" and "decoded by its membrane" in out.output_rule
    assert out.target_sigma_u_theta == READOUT_SIGMA_U
    assert abs(out.sigma_u_theta - READOUT_SIGMA_U) < 0.1 * READOUT_SIGMA_U
    # both returned (snnTorch's convention): spikes unless the user says the loss reads the
    # membrane; the report says how to say so
    both = si.initialize(Tutorial5(), _spikes(), seed=0)
    assert both.layers[1].target_sigma_u_theta == OUTPUT_SIGMA_U
    assert "readout='membrane'" in both.layers[1].output_rule
    told = si.initialize(Tutorial5(), _spikes(), seed=0, readout="membrane")
    assert told.layers[1].target_sigma_u_theta == READOUT_SIGMA_U
    assert abs(told.layers[1].sigma_u_theta - READOUT_SIGMA_U) < 0.1 * READOUT_SIGMA_U
    spikes = si.initialize(MembraneOut(), _spikes(), seed=0, readout="spikes")
    assert spikes.layers[1].target_sigma_u_theta == OUTPUT_SIGMA_U
    assert told.layers[0].sigma_u_theta == pytest.approx(both.layers[0].sigma_u_theta)


def test_spikes_and_membrane_rules_are_refused_for_spikeinit_models():
    p = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-3)
    model = nn.Sequential(si.nn.SpikingLinear(20, 16, params=p), si.nn.Readout(16, 4, params=p))
    before = [t.detach().clone() for t in model.parameters()]
    x = (torch.rand(50, 8, 20, generator=torch.Generator().manual_seed(0)) < 0.05).float()
    for rule in ("spikes", "membrane"):
        with pytest.raises(ValueError, match="readout as a number, 'spikes', 'membrane'"):
            si.initialize(model, x, readout=rule)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
