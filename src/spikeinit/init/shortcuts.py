"""Membrane shortcuts: one weight module whose output reaches several neurons.

docs/science.md, section 'Membrane shortcuts'.

In a membrane-shortcut residual network (MS-ResNet, Hu et al. 2024; the
spike-driven transformer, Yao et al. 2023; Spikformer, Zhou et al. 2023) the
residual stream is a membrane-like current that is added to, never passed
through a neuron: ``h = fc0(x); out = lif2(h + fc1(lif1(h)))``. The output of
``fc0`` reaches ``lif1`` and, through the shortcut, ``lif2``.

The rule is sequential, in execution order. A knob belongs to the *first*
neuron it reaches (``fc0`` to ``lif1``), which sets it as usual. For every later
neuron the knob is **shared**: its contribution is a fixed part of that
neuron's current, exactly like an identity shortcut, and only the neuron's own
knobs (``fc1``) are solved, ``a c^2 + 2 b c + d = (sigma_U theta)^2`` with the
shared contribution in ``d`` (:func:`spikeinit.init.foreign.init_site`). The
variances along the stream add, so the first neuron that reads the stream
already receives the target from the shared part alone when it has the same
dynamics (``d = (sigma_U theta)^2``): the branch added to it is then set to its
minimum, and the block starts as the identity on the stream, which is what
SkipInit (De & Smith 2020), Fixup (Zhang et al. 2019) and SpikingJelly's own
MS-ResNet (``bn2`` initialised to zero) do on purpose.

A module *called* twice on different inputs (``lin, lif1, lin, lif2``) is not a
shortcut: its two outputs differ and one scale cannot fit both; it stays refused.
"""

from __future__ import annotations

import math

import torch

from ..adapters.base import ForeignLayer
from ..adapters.trace import Site, Trace

#: the fixed part "reaches" the target when its sigma is within this share above it
REACHED_BY_FIXED = 0.02


def resolve_shared(trace: Trace, layers: list[ForeignLayer]) -> None:
    """Give each knob to the first neuron it reaches; later neurons get it as ``Site.shared``.

    Raises ``ValueError`` for a module used twice in the forward pass (its output
    reaches the later neuron from other sources than the first one's), naming both
    neurons, with the model left untouched.
    """
    owner: dict[str, Site] = {}
    claimed: set[str] = set()  # knobs and the weights behind them, set by an earlier neuron
    for site, layer in zip(trace.sites, layers, strict=True):
        for knob in list(site.knobs):
            first = owner.get(knob)
            if first is None or first.name == site.name:
                owner[knob] = site
                continue
            here = set(site.knob_sources.get(knob, []))
            there = set(first.knob_sources.get(knob, []))
            if not here <= there:
                raise ValueError(
                    f"module {knob!r} feeds two neurons, {first.name!r} and {site.name!r}, "
                    "from different inputs (a module called twice in the forward pass): one "
                    "scale cannot fit both; use a separate module for each"
                )
            site.shared[knob] = first.name
        if site.shared:
            _drop_shared(site, layer, trace)
        # a weight behind this neuron's knob that an earlier neuron already set (the stem
        # behind a downsampling shortcut's BatchNorm) is not drawn again
        site.behind = [m for m in site.behind if m not in claimed]
        claimed.update(site.knobs, site.behind)


def _drop_shared(site: Site, layer: ForeignLayer, trace: Trace) -> None:
    """Remove the shared knobs (and the weights behind them) from ``site`` and ``layer``."""
    site.knobs = [k for k in site.knobs if k not in site.shared]
    for k in site.shared:
        site.knob_sources.pop(k, None)
    behind = [m for k in site.knobs for m in site.knob_behind.get(k, [])]
    site.behind = [m for m in dict.fromkeys(behind) if m not in site.knobs]
    prefixes = tuple(f"{k}.weight" for k in site.shared)
    layer.groups = [g for g in layer.groups if not g.name.startswith(prefixes)]
    dropped = {id(getattr(trace.modules[k], "bias", None)) for k in site.shared} - {id(None)}
    layer.bias_tensors = [b for b in layer.bias_tensors if id(b) not in dropped]


def any_shared(sites: list[Site]) -> bool:
    """Whether some neuron reads a knob that an earlier one owns. Such a neuron must be
    measured after its owner is set (the shared part is its fixed input), so the neurons
    are set one at a time, in execution order, not all from one pass."""
    return any(site.shared for site in sites)


def fixed_parts(site: Site, layer: ForeignLayer) -> list[str]:
    """What reaches the neuron through no knob of its own: sources with no weight on the
    path (identity shortcuts, the model input) and shared knobs (membrane shortcuts)."""
    if layer.has_own_input_weights():  # it takes its input through its own weights
        return []
    parts = [s for s in site.fixed_sources if s != site.name]
    parts += [f"{k} (set for {owner})" for k, owner in site.shared.items()]
    return parts


def no_own_knob_note(site: Site) -> str:
    """The note for a neuron with no knob of its own."""
    if site.shared:
        held = ", ".join(f"{k!r} (set for {o!r})" for k, o in site.shared.items())
        return (
            f"no weights of its own feed this neuron: its input comes through {held}, "
            "so the target is not applied here (its sigma_U is what that gives)"
        )
    return (
        "no weights feed this neuron: nothing sets the scale of its input, so the target "
        "is not applied (its sigma_U is what its input gives)"
    )


def reach_note(
    a: torch.Tensor, b: torch.Tensor, d: torch.Tensor, target: float, fixed: list[str]
) -> str | None:
    """Why ``a c^2 + 2 b c + d = target^2`` has no positive root, in words (None if it has).

    ``a``, ``b``, ``d`` are per channel (or one value): the knob part's variance, its
    covariance with the fixed part, the fixed part's variance. Two causes, told apart:
    no fluctuation reaches the knob (``a = 0``: the layers before it are silent in the
    measurement, the knob is left as it was), or the fixed part alone fluctuates more
    than the target (only where a fixed part exists: the knob is set to its minimum).
    """
    silent = a <= 0
    over = (~silent) & (d >= target * target)
    notes = []
    if bool(silent.any()):
        n, total = int(silent.sum()), silent.numel()
        what = "this neuron's knob" if total == 1 else f"{n} of {total} channels of the knob"
        notes.append(
            f"no fluctuating input reached {what} in the measurement (the layers before it "
            "are silent on this data): left as it was there"
        )
    if bool(over.any()) and fixed:
        sigma = math.sqrt(float(d[over].mean()))
        if sigma <= target * (1 + REACHED_BY_FIXED):
            notes.append(
                f"the input that no weight of this neuron scales ({', '.join(fixed)}) "
                f"alone already gives sigma_U = {sigma:.4g} (target {target:.4g}): the "
                "branch added to it is set to its minimum (the block starts as the identity "
                "on that stream; docs/science.md, 'Membrane shortcuts')"
            )
        else:
            notes.append(
                f"target sigma_U not reachable: the input that no weight of this neuron "
                f"scales ({', '.join(fixed)}) alone fluctuates more (sigma {sigma:.4g} > "
                f"target {target:.4g}); the knob was set to its minimum"
            )
    return "; ".join(notes) or None


def floor_once(
    c: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    d: torch.Tensor,
    target: float,
    floored: dict[str, torch.Tensor],
    key: str,
) -> torch.Tensor:
    """``c`` with the channels that were already set to their minimum in an earlier round
    of a repeated solve (and still cannot reach the target) left where they are (``c = 1``),
    so that repeated rounds do not shrink them by the fallback factor again and again."""
    disc = b * b - a * (d - target * target)
    root = (-b + disc.clamp(min=0).sqrt()) / a.clamp(min=1e-300)
    stuck = (a > 0) & ~((disc >= 0) & (root > 0))
    before = floored.get(key)
    if before is not None and before.shape == stuck.shape:
        c = torch.where(stuck & before, torch.ones_like(c), c)
        stuck = stuck | before
    floored[key] = stuck
    return c
