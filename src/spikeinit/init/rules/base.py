"""The two levels of an initialisation rule, and what the model-level code asks of it.

Every rule has a **tensor-level** function ``rule(w, ctx) -> w`` (``ctx`` a
:class:`~.context.RuleContext`) that sets one weight ``[out, in, ...]`` in
place, as ``torch.nn.init`` does. To set one of spikeinit's own layers,
:func:`spikeinit.initialize` calls the rule's **layer hook**
``hook(rule, job) -> LayerInit`` (``job`` a :class:`LayerJob`: the layer, what
it receives, the targets), as stork's ``Initializer.initialize_layer`` does.
A rule that needs nothing beyond its tensor function uses a default hook:

* a data-independent rule: :func:`tensor_on_each_group`, the function on every
  weight group with its own fan-in;
* a data-dependent rule: :func:`tensor_on_feedforward_groups`, the function on
  every feed-forward group with the layer's input as ``ctx.presyn``.

A rule with more to do (the fluctuation rule's recurrent split and Dale
populations, ``perez_nieves``' readout) declares a :class:`LayerRule`: its
tensor function, its hook, and how a snnTorch / Norse / SpikingJelly model takes
it (``foreign``). The registry (:mod:`spikeinit.init.registry`) hands out a
:class:`Rule`, its catalog entry with those hooks; ``initialize`` and the
foreign path ask it, and never compare a rule's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from ...catalog import RuleEntry
from ...nn.base import SpikingLayer
from ..report import GroupInit, LayerInit
from ..targets import RuleTargets
from ._tensor import _fan_in
from .context import ResetForm, RuleContext, RuleFn

__all__ = [
    "Foreign",
    "LayerHook",
    "LayerJob",
    "LayerRule",
    "Rule",
    "tensor_on_each_group",
    "tensor_on_feedforward_groups",
]


@dataclass
class LayerJob:
    """One of spikeinit's own layers to set, and what its rule may read.

    Attributes:
        name: the layer's name in the model (for messages).
        layer: the layer; its ``weight_groups()`` are what the rule sets.
        presyn: what the layer receives ``[T, B, ...]`` (``None``: no data given).
        targets: the targets (:class:`~spikeinit.init.targets.RuleTargets`).
        generator: the random source.
        form: ``micheli_reset``'s form.
        entry: the layer's report entry, which the hook fills and returns.
    """

    name: str
    layer: SpikingLayer
    presyn: torch.Tensor | None
    targets: RuleTargets
    generator: torch.Generator | None
    form: ResetForm
    entry: LayerInit


#: how a snnTorch / Norse / SpikingJelly model takes a rule: ``"tensor"``, its tensor
#: function on each weight tensor; ``"measured"``, the measured rule of
#: :mod:`spikeinit.init.foreign` (each neuron's free membrane set to the targets by
#: measurement); ``"refused"``: the rule applies to spikeinit's own layers only
Foreign = Literal["tensor", "measured", "refused"]


@dataclass(frozen=True)
class LayerRule:
    """A rule's tensor function, its layer hook, and how foreign models take it.

    Attributes:
        tensor: ``rule(w, ctx) -> w``.
        layer: ``hook(rule, job) -> LayerInit`` for spikeinit's own layers;
            ``None``: the default hook for the rule's kind (module docstring).
        foreign: see :data:`Foreign`; ``None``: by the rule's kind, ``"tensor"``
            for a data-independent rule, ``"refused"`` for a data-dependent one.
    """

    tensor: RuleFn
    layer: LayerHook | None = None
    foreign: Foreign | None = None


@dataclass(frozen=True)
class Rule:
    """A registered rule: its catalog entry and its hooks (:class:`LayerRule`)."""

    entry: RuleEntry
    hooks: LayerRule

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def data_dependent(self) -> bool:
        """The rule needs data: the presynaptic activity of each layer."""
        return self.entry.data_dependent

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.entry.aliases

    @property
    def fn(self) -> RuleFn:
        """The tensor-level function ``rule(w, ctx) -> w``."""
        return self.hooks.tensor

    @property
    def foreign(self) -> Foreign:
        """How a snnTorch / Norse / SpikingJelly model takes the rule (:data:`Foreign`)."""
        if self.hooks.foreign is None:
            return "refused" if self.data_dependent else "tensor"
        return self.hooks.foreign

    @property
    def takes_foreign(self) -> bool:
        """snnTorch / Norse / SpikingJelly models take the rule."""
        return self.foreign != "refused"

    @property
    def measured(self) -> bool:
        """On a foreign model the rule is the measured rule of :mod:`spikeinit.init.foreign`."""
        return self.foreign == "measured"

    def init_layer(self, job: LayerJob) -> LayerInit:
        """Set ``job.layer``'s weights (its hook, or the default one for its kind)."""
        hook = self.hooks.layer
        if hook is None:
            hook = tensor_on_feedforward_groups if self.data_dependent else tensor_on_each_group
        return hook(self, job)


LayerHook = Callable[[Rule, LayerJob], LayerInit]


def _drawn(w: torch.Tensor) -> tuple[float, float]:
    with torch.no_grad():
        return float(w.mean()), float(w.std()) if w.numel() > 1 else 0.0


def tensor_on_each_group(rule: Rule, job: LayerJob) -> LayerInit:
    """A data-independent rule on every weight group, each with its own fan-in.

    The data, when given, only feeds the report (the first group's input rate).
    """
    layer, entry = job.layer, job.entry
    params = layer.params
    ctx = RuleContext(
        threshold=params.threshold, beta=params.beta_mem, generator=job.generator, form=job.form
    )
    for g in layer.weight_groups():
        rule.fn(g.weight, ctx)
        mu, sd = _drawn(g.weight)
        entry.groups.append(
            GroupInit(g.name, g.kind, _fan_in(g.weight), rule.name, mu_w=mu, sigma_w=sd)
        )
    if job.presyn is not None and not layer.is_readout and entry.groups:
        entry.groups[0].rate_hz = float(job.presyn.mean()) / params.dt
    return entry


def tensor_on_feedforward_groups(rule: Rule, job: LayerJob) -> LayerInit:
    """A data-dependent rule (e.g. ``perez_nieves``) on each feed-forward weight group,
    from the layer's input, with ``ctx.target`` the target rate ``job.targets.rule_rate``
    (one for all layers: the model input's rate, or ``nu``) as spikes per step."""
    layer, entry, inp = job.layer, job.entry, job.presyn
    if inp is None:
        raise ValueError(f"method={rule.name!r} is data-dependent: it needs data to measure")
    groups = layer.weight_groups()
    for g in groups:
        if g.kind != "ff":
            raise ValueError(
                f"method={rule.name!r} sets feed-forward weights only; layer {job.name!r} has "
                f"{g.kind!r} weights ({g.name}); use method='fluctuation' for it"
            )
    params = layer.params
    rate_hz = job.targets.rule_rate
    target = None if rate_hz is None else torch.tensor([rate_hz * params.dt], dtype=torch.float64)
    ctx = RuleContext(
        threshold=params.threshold,
        beta=params.beta_mem,
        generator=job.generator,
        params=params,
        presyn=inp,
        target=target,
    )
    rate = float(inp.double().mean()) / params.dt
    for g in groups:
        rule.fn(g.weight, ctx)
        mu, sd = _drawn(g.weight)
        entry.groups.append(
            GroupInit(
                g.name, g.kind, _fan_in(g.weight), rule.name, rate_hz=rate, mu_w=mu, sigma_w=sd
            )
        )
    return entry
