"""Per-epoch time of the recurrent_conv_shd net at SHD's real size on this machine.

Times ``--batches`` training steps (forward, backward, SMORMS3 step) of batch 400,
T = 350, 700 units at SHD's mean input rate (15.8 Hz), and one evaluation batch
(forward only), and scales them to one epoch of ``spikeinit train --dataset shd``:
the SHD train file's 8156 samples minus the 10 % validation split = 7340 training
samples (ceil(7340 / 400) = 19 batches) plus 816 validation samples (3 batches).

    python -m benchmarks.shd_epoch_time --batches 2 [--model dale_shd]
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
    model.train()
    for _ in range(args.batches + 1):  # the first batch is warm-up (JIT compilation)
        t0 = time.perf_counter()
        out = model(x)
        loss = torch.nn.functional.cross_entropy(out.max(0).values, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    per_batch = sum(times[1:]) / args.batches
    model.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        model(x)
    per_eval = time.perf_counter() - t0
    n_batches = math.ceil(7340 / args.batch_size)
    n_eval = math.ceil(816 / args.batch_size)
    print(
        json.dumps(
            {
                "model": args.model,
                "batch_size": args.batch_size,
                "steps": args.steps,
                "threads": torch.get_num_threads(),
                "seconds_per_batch": round(per_batch, 2),
                "seconds_per_eval_batch": round(per_eval, 2),
                "batches_per_epoch": n_batches,
                "eval_batches_per_epoch": n_eval,
                "seconds_per_epoch": round(per_batch * n_batches + per_eval * n_eval, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
