"""Break-even input density of the event-driven input path against the dense GEMM.

For each layer shape ``[M, K] -> N`` and input density, times the forward
current plus the weight gradient (what a first layer needs; ``sparse=True``
vs ``sparse=False`` in :func:`spikeinit.sparse_input.linear`) and reports the
density at which the two cost the same (linear interpolation between the
measured densities). :data:`spikeinit.sparse_input.SPARSE_BREAK_EVEN` is set
below the smallest break-even measured here.
"""

from __future__ import annotations

from typing import Any

import torch

from spikeinit import sparse_input

from ._common import fmt_table, median_time, run_benchmark

SHAPES = ((44800, 700, 128), (44800, 128, 128), (8000, 512, 512))
DENSITIES = (0.01, 0.03, 0.05, 0.1, 0.15, 0.2, 0.3)


def _step(x: torch.Tensor, w: torch.Tensor, g: torch.Tensor, sparse: bool):  # type: ignore[no-untyped-def]
    def step() -> None:
        w.grad = None
        sparse_input.linear(x, w, sparse=sparse).backward(g)

    return step


def break_even(densities: list[float], dense: list[float], event: list[float]) -> float | None:
    """First density where the event-driven time crosses the dense time (interpolated)."""
    diff = [e - d for e, d in zip(event, dense, strict=True)]
    if diff[0] >= 0:
        return None  # never cheaper
    for i in range(1, len(diff)):
        if diff[i] >= 0:
            d0, d1 = densities[i - 1], densities[i]
            return d0 + (d1 - d0) * (-diff[i - 1]) / (diff[i] - diff[i - 1])
    return float("inf")  # cheaper at every measured density


def run(reps: int = 5, warmup: int = 1) -> dict[str, Any]:
    out: dict[str, Any] = {"densities": list(DENSITIES), "shapes": []}
    for m, k, n in SHAPES:
        gen = torch.Generator().manual_seed(0)
        w = torch.randn(n, k, generator=gen).requires_grad_()
        g = torch.randn(m, n, generator=gen)
        dense, event = [], []
        for density in DENSITIES:
            x = (torch.rand(m, k, generator=gen) < density).float()
            dense.append(median_time(_step(x, w, g, False), reps, warmup)["median_s"])
            event.append(median_time(_step(x, w, g, True), reps, warmup)["median_s"])
        out["shapes"].append(
            {"M": m, "K": k, "N": n, "dense_s": dense, "event_s": event,
             "break_even": break_even(list(DENSITIES), dense, event)}
        )  # fmt: skip
    return out


def report(res: dict[str, Any]) -> str:
    rows = []
    for s in res["shapes"]:
        for d, td, te in zip(res["densities"], s["dense_s"], s["event_s"], strict=True):
            rows.append([f"{s['M']}x{s['K']}->{s['N']}", d, td * 1e3, te * 1e3, td / te])
    lines = [f"{s['M']}x{s['K']}->{s['N']}: break-even density {s['break_even']}"
             for s in res["shapes"]]  # fmt: skip
    return (
        "forward current + weight gradient, dense GEMM vs event-driven input path\n"
        + fmt_table(rows, ["shape", "density", "dense ms", "event ms", "speed-up"])
        + "\n"
        + "\n".join(lines)
        + f"\nSPARSE_BREAK_EVEN = {sparse_input.SPARSE_BREAK_EVEN}"
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    res: dict[str, Any] = run_benchmark(
        "sparse_input", __doc__ or "", run, report, argv, reps=5, warmup=1
    )
    return res


if __name__ == "__main__":
    main()
