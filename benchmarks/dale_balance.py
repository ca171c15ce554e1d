"""Dale's-law balance: both populations' free membrane after ``si.initialize``, and its cost.

For stork's ``dale_shd`` layer (128 E + 32 I, tau_exc 10 ms, tau_inh 20 ms,
dt 2 ms) with and without recurrent excitation, on Poisson input at 15.8 Hz
(SHD's mean rate) with 700 or 300 inputs, an init batch of 4 (``--batch``): the E and I populations'
free-membrane mean and RMS temporal std (units of theta, target 0 and 1) on
the init batch itself (what the balance solved on) and on 4 fresh batches of
8 drawn the same way (held out: the sampling noise of a batch of 4), the
simulations used and the seconds ``si.initialize`` took for the layer.
docs/science.md, section "Dale's law".

``python -m benchmarks.dale_balance [--seeds N] [--threads N] [--out FILE]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

import spikeinit as si

from ._common import setup_threads, write_json

RATE, DT = 15.8, 2e-3
CONFIGS = [(700, 200), (700, 350), (300, 150), (300, 250)]


def _stats(layer: si.nn.DaleLinear, x: torch.Tensor) -> list[float]:
    with torch.no_grad():
        pops = layer.simulate_populations(x, free=True)
    out: list[float] = []
    for pop in ("exc", "inh"):
        u = pops[pop][1].double()
        out += [float(u.mean()), float(u.var(0, unbiased=False).mean().sqrt())]
    return out


def run_one(n_in: int, steps: int, seed: int, recurrent: bool, batch: int = 4) -> dict[str, Any]:
    torch.manual_seed(seed)
    model = si.models.build("dale_shd", (n_in,), 4, recurrent=recurrent)
    x = (torch.rand(steps, batch, n_in) < RATE * DT).float()
    t0 = time.perf_counter()
    rep = si.initialize(model, x, seed=seed, readout="normal")
    seconds = time.perf_counter() - t0
    layer = next(m for m in model.modules() if isinstance(m, si.nn.DaleLinear))
    g = torch.Generator().manual_seed(1000 + seed)
    held = [
        _stats(layer, (torch.rand(steps, 8, n_in, generator=g) < RATE * DT).float())
        for _ in range(4)
    ]
    notes = " ".join(rep.layers[0].notes)
    sims = None
    if "simulations" in notes:
        sims = int(notes.split(" simulations")[0].rsplit(" ", 1)[1])
    return {
        "n_in": n_in, "steps": steps, "seed": seed, "recurrent": recurrent, "batch": batch,
        "init_batch": _stats(layer, x),
        "held_out": [sum(h[k] for h in held) / len(held) for k in range(4)],
        "sims": sims, "seconds": seconds,
    }  # fmt: skip


def _row(r: dict[str, Any]) -> str:
    a, h = r["init_batch"], r["held_out"]
    sims = "" if r["sims"] is None else str(r["sims"])
    return (
        f"| {r['n_in']} | {r['steps']} | {r['seed']} | {a[0]:+.3f} / {a[1]:.3f} | "
        f"{a[2]:+.3f} / {a[3]:.3f} | {h[0]:+.3f} / {h[1]:.3f} | {h[2]:+.3f} / {h[3]:.3f} | "
        f"{sims} | {r['seconds']:.1f} |"
    )


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--batch", type=int, default=4, help="init batch size")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--feedforward", action="store_true", help="also without recurrent excitation")
    a = p.parse_args(argv)
    setup_threads(a.threads)
    results = []
    for recurrent in (True, False) if a.feedforward else (True,):
        print(f"\nrecurrent={recurrent}: mean / std of the free membrane (theta), E and I")
        print("| inputs | T | seed | E (init batch) | I (init batch) | E (held out) "
              "| I (held out) | sims | s |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        for n_in, steps in CONFIGS:
            for seed in range(a.seeds):
                r = run_one(n_in, steps, seed, recurrent, a.batch)
                results.append(r)
                print(_row(r), flush=True)
    for recurrent in (True, False):
        rs = [r for r in results if r["recurrent"] == recurrent]
        if not rs:
            continue
        for key in ("init_batch", "held_out"):
            mu = max(max(abs(r[key][0]), abs(r[key][2])) for r in rs)
            sd = max(max(abs(r[key][1] - 1), abs(r[key][3] - 1)) for r in rs)
            print(f"recurrent={recurrent}, {key}: worst |mean| {mu:.3f}, worst |std - 1| {sd:.3f}")
        secs = sorted(r["seconds"] for r in rs)
        print(f"recurrent={recurrent}: seconds per layer, median {secs[len(secs) // 2]:.1f}, "
              f"max {secs[-1]:.1f}")  # fmt: skip
    write_json(a.out, "dale_balance", results)
    return results


if __name__ == "__main__":
    main()
