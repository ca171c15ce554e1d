"""Rate-preserving variance propagation (Perez-Nieves & Goodman 2023): now
:mod:`spikeinit.init.rules.perez_nieves` (the tensor rule and its layer hook);
the names stay importable here."""

from __future__ import annotations

from .rules.perez_nieves import (
    APPROXIMATIONS,
    choose_approx,
    perez_nieves_normal_,
    perez_nieves_rule,
    perez_nieves_std,
)

__all__ = [
    "APPROXIMATIONS",
    "choose_approx",
    "perez_nieves_normal_",
    "perez_nieves_rule",
    "perez_nieves_std",
]
