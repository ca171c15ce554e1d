"""Losses over readout traces ``[T, B, C]`` (time-first) or spike trains.

* :func:`max_over_time_ce`: ``CE(max_t U[t], y)`` (stork's default readout loss).
* :func:`mean_over_time_ce` / :func:`sum_over_time_ce`: ``CE(mean_t U[t], y)``,
  ``CE(sum_t U[t], y)``.
* :func:`spike_count_ce`: ``CE(sum_t S[t], y)`` on output spikes (Micheli et al.).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .kept import max_over_time


def _check(trace: torch.Tensor, target: torch.Tensor) -> None:
    if trace.dim() != 3:
        raise ValueError(f"trace must have shape [T, B, C], got {tuple(trace.shape)}")
    if target.dim() != 1 or target.shape[0] != trace.shape[1]:
        raise ValueError(
            f"target must have shape [B] = [{trace.shape[1]}], got {tuple(target.shape)}"
        )


def max_over_time_ce(trace: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the per-class maximum over time."""
    _check(trace, target)
    return F.cross_entropy(max_over_time(trace), target)


def mean_over_time_ce(trace: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the per-class mean over time."""
    _check(trace, target)
    return F.cross_entropy(trace.mean(dim=0), target)


def sum_over_time_ce(trace: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the per-class sum over time."""
    _check(trace, target)
    return F.cross_entropy(trace.sum(dim=0), target)


def spike_count_ce(spikes: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of output spike counts ``sum_t S[t]`` used as logits."""
    return sum_over_time_ce(spikes, target)


LOSSES = {
    "max": max_over_time_ce,
    "mean": mean_over_time_ce,
    "sum": sum_over_time_ce,
    "count": spike_count_ce,
}


def logits(trace: torch.Tensor, loss: str) -> torch.Tensor:
    """The ``[B, C]`` scores a loss compares, for accuracy: max, mean or sum over time.
    (The maximum's values only: :func:`spikeinit.kept.max_over_time` with
    ``values_only``.)"""
    if loss == "max":
        return max_over_time(trace, values_only=True)
    if loss == "mean":
        return trace.mean(dim=0)
    if loss in ("sum", "count"):
        return trace.sum(dim=0)
    raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
