"""Peak memory of one recurrent_conv_shd training step at SHD's size.

Runs a warm-up step (JIT compilation), resets the process's RSS high-water mark
(``/proc/self/clear_refs``, Linux), runs one step (forward, backward, SMORMS3) and
prints the peak RSS during it and its growth over the RSS before it, in MiB, and
the bytes the kernels' buffer pool holds after it (:mod:`spikeinit._kernels.alloc`:
blocks kept mapped between steps, part of the RSS before the step).

    python -m benchmarks.shd_step_memory [--batch-size 200]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import spikeinit as si
from spikeinit.optim import SMORMS3

from ._common import status_mib

try:  # absent before the buffer pool: the script also measures older commits' src
    from spikeinit._kernels import alloc
except ImportError:
    alloc = None  # type: ignore[assignment]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-size", type=int, default=200)
    ap.add_argument("--steps", type=int, default=350)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = si.models.build("recurrent_conv_shd", (700,), 20)
    x = (torch.rand(args.steps, args.batch_size, 700) < 15.8 * 2e-3).float()
    y = torch.randint(0, 20, (args.batch_size,))
    si.initialize(model, x[:, :32], seed=0, readout="normal")
    opt = SMORMS3(model.parameters(), lr=5e-3)

    def step() -> None:
        out = model(x)
        loss = torch.nn.functional.cross_entropy(out.max(0).values, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status_mib("VmRSS")
    t0 = time.perf_counter()
    step()
    seconds = time.perf_counter() - t0
    peak = status_mib("VmHWM")
    print(
        json.dumps(
            {
                "batch_size": args.batch_size,
                "rss_before_mib": round(before, 1),
                "peak_rss_step_mib": round(peak, 1),
                "growth_mib": round(peak - before, 1),
                "step_s": round(seconds, 2),
                "pool_mib": None if alloc is None else round(alloc.pooled_bytes() / 2**20, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
