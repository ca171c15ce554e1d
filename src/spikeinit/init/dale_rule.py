"""Model-level initialisation of Dale's-law layers: now :mod:`spikeinit.init.rules.dale`
(the exponential rule and the layer hook) and :mod:`spikeinit.init.rules.dale_balance`
(the measured E/I balance); the names stay importable here."""

from __future__ import annotations

from .rules.dale import BALANCE, REFINE, calibrate_dale_layer, init_dale_layer
from .rules.dale_balance import (
    BALANCE_TOL,
    _group_membranes,
    balance_dale_,
    balance_inh_,
    balance_joint_,
)

__all__ = [
    "BALANCE",
    "BALANCE_TOL",
    "REFINE",
    "_group_membranes",
    "balance_dale_",
    "balance_inh_",
    "balance_joint_",
    "calibrate_dale_layer",
    "init_dale_layer",
]
