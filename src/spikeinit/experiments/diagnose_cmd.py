"""``spikeinit diagnose [CHECKPOINT]``: per-layer activity of a trained or fresh model.

* ``spikeinit diagnose runs/rm`` (a ``spikeinit train`` output directory, or a
  ``best.pt`` / ``last.pt`` inside one) rebuilds the model from the run's
  ``results.json``, loads the checkpoint (``weights_only=True``) and diagnoses
  it on the run's dataset.
* ``spikeinit diagnose --dataset randman --model fc --init default`` diagnoses a
  freshly built model under an initialisation, before any training.

Writes ``results.json`` (``layers``: the per-layer diagnosis), ``diagnosis.png``
and ``report.md``; prints the table.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from .. import diagnose, initialize
from ..cli_run import resolve_device
from ..entry_points import is_entry_point
from ..train import load_checkpoint, load_model_state
from .common import write_report, write_results
from .presets import (
    build_model,
    preset,
    resolve_init,
    spec_dict,
    standardize_mnist,
)
from .user_runs import build_user


def _spec_from_checkpoint(path: Path) -> tuple[dict[str, Any], Path]:
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    run_dir, ckpt = (path, path / "best.pt") if path.is_dir() else (path.parent, path)
    if not ckpt.exists():
        ckpt = run_dir / "last.pt"
    if not ckpt.exists():
        raise FileNotFoundError(f"no checkpoint (best.pt or last.pt) in {run_dir}")
    results = run_dir / "results.json"
    trial = run_dir / "trial.json"  # a trial of `compare` / `sweep`
    if not results.exists() and trial.exists():
        try:
            return dict(json.loads(trial.read_text())["spec"]), ckpt
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{trial} is not a spikeinit trial record ({exc})") from exc
    if not results.exists():
        raise FileNotFoundError(
            f"{results} not found: diagnose needs the results.json that `spikeinit train` writes"
        )
    try:
        config = json.loads(results.read_text())["config"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise ValueError(f"{results} is not a spikeinit results.json ({exc})") from exc
    return config, ckpt


def _user_model(
    args: argparse.Namespace, spec: Any, ckpt: Path | None
) -> tuple[Any, Any, list[Any], str]:
    """A user's model (``--model FILE.py:FUNCTION``): ``(net, forward, source)``, with the
    run's trained weights from ``ckpt`` or freshly initialised by ``--init``."""
    net, clf, batches, _ = build_user(spec, split="val")
    if ckpt is not None:
        load_model_state(clf, load_checkpoint(ckpt)["model"], f"checkpoint {ckpt}:")
        return net, clf.call, batches, f"checkpoint {ckpt}"
    init = resolve_init(args.init)
    if init != "default":
        initialize(net, batches, method=init, seed=args.seed, forward=clf.call,
                   readout=spec.readout)  # fmt: skip
    return net, clf.call, batches, f"fresh {spec.model}, init {args.init}"


def _check_checkpoint_options(args: argparse.Namespace) -> None:
    """A checkpoint brings its own model and weights: options that would build or
    initialise another model are refused rather than ignored."""
    if args.checkpoint is not None and not args.checkpoint.strip():
        raise ValueError("checkpoint must be a run directory or a .pt file, got ''")
    if not args.checkpoint:
        return
    given = [
        flag
        for flag, value in (
            ("--model", args.model),
            ("--model-kw", args.model_kw),
            ("--init", None if args.init == "default" else args.init),
        )
        if value is not None
    ]
    if given:
        raise ValueError(
            f"{' and '.join(given)} apply to a fresh model; the checkpoint {args.checkpoint} "
            "brings its own model and trained weights: leave them out, or leave out the "
            "checkpoint to diagnose a fresh model"
        )


def run(args: argparse.Namespace) -> int:
    _check_checkpoint_options(args)
    device = resolve_device(args.device)
    user = is_entry_point(args.model) or bool(args.data)
    if args.checkpoint and not user:
        config, _ = _spec_from_checkpoint(Path(args.checkpoint))
        user = is_entry_point(config.get("model")) or is_entry_point(config.get("dataset"))
    if user:
        return _run_user(args, device)
    if args.checkpoint:
        config, ckpt = _spec_from_checkpoint(Path(args.checkpoint))
        fields = {k: v for k, v in config.items() if k in spec_dict(preset("randman"))}
        fields["hidden"] = tuple(fields.get("hidden", (128,)))
        spec = preset(fields.pop("dataset", "randman"), **fields)
        if args.dataset and args.dataset != spec.dataset:
            spec = preset(args.dataset, **{**fields, "dataset_kw": {}})
        model, ds = build_model(spec)
        load_model_state(model, load_checkpoint(ckpt)["model"], f"checkpoint {ckpt}:")
        source = f"checkpoint {ckpt}"
    else:
        spec = preset(
            args.dataset or "randman",
            seed=args.seed,
            **({"model": args.model} if args.model else {}),
        )
        model, ds = build_model(spec)
        source = f"fresh {spec.model}, init {args.init}"
    x, _ = ds.sample("test", min(args.samples, len(ds.test)), seed=args.seed)
    if spec.standardize:
        x = standardize_mnist(x)
    if not args.checkpoint:
        initialize(model, x, method=resolve_init(args.init), seed=args.seed)
    model.to(device)
    with torch.no_grad():
        d = diagnose(model, x.to(device))
    _write(args.out, spec, source, device, d, f"dataset {spec.dataset} ({x.shape[1]} test samples)")
    return 0


def _write(out_dir: str, spec: Any, source: str, device: Any, d: Any, what: str) -> None:
    """``diagnosis.png``, ``results.json`` and ``report.md`` of a diagnosis; print it."""
    out = Path(out_dir)
    d.plot(out / "diagnosis.png")
    write_results(
        out, "diagnose", {**spec_dict(spec), "source": source}, device, layers=d.to_dict()["layers"]
    )
    write_report(
        out,
        f"# spikeinit diagnose\n\n{source}, {what}\n\n```\n{d}\n```\n\n"
        "![diagnosis](diagnosis.png)\n",
    )
    print(d)


def _run_user(args: argparse.Namespace, device: Any) -> int:
    """``diagnose`` of a user's model: a trained run of it, or fresh with ``--init``."""
    ckpt = None
    if args.checkpoint:
        config, ckpt = _spec_from_checkpoint(Path(args.checkpoint))
        fields = {k: v for k, v in config.items() if k in spec_dict(preset("randman"))}
        fields["hidden"] = tuple(fields.get("hidden", (128,)))
        spec = preset(fields.pop("dataset"), **fields)
    else:
        given = {
            "model_kw": args.model_kw, "dataset_kw": args.data_kw, "output": args.output,
            "repeat_steps": args.repeat_steps, "readout": args.readout,
        }  # fmt: skip
        spec = preset(
            args.data or "", model=args.model or "", seed=args.seed,
            **{k: v for k, v in given.items() if v is not None},
        )  # fmt: skip
    spec = replace(spec, init_samples=args.samples)
    net, forward, batches, source = _user_model(args, spec, ckpt)
    net.to(device)
    with torch.no_grad():
        d = diagnose(net, [b.to(device) for b in batches], forward=forward)
    rows = sum(int(b.shape[0]) for b in batches)
    _write(args.out, spec, source, device, d,
           f"data {spec.dataset} ({rows} batch rows of the validation loader)")  # fmt: skip
    return 0
