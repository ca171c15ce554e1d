"""Fluctuation-driven initialisation of an snnTorch, Norse or SpikingJelly model, by measurement.

The method and its limits: docs/interop.md, section 'The measured rule'.

The quantity to control is each neuron's free membrane potential (threshold
and reset off), driven by the input current the neuron really receives in the
user's forward pass. :func:`initialize_foreign` sets the neurons one at a time,
in execution order, so each one is measured with every neuron before it
already set.

For a neuron, the finder (:mod:`spikeinit.adapters.trace`) gives the *knobs*
on the paths into it. Between a knob and the neuron there are only operations
that are positively homogeneous (pooling, dropout at evaluation, a constant
factor, reshapes, sums of branches), so the free signal ``U`` splits into a
part proportional to the knob's scale ``c`` and a fixed part ``B`` (residual
shortcuts, which carry no knob)::

    U(c, delta) = c A + B + delta G

``A`` and ``B`` are measured (one forward pass stopped at the neuron; a second
with the knobs at zero when a fixed part exists), ``G`` is the neuron's
response to a unit constant current, and ``delta`` a constant current added
through a bias. With ``a = <Var A>``, ``b = <Cov(A, B)>`` and ``d = <Var B>``
(averaged over neurons), the target ``sigma_U theta`` solves
``a c^2 + 2 b c + d = (sigma_U theta)^2``, and then
``delta = (mu_U theta - c <A> - <B>) / G``. This is exact for any neuron model
(the signal is the framework's own free membrane), any pooling and any number
of branches; Rossbroich, Gygax & Zenke (2022) fix the same two moments
analytically for Poisson input and a single weight matrix.

* **Weights as knob** (Linear / Conv; the neuron's own input weights): they are
  drawn ``N(0, 1/fan_in)``, biases set to 0, then the whole tensor is scaled by
  ``c``; ``delta`` goes into the bias, where there is one.
* **BatchNorm as knob**: the weights behind it are normalised away (drawn
  ``N(0, 1/fan_in)``, biases 0). Its affine ``weight`` is set to ``c`` and its
  ``bias`` to ``delta`` *per channel*, measured with batch statistics (training
  mode); its running mean and variance are set to the statistics of the data,
  so that evaluation mode gives the same current.
* **Recurrent** connections (the neuron's own earlier spikes): the recurrent
  weights get the share ``1 - alpha`` of the variance of the feed-forward ones
  at the start, and the joint scale is re-measured a few times, since the
  spikes that feed back change with the scale.
* **Signals**: leaky neurons: the free membrane's std over time (``"temporal"``,
  sigma_U of the paper); a neuron whose input current is constant in time
  (a static image repeated every step) or a single step: the std over time and
  samples together (``"total"``). Integrate-and-fire neurons (no leak) have no
  stationary free membrane: their signal is the per-step input current itself,
  and sigma_U is its std over time and samples, in units of theta (the same
  per-step variance that Micheli et al. 2024 control).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..adapters import find as _find
from ..adapters.base import ForeignLayer
from ..adapters.trace import (
    NORM_TYPES,
    VIEWS,
    Site,
    Trace,
    places,
    shared_parameters,
)
from ..measure import (  # the shared measuring code (re-exported: si.init.foreign.*)
    Forward,
    Runner,
    free_signal,
    is_static,
    limit_samples,
    measurement_mode,
    moments,
    prepare_batches,
    restored_on_failure,
    spread,
    variance_mode,
)
from ..nn.base import WeightGroup
from . import functional as F
from . import knob_check, registry, shortcuts
from .missed import report_missed
from .outputs import decoding, rule_for, target_of
from .registry import RuleContext
from .report import GroupInit, InitReport, LayerInit, ModuleInit
from .rules.context import ResetForm
from .targets import InitTargets

STATIC_SIGMA_U = 0.5  # the default target when the model's input is static in time


# --------------------------------------------------------------------------- signals


def default_sigma_u(runner: Runner, site: Site) -> tuple[float, str]:
    """``sigma_u`` when none is given, from what the first neuron receives (``(value, why)``).

    A time-varying input (spikes, a recording): 1 theta, the fluctuation-driven regime of
    Rossbroich et al. A *static* input (an image repeated every step, or one step): there is
    no temporal fluctuation to set, each neuron's drive is a constant per sample, and the
    measured landscape of snnTorch's tutorial-6 network peaks at ``xi = (1 - mu_U) /
    sigma_U = 2`` (docs/science.md, section 'Static input'): :data:`STATIC_SIGMA_U`.
    """
    current = runner.capture(site, [site])[0][site.name]
    if is_static(current):
        return STATIC_SIGMA_U, (
            f"sigma_u not given: the input is static in time, so sigma_U = {STATIC_SIGMA_U:g} "
            "theta (xi = 2 at mu_U = 0); pass sigma_u to choose"
        )
    return 1.0, "sigma_u not given: the input varies in time, so sigma_U = 1 theta"


def solve_scale(
    a: torch.Tensor, b: torch.Tensor, d: torch.Tensor, target: float
) -> tuple[torch.Tensor, bool]:
    """The scale ``c > 0`` with ``a c^2 + 2 b c + d = target^2``; False if unreachable."""
    disc = b * b - a * (d - target * target)
    ok = bool(((disc >= 0) & (a > 0)).all())
    root = (-b + disc.clamp(min=0).sqrt()) / a.clamp(min=1e-300)
    ok = ok and bool((root > 0).all())
    fallback = (-b / a.clamp(min=1e-300)).clamp(min=1e-3)
    fallback = torch.where(a > 0, fallback, torch.ones_like(fallback))  # no input: keep
    c = torch.where((disc >= 0) & (root > 0), root, fallback)
    return c, ok


# --------------------------------------------------------------------------- state


# --------------------------------------------------------------------------- passes


# --------------------------------------------------------------------------- rules
def _normal_(w: torch.Tensor, std: float, gen: torch.Generator | None) -> None:
    with torch.no_grad():
        noise = torch.randn(w.shape, generator=gen, dtype=torch.float32, device="cpu")
        w.copy_((noise * std).to(dtype=w.dtype, device=w.device))


def _draw_behind(site: Site, modules: dict[str, Any], gen: torch.Generator | None) -> None:
    """The weights behind a knob (normalised away or scaled after): ``N(0, 1/fan_in)``, bias 0."""
    for name in site.behind:
        w = modules[name].weight
        _normal_(w, fan_in_of(w) ** -0.5, gen)
        bias = getattr(modules[name], "bias", None)
        if isinstance(bias, torch.Tensor):
            with torch.no_grad():
                bias.zero_()


def fan_in_of(w: torch.Tensor) -> int:
    return F._fan_in(w) if w.dim() > 1 else 1


@dataclass
class SiteResult:
    """What the measured rule did for one neuron."""

    rule: str
    gain: float
    shift: float
    variance: str
    reachable: bool
    notes: list[str]
    norms: list[str]
    behind: list[str]


def init_site(
    layer: ForeignLayer,
    site: Site,
    runner: Runner,
    sigma_target: float,
    mu_target: float | None,
    alpha: float,
    gen: torch.Generator | None,
    iterations: int,
    tol: float,
) -> SiteResult:
    """Set the knobs of one neuron so that its free signal hits the targets (module docstring).

    ``mu_target`` None leaves the mean where the zero-mean weights put it.
    """
    modules: dict[str, Any] = runner.trace.modules
    notes: list[str] = []
    norms = [k for k in site.knobs if isinstance(modules[k], NORM_TYPES)]
    for k in norms:
        if getattr(modules[k], "weight", None) is None:
            raise ValueError(
                f"neuron {site.name!r} is fed through {k!r} ({type(modules[k]).__name__}) "
                "without affine parameters: its scale cannot be set (use affine=True)"
            )
    groups = layer.weight_groups()
    _draw_behind(site, modules, gen)
    ff = [g for g in groups if g.kind == "ff"]
    rec = [g for g in groups if g.kind == "rec"]
    share = {"ff": (alpha if rec else 1.0) / max(len(ff), 1), "rec": (1 - alpha) / max(len(rec), 1)}
    for g in groups:
        _normal_(g.weight, math.sqrt(share[g.kind] / fan_in_of(g.weight)), gen)
    layer.zero_bias_()
    gammas: list[torch.Tensor] = []
    betas: list[torch.Tensor] = []
    for k in norms:
        bn = modules[k]
        with torch.no_grad():
            bn.weight.fill_(1.0)
            if bn.bias is not None:
                bn.bias.zero_()
        gammas.append(bn.weight)
        if bn.bias is not None:
            betas.append(bn.bias)
    if not groups and not norms:
        notes.append(shortcuts.no_own_knob_note(site))
        return SiteResult("none", 1.0, 0.0, "temporal", True, notes, norms, list(site.behind))
    per_channel = bool(norms)
    knob_tensors = gammas if norms else [g.weight for g in groups]
    shift_tensors = betas if norms else layer.bias_parameters()
    fixed = shortcuts.fixed_parts(site, layer)
    why: str | None = None
    total_gain = torch.ones(1, dtype=torch.float64)
    reachable = True
    mode = "temporal"
    shift_total = 0.0
    history: list[tuple[float, float]] = []
    # own spikes feed back (through the graph, or inside the neuron: RLeaky, Norse cells)
    # (or a free membrane that is not linear in the current: the same secant search)
    recurrent = site.recurrent or any(g.kind == "rec" for g in groups) or layer.nonlinear
    converged = iterations == 1
    for step in range(iterations):
        current = runner.capture(site, [site])[0][site.name]
        mode = variance_mode(current, layer)
        signal = free_signal(layer, current)
        base = None
        if fixed:
            saved = [t.detach().clone() for t in knob_tensors + shift_tensors]
            with torch.no_grad():
                for t in knob_tensors + shift_tensors:
                    t.zero_()
            zero_current = runner.capture(site, [site])[0][site.name]
            with torch.no_grad():
                for t, v in zip(knob_tensors + shift_tensors, saved, strict=True):
                    t.copy_(v)
            base = free_signal(layer, zero_current)
        part = signal - base if base is not None else signal
        shifting = mu_target is not None and bool(shift_tensors)
        if shifting:
            # the shift's own transient (the step response G(t)) is part of the solve
            assert mu_target is not None
            g_dc = _shift_response(layer, site, runner, shift_tensors[0], current, signal)
            m_g = _channel_mean(g_dc, per_channel)
            m_a = _channel_mean(part, per_channel)
            m_b = _channel_mean(base, per_channel) if base is not None else torch.zeros_like(m_a)
            fixed_part = base.double() if base is not None else torch.zeros_like(part.double())
            solve_a = part.double() - _bcast(m_a / m_g, part, per_channel) * g_dc
            solve_b = fixed_part + _bcast((mu_target - m_b) / m_g, part, per_channel) * g_dc
        else:
            solve_a, solve_b = part, base  # type: ignore[assignment]
        a, b, d = moments(solve_a, solve_b, mode, per_channel)
        if float(a.max()) <= 0.0:
            static = mode == "total" and current.shape[1] == 1
            raise ValueError(
                f"neuron {site.name!r}: its input does not change when its weights do "
                "(no data reaches it, or the input is constant); "
                + (
                    "a static input with a single sample gives each neuron one constant "
                    "current: give more samples"
                    if static
                    else "check the data"
                )
            )
        now = spread(signal, mode)
        history.append((math.log(float(total_gain.mean())), math.log(max(now, 1e-300))))
        if step > 0 and abs(now - sigma_target) <= tol * sigma_target:
            converged = True
            break
        c, ok = solve_scale(a, b, d, sigma_target)
        why = None if ok else shortcuts.reach_note(a, b, d, sigma_target, fixed)
        if recurrent and len(history) >= 2:
            # the spikes that feed back change with the scale: bracket the target in
            # log-log and interpolate (regula falsi), or step along the last secant
            step_c = math.exp(_next_log_gain(history, math.log(sigma_target)) - history[-1][0])
            c = torch.full_like(c, step_c)
            ok = True
        reachable = reachable and ok
        _scale(knob_tensors, c, per_channel)
        total_gain = total_gain * c
        if shifting:
            assert mu_target is not None
            delta = (mu_target - c * m_a - m_b) / m_g
            with torch.no_grad():
                first = shift_tensors[0]
                first.add_(delta.to(first.dtype) if per_channel else float(delta))
            shift_total += float(delta.mean())
    if not converged and recurrent and history:
        # the last step was not measured: keep the best scale that was
        best = min(history, key=lambda h: abs(h[1] - math.log(sigma_target)))
        factor = math.exp(best[0] - math.log(float(total_gain.mean())))
        _scale(knob_tensors, torch.full_like(total_gain, factor), False)
        total_gain = total_gain * factor
    if why is not None:
        notes.append(why)
    if norms:
        rule = "BatchNorm affine per channel (measured)"
        notes.append(
            f"BatchNorm {', '.join(norms)}: weight and bias set per channel so that the free "
            "membrane hits the targets with batch statistics; running stats set from the data "
            "(evaluation mode gives the same current)"
        )
    else:
        rule = "fluctuation (measured): N(0, 1/fan_in) scaled to the measured sigma_U"
    if site.ops:
        notes.append("between the weights and the neuron: " + ", ".join(site.ops))
    if fixed:
        notes.append("fixed input (no weight of this neuron scales it): " + ", ".join(fixed))
    return SiteResult(
        rule,
        float(total_gain.mean()),
        shift_total,
        mode,
        reachable,
        notes,
        norms,
        list(site.behind),
    )


def init_joint(
    pairs: list[tuple[ForeignLayer, Site]],
    runner: Runner,
    sigma_u: float,
    mu_u: float | None,
    gen: torch.Generator | None,
    iterations: int,
    tol: float,
    accept: float = 0.05,
) -> dict[str, SiteResult] | None:
    """All neurons fed through BatchNorm, set together: one pass per round.

    BatchNorm (batch statistics) makes each neuron's current independent of the
    scale upstream, so every neuron can be solved from the same pass: its
    current is ``I = sum_k (bn_k(z) - beta_k) + sum_k beta_k + R``, with the
    BatchNorm outputs captured, ``R`` the rest (residual shortcuts). The solve
    of :func:`init_site` is applied to every neuron at once, and the rounds
    repeat until every neuron is within ``tol`` (the spike trains that reach
    the BatchNorms change a little with each round). Returns None, having
    changed nothing, when some BatchNorm output does not reach its neuron
    unchanged in shape (pooling after BatchNorm): then the neurons are set one
    at a time. Where the rounds end unsettled (the last round still moved some
    neuron), one more pass checks them: from the first neuron off by more than
    ``accept``, the neurons are left out of the result, to be set one at a time.
    """
    modules: dict[str, Any] = runner.trace.modules
    norms_of = {s.name: list(s.knobs) for _, s in pairs}
    all_norms = [n for names in norms_of.values() for n in names]
    for name in all_norms:
        if getattr(modules[name], "weight", None) is None:
            return None
    for _, site in pairs:
        _draw_behind(site, modules, gen)
    with torch.no_grad():  # the solve scales from 1, as init_site does (a zero-init BN stays 0)
        for name in all_norms:
            modules[name].weight.fill_(1.0)
    results: dict[str, SiteResult] = {}
    why: dict[str, str | None] = {}
    floored: dict[str, torch.Tensor] = {}  # channels already set to their minimum
    first = True
    rounds, silent_before, awake_since = 0, len(pairs) + 1, 0
    while True:
        outs: dict[str, list[torch.Tensor]] = {n: [] for n in all_norms}
        currents, _ = runner.capture(None, [s for _, s in pairs], outputs=outs)
        done = True
        silent = 0  # neurons that no fluctuation reached this round (the layers before are silent)
        for layer, site in pairs:
            current = currents[site.name]
            bns = [modules[n] for n in norms_of[site.name]]
            parts = []
            for n in norms_of[site.name]:
                out = torch.cat(outs[n], dim=0 if outs[n][0].shape[0] != current.shape[0] else 1)
                if out.numel() != current.numel():
                    if first:
                        return None
                    raise ValueError(f"BatchNorm {n!r} output changed shape between passes")
                parts.append(out.reshape(current.shape))
            theta = layer.params.threshold
            mode = variance_mode(current, layer)
            betas = [
                _bcast(bn.bias.detach(), current, True) if bn.bias is not None else 0.0
                for bn in bns
            ]
            scaled = sum(p - b for p, b in zip(parts, betas, strict=True))
            assert isinstance(scaled, torch.Tensor)
            part_sig = free_signal(layer, scaled)
            fixed = shortcuts.fixed_parts(site, layer)
            if fixed:
                rest = current - sum(parts)
                base_sig = free_signal(layer, rest)
            else:
                base_sig = torch.zeros_like(part_sig)
            g_dc = free_signal(layer, torch.ones_like(current[:, :1]))
            beta_sum = sum(betas)
            signal = part_sig + base_sig + beta_sum * g_dc
            if not first and abs(spread(signal, mode) - sigma_u * theta) <= tol * sigma_u * theta:
                continue
            done = False
            m_g = _channel_mean(g_dc, True)
            m_a = _channel_mean(part_sig, True)
            m_b = _channel_mean(base_sig, True)
            mu = 0.0 if mu_u is None else mu_u * theta
            solve_a = part_sig - _bcast(m_a / m_g, part_sig, True).float() * g_dc
            solve_b = base_sig + _bcast((mu - m_b) / m_g, part_sig, True).float() * g_dc
            a, b, d = moments(solve_a, solve_b, mode, True)
            c, ok = solve_scale(a, b, d, sigma_u * theta)
            c = shortcuts.floor_once(c, a, b, d, sigma_u * theta, floored, site.name)
            why[site.name] = None if ok else shortcuts.reach_note(a, b, d, sigma_u * theta, fixed)
            silent += int(bool((a <= 0).any()))
            delta = (mu - c * m_a - m_b) / m_g
            with torch.no_grad():
                for k, bn in enumerate(bns):
                    bn.weight.mul_(c.to(bn.weight.dtype))
                    if bn.bias is not None:
                        bn.bias.copy_(delta.to(bn.bias.dtype) if k == 0 else 0.0)
            prev = results.get(site.name)
            results[site.name] = SiteResult(
                "BatchNorm affine per channel (measured, all neurons together)",
                float(c.mean()) * (prev.gain if prev else 1.0),
                float(delta.mean()),
                mode,
                ok and (prev.reachable if prev else True),
                [],
                norms_of[site.name],
                list(site.behind),
            )
        first = False
        rounds += 1
        # a deep stack wakes up a few layers per round (a silent layer feeds zeros to the
        # next): the layers that woke last get ``iterations`` rounds too, while the silent
        # layers get fewer
        if silent:
            awake_since = rounds
        stuck = silent and silent >= silent_before and rounds >= iterations
        if done or stuck or rounds - awake_since >= iterations:
            break
        if rounds >= iterations + len(pairs):
            break
        silent_before = silent
    if not done:
        _drop_unsettled(pairs, runner, results, sigma_u, accept)
    for layer, site in pairs:
        result = results.get(site.name)
        if result is None:
            continue
        result.notes.append(
            f"BatchNorm {', '.join(result.norms)}: weight and bias set per channel so that the "
            "free membrane hits the targets with batch statistics; running stats set from the "
            "data (evaluation mode gives the same current)"
        )
        if why.get(site.name):
            result.notes.append(str(why[site.name]))
        fixed = shortcuts.fixed_parts(site, layer)
        if fixed:
            result.notes.append(
                "fixed input (no weight of this neuron scales it): " + ", ".join(fixed)
            )
    return results


def _drop_unsettled(
    pairs: list[tuple[ForeignLayer, Site]],
    runner: Runner,
    results: dict[str, SiteResult],
    sigma_u: float,
    accept: float,
) -> None:
    """Remove from ``results`` every neuron from the first one (in execution order) whose
    sigma_U is off by more than ``accept`` in a fresh pass (init_joint)."""
    currents, _ = runner.capture(None, [s for _, s in pairs])
    for index, (layer, site) in enumerate(pairs):
        current = currents[site.name]
        got = spread(free_signal(layer, current), variance_mode(current, layer))
        if abs(got - sigma_u * layer.params.threshold) > accept * sigma_u * layer.params.threshold:
            for _, later in pairs[index:]:
                results.pop(later.name, None)
            return


def _next_log_gain(history: list[tuple[float, float]], target: float) -> float:
    """The next log gain for a monotone ``log sigma(log gain)`` measured at ``history``."""
    below = [h for h in history if h[1] < target]
    above = [h for h in history if h[1] >= target]
    if below and above:
        g0, s0 = max(below)
        g1, s1 = min(above)
        same_side = len(history) >= 3 and (history[-1][1] < target) == (history[-2][1] < target)
        if same_side and g1 > g0:  # interpolation stalls on one side: bisect (Illinois-like)
            return 0.5 * (g0 + g1)
        if s1 - s0 > 1e-12 and g1 > g0:
            guess = g0 + (target - s0) * (g1 - g0) / (s1 - s0)
            # stay well inside the bracket: it may be strongly curved near a recurrent instability
            lo, hi = g0 + 0.1 * (g1 - g0), g1 - 0.1 * (g1 - g0)
            return min(max(guess, lo), hi)
        return 0.5 * (g0 + g1)
    (g0, s0), (g1, s1) = history[-2], history[-1]
    slope = (s1 - s0) / (g1 - g0) if abs(g1 - g0) > 1e-9 else 1.0
    slope = min(max(slope, 0.25), 4.0)
    return g1 + (target - s1) / slope


def _scale(tensors: list[torch.Tensor], c: torch.Tensor, per_channel: bool) -> None:
    with torch.no_grad():
        for t in tensors:
            factor = c.to(t.dtype).reshape(-1) if per_channel else float(c)
            t.mul_(factor)


def _channel_mean(x: torch.Tensor, per_channel: bool) -> torch.Tensor:
    if per_channel and x.dim() > 2:
        return x.transpose(0, 2).reshape(x.shape[2], -1).mean(dim=1).double()
    return x.mean().reshape(1).double()


# operations that pass a constant added before them on unchanged
PLAIN_OPS = VIEWS | {"AddBackward0", "CopySlices", "StackBackward0", "CatBackward0"}


def _shift_response(
    layer: ForeignLayer,
    site: Site,
    runner: Runner,
    shift: torch.Tensor,
    current: torch.Tensor,
    signal: torch.Tensor,
) -> torch.Tensor:
    """The free signal's response to a unit step of ``shift`` (a bias).

    Through plain operations a bias adds itself to the current: the response is
    the neuron's to a unit constant. Through pooling or a constant factor it is
    measured, with one more pass at ``shift + 1``.
    """
    if set(site.ops) <= PLAIN_OPS:
        return free_signal(layer, torch.ones_like(current[:, :1])).double()
    with torch.no_grad():
        shift.add_(1.0)
    try:
        probe = runner.capture(site, [site])[0][site.name]
    finally:
        with torch.no_grad():
            shift.sub_(1.0)
    return (free_signal(layer, probe) - signal).double()


def _bcast(values: torch.Tensor, like: torch.Tensor, per_channel: bool) -> torch.Tensor:
    """Per-channel values shaped to broadcast against ``[T, B, C, ...]``."""
    if per_channel and like.dim() > 2:
        return values.reshape(1, 1, -1, *([1] * (like.dim() - 3)))
    return values.reshape(())


def set_running_stats(
    modules: dict[str, nn.Module], norm_inputs: dict[str, list[torch.Tensor]]
) -> None:
    """BatchNorm running mean / variance := the statistics of the data it received."""
    for name, inputs in norm_inputs.items():
        bn: Any = modules[name]
        if not inputs or getattr(bn, "running_mean", None) is None:
            continue
        # the channel dimension: 1, or 2 for a SpikingJelly multi-step [T, N, C, ...] input
        cdim = 2 if getattr(bn, "step_mode", "s") == "m" else 1
        x = torch.cat(
            [i.transpose(0, cdim).reshape(i.shape[cdim], -1) for i in inputs], dim=1
        ).double()
        with torch.no_grad():
            bn.running_mean.copy_(x.mean(dim=1).to(bn.running_mean.dtype))
            bn.running_var.copy_(x.var(dim=1, unbiased=True).to(bn.running_var.dtype))


def apply_fixed_rule(
    w: WeightGroup,
    method: str,
    layer: ForeignLayer,
    gen: torch.Generator | None,
    form: ResetForm = "covariance",
) -> None:
    """The data-independent rules on one weight tensor (fan-in from its own shape);
    ``form`` is ``micheli_reset``'s."""
    p = layer.params
    ctx = RuleContext(threshold=p.threshold, beta=p.beta_mem, generator=gen, form=form)
    registry.get(method).fn(w.weight, ctx)


# --------------------------------------------------------------------------- entry point


def _neuron_parameters(model: nn.Module, neurons: set[str]) -> dict[int, str]:
    """``id(tensor) -> "neuron name.field"`` for the neurons' own parameters, including
    the tensors of a Norse parameter tuple (``p.tau_mem_inv``), which may be held (as
    ``nn.Parameter``) by another module."""
    out: dict[int, str] = {}
    modules = dict(model.named_modules())
    for name in sorted(neurons):
        neuron = modules.get(name)
        if neuron is None:
            continue
        for pname, p in neuron.named_parameters():
            out.setdefault(id(p), f"{name}.{pname}")
        params = getattr(neuron, "p", None)
        for field in getattr(params, "_fields", ()):
            value = getattr(params, field)
            if isinstance(value, torch.Tensor):
                out.setdefault(id(value), f"{name}.p.{field}")
    return out


def _module_entries(
    model: nn.Module,
    set_by: dict[str, str],
    neurons: set[str],
    reached: set[str],
    transparent: dict[str, str] | None = None,
) -> list[ModuleInit]:
    """One entry per module with parameters: set (its rule) or left alone (why).

    ``transparent``: modules with parameters met between a knob and a neuron
    (name -> that neuron), passed through as they are.
    """
    transparent = transparent or {}
    out = []
    neuron_params = _neuron_parameters(model, neurons)
    lookalikes = _find.neuron_lookalikes(model)
    lookalike_names = {n for n, _ in lookalikes}
    for name, module in model.named_modules():
        own = list(module.parameters(recurse=False))
        if not own:
            continue
        kind = type(module).__name__
        used_by = [neuron_params[id(p)] for p in own if id(p) in neuron_params]
        if name in set_by:
            entry = ModuleInit(name, kind, True, rule=set_by[name])
        elif name in neurons:
            reason = "neuron parameters (time constants, thresholds) are kept as they are"
            entry = ModuleInit(name, kind, False, reason=reason)
        elif used_by and len(used_by) == len(own):
            reason = (
                f"neuron parameters ({', '.join(used_by)}): time constants and thresholds "
                "are kept as they are"
            )
            entry = ModuleInit(name, kind, False, reason=reason)
        elif name in transparent:
            reason = (
                f"between the weights and neuron {transparent[name]!r}: passed through as it "
                "is (not a knob spikeinit sets)"
            )
            entry = ModuleInit(name, kind, False, reason=reason)
        elif name in reached:
            entry = ModuleInit(name, kind, False, reason="behind another module's output")
        elif name in lookalike_names:
            reason = (
                "looks like a neuron of no class spikeinit knows: left as it is (teach it "
                "with si.register_neuron to have its input set)"
            )
            entry = ModuleInit(name, kind, False, reason=reason)
        elif lookalikes:
            shown = ", ".join(f"{n!r} ({type(m).__name__})" for n, m in lookalikes[:4])
            reason = (
                "reaches no neuron spikeinit knows in the forward pass; it may feed a module "
                f"that looks like a neuron of no known class ({shown}): teach that class "
                "with si.register_neuron to have this module set"
            )
            entry = ModuleInit(name, kind, False, reason=reason)
        else:
            reason = "feeds no spiking neuron in the forward pass (e.g. a non-spiking output layer)"
            entry = ModuleInit(name, kind, False, reason=reason)
        out.append(entry)
    return out


def initialize_foreign(
    model: nn.Module,
    data: Any,
    method: str,
    init_targets: InitTargets,
    *,
    max_samples: int | None,
    forward: Forward | None,
    generator: torch.Generator | None,
    dt: float = 1e-3,
    time_dim: _find.TimeDim = "auto",
) -> InitReport:
    """:func:`spikeinit.initialize` for snnTorch / Norse / SpikingJelly models (module docstring).

    ``init_targets`` as :func:`spikeinit.initialize` checked them for a foreign model
    (``xi`` turned into ``sigma_u``). The rule (``method``, from the registry)
    is applied by measurement (``rule.measured``: the measured rule above) or
    tensor by tensor. The model is left exactly as it was if anything fails.
    """
    # the measured rule (fluctuation), or a tensor-level rule applied tensor by tensor
    measured = registry.get(method).measured
    sigma_u: float | None = init_targets.sigma_u
    mu_u: float | None = init_targets.mu_u  # None would keep the mean zero-mean weights give
    alpha, readout, calibrate = init_targets.alpha, init_targets.readout, init_targets.calibrate
    tol, max_iter, form = init_targets.tol, init_targets.max_iter, init_targets.form
    with restored_on_failure(model) as snapshot:
        gen = generator
        report = InitReport(
            method, "measured", {"sigma_u": sigma_u, "mu_u": mu_u, "alpha": alpha}, []
        )
        if data is None:
            layers = [layer for _, layer in _find.find_layers(model, None, dt=dt)]
            set_by: dict[str, str] = {}
            for index, layer in enumerate(layers, start=1):
                entry = LayerInit(index, layer.layer_name, type(layer.neuron).__name__, [])
                entry.notes.extend(layer.notes)
                for g in layer.weight_groups():
                    apply_fixed_rule(g, method, layer, gen, form)
                    entry.groups.append(GroupInit(g.name, g.kind, fan_in_of(g.weight), method))
                    set_by[_owner(g.weight, _owner_names(model))] = method
                report.layers.append(entry)
            neurons = {layer.layer_name for layer in layers}
            report.modules = _module_entries(model, set_by, neurons, set())
            return report
        batches = prepare_batches(data, max_samples)
        forward = _find.resolve_forward(model, batches[0], forward, time_dim)
        measurement_mode(model)
        trace, layers = _find.find_sites(model, batches[0], forward, dt)
        batches = limit_samples(batches, trace.batch_size, max_samples)
        _check_sharing(model, trace)
        shortcuts.resolve_shared(trace, layers)  # membrane shortcuts: a knob per first neuron
        runner = Runner(model, batches, trace, forward)
        default_note = None
        if sigma_u is None and measured:
            sigma_u, default_note = default_sigma_u(runner, trace.sites[0])
            report.targets["sigma_u"] = sigma_u
        sigma_u = 1.0 if sigma_u is None else sigma_u  # data-independent rules ignore it
        set_by = {}
        owner_names = _owner_names(model)
        results: dict[str, SiteResult] = {}
        # the output layers, and how the model's output decodes them (init/outputs.py)
        output_of = {
            site.name: decoding(trace.outputs.get(site.name, []), layer.is_readout)
            for layer, site in zip(layers, trace.sites, strict=True)
            if layer.is_readout or site.name in trace.outputs
        }
        output_rules: dict[str, str] = {}
        dead: dict[str, str] = {}  # weight modules whose scale does nothing -> their neuron
        targets: dict[str, float] = {}  # sigma_U / theta aimed at, per neuron
        joint = [
            (layer, site)
            for layer, site in zip(layers, trace.sites, strict=True)
            if site.knobs and site.name not in output_of
        ]
        if (
            measured
            and joint
            and all(
                not layer.weight_groups()
                and all(isinstance(trace.modules[k], NORM_TYPES) for k in site.knobs)
                and set(site.ops) <= PLAIN_OPS
                for layer, site in joint
            )
            and len(joint) == sum(1 for site in trace.sites if site.name not in output_of)
            and not shortcuts.any_shared(trace.sites)  # a stream read after it is set: in order
        ):
            found = init_joint(
                joint,
                runner,
                sigma_u,
                mu_u,
                gen,
                max_iter + 1 if calibrate else 4,
                tol if calibrate else 0.02,
                tol if calibrate else 0.05,
            )
            if found is not None:
                results.update(found)
                targets.update({name: sigma_u for name in found})
                for result in found.values():
                    for name in result.norms:
                        set_by[name] = result.rule
                    for name in result.behind:
                        set_by[name] = "N(0, 1/fan_in) (scale normalised by BatchNorm)"
        for layer, site in zip(layers, trace.sites, strict=True):
            if site.name in results:
                continue
            theta = layer.params.threshold
            is_readout = layer.is_readout
            decoded = output_of.get(site.name)
            out_rule = rule_for(readout, site.name) if decoded else None
            if out_rule == "keep":
                output_rules[site.name] = "kept as the framework drew it (readout='keep')"
                continue
            as_normal = out_rule == "normal" or (is_readout and not measured)
            if not measured or as_normal:
                rule = "normal(0, 1/fan_in)" if as_normal else method
                for g in layer.weight_groups():
                    if as_normal:
                        _normal_(g.weight, fan_in_of(g.weight) ** -0.5, gen)
                    else:
                        apply_fixed_rule(g, method, layer, gen, form)
                    set_by[_owner(g.weight, owner_names)] = rule
                if decoded:
                    output_rules[site.name] = rule
                continue
            target = sigma_u
            if decoded:
                assert out_rule is not None
                target, output_rules[site.name] = target_of(out_rule, sigma_u, decoded)
            targets[site.name] = target
            recurrent = site.recurrent or any(g.kind == "rec" for g in layer.weight_groups())
            if calibrate:
                iterations = max_iter + 1
            else:
                iterations = 8 if recurrent or layer.nonlinear else 1
            probe, spread_of = _probe(layer, site, runner)
            check = knob_check.check_site(layer, site, trace.modules, probe, spread_of)
            dead.update({name: site.name for name in check.dead})
            if (
                check.dead
                and not layer.weight_groups()
                and not any(isinstance(trace.modules[k], NORM_TYPES) for k in site.knobs)
            ):  # nothing scales this neuron's current but, perhaps, a learnable scale
                results[site.name] = _scale_only(check, probe, spread_of, target * theta)
                if check.scale is not None:
                    set_by[check.scale[0].rsplit(".", 1)[0]] = results[site.name].rule
                continue
            result = init_site(
                layer,
                site,
                runner,
                target * theta,
                None if mu_u is None else mu_u * theta,
                alpha,
                gen,
                iterations,
                tol if calibrate else 0.05,
            )
            result.notes[:0] = check.notes
            results[site.name] = result
            for g in layer.weight_groups():
                set_by[_owner(g.weight, owner_names)] = (
                    result.rule if not result.norms else "N(0, 1/fan_in)"
                )
            for name in result.norms:
                set_by[name] = result.rule
            for name in result.behind:
                set_by[name] = (
                    "N(0, 1/fan_in) (scale normalised by BatchNorm)"
                    if result.norms
                    else ("N(0, 1/fan_in) (before the weights that set the scale)")
                )
        # final pass: every neuron measured with everything set; BatchNorm statistics from it
        norms = [n for r in results.values() for n in r.norms]
        snapshot.restore_buffers()
        currents, norm_inputs = runner.capture(None, trace.sites, norms)
        for module, flag in snapshot.training:
            module.training = flag
        set_running_stats(trace.modules, norm_inputs)
        for index, (layer, site) in enumerate(zip(layers, trace.sites, strict=True), start=1):
            entry = _measured_entry(index, layer, site, currents[site.name], results)
            entry.output = output_of.get(site.name)
            entry.output_rule = output_rules.get(site.name)
            # a neuron with no knob of its own (no weight feeds it) has no target applied
            no_knob = site.name in results and results[site.name].rule == "none"
            entry.target_sigma_u_theta = None if no_knob else targets.get(site.name)
            if default_note and index == 1:
                entry.notes.append(default_note)
            if entry.output is not None and entry.output_rule is None:
                entry.output_rule = "set with the hidden layers (one BatchNorm solve)"
            report.layers.append(entry)
        report.modules = _module_entries(
            model,
            set_by,
            {s.name for s in trace.sites},
            {k for s in trace.sites for k in s.knobs + s.behind},
            {t: s.name for s in reversed(trace.sites) for t in s.transparent},
        )
        knob_check.annotate(report.modules, dead)
        report_missed(model, report, trace.sites, dict(model.named_modules()))
        return report


def _probe(
    layer: ForeignLayer, site: Site, runner: Runner
) -> tuple[Callable[[], torch.Tensor], Callable[[torch.Tensor], float]]:
    """``signal()``: the neuron's free signal over one measurement pass; ``spread(s)``:
    its fluctuation, in the variance mode of the first pass (for init/knob_check.py)."""
    modes: list[str] = []

    def signal() -> torch.Tensor:
        current = runner.capture(site, [site])[0][site.name]
        if not modes:
            modes.append(variance_mode(current, layer))
        return free_signal(layer, current)

    def spread_of(s: torch.Tensor) -> float:
        return spread(s, modes[0] if modes else "temporal")

    return signal, spread_of


def _scale_only(
    check: knob_check.KnobCheck,
    probe: Callable[[], torch.Tensor],
    spread_of: Callable[[torch.Tensor], float],
    target: float,
) -> SiteResult:
    """A neuron whose weights do nothing: its learnable scale set by measurement, or nothing."""
    if check.scale is None:
        rule = "none (scale-invariant weights)"
        return SiteResult(rule, 1.0, 0.0, "temporal", False, list(check.notes), [], [])
    gain = knob_check.set_scale(check.scale[1], probe, spread_of, target)
    notes = [*check.notes, f"learnable scale {check.scale[0]} multiplied by {gain:.4g}"]
    rule = "learnable scale (measured): the weights are scale-invariant"
    return SiteResult(rule, gain, 0.0, "temporal", True, notes, [], [])


def _owner_names(model: nn.Module) -> dict[int, str]:
    """``id(parameter) -> name of the module that holds it``."""
    return {id(p): name for name, m in model.named_modules() for p in m.parameters(recurse=False)}


def _owner(tensor: torch.Tensor, owners: dict[int, str]) -> str:
    base = tensor._base if tensor._base is not None else tensor  # a column block of rc.weight
    return owners.get(id(base), owners.get(id(tensor), "?"))


def _check_sharing(model: nn.Module, trace: Trace) -> None:
    """Refuse tied weights and neurons used at two places: one scale cannot fit both (a
    module whose output reaches several neurons: :func:`shortcuts.resolve_shared`)."""

    def outer(name: str) -> str:
        return name.rsplit(".", 1)[0]

    # a neuron's parameter registered twice inside that neuron (snnTorch RLeaky's V) is one
    shared = [
        (a, b)
        for a, b in shared_parameters(model)
        if not (outer(b).startswith(outer(a)) or outer(a).startswith(outer(b)))
    ]
    if shared:
        a, b = shared[0]
        raise ValueError(
            f"parameters {a!r} and {b!r} are the same tensor (tied weights): spikeinit sets "
            "each neuron's weights from that neuron's own input, which cannot hold for both; "
            "untie them, or initialise with a data-independent method"
        )
    for site in trace.sites:
        _check_one_place(site)


def _check_one_place(site: Site) -> None:
    """Refuse a neuron module used at two places of the forward pass: its calls would be
    measured as one neuron's time steps, and one scale cannot fit two inputs."""
    how = "use a separate neuron module for each layer"
    if site.mode == "seq" and site.calls > 1:
        raise ValueError(
            f"neuron {site.name!r} takes whole sequences but was called {site.calls} times "
            f"in one forward pass (a neuron used at two places): {how}"
        )
    two = places(site)
    if two is not None:
        a, b = (", ".join(k) or "no weights" for k in two)
        raise ValueError(
            f"neuron {site.name!r} is used at two places of the forward pass (one call is fed "
            f"by {a}, another by {b}): one neuron's scale cannot fit both; {how}"
        )


def _measured_entry(
    index: int,
    layer: ForeignLayer,
    site: Site,
    current: torch.Tensor,
    results: dict[str, SiteResult],
) -> LayerInit:
    theta = layer.params.threshold
    mode = variance_mode(current, layer)
    signal = free_signal(layer, current)
    spikes = layer.simulate(current)[0] if not layer.is_readout else None
    entry = LayerInit(index, site.name, type(layer.neuron).__name__, [])
    entry.notes.extend(layer.notes)
    result = results.get(site.name)
    if result is not None:
        entry.notes.extend(result.notes)
        entry.notes.append(
            f"measured scale {result.gain:.4g} on the starting draw, constant shift "
            f"{result.shift:.4g} through the bias (variance {result.variance!r})"
        )
        for g in layer.weight_groups():
            w = g.weight.detach()
            entry.groups.append(
                GroupInit(
                    g.name,
                    g.kind,
                    fan_in_of(w),
                    result.rule,
                    mu_w=float(w.mean()),
                    sigma_w=float(w.std()) if w.numel() > 1 else 0.0,
                )
            )
    sd = spread(signal, mode)
    entry.measured_sigma_u = sd
    entry.measured_mu_u = float(signal.double().mean())
    entry.sigma_u_theta = sd / theta
    entry.mu_u_theta = entry.measured_mu_u / theta
    entry.variance = mode if layer.leaky else "input"
    entry.is_readout = layer.is_readout
    entry.threshold = theta
    entry.measured_rate_hz = 0.0 if spikes is None else float(spikes.mean()) / layer.params.dt
    return entry
