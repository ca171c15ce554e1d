"""``InitTargets``: the targets of ``si.initialize`` as one validated object (issue 26)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import torch

import spikeinit as si
from spikeinit.init.targets import InitTargets

P = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-3)


def _net() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        si.nn.SpikingLinear(40, 30, params=P, recurrent=True),
        si.nn.SpikingLinear(30, 20, params=P),
        si.nn.Readout(20, 4, params=P),
    )


def _x() -> torch.Tensor:
    return (torch.rand(60, 8, 40, generator=torch.Generator().manual_seed(1)) < 0.05).float()


def test_public_names():
    assert si.InitTargets is InitTargets
    assert si.init.InitTargets is InitTargets


def test_fields_are_initialize_keywords_with_the_same_defaults():
    # one list of targets: every field is a keyword of initialize, defaulting alike
    params = inspect.signature(si.initialize).parameters
    for field in dataclasses.fields(InitTargets):
        assert params[field.name].kind is inspect.Parameter.KEYWORD_ONLY, field.name
        assert params[field.name].default == field.default, field.name
    assert "targets" in params


@pytest.mark.parametrize(
    "kw",
    [
        {"sigma_u": 0.7, "mu_u": 0.1, "alpha": 0.8},
        {"xi": 2.0, "mu_u": 0.2, "mean_split": "stork"},
        {"stats": "rate", "readout": "normal"},
        {"calibrate": True, "tol": 0.05, "max_iter": 3},
    ],
)
def test_targets_object_sets_what_the_keywords_set(kw):
    a, b = _net(), _net()
    ra = si.initialize(a, _x(), seed=3, **kw)
    rb = si.initialize(b, _x(), seed=3, targets=InitTargets(**kw))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert ra.to_dict() == rb.to_dict()


def test_targets_object_on_a_foreign_model():
    snn = pytest.importorskip("snntorch")

    def net() -> torch.nn.Sequential:
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Linear(40, 20),
            snn.Leaky(beta=0.9, init_hidden=True),
            torch.nn.Linear(20, 4),
            snn.Leaky(beta=0.9, init_hidden=True, output=True),
        )

    a, b = net(), net()
    kw = {"sigma_u": 0.8, "mu_u": 0.1, "readout": 0.3}
    si.initialize(a, _x(), seed=3, time_dim=0, **kw)
    si.initialize(b, _x(), seed=3, time_dim=0, targets=InitTargets(**kw))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_both_given_is_refused_naming_the_keywords():
    net = _net()
    before = [p.detach().clone() for p in net.parameters()]
    with pytest.raises(ValueError, match=r"not both: targets= was given with sigma_u, alpha"):
        si.initialize(net, _x(), targets=InitTargets(sigma_u=0.5), sigma_u=0.7, alpha=0.5)
    for p, q in zip(net.parameters(), before, strict=True):
        assert torch.equal(p, q)  # nothing was set


def test_targets_must_be_init_targets():
    with pytest.raises(TypeError, match="targets must be an InitTargets, got dict"):
        si.initialize(_net(), _x(), targets={"sigma_u": 0.5})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"alpha": 1.5}, r"alpha must be in \(0, 1\]"),
        ({"sigma_u": -1.0}, r"sigma_u must be in \(0, 1000\]"),
        ({"stats": "poisson"}, r"stats must be one of \['filtered', 'rate'\]"),
        ({"target_rate": 10.0}, "pass calibrate=True with it"),
        ({"max_iter": 2.5}, "max_iter must be an integer >= 0"),
        ({"form": "other"}, "form must be 'covariance' or 'public'"),
        ({"readout": "sideways"}, "readout must be one of"),
    ],
)
def test_validated_once_with_the_same_messages(kw, message):
    with pytest.raises(ValueError, match=message):
        InitTargets(**kw)
    with pytest.raises(ValueError, match=message):
        si.initialize(_net(), _x(), **kw)


def test_the_users_targets_are_not_changed():
    targets = InitTargets(mu_u=0.1)
    report = si.initialize(_net(), _x(), seed=0, targets=targets)
    assert targets.sigma_u is None and targets.readout == "auto"  # frozen: resolved copies
    assert report.targets["sigma_u"] == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        targets.sigma_u = 2.0  # type: ignore[misc]
