"""``spikeinit compare``: several initialisations x several seeds on one task.

Writes learning curves (mean +/- std over seeds), a table of final test
accuracy and of the epochs needed to reach 90 % of the best validation
accuracy any run reached, ``results.json`` and ``report.md``.

The runs are the trials of a sweep over ``init`` x ``seed`` and go through the
same engine as ``spikeinit sweep`` (:func:`spikeinit.experiments.sweep.execute`):
in this process by default, or on Ray Tune with ``--engine ray``. Each run lives in
``out/<init>-seed<k>``; ``results.json`` holds ``runs`` and ``summary`` as before,
plus ``trials`` (the sweep's per-trial records, with the initial-state diagnosis).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..cli_run import resolve_device
from .common import new_figure, plot_activity, save_figure, write_report, write_results
from .presets import epochs_to_reach, preset, resolve_init, spec_dict
from .sweep import Trial, check_address, check_engine_options, check_trial_cpus, execute
from .train_cmd import dataset_of, spec_overrides


def compare(
    specs: list[Any],
    out: str | Path,
    device: str,
    resume: bool = False,
    engine: str = "inprocess",
    threads: int | None = None,
    trials_out: list[dict[str, Any]] | None = None,
    **engine_kw: Any,
) -> list[dict[str, Any]]:
    """Run every spec (in ``out/<init>-seed<k>``) and return the run records.

    ``threads=None`` keeps this process's torch thread count (in-process runs).
    The sweep engine's full per-trial records are appended to ``trials_out``.
    """

    trials = [Trial(f"{s.init}-seed{s.seed}", {"init": s.init, "seed": s.seed}, s) for s in specs]
    records = execute(
        trials, out, device, engine=engine, resume=resume, threads=threads, **engine_kw
    )
    if trials_out is not None:
        trials_out.extend(records)
    return [
        {
            "init": r["params"]["init"],
            "seed": r["params"]["seed"],
            "metrics": r["metrics"],
            "history": r["history"],
            "status": r.get("status", "ok"),
            **({"error": r["error"]} if r.get("error") else {}),
        }
        for r in records
    ]


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per init: test accuracy mean/std and epochs to 90 % of the best val accuracy.

    A run that diverged (or failed) has no test accuracy: the mean and std are over
    the runs that finished (``None`` if none did), and ``n_finished`` /
    ``not_finished`` (``{status: count}``) say how many did not.
    """

    best = max(
        [(r.get("val_acc") or 0.0) for run in runs for r in run["history"]], default=0.0
    )
    level = 0.9 * best
    table: dict[str, Any] = {}
    for init in dict.fromkeys(r["init"] for r in runs):
        mine = [r for r in runs if r["init"] == init]
        done = [r for r in mine if r["metrics"].get("test_accuracy") is not None]
        acc = np.array([r["metrics"]["test_accuracy"] for r in done], dtype=float)
        reach = np.array([epochs_to_reach(r["history"], level) for r in mine], dtype=float)
        others: dict[str, int] = {}
        for r in mine:
            if r["metrics"].get("test_accuracy") is None:
                status = str(r.get("status", "failed"))
                others[status] = others.get(status, 0) + 1
        table[init] = {
            "test_accuracy_mean": float(acc.mean()) if done else None,
            "test_accuracy_std": float(acc.std()) if done else None,
            "epochs_to_90pct_mean": float(np.nanmean(reach)) if np.isfinite(reach).any() else None,
            "runs_reaching_90pct": int(np.isfinite(reach).sum()),
            "n_runs": len(mine),
            "n_finished": len(done),
            "not_finished": others,
        }
    return {"best_val_accuracy": best, "level": level, "table": table}


def plot_curves(runs: list[dict[str, Any]], out: str | Path, key: str = "val_acc") -> Path:
    fig, axes = new_figure(1, 2, size=(6.0, 4.0))
    for init in dict.fromkeys(r["init"] for r in runs):
        for ax, k in zip(axes[0], (key, "train_loss"), strict=True):
            curves = [
                [h.get(k) or math.nan for h in r["history"]] for r in runs if r["init"] == init
            ]
            n = min((len(c) for c in curves), default=0)
            if n == 0:
                continue
            arr = np.array([c[:n] for c in curves], dtype=float)
            mean, std = np.nanmean(arr, 0), np.nanstd(arr, 0)
            ep = np.arange(1, n + 1)
            ax.plot(ep, mean, label=init)
            ax.fill_between(ep, mean - std, mean + std, alpha=0.25)
    axes[0][0].set(
        xlabel="epoch", ylabel="validation accuracy", title="learning curves (mean ± std)"
    )
    losses = [h.get("train_loss") for r in runs for h in r["history"]]
    positive = any(isinstance(v, (int, float)) and 0 < v < math.inf for v in losses)
    # runs that diverged in their first epoch have no loss to show on a log scale
    axes[0][1].set(xlabel="epoch", ylabel="training loss", yscale="log" if positive else "linear")
    if axes[0][0].get_legend_handles_labels()[0]:
        axes[0][0].legend()
    return save_figure(fig, out, "learning_curves.png")


def _option_text(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={json.dumps(v)}" for k, v in value.items())
    return str(value)


def report_table(summary: dict[str, Any]) -> str:
    rows = [
        "| init | test accuracy (mean ± std) | epochs to 90 % of best | runs reaching it |",
        "|---|---|---|---|",
    ]
    for init, t in summary["table"].items():
        reach = "never" if t["epochs_to_90pct_mean"] is None else f"{t['epochs_to_90pct_mean']:.1f}"
        if t["test_accuracy_mean"] is None:
            acc = "none finished"
        else:
            acc = f"{t['test_accuracy_mean']:.4f} ± {t['test_accuracy_std']:.4f}"
        lost = t.get("not_finished") or {}
        if lost:
            acc += " (" + ", ".join(f"{n} {status}" for status, n in lost.items()) + ")"
        rows.append(f"| {init} | {acc} | {reach} | {t['runs_reaching_90pct']}/{t['n_runs']} |")
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:

    check_engine_options(args)
    device = resolve_device(args.device)
    for name in args.inits:
        resolve_init(name)
    over = spec_overrides(args)
    specs = [
        preset(dataset_of(args), init=i, seed=args.seed + k, **over)
        for i in args.inits
        for k in range(args.seeds)
    ]
    if args.address and args.engine == "ray":
        check_address(args.address)
    if args.engine == "ray":
        check_trial_cpus(args.threads, args.num_cpus, args.address)
    engine_kw = (
        {"address": args.address, "max_concurrent": args.max_concurrent,
         "num_cpus": args.num_cpus, "max_failures": args.max_failures}
        if args.engine == "ray" else {"max_failures": args.max_failures}
    )  # fmt: skip
    records: list[dict[str, Any]] = []
    threads = args.threads if args.engine == "ray" or args.threads != 1 else None
    runs = compare(specs, args.out, str(device), resume=args.resume, engine=args.engine,
                   threads=threads, trials_out=records, **engine_kw)  # fmt: skip
    summary = summarize(runs)
    plot_curves(runs, args.out)
    activity = plot_activity(runs, args.out)
    config = {**spec_dict(specs[0]), "inits": args.inits, "seeds": args.seeds}
    config.pop("init"), config.pop("seed")
    write_results(args.out, "compare", config, device, runs=runs, summary=summary, trials=records)
    extra = "".join(
        f" --{flag} {_option_text(value)}"
        for flag, value in (
            ("data", args.data),
            ("steps", args.steps),
            ("samples-per-class", args.samples_per_class),
            ("model", args.model),
            ("model-kw", args.model_kw),
            ("data-kw", args.data_kw),
            ("hidden", args.hidden),
            ("optimizer", args.optimizer),
            ("lr", args.lr),
            ("loss", args.loss),
            ("output", args.output),
            ("repeat-steps", args.repeat_steps),
            ("readout", args.readout),
            ("form", args.form),
            ("seed", args.seed or None),
        )
        if value is not None
    )
    cmd = (
        "spikeinit compare"
        + ("" if args.data else f" --dataset {args.dataset}")
        + f" --inits {','.join(args.inits)} --seeds {args.seeds} --epochs {specs[0].epochs}{extra}"
        + {None: "", True: " --standardize", False: " --no-standardize"}[args.standardize]
    )
    losses = sorted({str((r.get("dataset") or {}).get("loss")) for r in records} - {"None"})
    loss_text = (
        f"Loss: {', '.join(losses)}"
        + (" (the tutorials' loss for the model's output)" if specs[0].loss == "auto" else "")
        + ".\n\n"
        if specs[0].user and losses
        else ""
    )
    write_report(
        args.out,
        f"# spikeinit compare\n\n`{cmd}`\n\n{loss_text}{report_table(summary)}\n\n"
        f"90 % level: {summary['level']:.4f} (best validation accuracy of any run: "
        f"{summary['best_val_accuracy']:.4f}).\n\n![learning curves](learning_curves.png)\n"
        + (
            "\nEach layer's free-membrane std and rate while training (`--diagnose-every`):\n\n"
            "![activity during training](activity_during_training.png)\n"
            if activity
            else ""
        ),
    )
    print(report_table(summary))
    failed = [r for r in runs if r["status"] == "failed"]
    if failed:
        print(
            f"spikeinit compare: {len(failed)} run(s) failed ({failed[0]['init']} seed "
            f"{failed[0]['seed']}: {failed[0].get('error')}); rerun with --resume to retry them",
            file=sys.stderr,
        )
        return 1
    return 0
