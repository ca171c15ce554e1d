"""What a tensor-level rule ``rule(w, ctx) -> w`` may read besides the weight."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ...params import LIFParams
from ..targets import ResetForm

__all__ = ["ResetForm", "RuleContext", "RuleFn"]

@dataclass(frozen=True)
class RuleContext:
    """What a rule may read besides the weight.

    Attributes:
        threshold: the firing threshold theta of the layer the weight feeds.
        beta: the membrane decay per step of that layer (``micheli_reset``).
        generator: the random source (``None``: torch's global one).
        params: that layer's :class:`~spikeinit.params.LIFParams` (data-dependent rules).
        presyn: presynaptic activity ``[T, B, in]`` (data-dependent rules).
        target: per-step target rate profile ``[T]`` (``balanced_cal``).
        form: ``micheli_reset``'s form, ``"covariance"`` (default) or ``"public"``
            (:func:`~spikeinit.init.rules.micheli.micheli_reset_normal_`).
    """

    threshold: float = 1.0
    beta: float = 0.0
    generator: torch.Generator | None = None
    params: LIFParams | None = None
    presyn: torch.Tensor | None = None
    target: torch.Tensor | None = None
    form: ResetForm = "covariance"


#: a tensor-level rule: sets the weight ``w`` ``[out, in, ...]`` in place and returns it
RuleFn = Callable[[torch.Tensor, RuleContext], torch.Tensor]
