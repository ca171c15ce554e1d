"""Our propagation rules beyond Micheli et al. (2024): now
:mod:`spikeinit.init.rules.balanced` (tensor functions and the registry's
``balanced`` and ``balanced_cal`` entries); the names stay importable here."""

from __future__ import annotations

from .rules.balanced import (
    balanced_gain,
    balanced_normal_,
    calibrate_profile_,
    decorrelate_rows_,
)

__all__ = ["balanced_gain", "balanced_normal_", "calibrate_profile_", "decorrelate_rows_"]
