"""The registry of initialisation rules: one place for every rule's name and function.

The table itself, :data:`spikeinit.catalog.INIT_RULES`, is torch-free (the
command line reads it before importing torch); each entry names its
tensor-level function as ``"module:attr"``, loaded here on first use. Every
rule has the same signature::

    rule(w, ctx) -> w          # w: the weight [out, in, ...], set in place

with ``ctx`` a :class:`RuleContext` (threshold, membrane decay ``beta``, a
generator, and for data-dependent rules the presynaptic activity). The
data-independent rules below wrap the functions of :mod:`.functional` and
:mod:`.propagation_rules`; ``fluctuation`` lives in :mod:`.model`, next to the
layer-by-layer measurement it uses.

Used by :func:`spikeinit.initialize` (data-independent rules), the propagation
experiment (every rule, one weight matrix at a time) and the commands' ``--init``
choices. To add a rule: write ``rule(w, ctx)`` and add one
:class:`~spikeinit.catalog.RuleEntry` to the catalog.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import torch

from .. import catalog
from ..catalog import INIT_RULES, RuleEntry, init_aliases, init_names, resolve_init
from ..params import LIFParams
from . import functional as F
from .propagation_rules import balanced_normal_, calibrate_profile_, decorrelate_rows_

__all__ = ["Rule", "RuleContext", "get", "rules", "METHODS", "DATA_DEPENDENT", "ALIASES"]


@dataclass(frozen=True)
class RuleContext:
    """What a rule may read besides the weight.

    Attributes:
        threshold: the firing threshold theta of the layer the weight feeds.
        beta: the membrane decay per step of that layer (``micheli_reset``).
        generator: the random source (``None``: torch's global one).
        params: that layer's :class:`~spikeinit.params.LIFParams` (data-dependent rules).
        presyn: presynaptic activity ``[T, B, in]`` (data-dependent rules).
        target: per-step target rate profile ``[T]`` (``balanced_cal``).
        form: ``micheli_reset``'s form, ``"covariance"`` (default) or ``"public"``
            (:func:`~.functional.micheli_reset_normal_`).
    """

    threshold: float = 1.0
    beta: float = 0.0
    generator: torch.Generator | None = None
    params: LIFParams | None = None
    presyn: torch.Tensor | None = None
    target: torch.Tensor | None = None
    form: F.ResetForm = "covariance"


RuleFn = Callable[[torch.Tensor, RuleContext], torch.Tensor]


@dataclass(frozen=True)
class Rule:
    """A registered rule: its catalog entry and its loaded function ``fn(w, ctx)``."""

    entry: RuleEntry
    fn: RuleFn

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def data_dependent(self) -> bool:
        return self.entry.data_dependent

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.entry.aliases


def _load(ref: str) -> RuleFn:
    module, _, attr = ref.partition(":")
    fn = getattr(importlib.import_module(module), attr)
    if not callable(fn):
        raise TypeError(f"rule function {ref} is not callable")
    return fn  # type: ignore[no-any-return]


@cache
def _rule(name: str) -> Rule:
    entry = next(e for e in catalog.INIT_RULES if e.name == name)
    return Rule(entry, _load(entry.function))


def get(name: str, *, model_only: bool = False) -> Rule:
    """The rule called ``name`` (or one of its aliases).

    ``model_only=True`` accepts only the rules :func:`spikeinit.initialize` takes.
    Raises ``ValueError`` naming the allowed rules (``TypeError`` for a non-string).
    """
    return _rule(resolve_init(name, model_only=model_only, what="method"))


def rules(*, model_only: bool = False) -> dict[str, Rule]:
    """``{name: Rule}`` for every rule (or only those :func:`spikeinit.initialize` takes)."""
    return {n: get(n) for n in init_names(model_only=model_only)}


#: the rules :func:`spikeinit.initialize` takes (a view of the catalog)
METHODS: tuple[str, ...] = init_names()
#: the data-dependent ones among them
DATA_DEPENDENT: tuple[str, ...] = tuple(e.name for e in INIT_RULES if e.model and e.data_dependent)
#: ``{alias: name}`` of every rule
ALIASES: dict[str, str] = init_aliases(model_only=False)


# -- the data-independent rules (tensor-level functions of .functional) -------------------
def micheli(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`~.functional.micheli_normal_`."""
    return F.micheli_normal_(w, threshold=ctx.threshold, generator=ctx.generator)


def micheli_reset(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`~.functional.micheli_reset_normal_` with the layer's ``beta`` and ``ctx.form``."""
    return F.micheli_reset_normal_(
        w, beta=ctx.beta, threshold=ctx.threshold, form=ctx.form, generator=ctx.generator
    )


def micheli_finite(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`~.functional.micheli_finite_width_normal_`."""
    return F.micheli_finite_width_normal_(w, threshold=ctx.threshold, generator=ctx.generator)


def kaiming(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`~.functional.kaiming_normal_`."""
    return F.kaiming_normal_(w, generator=ctx.generator)


def glorot(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`~.functional.glorot_normal_`."""
    return F.glorot_normal_(w, generator=ctx.generator)


def default(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`~.functional.default_uniform_` (PyTorch's default)."""
    return F.default_uniform_(w, generator=ctx.generator)


# -- our propagation rules (.propagation_rules) ---------------------------------------------
def balanced(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`~.propagation_rules.balanced_normal_`."""
    return balanced_normal_(w, threshold=ctx.threshold, generator=ctx.generator)


def balanced_cal(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """``balanced`` rows, decorrelated from and calibrated on the presynaptic activity:
    :func:`~.propagation_rules.decorrelate_rows_` then
    :func:`~.propagation_rules.calibrate_profile_` toward ``ctx.target``."""
    if ctx.presyn is None or ctx.target is None or ctx.params is None:
        raise ValueError("balanced_cal needs ctx.presyn, ctx.target and ctx.params")
    balanced_normal_(w, threshold=ctx.threshold, generator=ctx.generator)
    decorrelate_rows_(w, ctx.presyn.cpu())
    calibrate_profile_(w, ctx.presyn.cpu(), ctx.params, ctx.target.cpu())
    return w
