"""Issue 25's table: one ``si.initialize`` call on the second corpus of real networks.

``python -m benchmarks.corpus_table [--no-slow] [--only NAME ...] [--out FILE.json]``

For every case of ``tests/interop_models_2.py`` (and of ``tests/interop_models_sinabs.py``
and ``tests/interop_models_residual.py`` where they exist): ``si.initialize(model, x)`` with
no extra argument (the case's ``time_dim`` aside), then ``si.diagnose``; again with
``calibrate=True`` on a fresh build. The row gives the model, framework, source, the number
of spiking layers, the worst ``|sigma_U / target - 1|`` over the spiking layers that weights
feed (target: the report's ``target_sigma_u_theta``, measured by ``si.diagnose``; a neuron
fed by no weight, such as a spike-driven attention's product of spike trains, has no knob:
it is counted apart and its report note says so) for the default and the
calibrated call, whether they land within 10 % / 2 %, the wall time of each ``initialize``
in seconds, or the refusal message. Prints a Markdown table (one thread, as the tests).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch

import spikeinit as si

from .interop_table import registry

ROOT = Path(__file__).resolve().parent.parent
REGISTRIES = ("interop_models_2", "interop_models_sinabs", "interop_models_residual")


def cases() -> list[Any]:
    """Every case of the registries that exist in tests/."""
    sys.path.insert(0, str(ROOT / "tests"))
    out = []
    for name in REGISTRIES:
        if not (ROOT / "tests" / f"{name}.py").exists():
            continue
        module = importlib.import_module(name)
        # each registry's list: MODELS, or its own MODELS_<KIND>
        lists = [v for k, v in vars(module).items() if k == "MODELS" or k.startswith("MODELS_")]
        if len(lists) != 1:
            raise ValueError(f"tests/{name}.py must define one MODELS list, found {len(lists)}")
        out.extend(lists[0])
    return out



def run_once(case: Any, calibrate: bool) -> dict[str, Any]:
    """One initialisation of a fresh build: worst relative error, layers, seconds, or the
    refusal (a ``ValueError``) or failure (anything else) as text."""
    model = case.build()
    x = case.make_data()
    kwargs = dict(getattr(case, "init_kwargs", {}) or {})
    if calibrate:
        kwargs["calibrate"] = True
    start = time.perf_counter()
    try:
        report = si.initialize(model, x, time_dim=case.time_dim, **kwargs)
    except ValueError as err:
        return {"refused": str(err), "seconds": time.perf_counter() - start}
    except Exception as err:  # a row, not a crash
        return {"error": f"{type(err).__name__}: {err}", "seconds": time.perf_counter() - start}
    seconds = time.perf_counter() - start
    registry().reset_case(case, model)
    diag = si.diagnose(model, x, time_dim=case.time_dim)
    registry().reset_case(case, model)
    aims = {la.name: la.target_sigma_u_theta for la in report.layers}
    # a neuron that no weight feeds (a spike-driven attention's product of spike trains)
    # has no knob: the report says so, and it is counted apart, not as a miss
    weightless = {la.name for la in report.layers if la.target_sigma_u_theta is None}
    spiking = [d for d in diag.layers if d.state != "readout"]
    errors = [
        abs(d.sigma_u_theta / aims[d.name] - 1.0) for d in spiking if d.name not in weightless
    ]
    return {
        "layers": len(spiking),
        "weightless": sum(1 for d in spiking if d.name in weightless),
        "worst": max(errors) if errors else 0.0,
        "seconds": seconds,
    }


def row(case: Any) -> dict[str, Any]:
    default = run_once(case, False)
    calibrated = run_once(case, True) if "worst" in default else None
    return {
        "model": case.name,
        "framework": case.framework,
        "source": case.source,
        "default": default,
        "calibrated": calibrated,
    }


def _cell(result: dict[str, Any] | None, tol: float) -> tuple[str, str]:
    if result is None or "worst" not in result:
        return "", ""
    ok = "yes" if result["worst"] <= tol else "**no**"
    return f"{100 * result['worst']:.2f} %", ok


def markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| model | framework | source | spiking layers | worst \\|sigma_U/target - 1\\| "
        "(layers fed by weights) "
        "default | calibrated | within 10 % / 2 % | init s (default / calibrated) |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        d, c = r["default"], r["calibrated"]
        if "worst" in d:
            w_d, ok_d = _cell(d, 0.10)
            w_c, ok_c = _cell(c, 0.02)
            layers = str(d["layers"])
            if d.get("weightless"):
                layers += f" ({d['weightless']} fed by no weight)"
            verdict = f"{ok_d} / {ok_c}"
            secs = f"{d['seconds']:.2f} / {c['seconds']:.2f}" if c else f"{d['seconds']:.2f}"
        else:
            text = d.get("refused") or d.get("error", "")
            kind = "refused" if "refused" in d else "FAILED"
            layers, w_d, w_c = "-", "-", "-"
            # the start of the message, kept as text in Markdown (no table cells, no links)
            short = text[:220].replace("|", "/").replace("[", "\\[")
            verdict = f"{kind}: {short}..."
            secs = f"{d['seconds']:.2f}"
        lines.append(
            f"| {r['model']} | {r['framework']} | {r['source']} | {layers} | {w_d} | {w_c} "
            f"| {verdict} | {secs} |"
        )
    n = len(rows)
    landed = sum(1 for r in rows if "worst" in r["default"] and r["default"]["worst"] <= 0.10)
    calibrated = sum(
        1 for r in rows if r["calibrated"] is not None and r["calibrated"]["worst"] <= 0.02
    )
    refused = sum(1 for r in rows if "refused" in r["default"])
    failed = sum(1 for r in rows if "error" in r["default"])
    lines.append("")
    lines.append(
        f"{n} networks: {landed} land within 10 % by default ({calibrated} within 2 % "
        f"calibrated), {refused} refused with a message, {failed} failed otherwise."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--no-slow", action="store_true", help="skip the cases marked slow")
    p.add_argument("--only", nargs="*", default=None, help="case names")
    p.add_argument("--out", type=Path, default=None, help="write the rows as JSON")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    rows = []
    for case in cases():
        if a.only and case.name not in a.only:
            continue
        if a.no_slow and case.slow:
            continue
        rows.append(row(case))
        print(f"done {case.name}", file=sys.stderr, flush=True)
    print(markdown(rows))
    if a.out:
        a.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
