"""Losses over readout traces ``[T, B, C]`` (time-first) or spike trains.

* :func:`max_over_time_ce`: ``CE(max_t U[t], y)`` (stork's default readout loss).
* :func:`mean_over_time_ce` / :func:`sum_over_time_ce`: ``CE(mean_t U[t], y)``,
  ``CE(sum_t U[t], y)``.
* :func:`spike_count_ce`: ``CE(sum_t S[t], y)`` on output spikes (Micheli et al.).

The conventions of the frameworks' own tutorials (used to train a user's model
as its tutorial trains it, :mod:`spikeinit.experiments.user_runs`):

* :func:`rate_ce`: ``(1/T) sum_t CE(S[t], y)``, snnTorch's ``SF.ce_rate_loss()``
  (tutorial 6 on), on output spikes;
* :func:`step_ce`: ``sum_t CE(U[t], y)``, snnTorch tutorial 5's loss on the output
  membrane at every step;
* :func:`rate_mse`: ``MSE(mean_t S[t], onehot(y))``, SpikingJelly's tutorials
  (the firing rate against the one-hot label).

A name of the form ``FILE.py:FUNCTION`` is a user's own ``loss(trace, y)``
(:func:`resolve`); its accuracy reads the sum over time.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from .entry_points import is_entry_point, load_entry_point
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


def _ce_per_step(trace: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``[T]``: the batch-mean cross-entropy of ``trace[t]`` against ``target``, per step."""
    _check(trace, target)
    t, b, c = trace.shape
    per_step = F.cross_entropy(trace.reshape(t * b, c), target.repeat(t), reduction="none")
    return per_step.view(t, b).mean(dim=1)


def rate_ce(spikes: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy at every step, averaged over steps (snnTorch's ``ce_rate_loss``)."""
    return _ce_per_step(spikes, target).mean()


def step_ce(trace: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy at every step, summed over steps (snnTorch tutorial 5, membrane)."""
    return _ce_per_step(trace, target).sum()


def rate_mse(spikes: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE of the firing rate ``mean_t S[t]`` against the one-hot label (SpikingJelly)."""
    _check(spikes, target)
    onehot = F.one_hot(target, spikes.shape[-1]).to(spikes.dtype)
    return F.mse_loss(spikes.mean(dim=0), onehot)


LOSSES = {
    "max": max_over_time_ce,
    "mean": mean_over_time_ce,
    "sum": sum_over_time_ce,
    "count": spike_count_ce,
    "rate_ce": rate_ce,
    "step_ce": step_ce,
    "rate_mse": rate_mse,
}
_SUMMED = ("sum", "count", "rate_ce", "step_ce")


def is_custom(loss: str) -> bool:
    """``FILE.py:FUNCTION`` / ``module:FUNCTION``: a user's own loss."""
    return loss not in LOSSES and is_entry_point(loss)


def resolve(loss: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss function named ``loss``: a name of :data:`LOSSES` or ``FILE.py:FUNCTION``."""
    if loss in LOSSES:
        return LOSSES[loss]
    if is_custom(loss):
        return load_entry_point(loss, "--loss")
    raise ValueError(
        f"loss must be one of {sorted(LOSSES)} or FILE.py:FUNCTION, got {loss!r}"
    )


def logits(trace: torch.Tensor, loss: str) -> torch.Tensor:
    """The ``[B, C]`` scores a loss compares, for accuracy: max, mean or sum over time.
    (The maximum's values only: :func:`spikeinit.kept.max_over_time` with
    ``values_only``.)"""
    if loss == "max":
        return max_over_time(trace, values_only=True)
    if loss == "mean":
        return trace.mean(dim=0)
    if loss in _SUMMED or is_custom(loss):
        return trace.sum(dim=0)
    if loss == "rate_mse":
        return trace.mean(dim=0)
    raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
