"""adapters/trace.py: which modules feed each neuron, read from the autograd graph."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

snn = pytest.importorskip("snntorch")

import spikeinit as si  # noqa: E402
from spikeinit.adapters.find import find_sites  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


class PoolScaleNet(nn.Module):
    """snnTorch tutorial-6 layout with a functional pool and a constant factor in between,
    a skip branch that adds the first layer's spikes to the third neuron's input, and the
    modules registered in an order unlike their use."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8 * 4 * 4, 16)
        self.skip = nn.Linear(8 * 4 * 4, 16)
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.lif_c = snn.Leaky(beta=0.9)
        self.lif_f = snn.Leaky(beta=0.9)
        self.lif_r = snn.Leaky(beta=0.9)
        self.rec = nn.Linear(16, 16, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m1 = self.lif_c.init_leaky()
        m2 = self.lif_f.init_leaky()
        m3 = self.lif_r.init_leaky()
        s3 = torch.zeros(x.shape[1], 16)
        out = []
        for t in range(x.shape[0]):
            s1, m1 = self.lif_c(10 * F.max_pool2d(self.conv(x[t]), 2), m1)
            flat = s1.view(s1.shape[0], -1)
            s2, m2 = self.lif_f(self.fc(flat), m2)
            s3, m3 = self.lif_r(s2 + self.skip(flat) + self.rec(s3), m3)
            out.append(s3)
        return torch.stack(out)


def _data(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(12, 4, 1, 8, 8, generator=g) < 0.3).float()


def test_each_neuron_is_paired_with_the_modules_that_really_feed_it() -> None:
    torch.manual_seed(0)
    trace, layers = find_sites(PoolScaleNet(), _data())
    by_name = {s.name: s for s in trace.sites}
    assert [s.name for s in trace.sites] == ["lif_c", "lif_f", "lif_r"]  # execution order
    assert by_name["lif_c"].knobs == ["conv"]
    assert "MaxPool2DWithIndicesBackward0" in by_name["lif_c"].ops
    assert by_name["lif_f"].knobs == ["fc"]
    assert sorted(by_name["lif_r"].knobs) == ["rec", "skip"]
    assert by_name["lif_r"].fixed_sources == ["lif_f"]  # s2 added with no weight
    assert by_name["lif_r"].recurrent
    kinds = {g.name: g.kind for g in layers[2].weight_groups()}
    assert kinds == {"skip.weight": "ff", "rec.weight": "rec"}
    assert all(s.mode == "step" and s.calls == 12 for s in trace.sites)


def test_pairing_is_the_same_twenty_times() -> None:
    """No identity heuristics: twenty traces in one process pair the same modules."""
    x = _data()
    seen = set()
    for i in range(20):
        torch.manual_seed(i)
        trace, _ = find_sites(PoolScaleNet(), x)
        seen.add(
            tuple((s.name, tuple(sorted(s.knobs)), tuple(s.fixed_sources)) for s in trace.sites)
        )
    assert len(seen) == 1


def test_pooled_and_scaled_conv_hits_the_target() -> None:
    torch.manual_seed(1)
    net = PoolScaleNet()
    x = _data(1)
    before = net.conv.weight.detach().clone()
    report = si.initialize(net, x, seed=0)
    assert not torch.equal(before, net.conv.weight)
    diag = si.diagnose(net, x)
    assert [d.name for d in diag.layers] == ["lif_c", "lif_f", "lif_r"]
    aims = {layer.name: layer.target_sigma_u_theta for layer in report.layers}
    # the output layer's small target cannot be reached under the residual shortcut it
    # receives: the report says so, and the shortcut alone sets its sigma_U
    unreachable = {la.name for la in report.layers if any("not reachable" in n for n in la.notes)}
    assert unreachable == {"lif_r"} and report.layers[-1].output == "spikes"
    for d in diag.layers:
        if d.name in unreachable:
            assert d.sigma_u_theta > aims[d.name]
        else:
            assert abs(d.sigma_u_theta / aims[d.name] - 1.0) < 0.10, (d.name, d.sigma_u_theta)
    entries = {m.name: m for m in report.modules}
    assert all(entries[n].initialised for n in ("conv", "fc", "skip", "rec"))


def test_tied_weights_are_refused_and_nothing_changes() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(10, 10)
            self.b = nn.Linear(10, 10)
            self.b.weight = self.a.weight
            self.l1 = snn.Leaky(beta=0.9)
            self.l2 = snn.Leaky(beta=0.9)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            m1, m2, out = self.l1.init_leaky(), self.l2.init_leaky(), []
            for t in range(x.shape[0]):
                s1, m1 = self.l1(self.a(x[t]), m1)
                s2, m2 = self.l2(self.b(s1), m2)
                out.append(s2)
            return torch.stack(out)

    net = Tied()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    x = (torch.rand(10, 4, 10) < 0.3).float()
    with pytest.raises(ValueError, match="tied weights"):
        si.initialize(net, x)
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())


def test_a_module_used_twice_is_refused() -> None:
    lin = nn.Linear(10, 10)
    net = nn.Sequential(
        lin, snn.Leaky(beta=0.9, init_hidden=True), lin, snn.Leaky(beta=0.9, init_hidden=True)
    )
    x = (torch.rand(10, 4, 10) < 0.3).float()
    with pytest.raises(ValueError, match="tied weights|feeds two neurons"):
        si.initialize(net, x, time_dim=0)
