"""Reductions over time that a fused kernel took while it wrote its output.

A fused kernel sees every step of its output as it writes it, so some
reductions over time come at no extra pass over the ``[T, B, ...]`` tensor:

* the fused feed-forward layer (:class:`spikeinit.nn.SpikingLinear` on the kernel
  of :mod:`spikeinit._kernels.linear_lif_numba`) counts each neuron's spikes per
  trial, ``sum_t S[t]``;
* the same layer packs each row ``S[t, b]`` of its 0/1 spikes into bits (one per
  neuron, :func:`spikeinit._kernels.bitscan.pack`), from which a fused readout
  finds the events of the row without reading the row;
* the fused readout (:class:`spikeinit.nn.Readout` on
  :mod:`spikeinit._kernels.readout_numba`) keeps each class's maximum over time
  ``max_t U[t]`` and its first step.

:func:`attach` keeps such a result with the output tensor; the readers
(:func:`spike_counts` for the activity regularisers of
:mod:`spikeinit.regularizers`, :func:`mean_spikes` for the trainer's firing rates,
:func:`spike_density` for a fused readout's choice of the event-driven path,
:func:`spike_bits` for its event scan, :func:`max_over_time` for the max-over-time
loss and accuracy of :mod:`spikeinit.losses`) use it while the tensor is unchanged
(same version) and reduce the tensor itself otherwise. The values are the
reduction's own: spikes are 0 or 1, so every float32 sum of them up to ``2**24`` is
exact in any order; the bits are ``S[t, b] != 0`` exactly; the maximum is the first
maximal step, as ``torch.max(dim=0)`` takes it (the mean: to float32 rounding). So
are the gradients: the sum's (``dL/dS[t] = dL/dcount`` at every step, an expanded
view) and the maximum's (``dL/dmax`` at the maximal step, zero elsewhere).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

_ATTR = "_spikeinit_kept"


def attach(tensor: torch.Tensor, name: str, *values: torch.Tensor) -> None:
    """Keep ``values`` (the reduction ``name`` of ``tensor`` over its first dimension)."""
    kept = getattr(tensor, _ATTR, None)
    if kept is None:
        kept = {}
        setattr(tensor, _ATTR, kept)
    kept[name] = (values, tensor._version)


def _kept(tensor: torch.Tensor, name: str) -> tuple[torch.Tensor, ...] | None:
    entry = getattr(tensor, _ATTR, {}).get(name)
    if entry is None or entry[1] != tensor._version:  # changed in place since
        return None
    values: tuple[torch.Tensor, ...] = entry[0]
    return values


class _KeptCounts(torch.autograd.Function):
    """``sum_t S[t]`` from the kept count; backward as the sum's: the gradient at every step."""

    @staticmethod
    def forward(ctx: Any, spikes: torch.Tensor, kept: tuple[torch.Tensor, ...]) -> torch.Tensor:  # type: ignore[override]
        ctx.steps = spikes.shape[0]
        return kept[0].clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):  # type: ignore[override]
        return grad.unsqueeze(0).expand(ctx.steps, *grad.shape), None


class _KeptMax(torch.autograd.Function):
    """``max_t U[t]`` from the kept maximum and step; backward as ``torch.max``'s: the
    gradient at the maximal step, zero elsewhere."""

    @staticmethod
    def forward(ctx: Any, trace: torch.Tensor, kept: tuple[torch.Tensor, ...]) -> torch.Tensor:  # type: ignore[override]
        ctx.shape = trace.shape
        ctx.save_for_backward(kept[1])
        return kept[0].clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):  # type: ignore[override]
        (steps,) = ctx.saved_tensors
        out = grad.new_zeros(ctx.shape)
        return out.scatter_(0, steps.unsqueeze(0), grad.unsqueeze(0)), None


def spike_counts(spikes: torch.Tensor) -> torch.Tensor:
    """``spikes.sum(dim=0)`` (``[B, ...]`` of ``[T, B, ...]`` spikes), from the kept count
    where a fused layer left one."""
    kept = _kept(spikes, "count")
    if kept is None:
        return spikes.sum(dim=0)
    out: torch.Tensor = _KeptCounts.apply(spikes, kept)
    return out


def mean_spikes(spikes: torch.Tensor) -> float:
    """The mean of ``spikes`` as a Python float; from the kept count where a fused layer
    left one (then exact, where ``float(spikes.mean())`` rounds to float32)."""
    density = spike_density(spikes)
    return float(spikes.mean()) if density is None else density


def spike_density(spikes: torch.Tensor) -> float | None:
    """The fraction of nonzero entries of 0/1 ``spikes``, from the kept count of a
    fused layer (exact); None where there is none."""
    kept = _kept(spikes, "count")
    if kept is None:
        return None
    return float(kept[0].sum(dtype=torch.float64)) / spikes.numel()


def spike_bits(spikes: torch.Tensor) -> np.ndarray | None:
    """The bits of the 0/1 ``spikes [T, B, N]`` (``[T, B, ceil(N / 64)]`` uint64: bit ``i``
    of word ``w`` is ``spikes[t, b, 64 w + i] != 0``) that a fused layer left; None where
    there are none (then the kernels scan the spikes themselves)."""
    kept = _kept(spikes, "bits")
    if kept is None:
        return None
    bits: np.ndarray = kept[0].numpy().view(np.uint64)
    return bits


def max_over_time(trace: torch.Tensor, values_only: bool = False) -> torch.Tensor:
    """``trace.max(dim=0).values`` (``[B, C]`` of a ``[T, B, C]`` trace), from the kept
    maximum where a fused readout left one. ``values_only``: the values without a
    gradient path to ``trace`` (for scores): the kept ones, or ``trace.amax(dim=0)``
    (the same values without the indices, which cost ten times as much on a
    time-first trace)."""
    kept = _kept(trace, "max")
    if values_only:
        return trace.detach().amax(dim=0) if kept is None else kept[0].clone()
    if kept is None:
        return trace.max(dim=0).values
    out: torch.Tensor = _KeptMax.apply(trace, kept)
    return out
