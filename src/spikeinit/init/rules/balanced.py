"""Propagation-preserving initialisers beyond Micheli et al. (2024): our own rules.

Micheli et al.'s rule ``Var[w] = 1 / (n (1 - Phi(theta)))``
(:func:`spikeinit.init.micheli_normal_`) holds the membrane variance at the
first time step. At later steps the i.i.d. weights give each neuron a
*quenched* mean input that the leaky membrane accumulates, so rates drift over
time and with depth. The rules here remove that drift:

* :func:`balanced_normal_`: zero-sum rows with equal norms (gain
  :func:`balanced_gain`);
* :func:`decorrelate_rows_`: project out the measured presynaptic rate pattern;
* :func:`calibrate_profile_`: scale a weight matrix so that its per-step rate
  profile straddles a reference profile (minimax over time steps).

The derivations and measured results are in docs/science.md, section
'Balanced rows: beyond the paper'; ``spikeinit propagation --inits
balanced,balanced_cal`` runs them.
"""

from __future__ import annotations

import math

import torch
from scipy import stats

from ...neuron import lif_sequence
from ...params import LIFParams
from .context import RuleContext

__all__ = [
    "balanced",
    "balanced_cal",
    "balanced_gain",
    "balanced_normal_",
    "calibrate_profile_",
    "decorrelate_rows_",
]


def balanced_gain(threshold: float = 1.0) -> float:
    """``c = n Var[w] = 1 / (p (1 - p))``, ``p = 1 - Phi(theta)``: the balanced-row gain.

    With zero-sum rows the presynaptic spikes' mean ``p`` cancels, so the input
    variance is ``c p (1 - p)`` (Bernoulli variance) rather than Micheli's
    ``c E[s^2] = c p``; ``c = 1/(p(1-p))`` keeps ``Var[U] = 1`` at t = 0
    (7.49 at theta = 1 versus Micheli's 6.30).
    """
    p = float(stats.norm.sf(threshold))
    return 1.0 / (p * (1.0 - p))


def balanced_normal_(
    w: torch.Tensor, threshold: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Balanced-row Micheli init (ours, beyond Micheli et al. 2024); in place.

    Draw ``z ~ N(0, 1)``, then make every row zero-sum and give it squared norm
    ``c = 1 / (p (1 - p))`` with ``p = 1 - Phi(theta)``::

        w_j = sqrt(c) (z_j - mean(z_j)) / ||z_j - mean(z_j)||

    Why: with i.i.d. zero-mean weights each neuron receives a *quenched* mean
    input ``sum_i w_ji r_i`` (variance ``c p^2``, 16 % of the total at theta = 1)
    that persists over time steps. The neurons it favours fire more at every step,
    the next layer's quenched input grows, and the leaky membrane accumulates it
    (gain up to ``1 / (1 - beta)``): rates at later steps climb while the t = 0
    rate (no accumulation yet) falls. Zero-sum rows remove the quenched mean for
    homogeneous presynaptic rates, and equal row norms keep every neuron's input
    variance equal, so layers stay statistically alike.
    """
    if w.dim() != 2 or w.shape[1] < 2:
        raise ValueError(f"balanced_normal_ needs a [out, in >= 2] matrix, got {tuple(w.shape)}")
    c = balanced_gain(threshold)
    with torch.no_grad():
        z = torch.randn(w.shape, generator=generator, dtype=torch.float64)
        z -= z.mean(dim=1, keepdim=True)
        z *= math.sqrt(c) / z.norm(dim=1, keepdim=True)
        w.copy_(z.to(w))
    return w


def decorrelate_rows_(w: torch.Tensor, presyn: torch.Tensor) -> torch.Tensor:
    """Remove each row's component along the measured presynaptic rate pattern (ours).

    ``r_i`` is input ``i``'s rate in ``presyn`` ``[T, B, in]`` (mean over steps and
    samples) and ``u = (r - mean r) / ||r - mean r||``; every row becomes
    ``w_j - (w_j . u) u``, rescaled to keep its norm. Zero-sum rows cancel the
    quenched mean input only for equal presynaptic rates; at finite width the
    rates differ, and this projection cancels ``sum_i w_ji r_i`` exactly.
    """
    if w.dim() != 2:
        raise ValueError(f"decorrelate_rows_: w must be a [out, in] matrix, got {tuple(w.shape)}")
    if presyn.dim() != 3 or presyn.shape[2] != w.shape[1]:
        raise ValueError(
            f"decorrelate_rows_: presyn must be [T, B, {w.shape[1]}] (in = w.shape[1]), "
            f"got {tuple(presyn.shape)}"
        )
    r = presyn.double().mean(dim=(0, 1))
    u = r - r.mean()
    if float(u.norm()) < 1e-12:
        return w
    u = u / u.norm()
    with torch.no_grad():
        wd = w.double()
        norms = wd.norm(dim=1, keepdim=True)
        wd = wd - (wd @ u)[:, None] * u[None, :]
        wd = wd * norms / wd.norm(dim=1, keepdim=True).clamp_min(1e-12)
        w.copy_(wd.to(w))
    return w


def _step_rates(current: torch.Tensor, params: LIFParams) -> torch.Tensor:
    s = lif_sequence(current, params)
    assert isinstance(s, torch.Tensor)
    return s.mean(dim=tuple(range(1, s.dim())))


def calibrate_profile_(
    w: torch.Tensor,
    presyn: torch.Tensor,
    params: LIFParams,
    target: torch.Tensor,
    iters: int = 14,
) -> float:
    """Minimax per-step rate calibration (ours); scales ``w`` in place, returns the factor.

    With ``r[t]`` the layer's rate at step ``t`` on the calibration input
    ``presyn`` ``[T, B, in]`` and ``target[t]`` the reference profile, find the
    scale ``a`` of ``w`` that balances the worst over- and under-shoot over
    time steps::

        log max_t (r_a[t] / target[t]) + log min_t (r_a[t] / target[t]) = 0

    by bisection on ``log a`` (the left side increases with ``a``). Matching the
    time-averaged rate instead (LSUV-style, ``si.initialize(..., calibrate=True,
    target_rate=...)``) lets the t = 0 rate die out in deep layers, because the
    later steps gain extra variance from the membrane's memory.
    """
    if w.dim() != 2 or presyn.dim() != 3 or presyn.shape[2] != w.shape[1]:
        raise ValueError(
            "calibrate_profile_: w must be [out, in] and presyn [T, B, in], got "
            f"w {tuple(w.shape)} and presyn {tuple(presyn.shape)}"
        )
    if target.shape != presyn.shape[:1]:
        raise ValueError(
            f"calibrate_profile_: target must hold one rate per step, shape ({presyn.shape[0]},), "
            f"got {tuple(target.shape)}"
        )
    if iters < 1:
        raise ValueError(f"calibrate_profile_: iters must be >= 1, got {iters}")
    steps, batch, n_in = presyn.shape
    with torch.no_grad():
        base = (presyn.reshape(steps * batch, n_in) @ w.t()).reshape(steps, batch, -1)
    tgt = target.clamp_min(1e-6).log()

    def imbalance(log_a: float) -> float:
        r = _step_rates(base * math.exp(log_a), params)
        d = r.clamp_min(1e-6).log() - tgt
        return float(d.max() + d.min())

    lo, hi = math.log(0.25), math.log(4.0)
    while imbalance(lo) > 0 and lo > math.log(1e-3):
        lo -= math.log(4.0)
    while imbalance(hi) < 0 and hi < math.log(1e3):
        hi += math.log(4.0)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if imbalance(mid) < 0:
            lo = mid
        else:
            hi = mid
    a = math.exp(0.5 * (lo + hi))
    with torch.no_grad():
        w.mul_(a)
    return a


# -- the registry's entries (spikeinit.catalog.INIT_RULES; the propagation experiment) ----
def balanced(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`balanced_normal_`."""
    return balanced_normal_(w, threshold=ctx.threshold, generator=ctx.generator)


def balanced_cal(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """``balanced`` rows, decorrelated from and calibrated on the presynaptic activity:
    :func:`decorrelate_rows_` then :func:`calibrate_profile_` toward ``ctx.target``."""
    if ctx.presyn is None or ctx.target is None or ctx.params is None:
        raise ValueError("balanced_cal needs ctx.presyn, ctx.target and ctx.params")
    balanced_normal_(w, threshold=ctx.threshold, generator=ctx.generator)
    decorrelate_rows_(w, ctx.presyn.cpu())
    calibrate_profile_(w, ctx.presyn.cpu(), ctx.params, ctx.target.cpu())
    return w
