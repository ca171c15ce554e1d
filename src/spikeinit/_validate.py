"""Argument checks shared by the whole package (one place, one wording).

Each helper returns the checked value (converted to ``int`` / ``float``) or
raises: ``TypeError`` when the value is not of the right kind (a string, a bool,
``None`` where a number is needed), ``ValueError`` when it is of the right kind
but outside what is allowed. Every message names the parameter, what is allowed
and the value given, e.g. ``tau_mem must be a finite number > 0, got -1.0``.
Torch-free: used by the parameter dataclasses, the layers, the initialisers,
the trainer and the data layer alike.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

__all__ = [
    "finite",
    "finite_in",
    "integer",
    "nonneg_finite",
    "one_of",
    "positive_finite",
    "positive_int",
    "real",
]


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def real(name: str, value: object, *, error: type[Exception] = TypeError) -> float:
    """``value`` as a float if it is a real number (not a bool); ``error`` otherwise."""
    if not _is_real(value):
        raise error(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)  # type: ignore[arg-type]


def finite(name: str, value: object) -> float:
    """A finite real number."""
    v = real(name, value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def positive_finite(name: str, value: object, *, error: type[Exception] = TypeError) -> float:
    """A finite real number > 0 (``error`` for a value that is no real number)."""
    v = real(name, value, error=error)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def nonneg_finite(name: str, value: object) -> float:
    """A finite real number >= 0."""
    v = real(name, value)
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def finite_in(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """A finite real number in ``[lo, hi]`` (open ends with ``lo_open`` / ``hi_open``);
    ``ValueError`` for anything else, the interval in the message."""
    left = "(" if lo_open or lo is None else "["
    right = ")" if hi_open or hi is None else "]"
    rng = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
    if not _is_real(value):
        raise ValueError(f"{name} must be a finite number in {rng}, got {value!r}")
    v = float(value)
    bad = not math.isfinite(v)
    if lo is not None:
        bad = bad or (v <= lo if lo_open else v < lo)
    if hi is not None:
        bad = bad or (v >= hi if hi_open else v > hi)
    if bad:
        raise ValueError(f"{name} must be a finite number in {rng}, got {value!r}")
    return v


def integer(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (not a bool) in ``[lo, hi]``; ``ValueError`` naming the range otherwise.

    The range reads ``>= lo`` when only ``lo`` is given, else ``[lo, hi]``.
    """
    if hi is None and lo is not None:
        allowed = f"an integer >= {lo}"
    else:
        allowed = f"an integer in [{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
    if not _is_int(value):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return v


def positive_int(name: str, value: Any) -> int:
    """An integer >= 1 (a size)."""
    if not _is_int(value) or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def one_of(name: str, value: Any, allowed: Sequence[str]) -> str:
    """One of ``allowed`` (listed in the message)."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value
