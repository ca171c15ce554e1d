"""Issue 12's table: ``si.initialize`` + ``si.diagnose`` on the frameworks' own networks.

``python -m benchmarks.interop_table [--out runs/interop] [--slow] [--only NAME ...]``

For every model of ``tests/interop_models.py`` (snnTorch, Norse and SpikingJelly
networks transcribed from their tutorials, examples and model zoos): the free membrane
fluctuation sigma_U / theta of every spiking layer as ``si.diagnose`` reports it
(min - max over layers) and the layers' states, before, after ``si.initialize(model, x)``
with no extra argument, and after ``si.initialize(model, x, calibrate=True)``, plus the
wall time of each ``initialize``. A model whose initialisation fails gets its error in
the row; the others still run. Prints a Markdown table and, with ``--out``, writes
``interop.md`` and ``interop.json`` there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch

import spikeinit as si

from ._common import environment

ROOT = Path(__file__).resolve().parent.parent


def registry() -> Any:
    """``tests/interop_models.py`` (the corpus and its helpers; tests/ is not a package)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import interop_models  # noqa: E402  (tests/ is not a package)

    return interop_models


def _sigma_theta(layer: Any) -> float | None:
    """sigma_U / theta of one diagnosed layer (``sigma_u_theta``, or free std / theta)."""
    v = getattr(layer, "sigma_u_theta", None)
    if v is None and getattr(layer, "free_mem_std", None) is not None and layer.threshold:
        v = layer.free_mem_std / layer.threshold
    return None if v is None else float(v)


def summarise(diag: Any) -> dict[str, Any]:
    spiking = [d for d in diag.layers if d.state != "readout"]
    vals = [v for v in (_sigma_theta(d) for d in spiking) if v is not None]
    return {
        "n_layers": len(spiking),
        "n_readouts": len(diag.layers) - len(spiking),
        "sigma_u_theta_min": min(vals) if vals else None,
        "sigma_u_theta_max": max(vals) if vals else None,
        "states": dict(Counter(d.state for d in spiking)),
        "layers": [
            {"name": d.name, "state": d.state, "sigma_u_theta": _sigma_theta(d)}
            for d in diag.layers
        ],
    }



def _diagnose(case: Any, model: torch.nn.Module, x: torch.Tensor) -> dict[str, Any]:
    try:
        out = summarise(si.diagnose(model, x, time_dim=case.time_dim))
    except Exception as err:  # a row, not a crash: the table is about which models work
        out = {"error": f"{type(err).__name__}: {err}"[:300]}
    registry().reset_case(case, model)
    return out


def _initialise(case: Any, x: torch.Tensor, **kw: Any) -> dict[str, Any]:
    model = case.build()
    t0 = time.perf_counter()
    try:
        si.initialize(model, x, time_dim=case.time_dim, **case.init_kwargs, **kw)
    except Exception as err:
        return {"error": f"{type(err).__name__}: {err}"[:300], "init_s": None}
    seconds = time.perf_counter() - t0
    registry().reset_case(case, model)
    return {"init_s": seconds, **_diagnose(case, model, x)}


def run_case(case: Any) -> dict[str, Any]:
    x = case.make_data()
    before = _diagnose(case, case.build(), x)
    return {
        "model": case.name,
        "framework": case.framework,
        "source": case.source,
        "convention": case.convention,
        "input_shape": list(x.shape),
        "before": before,
        "after": _initialise(case, x),
        "after_calibrate": _initialise(case, x, calibrate=True),
    }


def _range(d: dict[str, Any]) -> str:
    if "error" in d:
        return "error: " + d["error"].split(":")[0]
    lo, hi = d.get("sigma_u_theta_min"), d.get("sigma_u_theta_max")
    if lo is None:
        return "-"
    return f"{lo:.3g}-{hi:.3g}"


def _states(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.get("states", {}).items())) or "-"


def markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| model | source | sigma_U/theta before | states before | after | states after "
        "| after calibrate | init s | init+calibrate s |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        a, c = r["after"], r["after_calibrate"]
        t1 = f"{a['init_s']:.2f}" if a.get("init_s") is not None else "-"
        t2 = f"{c['init_s']:.2f}" if c.get("init_s") is not None else "-"
        lines.append(
            f"| {r['model']} | {r['source']} | {_range(r['before'])} | {_states(r['before'])} "
            f"| {_range(a)} | {_states(a)} | {_range(c)} | {t1} | {t2} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None, help="directory for interop.md / .json")
    p.add_argument("--slow", action="store_true", help="also the slow (large) models")
    p.add_argument("--only", nargs="*", default=None, help="model names to run")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    reg = registry()
    cases = [c for c in reg.MODELS if (a.slow or not c.slow)]
    if a.only:
        unknown = set(a.only) - {c.name for c in reg.MODELS}
        if unknown:
            p.error(f"--only: unknown model(s) {sorted(unknown)}")
        cases = [c for c in reg.MODELS if c.name in a.only]
    rows = []
    for case in cases:
        rows.append(run_case(case))
        r = rows[-1]
        print(
            f"{case.name}: before {_range(r['before'])}, after {_range(r['after'])}, "
            f"calibrated {_range(r['after_calibrate'])}",
            flush=True,
        )
    table = markdown(rows)
    print(table)
    if a.out is not None:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "interop.md").write_text(table + "\n")
        payload = {"benchmark": "interop_table", "environment": environment(), "rows": rows}
        (a.out / "interop.json").write_text(json.dumps(payload, indent=2))
        print(f"wrote {a.out / 'interop.md'} and {a.out / 'interop.json'}")
    return rows


if __name__ == "__main__":
    main()
