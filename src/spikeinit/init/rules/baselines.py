"""The ``torch.nn.init`` baselines: He/Kaiming, Glorot/Xavier, PyTorch's default.

Tensor-level rules and the registry's ``kaiming``, ``glorot`` and ``default``
entries, applied like Micheli's rules (to every weight group with its own fan-in).

References:
    [C] He, Zhang, Ren, Sun (2015), *Delving deep into rectifiers*, arXiv:1502.01852.
    [D] Glorot, Bengio (2010), *Understanding the difficulty of training deep
        feedforward neural networks*, AISTATS.
"""

from __future__ import annotations

import math

import torch

from ._tensor import _check_generator, _check_tensor, _fan_in, _fan_out, _normal_
from .context import RuleContext

__all__ = ["default", "default_uniform_", "glorot", "glorot_normal_", "kaiming", "kaiming_normal_"]


def kaiming_normal_(w: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """He/Kaiming normal [C]: ``w ~ N(0, 2 / n)``, ``n`` the fan-in."""
    w = _check_tensor(w)
    return _normal_(w, 0.0, math.sqrt(2.0 / _fan_in(w)), generator)


def glorot_normal_(w: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Glorot/Xavier normal [D]: ``w ~ N(0, 2 / (n_in + n_out))``."""
    w = _check_tensor(w)
    return _normal_(w, 0.0, math.sqrt(2.0 / (_fan_in(w) + _fan_out(w))), generator)


def default_uniform_(w: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """PyTorch's default for linear/conv layers: ``U(-1/sqrt(n), 1/sqrt(n))``, Var ``1/(3n)``."""
    w = _check_tensor(w)
    _check_generator(generator)
    bound = 1.0 / math.sqrt(_fan_in(w))
    with torch.no_grad():
        return w.uniform_(-bound, bound, generator=generator)



# -- the registry's entries (spikeinit.catalog.INIT_RULES) -------------------------------
def kaiming(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`kaiming_normal_`."""
    return kaiming_normal_(w, generator=ctx.generator)


def glorot(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`glorot_normal_`."""
    return glorot_normal_(w, generator=ctx.generator)


def default(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`default_uniform_` (PyTorch's default)."""
    return default_uniform_(w, generator=ctx.generator)
