"""Short training runs of zoo models on a reduced Randman (timing information only).

    python -m benchmarks.zoo_training --models recurrent,dale_shd \\
        --samples-per-class 100 --epochs 20 --out runs/zoo_training

Randman: 10 classes, 20 input units, 100 steps (stork's settings, fewer samples).
Each model is initialised with :func:`spikeinit.initialize` (fluctuation rule,
measured statistics; readout N(0, 1/fan_in)) and trained with
:func:`spikeinit.train.fit` (SMORMS3, lr 5e-3, max-over-time loss). Chance is 10 %.
Writes ``results.json`` in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

import spikeinit as si
from spikeinit.train import TrainConfig, fit


def run(
    model_name: str, samples_per_class: int, epochs: int, batch_size: int, seed: int
) -> dict[str, Any]:
    ds = si.data.load("randman", samples_per_class=samples_per_class)
    torch.manual_seed(seed)
    model = si.models.build(model_name, ds.input_shape, ds.n_classes, duration=ds.duration)
    x_init, _ = ds.sample("train", n=256, seed=seed)
    report = si.initialize(model, x_init, seed=seed, readout="normal")
    train = ds.sample("train", n=None)
    val = ds.sample("val", n=None)
    test = ds.sample("test", n=None)
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=5e-3, seed=seed, progress=False)
    t0 = time.time()
    result = fit(model, train, val, test, config=cfg)
    return {
        "model": model_name,
        "samples_per_class": samples_per_class,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "train_seconds": round(time.time() - t0, 1),
        "test_accuracy": result.test_accuracy,
        "best_val_accuracy": result.best_val_accuracy,
        "init_sigma_u": [e.measured_sigma_u for e in report.layers],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="recurrent,dale_shd")
    ap.add_argument("--samples-per-class", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    runs = []
    for name in args.models.split(","):
        r = run(name, args.samples_per_class, args.epochs, args.batch_size, args.seed)
        print(json.dumps(r), flush=True)
        runs.append(r)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(
            json.dumps({"command": "zoo_training", "runs": runs}, indent=2)
        )


if __name__ == "__main__":
    main()
