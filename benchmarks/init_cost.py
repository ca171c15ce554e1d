"""Workload 3: the cost of ``si.initialize()`` on a 100-layer network vs one training step.

Network: 100 ``SpikingLinear`` layers of width 128 and a ``Readout`` (10
classes), T = 100, B = 64, 5 % Bernoulli input spikes. The training step is
forward + cross-entropy on the max-over-time readout + backward + Adam. The
initialisers are timed on the same batch: the data-dependent fluctuation rule
(measured PSP-filtered statistics, layer by layer, default), the same with
``calibrate=True``, and the data-free ``micheli`` rule. Each time is the median
of ``--reps`` runs on a freshly built network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional as F

import spikeinit as si

from ._common import fmt_table, median_time, run_benchmark

DEPTH, WIDTH, T, B, N_CLASSES, DENSITY = 100, 128, 100, 64, 10, 0.05


def build() -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = [si.nn.SpikingLinear(WIDTH, WIDTH) for _ in range(DEPTH)]
    return torch.nn.Sequential(*layers, si.nn.Readout(WIDTH, N_CLASSES))


def make_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(T, B, WIDTH, generator=g) < DENSITY).float()
    return x, torch.randint(0, N_CLASSES, (B,), generator=g)


def _init_fn(x: torch.Tensor | None, **kwargs: Any) -> Callable[[], None]:
    def run() -> None:
        torch.manual_seed(0)
        si.initialize(build(), x, seed=0, **kwargs)

    return run


def run(reps: int = 5, warmup: int = 1) -> dict[str, Any]:
    x, y = make_data()
    model = build()
    si.initialize(model, x, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x).max(0).values, y).backward()
        opt.step()

    def build_only() -> None:
        torch.manual_seed(0)
        build()

    res: dict[str, Any] = {
        "workload": {"depth": DEPTH, "width": WIDTH, "T": T, "B": B, "density": DENSITY},
        "train_step": median_time(train_step, reps, warmup),
        "build": median_time(build_only, reps, warmup),
        "fluctuation": median_time(_init_fn(x), reps, warmup),
        "fluctuation_calibrated": median_time(_init_fn(x, calibrate=True), reps, warmup),
        "micheli": median_time(_init_fn(None, method="micheli"), reps, warmup),
    }
    step = res["train_step"]["median_s"]
    res["ratios"] = {
        k: (res[k]["median_s"] - res["build"]["median_s"]) / step
        for k in ("fluctuation", "fluctuation_calibrated", "micheli")
    }
    return res


def report(res: dict[str, Any]) -> str:
    rows = [["one training step", res["train_step"]["median_s"] * 1e3, 1.0]]
    for key, name in (
        ("fluctuation", "si.initialize (fluctuation, measured stats)"),
        ("fluctuation_calibrated", "si.initialize (fluctuation, calibrate=True)"),
        ("micheli", "si.initialize (micheli, data-free)"),
    ):
        ms = (res[key]["median_s"] - res["build"]["median_s"]) * 1e3
        rows.append([name, ms, res["ratios"][key]])
    return (
        f"si.initialize on {DEPTH} x SpikingLinear({WIDTH}) + Readout, T={T}, B={B} "
        "(network construction subtracted)\n"
        + fmt_table(rows, ["", "median ms", "x training step"])
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    res: dict[str, Any] = run_benchmark(
        "init_cost", __doc__ or "", run, report, argv, reps=5, warmup=1
    )
    return res


if __name__ == "__main__":
    main()
