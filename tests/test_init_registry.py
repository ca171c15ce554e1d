"""The registry of initialisation rules (spikeinit.catalog + spikeinit.init.registry)."""

from __future__ import annotations

import pytest
import torch

import spikeinit as si
from spikeinit import catalog
from spikeinit.init import functional as F
from spikeinit.init import propagation_rules as P
from spikeinit.init import registry
from spikeinit.init.model import DATA_DEPENDENT, METHODS
from spikeinit.init.registry import RuleContext

# each data-independent rule against the tensor-level function it must call
DIRECT = {
    "micheli": lambda w, g: F.micheli_normal_(w, threshold=1.3, generator=g),
    "micheli_reset": lambda w, g: F.micheli_reset_normal_(w, beta=0.7, threshold=1.3, generator=g),
    "micheli_finite": lambda w, g: F.micheli_finite_width_normal_(w, threshold=1.3, generator=g),
    "kaiming": lambda w, g: F.kaiming_normal_(w, generator=g),
    "glorot": lambda w, g: F.glorot_normal_(w, generator=g),
    "default": lambda w, g: F.default_uniform_(w, generator=g),
    "balanced": lambda w, g: P.balanced_normal_(w, threshold=1.3, generator=g),
}


def test_every_data_independent_rule_is_covered():
    independent = {n for n, r in registry.rules(model_only=False).items() if not r.data_dependent}
    assert independent == set(DIRECT)


@pytest.mark.parametrize("name", sorted(DIRECT))
def test_rule_draws_what_its_function_draws(name):
    ctx = RuleContext(threshold=1.3, beta=0.7, generator=torch.Generator().manual_seed(5))
    got = registry.get(name).fn(torch.empty(40, 30), ctx)
    want = DIRECT[name](torch.empty(40, 30), torch.Generator().manual_seed(5))
    assert torch.equal(got, want)


@pytest.mark.parametrize("name", ["fluctuation", "balanced_cal"])
def test_data_dependent_rules_need_the_presynaptic_activity(name):
    assert registry.get(name).data_dependent
    with pytest.raises(ValueError, match="presyn"):
        registry.get(name).fn(torch.empty(8, 8), RuleContext())


def test_fluctuation_rule_reaches_its_target():
    # the rule sets sigma_U = theta on the data it was given (measured, independent of the rule)
    p = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-3)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(300, 32, 50, generator=g) < 0.02).float()
    w = registry.get("fluctuation").fn(
        torch.empty(64, 50), RuleContext(params=p, presyn=x, generator=g)
    )
    layer = si.nn.SpikingLinear(50, 64, params=p)
    with torch.no_grad():
        layer.weight.copy_(w)
    diag = si.diagnose(torch.nn.Sequential(layer), x)
    assert diag.layers[0].free_mem_std == pytest.approx(1.0, rel=0.15)


def test_views_follow_the_registry():
    from spikeinit.experiments import presets as training  # the run presets
    from spikeinit.experiments import propagation

    model_rules = [e for e in catalog.INIT_RULES if e.model]
    assert METHODS == tuple(e.name for e in model_rules)
    assert DATA_DEPENDENT == tuple(e.name for e in model_rules if e.data_dependent)
    assert set(training.INIT_NAMES) == {e.name for e in model_rules} | {
        a for e in model_rules for a in e.aliases
    }
    assert propagation.INITS == tuple(e.name for e in catalog.INIT_RULES)
    assert training.INIT_ALIASES == {
        "xavier": "glorot",
        "he": "kaiming",
        "micheli-reset": "micheli_reset",
    }


def test_unknown_rule_names_the_allowed_ones():
    with pytest.raises(ValueError, match=r"method must be one of \[.*'kaiming'.*\], got 'nope'"):
        registry.get("nope")
    with pytest.raises(ValueError, match="method must be one of"):
        registry.get("balanced", model_only=True)  # propagation only
    with pytest.raises(TypeError, match="method must be a string"):
        registry.get(3)  # type: ignore[arg-type]


def _net() -> torch.nn.Sequential:
    p = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-3)
    return torch.nn.Sequential(
        si.nn.SpikingLinear(20, 30, params=p), si.nn.Readout(30, 5, params=p)
    )


def scaled_identity(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """A made-up rule for the test below: w = theta * I (zero-padded)."""
    with torch.no_grad():
        w.zero_()
        n = min(w.shape)
        w[:n, :n] = torch.eye(n) * ctx.threshold
    return w


def test_adding_a_rule_is_one_entry(monkeypatch):
    entry = catalog.RuleEntry("ident", f"{__name__}:scaled_identity", aliases=("eye",))
    monkeypatch.setattr(catalog, "INIT_RULES", (*catalog.INIT_RULES, entry))
    assert catalog.resolve_init("eye") == "ident"  # the commands' --init takes it too
    net = _net()
    report = si.initialize(net, method="ident")
    assert torch.equal(net[0].weight, torch.eye(30, 20))
    assert report.layers[0].groups[0].rule == "ident"
