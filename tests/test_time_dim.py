"""Issue 25: time vs batch is never guessed for a model whose forward is one time step.

An ``nn.Sequential`` of snnTorch ``init_hidden=True`` neurons given a static batch
``[8, 1, 28, 28]`` used to be probed with ``model(x[0])``, which runs, so the 8 images
became 8 time steps and sigma_U was set and reported for a model that is never run so.
Now ``model(x)`` is probed as one step too: where both run, ``si.initialize`` and
``si.diagnose`` refuse and ask for ``time_dim=``; where only ``model(x)`` runs (a static
batch) and the neurons keep their state between calls (``init_hidden=True``), they refuse
too, since the number of steps is not in ``x``. Unambiguous cases stay automatic.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import spikeinit as si
from spikeinit.adapters.find import conventional_forward, state_loop, time_loop

snn = pytest.importorskip("snntorch")


def _fc() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 100),
        snn.Leaky(beta=0.9, init_hidden=True),
        nn.Linear(100, 10),
        snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )


def _conv() -> nn.Sequential:
    """snnTorch tutorial 6's layout (smaller): Conv -> MaxPool -> Leaky, Flatten -> Linear."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 5),
        nn.MaxPool2d(2),
        snn.Leaky(beta=0.5, init_hidden=True),
        nn.Flatten(),
        nn.Linear(4 * 12 * 12, 10),
        snn.Leaky(beta=0.5, init_hidden=True, output=True),
    )


def _images(batch: int = 8) -> torch.Tensor:
    return torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(1))


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_static_batch_to_a_one_step_sequential_is_refused_not_read_as_time() -> None:
    net, x = _fc(), _images()
    before = _weights(net)
    with pytest.raises(ValueError, match=r"time_dim=0.*time_dim=None") as err:
        si.initialize(net, x)
    msg = str(err.value)
    assert "[8, 1, 28, 28]" in msg and "8 time steps" in msg and "batch of 8" in msg
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(net), strict=True))
    with pytest.raises(ValueError, match="time_dim"):
        si.diagnose(net, x)


def test_time_dim_none_is_one_step_of_the_batch() -> None:
    net, x = _fc(), _images()
    report = si.initialize(net, x, time_dim=None, seed=0)
    looped = _fc()
    explicit = si.initialize(looped, x, forward=lambda m, d: m(d), seed=0)
    for a, b in zip(net.parameters(), looped.parameters(), strict=True):
        assert torch.equal(a, b)
    first = report.layers[0]
    assert first.variance == "total"  # one step: the std over samples
    assert first.target_sigma_u_theta == 0.5  # a static input's default (sigma_u not given)
    assert abs(first.sigma_u_theta - 0.5) < 0.01
    assert [lay.sigma_u_theta for lay in report.layers] == [
        lay.sigma_u_theta for lay in explicit.layers
    ]
    diag = si.diagnose(net, x, time_dim=None)
    assert abs(diag.layers[0].sigma_u_theta - 0.5) < 0.01
    assert all(len(layer.rate_per_step) == 1 for layer in diag.layers)


def test_time_dim_zero_loops_a_time_first_sequence() -> None:
    net = _fc()
    x = _images(4).expand(6, 4, 1, 28, 28)  # a static image seen at every one of 6 steps
    report = si.initialize(net, x, time_dim=0, seed=0)
    looped = _fc()
    explicit = si.initialize(looped, x, forward=time_loop, seed=0)
    for a, b in zip(net.parameters(), looped.parameters(), strict=True):
        assert torch.equal(a, b)
    assert [lay.sigma_u_theta for lay in report.layers] == [
        lay.sigma_u_theta for lay in explicit.layers
    ]
    diag = si.diagnose(net, x, time_dim=0)
    assert all(len(layer.rate_per_step) == 6 for layer in diag.layers)


def test_tutorial6_conv_static_batch_is_refused_and_both_readings_differ() -> None:
    """Tutorial 6 feeds the same image every step; one step from rest sets ~2x the weights."""
    x = _images()
    with pytest.raises(ValueError, match=r"no time axis.*expand"):
        si.initialize(_conv(), x)
    one, repeated = _conv(), _conv()
    si.initialize(one, x, time_dim=None, seed=0)
    si.initialize(repeated, x.expand(25, *x.shape), time_dim=0, seed=0)
    ratio = float(one[0].weight.detach().std() / repeated[0].weight.detach().std())
    assert ratio == pytest.approx(1 / (1 - 0.5), rel=0.15)  # U -> W x / (1 - beta)


def test_unambiguous_cases_stay_automatic() -> None:
    # conv first, 5-D time-first: model(x) fails as one step, so x is time
    conv = _conv()
    x = (torch.rand(5, 2, 1, 28, 28) < 0.3).float()
    assert conventional_forward(conv, x) is time_loop
    report = si.initialize(conv, x, seed=0)
    assert all(
        abs(layer.sigma_u_theta / layer.target_sigma_u_theta - 1.0) < 0.02
        for layer in report.layers
    )
    # a model whose forward loops over time itself is called as it is
    assert conventional_forward(_Looped(), torch.rand(5, 2, 20)) is None
    # a one-step forward whose neurons start from rest at each call (tutorial 6's class
    # Net): a static batch is its whole run, called once
    assert conventional_forward(_OneStepFromRest(), _images()) is None
    report = si.initialize(_OneStepFromRest(), _images(), seed=0)
    assert report.layers[0].variance == "total"


class _Looped(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(20, 8)
        self.lif = snn.Leaky(beta=0.9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem = self.lif.init_leaky()
        out = []
        for t in range(x.shape[0]):
            spk, mem = self.lif(self.fc(x[t]), mem)
            out.append(spk)
        return torch.stack(out)


class _OneStepFromRest(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 5)
        self.fc = nn.Linear(2 * 24 * 24, 8)
        self.lif = snn.Leaky(beta=0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spk, _ = self.lif(self.fc(self.conv(x).flatten(1)), self.lif.init_leaky())
        return spk


def test_norse_sequential_state_of_cells() -> None:
    norse = pytest.importorskip("norse.torch")
    torch.manual_seed(0)
    net = norse.SequentialState(nn.Linear(6, 8), norse.LIFCell())
    x = (torch.rand(20, 3, 6) < 0.3).float()  # also one step of a batch of 20
    with pytest.raises(ValueError, match="time_dim"):
        si.initialize(net, x)
    assert conventional_forward(net, x, time_dim=0) is state_loop
    assert conventional_forward(net, x, time_dim=None) is None
    conv = norse.SequentialState(nn.Conv2d(1, 2, 3), norse.LIFCell())
    assert conventional_forward(conv, torch.rand(4, 2, 1, 8, 8)) is state_loop


def test_time_dim_is_checked() -> None:
    net, x = _fc(), _images()
    for bad in (1, -1, "none", True, 0.5):
        with pytest.raises(ValueError, match="time_dim must be"):
            si.initialize(net, x, time_dim=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not both"):
        si.initialize(net, x, time_dim=0, forward=time_loop)
    with pytest.raises(ValueError, match="not both"):
        si.diagnose(net, x, time_dim=None, forward=time_loop)
    native = nn.Sequential(si.nn.SpikingLinear(10, 4))
    with pytest.raises(ValueError, match="time_dim=None"):
        si.initialize(native, torch.rand(5, 2, 10), time_dim=None)
    si.initialize(native, torch.rand(5, 2, 10), time_dim=0, seed=0)  # what it takes anyway
