"""Memory the sizes asked for need, checked before anything is allocated.

:func:`available_bytes` reads the memory this machine can still give
(``MemAvailable`` of ``/proc/meminfo``, else ``os.sysconf``); :func:`check_fits`
refuses, with the figures, a need above it. A width of 10^8 neurons is then
refused at once instead of running the machine out of memory.
"""

from __future__ import annotations

import os

__all__ = ["available_bytes", "check_fits", "format_bytes"]


def available_bytes() -> int | None:
    """Bytes of memory available to new allocations, or ``None`` if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(n: float) -> str:
    """``1.5e9`` -> ``'1.5 GB'``."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    raise AssertionError  # pragma: no cover


def check_fits(parts: dict[str, int], available: int | None = None) -> None:
    """``ValueError`` if the bytes of ``parts`` (what needs them -> bytes) add up to more
    than the memory available (``available``, default :func:`available_bytes`)."""
    need = sum(parts.values())
    free = available_bytes() if available is None else available
    if free is None or need <= free:
        return
    detail = ", ".join(f"{what} {format_bytes(b)}" for what, b in parts.items() if b)
    raise ValueError(
        f"the sizes asked for need at least {format_bytes(need)} of memory ({detail}), more "
        f"than the {format_bytes(free)} available: reduce the width (--hidden), batch or steps"
    )
