"""Knobs that do nothing: weights whose scale does not reach the neuron's current.

docs/science.md, section 'Knobs that do nothing'.

The measured rule scales a knob's weights by ``c`` and assumes the current scales
with them (:mod:`spikeinit.init.foreign`). A weight used through ``sign()``
(binarised networks: snnTorch's BSNN tutorial), a standardised weight
(``(W - mean W) / std W``) or any scale-invariant custom Function breaks that
assumption: the rule would solve for a ``c`` that changes nothing and report
the target as met. The tracer marks the weights that reach the current through
an operation that is not a view (``Site.indirect``); for those, one trial pass
with the weight doubled measures the response::

    r = spread(U(2 W) - U(W)) / spread(U(W))

``r = 1`` for a weight that scales the current (no fixed part), ``r = 0`` for a
scale-invariant one. Below :data:`DEAD_RESPONSE` the weight is left exactly as
it was (never scaled by a useless factor), a ``UserWarning`` names the module,
and the note on that layer says so. The next knob that does scale the current
is used where one exists: another parameter of the same module (a learnable
scale, XNOR-Net's ``alpha``), set by measurement; a BatchNorm after the weight is
already the knob (the tracer stops there). A bias shifts the mean only, not the
fluctuation, so it is no replacement.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..adapters.base import ForeignLayer
from ..adapters.trace import Site
from .report import ModuleInit

#: below this response to a doubled weight, the weight's scale does nothing
DEAD_RESPONSE = 0.05
#: above this, another parameter of the module is a working scale
LIVE_RESPONSE = 0.5

Signal = Callable[[], torch.Tensor]
Spread = Callable[[torch.Tensor], float]


@dataclass
class KnobCheck:
    """What the trial found for one neuron."""

    dead: list[str] = field(default_factory=list)  # modules whose weight scale does nothing
    scale: tuple[str, torch.Tensor] | None = None  # a parameter that does scale the current
    notes: list[str] = field(default_factory=list)


def response(tensor: torch.Tensor, signal: Signal, spread: Spread, factor: float = 2.0) -> float:
    """``spread(U(factor w) - U(w)) / ((factor - 1) spread(U(w)))``, ``w`` restored after."""
    base = signal()
    saved = tensor.detach().clone()
    with torch.no_grad():
        tensor.mul_(factor)
    try:
        trial = signal()
    finally:
        with torch.no_grad():
            tensor.copy_(saved)
    return spread(trial - base) / max((factor - 1.0) * spread(base), 1e-30)


def _module_of(group_name: str) -> str:
    return group_name.split(".weight")[0]


def check_site(
    layer: ForeignLayer,
    site: Site,
    modules: dict[str, nn.Module],
    signal: Signal,
    spread: Spread,
) -> KnobCheck:
    """Measure the weights that reach ``site`` transformed; drop the dead ones from ``layer``.

    ``signal()`` is the neuron's free signal over one measurement pass, ``spread`` its
    fluctuation. A dead weight's group leaves ``layer.groups`` (so nothing scales it)
    and its module's other parameters are tried as the scale.
    """
    check = KnobCheck()
    if not site.indirect:
        return check
    for group in [g for g in layer.groups if _module_of(g.name) in site.indirect]:
        r = response(group.weight, signal, spread)
        if r >= DEAD_RESPONSE:
            continue
        name = _module_of(group.name)
        check.dead.append(name)
        layer.groups.remove(group)  # never scaled, never redrawn
        bias = getattr(modules[name], "bias", None)
        layer.bias_tensors = [b for b in layer.bias_tensors if b is not bias]
        message = (
            f"module {name!r} ({type(modules[name]).__name__}): scaling its weight changes "
            f"nothing in the current of neuron {site.name!r} (response {r:.2g} to a doubled "
            "weight: a sign / binarised / standardised weight), so the measured rule cannot "
            "set it; its weights are left as they were"
        )
        warnings.warn(message, UserWarning, stacklevel=4)
        check.notes.append(message)
        for pname, p in modules[name].named_parameters(recurse=False):
            if pname in ("weight", "bias") or not p.is_floating_point():
                continue
            if response(p, signal, spread) > LIVE_RESPONSE:
                check.scale = (f"{name}.{pname}", p)
                check.notes.append(f"its learnable scale {name}.{pname} is set instead")
                break
    if check.dead and check.scale is None and not layer.groups and not _has_norm(site, modules):
        check.notes.append(
            "no other parameter scales this neuron's current (a bias shifts its mean only): "
            "its sigma_U is what the weights give"
        )
    return check


def _has_norm(site: Site, modules: dict[str, nn.Module]) -> bool:
    return any(isinstance(modules[k], nn.modules.batchnorm._BatchNorm) for k in site.knobs)


def set_scale(
    scale: torch.Tensor, signal: Signal, spread: Spread, target: float, rounds: int = 3
) -> float:
    """Scale ``scale`` (a learnable gain, of either sign) until ``spread(signal())`` is
    ``target``: the current is linear in it, so ``c = target / spread`` per round."""
    gain = 1.0
    for _ in range(rounds):
        now = spread(signal())
        if now <= 0 or not math.isfinite(now):
            break
        c = target / now
        if abs(c - 1.0) < 1e-3:
            break
        with torch.no_grad():
            scale.mul_(c)
        gain *= c
    return gain


def annotate(entries: list[ModuleInit], dead: dict[str, str]) -> None:
    """Give the report's module entries of dead weights their true reason (module -> neuron)."""
    for entry in entries:
        if entry.name in dead and not entry.initialised:
            entry.reason = (
                f"its weight reaches neuron {dead[entry.name]!r} through an operation that "
                "removes its scale (sign, binarisation, standardisation): scaling it changes "
                "nothing, so it is left as it was"
            )
