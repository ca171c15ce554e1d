"""si.initialize on snnTorch / SpikingJelly models: input that used to pass silently
(issue #28): an xi target that gives no positive sigma_U, and one neuron module used at
two places of the forward pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

snn = pytest.importorskip("snntorch")

import spikeinit as si  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


class TwoLayers(nn.Module):
    """fc1 -> LIF -> fc2 -> LIF, snnTorch, one step per call; ``shared`` uses one Leaky
    for both layers (its membrane passed explicitly, as snnTorch allows)."""

    def __init__(self, shared: bool = False) -> None:
        super().__init__()
        self.fc1 = nn.Linear(10, 12)
        self.fc2 = nn.Linear(12, 6)
        self.lif1 = snn.Leaky(beta=0.9)
        self.lif2 = self.lif1 if shared else snn.Leaky(beta=0.9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m1, m2, out = self.lif1.init_leaky(), self.lif2.init_leaky(), []
        for t in range(x.shape[0]):
            s1, m1 = self.lif1(self.fc1(x[t]), m1)
            s2, m2 = self.lif2(self.fc2(s1), m2)
            out.append(s2)
        return torch.stack(out)


def _data() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(20, 4, 10, generator=g) < 0.3).float()


def _state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items()}


def _unchanged(net: nn.Module, before: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"xi": -1.0}, r"xi = \(1 - mu_u\) / sigma_u must be > 0, got xi=-1"),
        ({"xi": 2.0, "mu_u": 1.0}, "with xi given, mu_u must be < 1"),
        ({"xi": 1e-6, "mu_u": 0.5}, r"gives sigma_u = \(1 - mu_u\) / xi = 500000"),
    ],
)
def test_foreign_xi_that_gives_no_valid_sigma_u_is_refused(kw, message) -> None:
    torch.manual_seed(0)
    net = TwoLayers()
    before = _state(net)
    with pytest.raises(ValueError, match=message):
        si.initialize(net, _data(), **kw)
    assert _unchanged(net, before)


def test_foreign_xi_still_sets_sigma_u() -> None:
    torch.manual_seed(0)
    report = si.initialize(TwoLayers(), _data(), xi=2.0, mu_u=0.0, seed=0)
    assert report.targets["sigma_u"] == pytest.approx(0.5)


def test_snntorch_neuron_used_at_two_places_is_refused() -> None:
    torch.manual_seed(0)
    net = TwoLayers(shared=True)
    before = _state(net)
    with pytest.raises(ValueError, match=r"neuron 'lif1' is used at two places.*fc1.*fc2"):
        si.initialize(net, _data())
    assert _unchanged(net, before)
    si.initialize(TwoLayers(), _data(), seed=0)  # one neuron per layer: fine


def test_snntorch_neuron_fed_by_itself_without_weights_is_refused() -> None:
    """``lif(lif(fc(x)))`` with one Leaky: one call through fc, one straight from lif."""

    class Stacked(TwoLayers):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            m1, m2, out = self.lif1.init_leaky(), self.lif1.init_leaky(), []
            for t in range(x.shape[0]):
                s1, m1 = self.lif1(self.fc1(x[t]), m1)
                s2, m2 = self.lif1(s1, m2)
                out.append(self.fc2(s2))
            return torch.stack(out)

    torch.manual_seed(0)
    net = Stacked()
    before = _state(net)
    with pytest.raises(ValueError, match=r"'lif1' is used at two places.*fc1.*no weights"):
        si.initialize(net, _data())
    assert _unchanged(net, before)


def test_recurrent_weight_joining_after_the_first_step_is_one_place() -> None:
    """A recurrent input skipped at t = 0 adds a knob; the neuron is still at one place."""

    class LateRecurrent(TwoLayers):
        def __init__(self) -> None:
            super().__init__()
            self.rec = nn.Linear(12, 12, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            m1, m2, out, s1 = self.lif1.init_leaky(), self.lif2.init_leaky(), [], None
            for t in range(x.shape[0]):
                cur = self.fc1(x[t]) if s1 is None else self.fc1(x[t]) + self.rec(s1)
                s1, m1 = self.lif1(cur, m1)
                s2, m2 = self.lif2(self.fc2(s1), m2)
                out.append(s2)
            return torch.stack(out)

    torch.manual_seed(0)
    report = si.initialize(LateRecurrent(), _data(), seed=0)
    assert [entry.name for entry in report.layers][:2] == ["lif1", "lif2"]


def test_spikingjelly_multistep_neuron_called_twice_is_refused() -> None:
    pytest.importorskip("spikingjelly.activation_based")
    from spikingjelly.activation_based import functional, layer, neuron

    class Reuse(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = layer.Linear(10, 12)
            self.fc2 = layer.Linear(12, 6)
            self.sn = neuron.LIFNode()
            functional.set_step_mode(self, "m")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.sn(self.fc2(self.sn(self.fc1(x))))

    torch.manual_seed(0)
    net = Reuse()
    before = _state(net)
    with pytest.raises(ValueError, match=r"neuron 'sn' takes whole sequences but was called 2"):
        si.initialize(net, _data())
    assert _unchanged(net, before)
