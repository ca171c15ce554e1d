"""Peak memory of one spikeinit Randman training epoch (stork's set-up).

Builds :class:`benchmarks.epoch.SpikeinitEpoch` (the ``randman`` preset through
:class:`spikeinit.train.Trainer`), runs a warm-up epoch, resets the process's RSS
high-water mark (``/proc/self/clear_refs``, Linux), runs one epoch and prints the
RSS before it, the peak during it and the growth, in MiB (1 thread by default).

    python -m benchmarks.epoch_memory [--threads 1]
"""

from __future__ import annotations

import argparse
import json

import torch

from ._common import status_mib
from .epoch import SpikeinitEpoch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    epoch = SpikeinitEpoch()
    epoch()  # warm-up: JIT compilation, allocator pools
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before = status_mib("VmRSS")
    epoch()
    peak = status_mib("VmHWM")
    print(
        json.dumps(
            {
                "threads": args.threads,
                "rss_before_mib": round(before, 1),
                "peak_rss_epoch_mib": round(peak, 1),
                "growth_mib": round(peak - before, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
