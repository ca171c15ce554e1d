"""``spikeinit demo``: the main job, on embedded (generated) data, in a few minutes.

1. **Diagnosis.** A 3-hidden-layer network on Randman input under PyTorch's
   default init, then after ``si.initialize(..., method="fluctuation")``:
   which layers are silent, and what sigma_U each layer has.
2. **Propagation.** Micheli et al.'s deep-propagation simulation (width 1000,
   depth 50, 10 steps): the firing rate against depth for default, kaiming,
   micheli and the data-dependent fluctuation init.
3. **Training.** A short Randman comparison of fluctuation against default
   against kaiming (one hidden layer of 128, SMORMS3, max-over-time loss).

Writes ``results.json``, ``report.md`` and PNG figures to ``--out``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from .. import diagnose, initialize
from ..cli_run import resolve_device
from ..data import load
from ..nn import Readout, SpikingLinear
from ..params import LIFParams
from .common import new_figure, progress, save_figure, write_report, write_results
from .compare import compare, plot_curves
from .presets import preset
from .propagation import simulate


def _diagnosis(seed: int, out: Path) -> dict[str, Any]:
    ds = load("randman", samples_per_class=100, seed=seed + 1)
    x, _ = ds.sample("train", 128, seed=seed)
    p = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=ds.dt)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        SpikingLinear(ds.n_inputs, 128, params=p),
        SpikingLinear(128, 128, params=p),
        SpikingLinear(128, 128, params=p),
        Readout(128, ds.n_classes, params=p),
    )
    before = diagnose(model, x)
    report = initialize(model, x, method="fluctuation", seed=seed)
    after = diagnose(model, x)
    after.plot(out / "diagnosis_fluctuation.png")
    before.plot(out / "diagnosis_default.png")
    return {"before": before, "after": after, "init": report}


def _propagation(seed: int, out: Path, device: torch.device) -> dict[str, Any]:
    inits = ["default", "kaiming", "micheli", "fluctuation"]
    runs = {
        i: simulate(i, 1000, 50, steps=10, batch=32, seed=seed, device=device)
        for i in progress(inits, desc="propagation")
    }
    fig, axes = new_figure(1, 2, size=(5.5, 3.8))
    for init, res in runs.items():
        depth = [ly["depth"] for ly in res["layers"]]
        axes[0][0].plot(depth, [ly["rate"][0] for ly in res["layers"]], label=init)
        axes[0][1].plot(
            depth, [sum(ly["rate"]) / len(ly["rate"]) for ly in res["layers"]], label=init
        )
    axes[0][0].set(xlabel="layer", ylabel="spikes / neuron / step", title="rate at t = 0")
    axes[0][1].set(xlabel="layer", title="rate averaged over 10 steps")
    axes[0][0].legend()
    save_figure(fig, out, "propagation.png")
    return runs


def _training(seed: int, epochs: int, spc: int, out: Path, device: str) -> list[dict[str, Any]]:
    specs = [
        preset("randman", init=i, seed=seed, epochs=epochs, dataset_kw={"samples_per_class": spc})
        for i in ("fluctuation", "default", "kaiming")
    ]
    runs = compare(specs, out / "randman", device)
    plot_curves(runs, out)
    return runs


def run(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    diag = _diagnosis(args.seed, out)
    print("Before initialisation (PyTorch default):\n" + str(diag["before"]))
    print("\nAfter si.initialize(model, x, method='fluctuation'):\n" + str(diag["after"]))
    prop = _propagation(args.seed, out, device)
    runs = _training(args.seed, args.epochs, args.samples_per_class, out, str(device))
    seconds = time.perf_counter() - t0

    acc = {r["init"]: r["metrics"]["test_accuracy"] for r in runs}
    prop_rows = "\n".join(
        f"| {i} | {r['layers'][9]['rate'][0]:.4f} | {r['layers'][-1]['rate'][0]:.4f} |"
        for i, r in prop.items()
    )
    train_rows = "\n".join(f"| {i} | {a:.3f} |" for i, a in acc.items())
    write_results(
        out,
        "demo",
        {"seed": args.seed, "epochs": args.epochs, "samples_per_class": args.samples_per_class},
        device,
        metrics={"test_accuracy": acc, "seconds": seconds},
        diagnosis={"before": diag["before"].to_dict(), "after": diag["after"].to_dict()},
        layers=[
            {"init": i, **{k: v for k, v in r.items() if k in ("layers", "summary")}}
            for i, r in prop.items()
        ],
        runs=runs,
    )
    write_report(
        out,
        f"""# spikeinit demo

Command: `spikeinit demo --epochs {args.epochs} --samples-per-class \
{args.samples_per_class} --seed {args.seed}` ({seconds:.0f} s).

## 1. What PyTorch's default init does to a spiking network

Randman input, 3 hidden layers of 128 LIF neurons (tau 20/10 ms, dt 2 ms).

Before (default init):

```
{diag["before"]}
```

After `si.initialize(model, x, method="fluctuation")` (target sigma_U = 1 theta):

```
{diag["after"]}
```

![default](diagnosis_default.png)
![fluctuation](diagnosis_fluctuation.png)

## 2. Activity propagation (Micheli et al. 2024), width 1000, beta 0.5, theta 1

| init | rate at t = 0, layer 10 | layer 50 |
|---|---|---|
{prop_rows}

Micheli's fixed point is 1 - Phi(1) = 0.1587.

![propagation](propagation.png)

## 3. Training on Randman
({args.epochs} epochs, {args.samples_per_class} samples per class, seed {args.seed})

| init | test accuracy |
|---|---|
{train_rows}

![learning curves](learning_curves.png)
""",
    )
    print(
        f"\nRandman test accuracy after {args.epochs} epochs: "
        + ", ".join(f"{i} {a:.3f}" for i, a in acc.items())
    )
    print(f"report: {out / 'report.md'} ({seconds:.0f} s)")
    return 0
