"""Shared helpers: timing by medians, peak memory in a subprocess, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def median_time(fn: Callable[[], Any], reps: int, warmup: int = 2) -> dict[str, float]:
    """Median (and min / max) wall time in seconds of ``fn()`` over ``reps`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


def environment() -> dict[str, Any]:
    import numpy

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
    }
    for mod in ("numba", "snntorch", "norse"):
        try:
            env[mod] = __import__(mod).__version__
        except Exception:
            env[mod] = None
    from spikeinit import neuron

    env["spikeinit_kernel"] = neuron.get_kernel_backend()
    return env


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--reps", type=int, default=7, help="timed repetitions (median reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed warm-up runs")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    return p


def run_benchmark(
    name: str,
    doc: str,
    run: Callable[[int, int], Any],
    report: Callable[[Any], str],
    argv: list[str] | None,
    reps: int = 7,
    warmup: int = 2,
) -> Any:
    """The shared ``main``: parse ``--reps/--warmup/--threads/--out``, run, print, save."""
    p = parser(doc.splitlines()[0])
    p.set_defaults(reps=reps, warmup=warmup)
    args = p.parse_args(argv)
    setup_threads(args.threads)
    res = run(args.reps, args.warmup)
    print(report(res))
    write_json(args.out, name, res)
    return res


def setup_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)


def write_json(path: Path | None, name: str, results: Any) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "environment": environment(), "results": results}
    path.write_text(json.dumps(payload, indent=2))
    print(f"wrote {path}")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    Linux: ``VmHWM`` from ``/proc/self/status``, which :func:`reset_peak_rss` can
    reset (``ru_maxrss`` cannot, so an import-time peak would hide the workload).
    Elsewhere: ``ru_maxrss``.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak_rss() -> float:
    """Reset the peak-RSS mark to the current RSS (Linux ``clear_refs`` 5); return it in MiB."""
    clear = Path("/proc/self/clear_refs")
    if clear.exists():
        clear.write_text("5")
    return peak_rss_mb()


def measure_in_subprocess(module: str, args: list[str], pin_malloc: bool = False) -> dict[str, Any]:
    """Run ``python -m module args`` and parse the JSON it prints on its last line.

    Each case runs in a fresh process. For peak memory (``pin_malloc=True``)
    glibc's mmap threshold is pinned so that large tensors are mapped and
    unmapped and RSS follows tensor allocations; timings run with the default
    allocator (the pinned one adds page faults to every large allocation).
    """
    env = dict(os.environ)
    if pin_malloc:
        env.update(MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-m", module, *args],
        check=True, capture_output=True, text=True, env=env, cwd=root,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt_table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(c: Any) -> str:
    if isinstance(c, float):
        return f"{c:.3g}" if abs(c) < 100 else f"{c:.0f}"
    return str(c)


def status_mib(key: str) -> float:
    """A memory line of ``/proc/self/status`` (``VmRSS``, ``VmHWM``, ...) in MiB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/self/status")
