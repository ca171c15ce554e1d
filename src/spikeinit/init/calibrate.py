"""Calibration by measurement (``calibrate=True`` of :func:`spikeinit.initialize`).

LSUV-style (cf. Mishkin & Matas 2016 and the decolle code): after the analytic
step, each layer's weights are rescaled (and, for ``mu_U != 0``, shifted) by
measurement until the measured free-membrane ``sigma_U`` (or, with
``target_rate``, the firing rate) is within ``tol`` of its target. Dale layers
are calibrated by their measured E/I balance instead
(:func:`spikeinit.init.rules.dale.calibrate_dale_layer`), which keeps the
weights non-negative.
"""

from __future__ import annotations

import torch

from ..measure import free_membrane_stats
from ..nn.base import SpikingLayer, WeightGroup
from .rules.dale import calibrate_dale_layer

__all__ = ["calibrate_layer", "calibrate_rate"]


def calibrate_layer(
    layer: SpikingLayer,
    x: torch.Tensor,
    sigma_target: float,
    mu_target: float,
    target_rate: float | None,
    tol: float,
    max_iter: int,
    variance: str = "temporal",
) -> int:
    """Rescale (and shift) the layer's weights until the measured targets hold.

    The free membrane is linear in the weights, so scaling every group's centred
    part by ``sigma_target / sigma_measured`` fixes the std in one step for a
    feed-forward layer; recurrent layers need a few rounds because their own
    spikes change. For ``mu_target != 0`` the feed-forward weights are shifted
    uniformly, using the measured (linear) response of the mean to a shift.
    Returns the number of refinement rounds used.
    """
    groups = layer.weight_groups()
    if target_rate is not None and not layer.is_readout:  # a readout never fires: its sigma_U
        return calibrate_rate(layer, x, groups, target_rate, tol, max_iter)
    if any(g.kind in ("exc", "inh") for g in groups):
        # Dale layers: rescaling around the mean could push weights negative
        return calibrate_dale_layer(layer, x, sigma_target, tol, max_iter, variance)
    for step in range(max_iter + 1):
        mu, sd, _ = free_membrane_stats(layer, x, variance)
        sd_ok = abs(sd - sigma_target) <= tol * sigma_target
        mu_ok = mu_target == 0.0 or abs(mu - mu_target) <= tol * abs(mu_target)
        if (sd_ok and mu_ok) or step == max_iter:
            return step
        if sd <= 0:
            raise ValueError(
                f"calibrate: layer {type(layer).__name__} has a constant free membrane; "
                "its input carries no fluctuations to scale"
            )
        with torch.no_grad():
            for g in groups:
                mean = g.weight.mean()
                g.weight.sub_(mean).mul_(sigma_target / sd).add_(mean)
            if mu_target != 0.0:
                ff = groups[0].weight
                mu_now = free_membrane_stats(layer, x)[0]
                probe = 1e-3
                ff.add_(probe)
                slope = (free_membrane_stats(layer, x)[0] - mu_now) / probe
                ff.sub_(probe)
                if slope != 0.0:
                    ff.add_((mu_target - mu_now) / slope)
    return max_iter


def calibrate_rate(
    layer: SpikingLayer,
    x: torch.Tensor,
    groups: list[WeightGroup],
    target_rate: float,
    tol: float,
    max_iter: int,
) -> int:
    """Bisection on a common weight scale until the output rate is within ``tol``."""
    originals = [g.weight.detach().clone() for g in groups]

    def rate_at(scale: float) -> float:
        with torch.no_grad():
            for g, w0 in zip(groups, originals, strict=True):
                g.weight.copy_(w0 * scale)
        return free_membrane_stats(layer, x)[2]

    max_rate = 1.0 / layer.params.dt
    if target_rate >= max_rate:
        raise ValueError(
            f"target_rate={target_rate!r} Hz is unreachable: a neuron fires at most once per "
            f"step, {max_rate:.4g} Hz at dt={layer.params.dt!r} s"
        )
    lo, hi = 0.0, 1.0
    while rate_at(hi) < target_rate and hi < 1e4:
        lo, hi = hi, hi * 2.0
    if rate_at(hi) < target_rate:
        with torch.no_grad():
            for g, w0 in zip(groups, originals, strict=True):
                g.weight.copy_(w0)
        raise ValueError(
            f"target_rate={target_rate!r} Hz is unreachable for {type(layer).__name__}: "
            f"{rate_at(hi):.4g} Hz with the weights scaled 10^4 times"
        )
    for step in range(1, max_iter * 3 + 1):
        mid = 0.5 * (lo + hi)
        r = rate_at(mid)
        if abs(r - target_rate) <= tol * target_rate:
            return step
        lo, hi = (mid, hi) if r < target_rate else (lo, mid)
    return max_iter * 3

