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
from pathlib import Path
from typing import Any

import torch

from .. import diagnose, initialize
from ..cli_run import resolve_device
from ..train import load_checkpoint, load_model_state
from .common import write_report, write_results
from .presets import (
    build_model,
    preset,
    resolve_init,
    spec_dict,
    standardize_mnist,
)


def _spec_from_checkpoint(path: Path) -> tuple[dict[str, Any], Path]:
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    run_dir, ckpt = (path, path / "best.pt") if path.is_dir() else (path.parent, path)
    if not ckpt.exists():
        ckpt = run_dir / "last.pt"
    if not ckpt.exists():
        raise FileNotFoundError(f"no checkpoint (best.pt or last.pt) in {run_dir}")
    results = run_dir / "results.json"
    if not results.exists():
        raise FileNotFoundError(
            f"{results} not found: diagnose needs the results.json that `spikeinit train` writes"
        )
    try:
        config = json.loads(results.read_text())["config"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise ValueError(f"{results} is not a spikeinit results.json ({exc})") from exc
    return config, ckpt


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
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
    out = Path(args.out)
    d.plot(out / "diagnosis.png")
    write_results(
        out, "diagnose", {**spec_dict(spec), "source": source}, device, layers=d.to_dict()["layers"]
    )
    write_report(
        out,
        f"# spikeinit diagnose\n\n{source}, dataset {spec.dataset} "
        f"({x.shape[1]} test samples)\n\n```\n{d}\n```\n\n![diagnosis](diagnosis.png)\n",
    )
    print(d)
    return 0
