"""Spike counts ``sum_t S[t]`` that a fused layer took while it wrote its spikes.

The fused feed-forward layer (:class:`spikeinit.nn.SpikingLinear` on the kernel
of :mod:`spikeinit._kernels.linear_lif_numba`) counts each neuron's spikes per
trial as it writes them; :func:`attach` keeps that count with the spike tensor.
Readers of spike counts (the activity regularisers of
:mod:`spikeinit.regularizers`, the trainer's firing rates) call
:func:`spike_counts` and :func:`mean_spikes`, which use the kept count while the
spike tensor is unchanged and sum over time otherwise: the same values (spikes
are 0 or 1, so every float32 sum of them up to ``2**24`` is exact, in any order)
without another pass over the ``[T, B, ...]`` spikes (the mean: to float32
rounding). The gradient is that of
the sum over time: ``dL/dS[t] = dL/dcount`` at every step (an expanded view).
"""

from __future__ import annotations

from typing import Any

import torch

_ATTR = "_spikeinit_counts"


def attach(spikes: torch.Tensor, counts: torch.Tensor) -> None:
    """Keep ``counts = sum_t spikes[t]`` (``[B, ...]``) with ``spikes`` (``[T, B, ...]``)."""
    setattr(spikes, _ATTR, (counts, spikes._version))


def _kept(spikes: torch.Tensor) -> torch.Tensor | None:
    kept = getattr(spikes, _ATTR, None)
    if kept is None or kept[1] != spikes._version:  # changed in place since
        return None
    counts: torch.Tensor = kept[0]
    return counts


class _KeptCounts(torch.autograd.Function):
    """``sum_t S[t]`` from the kept count; backward as the sum's: the gradient at every step."""

    @staticmethod
    def forward(ctx: Any, spikes: torch.Tensor, holder: tuple[torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        ctx.steps = spikes.shape[0]
        return holder[0].clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):  # type: ignore[override]
        return grad.unsqueeze(0).expand(ctx.steps, *grad.shape), None


def spike_counts(spikes: torch.Tensor) -> torch.Tensor:
    """``spikes.sum(dim=0)`` (``[B, ...]`` of ``[T, B, ...]`` spikes), from the kept count
    where a fused layer left one."""
    counts = _kept(spikes)
    if counts is None:
        return spikes.sum(dim=0)
    out: torch.Tensor = _KeptCounts.apply(spikes, (counts,))
    return out


def mean_spikes(spikes: torch.Tensor) -> float:
    """The mean of ``spikes`` as a Python float; from the kept count where a fused layer
    left one (then exact, where ``float(spikes.mean())`` rounds to float32)."""
    counts = _kept(spikes)
    if counts is None:
        return float(spikes.mean())
    return float(counts.sum(dtype=torch.float64)) / spikes.numel()
