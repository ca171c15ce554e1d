"""The registry of initialisation rules: one place for every rule's name, function and hooks.

The table itself, :data:`spikeinit.catalog.INIT_RULES`, is torch-free (the
command line reads it before importing torch); each entry names its rule as
``"module:attr"``, loaded here on first use. The attribute is either

* a tensor-level function ``rule(w, ctx) -> w`` (``w``: the weight
  ``[out, in, ...]``, set in place; ``ctx``: a :class:`RuleContext`), applied to
  a model by the default layer hooks of :mod:`spikeinit.init.rules.base`, or
* a :class:`~spikeinit.init.rules.base.LayerRule`: that function, the rule's own
  layer hook and how snnTorch / Norse / SpikingJelly models take it (the
  fluctuation rule, ``perez_nieves``).

:func:`get` returns a :class:`Rule`: what :func:`spikeinit.initialize`, the
foreign path (:mod:`spikeinit.init.foreign`) and the propagation experiment ask
(``rule.data_dependent``, ``rule.takes_foreign``, ``rule.measured``,
``rule.init_layer(job)``, ``rule.fn(w, ctx)``) instead of comparing names. The
rules themselves live in :mod:`spikeinit.init.rules`, one module per family.
To add a rule: write ``rule(w, ctx)`` (and, if it needs one, its layer hook) and
add one :class:`~spikeinit.catalog.RuleEntry` to the catalog.
"""

from __future__ import annotations

import importlib
from functools import cache

from .. import catalog
from ..catalog import INIT_RULES, init_aliases, init_names, resolve_init
from .rules.base import LayerRule, Rule
from .rules.context import RuleContext, RuleFn

__all__ = [
    "ALIASES",
    "DATA_DEPENDENT",
    "METHODS",
    "Rule",
    "RuleContext",
    "RuleFn",
    "get",
    "model_rule",
    "rules",
]


def _load(ref: str) -> LayerRule:
    module, _, attr = ref.partition(":")
    obj = getattr(importlib.import_module(module), attr)
    if isinstance(obj, LayerRule):
        return obj
    if not callable(obj):
        raise TypeError(f"rule function {ref} is not callable")
    return LayerRule(obj)  # a tensor-level function: the default hooks for its kind


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


def model_rule(method: object) -> Rule:
    """``method=`` of :func:`spikeinit.initialize`: a canonical name of a rule for whole
    models (no alias: those are for the command line), else ``ValueError`` naming them."""
    methods = init_names()  # read at call time: the catalog may have grown
    if not isinstance(method, str) or method not in methods:
        raise ValueError(f"method must be one of {list(methods)}, got {method!r}")
    return _rule(method)


def rules(*, model_only: bool = False) -> dict[str, Rule]:
    """``{name: Rule}`` for every rule (or only those :func:`spikeinit.initialize` takes)."""
    return {n: get(n) for n in init_names(model_only=model_only)}


#: the rules :func:`spikeinit.initialize` takes (a view of the catalog)
METHODS: tuple[str, ...] = init_names()
#: the data-dependent ones among them
DATA_DEPENDENT: tuple[str, ...] = tuple(e.name for e in INIT_RULES if e.model and e.data_dependent)
#: ``{alias: name}`` of every rule
ALIASES: dict[str, str] = init_aliases(model_only=False)
