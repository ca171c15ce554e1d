"""Does spikeinit's initialisation train the networks people write better? (issue 24)

    python -m benchmarks.training_benefit --nets all --seeds 3 --epochs 3 --out runs/benefit

Each tutorial network of :mod:`benchmarks.tutorial_nets` is trained as its source
trains it (optimiser, learning rate, loss, decoding; the table below), through
``spikeinit compare --model FILE.py:NET --data FILE.py:mnist`` (the path a user's
own model takes), with

* ``default``: the framework's own initial draw (the factory's weights);
* ``fluctuation``: ``si.initialize(model, x)`` with its defaults (decode-aware
  output layers, ``readout="auto"``);
* ``fluctuation-hidden-readout`` (``--old``): the output layers set like hidden
  layers (``readout="fluctuation"``, spikeinit's default before issue 24).

Writes ``results.json`` and ``report.md`` in ``--out``: per network and init, the
validation accuracy after epoch 1, the final test accuracy, the epochs to 90 % of
the best validation accuracy any run of that network reached, the initial firing
rate of each spiking layer (Hz, as ``si.diagnose`` gives it; every network here steps
at dt = 1 ms, so 1 Hz is one spike per 1000 steps) and the initialisation time.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from spikeinit.cli import main as cli_main

FILE = str(Path(__file__).resolve().parent / "tutorial_nets.py")

#: name -> (model factory, how its source trains it)
NETS: dict[str, dict[str, Any]] = {
    # snnTorch tutorial 5: Adam(lr=5e-4, betas=(0.9, 0.999)), CE of the membrane at every
    # step (summed), batch 128, the image flattened
    "snntorch_tutorial5": {
        "args": ["--optimizer", "adam", "--lr", "5e-4", "--loss", "step_ce",
                 "--output", "membrane", "--batch-size", "128"],
        "data_kw": "flatten=true,batch_size=128",
    },
    # snnTorch tutorial 6: Adam(lr=1e-2, betas=(0.9, 0.999)), SF.ce_rate_loss(), 50 steps of
    # forward_pass(net, num_steps, data), batch 128
    "snntorch_tutorial6": {
        "args": ["--optimizer", "adam", "--lr", "1e-2", "--loss", "rate_ce",
                 "--repeat-steps", "50"],
        "data_kw": "batch_size=128",
    },
    # SpikingJelly conv_fashion_mnist.py CSNN(T=4, channels=128): MSE of the firing rate
    # against the one-hot label; Adam lr 1e-3 (the example's -opt adam), batch 128
    "sj_csnn": {
        "args": ["--optimizer", "adam", "--lr", "1e-3", "--loss", "rate_mse"],
        "data_kw": "batch_size=128",
    },
    # Norse mnist_classifiers.ipynb: Adam lr 2e-3, max-over-time log-softmax + NLL
    # (CE of the returned log-probabilities), batch 256, Normalize((0.1307,), (0.3081,))
    "norse_recurrent": {
        "args": ["--optimizer", "adam", "--lr", "2e-3", "--loss", "mean"],
        "data_kw": "batch_size=256,standardize=true",
    },
    # SpikingJelly lif_fc_mnist.py: Flatten-Linear(784, 10)-LIFNode(tau 2), single-step, fed
    # PoissonEncoder spikes for T = 100 steps; Adam 1e-3, MSE of the firing rate, batch 64
    "sj_lif_fc_mnist": {
        "args": ["--optimizer", "adam", "--lr", "1e-3", "--loss", "rate_mse"],
        "data_kw": "batch_size=64",
        "data": "poisson_mnist",
    },
    # SpikingJelly model-zoo layout, 8 spiking layers: as the CSNN example
    "sj_vgg8": {
        "args": ["--optimizer", "adam", "--lr", "1e-3", "--loss", "rate_mse"],
        "data_kw": "batch_size=128",
    },
}


def _compare(net: str, inits: str, out: Path, seeds: int, epochs: int, train: int,
             extra: list[str]) -> dict[str, Any]:
    cfg = NETS[net]
    argv = [
        "compare", "--model", f"{FILE}:{net}", "--data", f"{FILE}:{cfg.get('data', 'mnist')}",
        "--data-kw", f"{cfg['data_kw']},train_samples={train}", "--inits", inits,
        "--seeds", str(seeds), "--epochs", str(epochs), "--engine", "inprocess",
        "--out", str(out), *cfg["args"], *extra,
    ]  # fmt: skip
    code = cli_main(argv)
    if code != 0:
        raise SystemExit(f"compare failed for {net}: exit {code}")
    return json.loads((out / "results.json").read_text())


def _rows(net: str, label: str, results: dict[str, Any], init: str) -> list[dict[str, Any]]:
    rows = []
    for rec in results["trials"]:
        if rec["params"]["init"] != init or rec.get("status") != "ok":
            continue
        hist = rec["history"]
        rows.append({
            "net": net, "init": label, "seed": rec["params"]["seed"],
            "val_acc_epoch1": hist[0]["val_acc"] if hist else None,
            "val_acc": [h["val_acc"] for h in hist],
            "test_accuracy": rec["metrics"]["test_accuracy"],
            "initial_rates": [la["rate"] for la in rec.get("initial_diagnosis") or []],
            "init_seconds": (rec.get("init") or {}).get("seconds"),
            "wall_s": rec.get("wall_s"),
        })  # fmt: skip
    return rows


def _epochs_to(values: list[float], level: float) -> float:
    for i, v in enumerate(values, 1):
        if v is not None and v >= level:
            return float(i)
    return math.nan


def table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for net in dict.fromkeys(r["net"] for r in rows):
        mine = [r for r in rows if r["net"] == net]
        best = max(v for r in mine for v in r["val_acc"])
        for init in dict.fromkeys(r["init"] for r in mine):
            rs = [r for r in mine if r["init"] == init]
            e1 = np.array([r["val_acc_epoch1"] for r in rs], float)
            acc = np.array([r["test_accuracy"] for r in rs], float)
            reach = np.array([_epochs_to(r["val_acc"], 0.9 * best) for r in rs])
            rates = np.array([r["initial_rates"] for r in rs], float).mean(0).round(3).tolist()
            out.append({
                "net": net, "init": init, "n": len(rs),
                "val_acc_epoch1": (float(e1.mean()), float(e1.std())),
                "test_accuracy": (float(acc.mean()), float(acc.std())),
                "epochs_to_90pct": float(np.nanmean(reach)) if np.isfinite(reach).any() else None,
                "initial_rates": rates,
                "init_seconds": float(np.mean([r["init_seconds"] or 0 for r in rs])),
            })  # fmt: skip
    return out


def report(rows: list[dict[str, Any]], config: dict[str, Any]) -> str:
    lines = [
        "# Training benefit on tutorial networks",
        "",
        f"`python -m benchmarks.training_benefit {config['argv']}`",
        "",
        "| network | init | val acc after epoch 1 | test acc (final) | epochs to 90 % of best "
        "| initial rate per layer (Hz; dt = 1 ms, so spikes per 1000 steps) | init s |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in table(rows):
        e1, acc = t["val_acc_epoch1"], t["test_accuracy"]
        reach = "never" if t["epochs_to_90pct"] is None else f"{t['epochs_to_90pct']:.1f}"
        lines.append(
            f"| {t['net']} | {t['init']} | {100 * e1[0]:.1f} ± {100 * e1[1]:.1f} | "
            f"{100 * acc[0]:.1f} ± {100 * acc[1]:.1f} | {reach} | "
            f"{', '.join(f'{r:.3f}' for r in t['initial_rates'])} | {t['init_seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nets", default="all", help=f"comma-separated of {', '.join(NETS)}")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-samples", type=int, default=4000)
    ap.add_argument("--old", action="store_true", help="also the pre-issue-24 output rule")
    ap.add_argument("--out", default="runs/training_benefit")
    args = ap.parse_args(argv)
    nets = list(NETS) if args.nets == "all" else args.nets.split(",")
    out = Path(args.out)
    rows: list[dict[str, Any]] = []
    t0 = time.time()
    for net in nets:
        res = _compare(net, "default,fluctuation", out / net, args.seeds, args.epochs,
                       args.train_samples, [])  # fmt: skip
        rows += _rows(net, "default", res, "default")
        rows += _rows(net, "fluctuation", res, "fluctuation")
        if args.old:
            res = _compare(net, "fluctuation", out / f"{net}-hidden-readout", args.seeds,
                           args.epochs, args.train_samples, ["--readout", "fluctuation"])
            rows += _rows(net, "fluctuation-hidden-readout", res, "fluctuation")
        config = {"argv": " ".join(argv if argv is not None else __import__("sys").argv[1:])}
        (out / "results.json").write_text(
            json.dumps({"config": config, "rows": rows, "table": table(rows),
                        "seconds": time.time() - t0}, indent=1)  # fmt: skip
        )
        (out / "report.md").write_text(report(rows, config))
    print((out / "report.md").read_text())


if __name__ == "__main__":
    main()
