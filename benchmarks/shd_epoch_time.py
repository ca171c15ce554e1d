"""Per-epoch time of the recurrent_conv_shd net at SHD's real size on this machine.

Times ``--batches`` training steps (forward, backward, SMORMS3 step) of batch 400,
T = 350, 700 units at SHD's mean input rate, and scales to 8156 training samples
(stork's SHD train file): epoch = ceil(8156 / 400) = 21 batches.

    python benchmarks/shd_epoch_time.py --batches 2 [--model dale_shd]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

import spikeinit as si
from spikeinit.optim import SMORMS3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="recurrent_conv_shd")
    ap.add_argument("--batches", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=400)
    ap.add_argument("--steps", type=int, default=350)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = si.models.build(args.model, (700,), 20)
    x = (torch.rand(args.steps, args.batch_size, 700) < 15.8 * 2e-3).float()
    y = torch.randint(0, 20, (args.batch_size,))
    si.initialize(model, x[:, :32], seed=0, readout="normal")
    opt = SMORMS3(model.parameters(), lr=5e-3)
    times = []
    for _ in range(args.batches + 1):  # the first batch is warm-up (JIT compilation)
        t0 = time.perf_counter()
        out = model(x)
        loss = torch.nn.functional.cross_entropy(out.max(0).values, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    per_batch = sum(times[1:]) / args.batches
    n_batches = math.ceil(8156 / args.batch_size)
    print(
        json.dumps(
            {
                "model": args.model,
                "batch_size": args.batch_size,
                "steps": args.steps,
                "threads": torch.get_num_threads(),
                "seconds_per_batch": round(per_batch, 2),
                "batches_per_epoch": n_batches,
                "seconds_per_epoch": round(per_batch * n_batches, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
