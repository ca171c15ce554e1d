"""``spikeinit train``: one dataset, one model, one init, one seed."""

from __future__ import annotations

import argparse
import math
from typing import Any

from .._rundir import check_resumable
from ..cli_run import resolve_device
from ..train import TrainingDiverged
from .common import plot_activity, write_report, write_results
from .presets import preset, spec_dict
from .presets import run as run_one


def spec_overrides(args: argparse.Namespace) -> dict[str, Any]:
    dataset_kw: dict[str, Any] = {}
    if args.steps is not None:
        dataset_kw["n_steps"] = args.steps
    if args.samples_per_class is not None:
        dataset_kw["samples_per_class"] = args.samples_per_class
    hidden = None
    if args.hidden is not None:
        msg = f"--hidden must be comma-separated integers >= 1, e.g. 128,128, got {args.hidden!r}"
        try:
            hidden = tuple(int(h) for h in args.hidden.split(","))
        except ValueError:
            raise ValueError(msg) from None
        if not hidden or min(hidden) < 1:
            raise ValueError(msg)
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr must be > 0 and finite, got {args.lr}")
    if args.sigma_u is not None and not (math.isfinite(args.sigma_u) and args.sigma_u > 0):
        raise ValueError(f"--sigma-u must be > 0 and finite, got {args.sigma_u}")
    return {
        "model": args.model,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": args.optimizer,
        "loss": args.loss,
        "sigma_u": args.sigma_u,
        "hidden": hidden,
        "dataset_kw": dataset_kw or None,
        "form": args.form,
        "standardize": args.standardize,
        "model_kw": getattr(args, "model_kw", None),
        "output": getattr(args, "output", None),
        "readout": getattr(args, "readout", None),
        "diagnose_every": getattr(args, "diagnose_every", None),
        "repeat_steps": getattr(args, "repeat_steps", None),
        **({"dataset_kw": args.data_kw} if getattr(args, "data_kw", None) else {}),
    }


def dataset_of(args: argparse.Namespace) -> str:
    """``--data FILE.py:FUNCTION`` (a user's data) or ``--dataset``."""
    return getattr(args, "data", None) or args.dataset


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.resume:
        check_resumable(args.out)
    spec = preset(dataset_of(args), init=args.init, seed=args.seed, **spec_overrides(args))
    try:
        out = run_one(spec, args.out, device=str(device), resume=args.resume)
    except TrainingDiverged as exc:
        raise ValueError(str(exc)) from exc
    m = out["metrics"]
    write_results(
        args.out,
        "train",
        spec_dict(spec),
        device,
        metrics=m,
        history=out["history"],
        init=out["init"],
        dataset=out["dataset"],
    )
    activity = plot_activity([{"init": spec.init, "history": out["history"]}], args.out)
    loss = (out.get("dataset") or {}).get("loss") if spec.user else None
    write_report(
        args.out,
        f"""# spikeinit train

`spikeinit train --{"data" if spec.user else "dataset"} {spec.dataset} --model {spec.model} \
--init {spec.init} --epochs {spec.epochs} --seed {spec.seed}`

| metric | value |
|---|---|
| test accuracy | {m["test_accuracy"]:.4f} |
| best validation accuracy | {m.get("val_accuracy") or float("nan"):.4f} |
| epochs | {m["epochs"]} |
"""
        + (f"\nLoss: {loss}.\n" if loss else "")
        + (
            "\n![activity during training](activity_during_training.png)\n" if activity else ""
        ),
    )
    print(f"test accuracy {m['test_accuracy']:.4f} after {m['epochs']} epochs -> {args.out}")
    return 0
