"""``spikeinit demo``: the main job, on embedded (generated) data."""

from __future__ import annotations

from pathlib import Path

import torch

from ..nn import SpikingLinear
from ..params import LIFParams


def run_demo(out: str | Path, seed: int = 0, device: torch.device | str = "cpu") -> dict:
    """Simulate a small deep network on Poisson input and print per-layer rates."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    p = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)
    steps, batch, n_in = 200, 16, 200
    x = (torch.rand(steps, batch, n_in, generator=gen) < 15.8 * p.dt).float().to(device)
    layers = [SpikingLinear(n_in, 128, params=p)] + [SpikingLinear(128, 128, params=p) for _ in range(3)]
    rates = []
    h = x
    with torch.no_grad():
        for layer in layers:
            layer.to(device)
            h = layer(h)
            rates.append(h.mean().item() / p.dt)
    Path(out).mkdir(parents=True, exist_ok=True)
    for i, r in enumerate(rates, 1):
        print(f"layer {i}: {r:7.2f} Hz (PyTorch default init)")
    return {"rates_hz": rates}


def add_parser(sub) -> None:  # type: ignore[no-untyped-def]
    from ..cli import add_common_arguments

    p = sub.add_parser("demo", help="the main job: a short tour on embedded data")
    add_common_arguments(p, "runs/demo")
    p.set_defaults(func=_run)


def _run(args) -> int:  # type: ignore[no-untyped-def]
    from ..cli import resolve_device

    run_demo(out=args.out, seed=args.seed, device=resolve_device(args.device))
    return 0
