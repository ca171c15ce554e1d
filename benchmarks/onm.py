"""Open Neuromorphic workload: one Linear(N, N) + LIF layer, batch 16, T=500.

Forward + backward time (median) and peak memory, for N in {512, 2048, 4096},
spikeinit vs snnTorch ``Leaky`` vs Norse ``LIFCell``.

Before timing, every library's spikes are compared with ours on shared weights
(N=512): snnTorch's ``Leaky`` (zero reset, beta 0.95) against
``LIFParams.from_snntorch`` must be identical; Norse's ``LIFCell`` against
``LIFParams.from_norse`` (same maths, rounded differently) must agree on at
least 99.9 % of the spike entries. Timings pair each library with spikeinit
running the same maths.

Each (library, N) case runs in its own process, once for the time and once for
the memory. Peak memory there is the
growth of the peak resident set size (Linux ``VmHWM``, reset just before the
step, so that the import-time peak cannot hide it) during one forward +
backward, over the baseline after the model, the input, the output gradient
and a short warm-up (which also compiles the kernels) exist; glibc's mmap
threshold is pinned so that every large tensor is mapped and unmapped and RSS
follows tensor allocations. The input is uniform noise (not requiring
grad); the output gradient is a fixed random tensor. The linear map is applied
to the whole sequence at once for every library, and the baselines get their
steps through ``unbind(0)``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import torch

import spikeinit as si

from ._common import (
    fmt_table,
    measure_in_subprocess,
    median_time,
    parser,
    peak_rss_mb,
    reset_peak_rss,
    setup_threads,
    write_json,
)

T, B, SIZES = 500, 16, (512, 2048, 4096)
LIBS = ("spikeinit", "snntorch", "spikeinit_norse_maths", "norse")
SAME_MATHS = {"snntorch": "spikeinit", "norse": "spikeinit_norse_maths"}


class _Seq(torch.nn.Module):
    """Linear over the whole sequence, then a per-step neuron from another library."""

    def __init__(self, n: int, lib: str) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(n, n, bias=False)
        self.lib = lib
        if lib == "snntorch":
            import snntorch

            self.cell: torch.nn.Module = snntorch.Leaky(beta=0.95, reset_mechanism="zero")
        else:
            import norse.torch as norse

            self.cell = norse.LIFCell()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cur = self.fc(x)
        out, state = [], None
        if self.lib == "snntorch":
            state = self.cell.reset_mem()
        for c in cur.unbind(0):
            s, state = self.cell(c, state)
            out.append(s)
        return torch.stack(out)


def build(lib: str, n: int) -> torch.nn.Module:
    if lib == "spikeinit":
        params = si.LIFParams.from_snntorch(0.95, reset_mechanism="zero")
        return si.nn.SpikingLinear(n, n, params, surrogate="atan")
    if lib == "spikeinit_norse_maths":
        return si.nn.SpikingLinear(n, n, si.LIFParams.from_norse(), surrogate="superspike")
    return _Seq(n, lib)


def _weight(model: torch.nn.Module) -> torch.Tensor:
    return model.weight if isinstance(model, si.nn.SpikingLinear) else model.fc.weight  # type: ignore[return-value]


def check_same_spikes(n: int = 512) -> dict[str, Any]:
    """Spikes of each library against spikeinit with the same maths and weights."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(T, B, n, generator=g)
    w = torch.randn(n, n, generator=g) * (0.2 / n**0.5)
    out: dict[str, Any] = {}
    for lib, ours in SAME_MATHS.items():
        spikes = []
        for name in (ours, lib):
            model = build(name, n)
            with torch.no_grad():
                _weight(model).copy_(w * (30.0 if lib == "norse" else 1.0))
                spikes.append(model(x))
        agree = (spikes[0] == spikes[1]).float().mean().item()
        rate = spikes[1].mean().item()
        assert rate > 0.005, f"{lib}: too few spikes ({rate:.4f}) for the check to mean anything"
        if lib == "snntorch":
            assert torch.equal(spikes[0], spikes[1]), "spikeinit and snnTorch spikes differ"
        assert agree >= 0.999, f"spikeinit and {lib} spikes agree on only {agree:.4%}"
        out[lib] = {"agreement": agree, "rate": rate}
    return out


def one_case(lib: str, n: int, reps: int, warmup: int, what: str = "time") -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    model = build(lib, n)
    x = torch.rand(T, B, n, generator=g)
    grad = torch.randn(T, B, n, generator=g)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(x).backward(grad)

    model(x[:5]).backward(grad[:5])  # compile / initialise outside the measurement
    model.zero_grad(set_to_none=True)
    if what == "memory":
        base = reset_peak_rss()  # the import-time peak must not hide the workload's
        step()
        return {"lib": lib, "N": n, "peak_mem_mb": peak_rss_mb() - base}
    return {"lib": lib, "N": n, **median_time(step, reps, warmup)}


def run(reps: int = 5, warmup: int = 1, sizes: tuple[int, ...] = SIZES) -> dict[str, Any]:
    check = check_same_spikes()
    cases = []
    for n in sizes:
        for lib in LIBS:
            args = ["--case", lib, str(n), "--reps", str(reps), "--warmup", str(warmup)]
            case = measure_in_subprocess("benchmarks.onm", args)
            mem = measure_in_subprocess("benchmarks.onm", [*args, "--what", "memory"], True)
            cases.append({**case, "peak_mem_mb": mem["peak_mem_mb"]})
            print(f"  {lib} N={n}: {case['median_s'] * 1e3:.0f} ms", file=sys.stderr)
    return {"workload": {"T": T, "B": B, "sizes": list(sizes)}, "check": check, "cases": cases}


def report(res: dict[str, Any]) -> str:
    by = {(c["lib"], c["N"]): c for c in res["cases"]}
    rows = []
    for n in res["workload"]["sizes"]:
        for lib in LIBS:
            c = by[(lib, n)]
            ours = by[(SAME_MATHS.get(lib, lib), n)]
            rows.append([n, lib, c["median_s"] * 1e3, c["median_s"] / ours["median_s"],
                         c["peak_mem_mb"]])  # fmt: skip
    return (
        "Linear(N,N)+LIF, B=16, T=500, forward+backward\n"
        + fmt_table(rows, ["N", "library", "median ms", "x spikeinit (same maths)", "peak MiB"])
        + f"\nspike checks: {res['check']}"
    )


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--case":
        p = parser("one case")
        p.add_argument("--case", nargs=2)
        p.add_argument("--what", choices=("time", "memory"), default="time")
        a = p.parse_args(argv)
        setup_threads(a.threads)
        print(json.dumps(one_case(a.case[0], int(a.case[1]), a.reps, a.warmup, a.what)))
        return None
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    a = p.parse_args(argv)
    setup_threads(a.threads)
    res = run(a.reps, a.warmup, tuple(a.sizes))
    print(report(res))
    write_json(a.out, "onm", res)
    return res


if __name__ == "__main__":
    main()
