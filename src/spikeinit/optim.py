"""Optimisers and learning-rate schedules for training spiking networks.

* :class:`SMORMS3`: Simon Funk's "squared mean over root mean squared, cubed"
  optimiser, the default of the fluctuation-driven-initialisation experiments
  (Rossbroich, Gygax & Zenke 2022, stork's example notebooks, lr 5e-3).
* :func:`make_optimizer`: ``"adam"``, ``"adamw"`` or ``"smorms3"`` by name.
* :func:`make_scheduler`: ``"none"``, ``"cosine"`` (``CosineAnnealingLR`` over the
  epochs, stepped once per epoch) or ``"cosine_batch"`` (Micheli et al. 2024:
  ``CosineAnnealingLR(T_max=10)`` stepped every batch, so the rate cycles).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler

from ._validate import positive_finite

#: optimiser names accepted by :func:`make_optimizer`
OPTIMIZERS: tuple[str, ...] = ("adam", "adamw", "smorms3")
#: schedule names accepted by :func:`make_scheduler`
SCHEDULES: tuple[str, ...] = ("none", "cosine", "cosine_batch")


def _check_lr(lr: float) -> None:
    positive_finite("lr", lr, error=ValueError)


class SMORMS3(torch.optim.Optimizer):
    """SMORMS3 (Simon Funk, 2015): an adaptive rate with a per-weight memory.

    For every parameter ``p`` with gradient ``d`` the state is a memory length
    ``mem`` (starts at 1) and running moments ``g``, ``g2`` (start at 0)::

        r    = 1 / (mem + 1)
        g    = (1 - r) g  + r d
        g2   = (1 - r) g2 + r d^2
        x    = g^2 / (g2 + eps)
        p   -= d * min(lr, x) / (sqrt(g2) + eps)
        mem  = 1 + mem (1 - x)

    ``x`` (in [0, 1]) measures how consistent the gradient's sign has been: a
    steady gradient keeps a long memory and a step up to ``lr``; a noisy one
    shortens the memory and the step.

    Args:
        params: parameters or parameter groups.
        lr: maximal step size, > 0.
        eps: regulariser of the divisions, >= 0 (default 1e-16).
        weight_decay: L2 penalty added to the gradient, >= 0.
        foreach: apply the update with ``torch._foreach_*`` ops (one call per
            operation for all parameters of a group, rather than one per
            parameter); ``False`` runs the per-parameter loop. Both do the same
            arithmetic in the same order (tests/test_optim.py checks them equal).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        eps: float = 1e-16,
        weight_decay: float = 0.0,
        foreach: bool = True,
    ) -> None:
        _check_lr(lr)
        if not isinstance(foreach, bool):
            raise TypeError(f"foreach must be a bool, got {type(foreach).__name__}")
        self.foreach = foreach
        if not math.isfinite(eps) or eps < 0:
            raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
        if not math.isfinite(weight_decay) or weight_decay < 0:
            raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
        super().__init__(params, {"lr": lr, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            if any(g.is_sparse for g in grads):
                raise RuntimeError("SMORMS3 does not support sparse gradients")
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["mem"] = torch.ones_like(p, memory_format=torch.preserve_format)
                    state["g"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["g2"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            same = len({(p.device, p.dtype) for p in params}) == 1
            update = _smorms3_foreach if same and self.foreach else _smorms3_single
            update(
                params,
                grads,  # type: ignore[arg-type]
                [self.state[p] for p in params],
                group["lr"],
                group["eps"],
                group["weight_decay"],
            )
        return loss


def _smorms3_single(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[dict[str, torch.Tensor]],
    lr: float,
    eps: float,
    wd: float,
) -> None:
    """SMORMS3's update, one parameter at a time (see :class:`SMORMS3`)."""
    for p, grad, state in zip(params, grads, states, strict=True):
        if wd != 0:
            grad = grad.add(p, alpha=wd)
        mem, g, g2 = state["mem"], state["g"], state["g2"]
        state["step"] += 1
        r = 1.0 / (mem + 1.0)
        g.mul_(1.0 - r).addcmul_(r, grad)
        g2.mul_(1.0 - r).addcmul_(r, grad * grad)
        x = g * g / (g2 + eps)
        p.sub_(grad * torch.clamp(x, max=lr) / (g2.sqrt() + eps))
        mem.mul_(1.0 - x).add_(1.0)


def _smorms3_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    states: list[dict[str, torch.Tensor]],
    lr: float,
    eps: float,
    wd: float,
) -> None:
    """:func:`_smorms3_single` with ``torch._foreach_*`` ops, the same roundings:
    ``1 - r`` is formed as ``(-r) + 1`` (negation is exact)."""
    if wd != 0:
        grads = list(torch._foreach_add(grads, params, alpha=wd))
    mems = [s["mem"] for s in states]
    gs = [s["g"] for s in states]
    g2s = [s["g2"] for s in states]
    torch._foreach_add_([s["step"] for s in states], 1)
    r = torch._foreach_add(mems, 1.0)
    torch._foreach_reciprocal_(r)
    keep = torch._foreach_neg(r)
    torch._foreach_add_(keep, 1.0)  # 1 - r
    torch._foreach_mul_(gs, keep)
    torch._foreach_addcmul_(gs, r, grads)
    sq = torch._foreach_mul(grads, grads)
    torch._foreach_mul_(g2s, keep)
    torch._foreach_addcmul_(g2s, r, sq)
    x = torch._foreach_mul(gs, gs)
    den = torch._foreach_add(g2s, eps)
    torch._foreach_div_(x, den)
    step = torch._foreach_clamp_max(x, lr)
    step = torch._foreach_mul(grads, step)
    den = torch._foreach_sqrt(g2s)
    torch._foreach_add_(den, eps)
    torch._foreach_div_(step, den)
    torch._foreach_sub_(params, step)
    torch._foreach_neg_(x)
    torch._foreach_add_(x, 1.0)  # 1 - x
    torch._foreach_mul_(mems, x)
    torch._foreach_add_(mems, 1.0)


def make_optimizer(
    name: str, params: Iterable[torch.Tensor] | Iterable[dict[str, Any]], lr: float, **kw: Any
) -> torch.optim.Optimizer:
    """An optimiser by name: ``"adam"``, ``"adamw"`` or ``"smorms3"``.

    Extra keyword arguments (``weight_decay``, ``betas``, ``eps``...) go to the
    optimiser's constructor.
    """
    _check_lr(lr)
    key = name.lower() if isinstance(name, str) else name
    if key == "adam":
        return torch.optim.Adam(params, lr=lr, **kw)
    if key == "adamw":
        return torch.optim.AdamW(params, lr=lr, **kw)
    if key == "smorms3":
        return SMORMS3(params, lr=lr, **kw)
    raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {name!r}")


def make_scheduler(
    name: str, optimizer: torch.optim.Optimizer, epochs: int, t_max: int = 10
) -> LRScheduler | None:
    """A learning-rate schedule by name, or ``None`` for ``"none"``.

    * ``"cosine"``: ``CosineAnnealingLR(T_max=epochs)``; step it once per epoch.
    * ``"cosine_batch"``: ``CosineAnnealingLR(T_max=t_max)`` (Micheli et al. use
      10); step it once per batch.

    Use :func:`schedule_per_batch` to know which.
    """
    if name == "none":
        return None
    if name == "cosine":
        return CosineAnnealingLR(optimizer, T_max=max(int(epochs), 1))
    if name == "cosine_batch":
        if isinstance(t_max, bool) or not isinstance(t_max, int) or t_max < 1:
            raise ValueError(f"t_max must be a positive integer, got {t_max!r}")
        return CosineAnnealingLR(optimizer, T_max=t_max)
    raise ValueError(f"schedule must be one of {list(SCHEDULES)}, got {name!r}")


def schedule_per_batch(name: str) -> bool:
    """Whether the schedule ``name`` is stepped every batch (else every epoch)."""
    return name == "cosine_batch"
