"""Decode-aware initialisation of a model's output layer (docs/science.md, section 'Output layers').

The fluctuation-driven rule brings every neuron's free membrane to ``sigma_U =
sigma_u theta``: a *hidden* layer then fires in the regime where surrogate
gradients flow. An **output layer** is different: its spikes (or membrane) are
decoded into class scores, and at the start those scores should be
uninformative and unsaturated, like the small final layer of an ANN, while the
membrane still comes close enough to threshold for the surrogate to pass a
gradient. The tutorials' networks decode a *spiking* output layer by spike
counts or rates; at ``sigma_U = 1 theta`` it fires on 16 % of steps from the
start, and its counts differ by several spikes between classes before any
training.

The output layers are found from the traced forward
(:attr:`spikeinit.adapters.trace.Trace.outputs`): the neurons whose spikes or
membrane reach the returned tensors through no module with parameters. With
``readout="auto"`` (the default) they get the measured rule with the smaller
target :data:`OUTPUT_SIGMA_U` when their spikes are returned, and
:data:`READOUT_SIGMA_U` when only their membrane is (a non-spiking readout, or
a spiking layer whose spikes the model does not return); ``"spikes"`` and
``"membrane"`` say how the user's loss decodes them (snnTorch models return
both: ``"membrane"`` for a loss on the membrane, as tutorial 5's); a number
``s`` sets them to ``sigma_U = s theta`` by the same measured rule;
``"fluctuation"`` treats them like hidden layers (spikeinit's behaviour
before), ``"normal"`` draws ``N(0, 1/fan_in)``, ``"keep"`` leaves the
framework's draw. A dict ``{layer name: rule}`` sets layers one by one (others
``"auto"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = [
    "OUTPUT_RULES",
    "OUTPUT_SIGMA_U",
    "READOUT_SIGMA_U",
    "check_rule",
    "decoding",
    "rule_for",
    "target_of",
]

#: rules for output layers (``readout=`` of :func:`spikeinit.initialize`)
OUTPUT_RULES: tuple[str, ...] = ("auto", "spikes", "membrane", "fluctuation", "normal", "keep")

#: ``sigma_U / theta`` of a *spiking* output layer under ``readout="auto"``: a near-silent
#: start whose spike counts are uninformative (a uniform softmax); the tutorials' own
#: draws give 0.07-0.17 behind fluctuation-driven hidden layers, and on snnTorch's
#: tutorial 6 keeping theirs trained to 84.4 % where 0.5 gave 53.2 % (docs/science.md,
#: section 'Output layers')
OUTPUT_SIGMA_U = 0.125
#: ``sigma_U / theta`` of an output layer decoded by its *membrane* (a non-spiking readout
#: such as Norse's LI, or ``readout="membrane"``): measured on Norse's recurrent MNIST
#: classifier (2 seeds: keep, about 0.23, 51.9 %; 0.1: 50.6 %; 0.25: 50.2 %; 0.5: 43.9 %)
#: and on snnTorch's tutorial 5, whose loss reads the membrane at every step (3 seeds,
#: accuracy after one epoch: 0.125: 81.2 %, 0.25: 84.2 %, 0.5: 84.9 %; default 81.1 %)
READOUT_SIGMA_U = 0.25

#: the target of an output layer by what its decoding reads
_BY_DECODING = {"spikes": OUTPUT_SIGMA_U, "membrane": READOUT_SIGMA_U}

#: the largest numeric output target (as for sigma_u)
MAX_OUTPUT_SIGMA_U = 1e3

Rule = str | float
Readout = Rule | Mapping[str, Rule]


def _is_target(rule: object) -> bool:
    return (
        isinstance(rule, (int, float))
        and not isinstance(rule, bool)
        and math.isfinite(rule)
        and 0 < rule <= MAX_OUTPUT_SIGMA_U
    )


def check_rule(readout: Readout) -> None:
    """``ValueError`` unless ``readout`` is a rule, a target, or a ``{layer: rule}`` dict."""
    rules = readout.values() if isinstance(readout, Mapping) else [readout]
    for rule in rules:
        if not (_is_target(rule) or (isinstance(rule, str) and rule in OUTPUT_RULES)):
            raise ValueError(
                f"readout must be one of {list(OUTPUT_RULES)}, a target sigma_U / theta in "
                f"(0, {MAX_OUTPUT_SIGMA_U:g}], or a {{layer name: rule}} dict of them, "
                f"got {rule!r}"
            )


def rule_for(readout: Readout, name: str) -> Rule:
    """The rule of output layer ``name`` (a numeric target as a float)."""
    rule = readout.get(name, "auto") if isinstance(readout, Mapping) else readout
    return float(rule) if _is_target(rule) else rule


def target_of(rule: Rule, sigma_u: float, decoded: str = "spikes") -> tuple[float, str]:
    """``(sigma_U / theta, how)`` for the measured rule on an output layer; ``decoded`` is
    what the model returns of it (:func:`decoding`)."""
    if rule == "auto":
        rule = "spikes" if "spikes" in decoded else "membrane"
        how = f"decoded by its {rule}"
        if rule == "spikes" and "membrane" in decoded:
            how = (
                "spikes and membrane returned, decoded as spikes; readout='membrane' if "
                "the loss reads the membrane"
            )
        aim = _BY_DECODING[rule]
        return aim, f"decode-aware: sigma_U = {aim:g} theta ({how}; readout='auto')"
    if rule in _BY_DECODING:
        aim = _BY_DECODING[str(rule)]
        how = f"decoded by its {rule}; readout={rule!r}"
        return aim, f"decode-aware: sigma_U = {aim:g} theta ({how})"
    if isinstance(rule, float):
        return rule, f"sigma_U = {rule:g} theta (readout={rule:g})"
    return sigma_u, f"as hidden layers: sigma_U = {sigma_u:g} theta"


def decoding(kinds: list[str], is_readout: bool) -> str:
    """How the model's output reads a layer: ``"spikes"``, ``"membrane"`` or both."""
    if is_readout:
        return "membrane"
    parts = ["spikes" if k == "spikes" else "membrane" for k in ("spikes", "state") if k in kinds]
    return ", ".join(parts) or "spikes"
