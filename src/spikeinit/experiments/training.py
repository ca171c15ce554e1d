"""Deprecated on 2026-12-07, to be removed in spikeinit 0.2: renamed
:mod:`spikeinit.experiments.presets` (the run presets).

Every name is looked up in the new module, with a ``DeprecationWarning`` when
this module is imported.
"""

from __future__ import annotations

import warnings
from typing import Any

from . import presets as _presets

warnings.warn(
    "spikeinit.experiments.training is renamed spikeinit.experiments.presets "
    "(deprecated on 2026-12-07, to be removed in spikeinit 0.2)",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(_presets, name)
