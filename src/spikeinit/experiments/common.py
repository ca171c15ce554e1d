"""Shared helpers for the experiment commands: arguments, outputs, progress bars.

Every command that produces results writes, under its ``--out`` directory,

* ``results.json``: ``{"command", "config", "environment": {"spikeinit", "torch",
  "device"}, ...command-specific fields}``;
* PNG figures;
* a short ``report.md``.

Long loops show a tqdm progress bar on stderr (set ``SPIKEINIT_NO_PROGRESS=1``
to hide it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

from .. import __version__

T_ = TypeVar("T_")

__all__ = [
    "choice_list",
    "environment",
    "float_in",
    "int_list",
    "new_figure",
    "out_dir",
    "positive_int",
    "progress",
    "save_figure",
    "write_report",
    "write_results",
]


# -- argparse types: a bad value gives one line and exit code 2 ----------------------------
def positive_int(upper: int | None = None) -> Any:
    """An argparse ``type`` for an integer in ``[1, upper]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
        if value < 1 or (upper is not None and value > upper):
            bound = f"between 1 and {upper}" if upper is not None else ">= 1"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


def int_list(upper: int | None = None) -> Any:
    """An argparse ``type`` for a comma-separated list of positive integers (``100,1000``)."""
    one = positive_int(upper)

    def parse(text: str) -> list[int]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return [one(t) for t in items]

    return parse


def choice_list(choices: Sequence[str]) -> Any:
    """An argparse ``type`` for a comma-separated list drawn from ``choices``."""

    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if not items or bad:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(map(repr, bad)) or 'empty list'}; choose from "
                f"{', '.join(choices)}"
            )
        return list(dict.fromkeys(items))

    return parse


def float_in(lo: float, hi: float, *, lo_open: bool = False) -> Any:
    """An argparse ``type`` for a finite float in ``[lo, hi]`` (``(lo, hi]`` if ``lo_open``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and value <= hi
        if not ok:
            left = "(" if lo_open else "["
            raise argparse.ArgumentTypeError(f"must be in {left}{lo:g}, {hi:g}], got {text}")
        return value

    return parse


# -- outputs --------------------------------------------------------------------------------
def environment(device: torch.device | str) -> dict[str, str]:
    """Versions and device, for ``results.json``."""
    return {
        "spikeinit": __version__,
        "torch": torch.__version__,
        "device": str(device),
        "python": platform.python_version(),
    }


def out_dir(path: str | Path) -> Path:
    """Create (if needed) and return the output directory."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if hasattr(obj, "item"):
        return _jsonable(obj.item())
    return str(obj)


def write_results(
    out: str | Path,
    command: str,
    config: dict[str, Any],
    device: torch.device | str,
    **fields: Any,
) -> Path:
    """Write ``results.json`` (atomically) and return its path."""
    data = {
        "command": command,
        "config": _jsonable(config),
        "environment": environment(device),
        **{k: _jsonable(v) for k, v in fields.items()},
    }
    path = out_dir(out) / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def write_report(out: str | Path, text: str) -> Path:
    """Write ``report.md`` and return its path."""
    path = out_dir(out) / "report.md"
    path.write_text(text.rstrip() + "\n")
    return path


def new_figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] = (6.0, 4.0)) -> Any:
    """A matplotlib ``(fig, axes)`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False
    )
    return fig, axes


def save_figure(fig: Any, out: str | Path, name: str) -> Path:
    """Save ``fig`` as ``out/name`` (PNG, 120 dpi), close it, return the path."""
    import matplotlib.pyplot as plt

    path = out_dir(out) / name
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def progress(
    iterable: Iterable[T_], total: int | None = None, desc: str | None = None
) -> Iterator[T_]:
    """A tqdm progress bar on stderr (hidden if ``SPIKEINIT_NO_PROGRESS`` is set)."""
    from tqdm.auto import tqdm

    disable = os.environ.get("SPIKEINIT_NO_PROGRESS", "") not in ("", "0")
    yield from tqdm(
        iterable, total=total, desc=desc, file=sys.stderr, disable=disable, dynamic_ncols=True
    )
