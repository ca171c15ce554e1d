"""What keeps a foreign model's neuron from its target sigma_U: named, and warned about.

:func:`spikeinit.initialize` sets a snnTorch / Norse / SpikingJelly neuron through
the weights that feed it (``init/foreign.py``). Two structures defeat that
without any error:

* a weight computed by a parametrization (``torch.nn.utils.parametrizations.
  weight_norm`` / ``spectral_norm``, or the older ``torch.nn.utils.weight_norm``):
  ``module.weight`` is recomputed from ``parametrizations.weight.original*`` (or
  ``weight_g`` / ``weight_v``) on every access, so writing to it sets nothing;
* a normalisation between the weights and the neuron (``LayerNorm``,
  ``GroupNorm``, ``InstanceNorm``, a ``BatchNorm`` that is not the knob, any norm
  without affine parameters): it divides the weights' scale away, so no weight
  scale sets sigma_U.

:func:`obstacles` names them for one neuron (with what to do), and
:func:`report_missed` puts them in the report (the module's reason, the layer's
notes) and warns (``UserWarning``) for every neuron that has one and ends more
than :data:`MISS_FACTOR` away from its target (or whose weights were not set).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from torch import nn
from torch.nn.utils import parametrize

from .report import InitReport

__all__ = ["MISS_FACTOR", "obstacles", "report_missed"]

#: a measured sigma_U more than this factor above or below the target is a miss
MISS_FACTOR = 1.25

_NORMS = (
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.LocalResponseNorm,
)


def _parametrized(name: str, module: nn.Module) -> str | None:
    if parametrize.is_parametrized(module, "weight"):
        plist: Any = getattr(module, "parametrizations")["weight"]  # noqa: B009
        kinds = [type(p).__name__.lstrip("_") for p in plist]
        # weight_norm's right inverse restores the weight; spectral_norm divides it by its
        # largest singular value again, so no weight scale sets sigma_U through it
        if any("Spectral" in k for k in kinds):
            todo = (
                "spectral_norm fixes the weight's scale (spectral norm 1), so no weight sets "
                "sigma_U: scale the input in the forward pass instead, or remove spectral_norm"
            )
        else:
            todo = (
                "remove it before si.initialize (torch.nn.utils.parametrize."
                f"remove_parametrizations(model.{name}, 'weight')) and apply it again after: "
                "weight_norm keeps the weight it is given"
            )
        return (
            f"{name!r} ({type(module).__name__}): its weight is computed by a parametrization "
            f"({', '.join(kinds)}) from {name}.parametrizations.weight.original*, so spikeinit's "
            f"draw does not reach it (the weights were left as they were); {todo}"
        )
    if hasattr(module, "weight_g") and hasattr(module, "weight_v"):
        return (
            f"{name!r} ({type(module).__name__}): its weight is recomputed from weight_g and "
            "weight_v (torch.nn.utils.weight_norm) before every forward, so spikeinit's draw "
            "does not reach it; call torch.nn.utils.remove_weight_norm on it before "
            "si.initialize and weight_norm after"
        )
    return None


def _norm(name: str, module: nn.Module) -> str:
    affine = getattr(module, "weight", None) is not None
    todo = (
        f"scale {name}.weight by the target / measured ratio after si.initialize"
        if affine
        else "give it affine parameters and scale its weight by the target / measured ratio "
        "after si.initialize, or move it before the weights"
    )
    return (
        f"{name!r} ({type(module).__name__}) between the weights and the neuron normalises "
        f"their output, so the weights' scale cannot set sigma_U (spikeinit sets only a "
        f"BatchNorm's affine scale, when it directly feeds the neuron); {todo}"
    )


def obstacles(model: nn.Module, site: Any, modules: dict[str, Any]) -> dict[str, str]:
    """``{module name: why the neuron of site misses its target, and what to do}``."""
    out: dict[str, str] = {}
    for knob in site.knobs:
        why = _parametrized(knob, modules[knob])
        if why:
            out[knob] = why
    for name in site.transparent:
        module = modules.get(name)
        if isinstance(module, _NORMS):
            out[name] = _norm(name, module)
    if any("Norm" in op for op in site.ops):
        # a norm without parameters is not in the trace's modules: name the candidates
        bare = [
            (n, m)
            for n, m in model.named_modules()
            if isinstance(m, _NORMS) and not list(m.parameters(recurse=False)) and n not in out
        ]
        for n, m in bare:
            out[n] = _norm(n, m)
        if not bare:
            op = next(op for op in site.ops if "Norm" in op)
            out[op] = (
                f"a normalisation ({op}) between the weights and the neuron divides their "
                "scale away, so no weight scale sets sigma_U"
            )
    return out


def report_missed(
    model: nn.Module, report: InitReport, sites: list[Any], modules: dict[str, Any]
) -> None:
    """Name each neuron's obstacles in ``report`` and warn where its target was missed."""
    by_site = {site.name: obstacles(model, site, modules) for site in sites}
    reasons = {name: why for found in by_site.values() for name, why in found.items()}
    passed_through = {name for site in sites for name in site.transparent}
    for entry in report.modules:
        if entry.name in reasons and not entry.initialised:
            # a norm passed through keeps that reason, with why it matters; a parametrized
            # weight module is not "behind another module's output": say what it is
            keep = entry.name in passed_through and entry.reason
            entry.reason = f"{entry.reason}; {reasons[entry.name]}" if keep else reasons[entry.name]
        elif entry.name.endswith(".parametrizations.weight"):
            owner = entry.name.rsplit(".parametrizations.weight", 1)[0]
            if owner in reasons:
                entry.reason = f"the parametrization of {owner}.weight: " + reasons[owner]
    for layer in report.layers:
        found = by_site.get(layer.name) or {}
        target, measured = layer.target_sigma_u_theta, layer.sigma_u_theta
        if not found or target is None or measured is None:
            continue
        parametrized = any("parametrization" in why or "weight_g" in why for why in found.values())
        missed = measured <= 0 or abs(math.log(measured / target)) > math.log(MISS_FACTOR)
        if not (missed or parametrized):
            continue
        text = (
            f"neuron {layer.name!r} ends at sigma_U = {measured:.3g} theta, target "
            f"{target:.3g} theta: " + "; ".join(found.values())
        )
        layer.notes.append(text)
        warnings.warn(f"spikeinit.initialize: {text}", UserWarning, stacklevel=3)
