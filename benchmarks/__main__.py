"""Run every benchmark: ``python -m benchmarks [--quick] [--out DIR] [--threads N]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import init_cost, lif, onm, shd, sparse_input


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 repetitions, 1 warm-up, N=512 only")
    p.add_argument("--out", type=Path, default=None, help="directory for the JSON results")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    common = ["--reps", "3", "--warmup", "1"] if a.quick else []
    if a.threads:
        common += ["--threads", str(a.threads)]
    for name, mod, extra in (
        ("lif", lif, []),
        ("shd", shd, []),
        ("onm", onm, ["--sizes", "512"] if a.quick else []),
        ("sparse_input", sparse_input, []),
        ("init_cost", init_cost, []),
    ):
        out = ["--out", str(a.out / f"{name}.json")] if a.out else []
        mod.main(common + extra + out)
        print()


if __name__ == "__main__":
    main()
