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

import json
import math
import os
import platform
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import torch

from .. import __version__
from ..cli_args import choice_list, float_in, int_list, positive_int  # re-exported

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
    write_text_atomic(path, json.dumps(data, indent=1) + "\n")
    return path


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``: a full
    disk or a file-size limit leaves the old file (or none), never a part, and no
    temporary behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_report(out: str | Path, text: str) -> Path:
    """Write ``report.md`` and return its path."""
    path = out_dir(out) / "report.md"
    write_text_atomic(path, text.rstrip() + "\n")
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


def activity_probe(every: int, measure: Any) -> Any:
    """The Trainer's ``epoch_probe`` for ``--diagnose-every N``: every N epochs, the layers'
    diagnosis (:meth:`spikeinit.Diagnosis.summary`) as the record's ``"activity"``."""
    if not every:
        return None

    def probe(epoch: int) -> dict[str, Any]:
        return {"activity": measure().summary()} if epoch % every == 0 else {}

    return probe


def plot_activity(runs: list[dict[str, Any]], out: str | Path) -> Path | None:
    """``activity_during_training.png``: each layer's sigma_U / theta and rate over the epochs
    (``--diagnose-every``), one line per init and layer (mean over seeds); None without data."""
    curves: dict[tuple[str, str], dict[int, list[tuple[float, float]]]] = {}
    for run in runs:
        for epoch, rec in enumerate(run["history"], start=1):
            for layer in rec.get("activity") or []:
                key = (str(run.get("init", "run")), layer["name"])
                value = (layer["sigma_u_theta"] or math.nan, layer["rate_hz"] or 0.0)
                curves.setdefault(key, {}).setdefault(epoch, []).append(value)
    if not curves:
        return None
    fig, axes = new_figure(1, 2, size=(6.0, 4.0))
    for (init, layer), points in curves.items():
        epochs = sorted(points)
        sig = [sum(p[0] for p in points[e]) / len(points[e]) for e in epochs]
        rate = [sum(p[1] for p in points[e]) / len(points[e]) for e in epochs]
        axes[0][0].plot(epochs, sig, "o-", label=f"{init}: {layer}")
        axes[0][1].plot(epochs, rate, "o-", label=f"{init}: {layer}")
    axes[0][0].set(xlabel="epoch", ylabel="sigma_U / theta", title="free membrane std")
    axes[0][1].set(xlabel="epoch", ylabel="rate (Hz)", title="firing rate")
    if len(curves) <= 12:
        axes[0][0].legend(fontsize=7)
    return save_figure(fig, out, "activity_during_training.png")


def spec_dict(spec: Any) -> dict[str, Any]:
    """A run spec (``presets.RunSpec``) as plain JSON-able values (``hidden`` a list)."""
    d = asdict(spec)
    d["hidden"] = list(spec.hidden)
    return d
