"""Cost of ``si.initialize`` on SpikingJelly's ``sew_resnet18`` against its training steps.

SpikingJelly's own model zoo network, built as a user would
(``spikingjelly.activation_based.model.sew_resnet.sew_resnet18`` with
``LIFNode``, multi-step mode), at its real input shape ``[T, B, 3, 224, 224]``.
In one process, on the same batch: the median time of one training step
(forward, cross-entropy on the time-averaged output, backward, SGD step, state
reset) over ``--steps`` steps after one warm-up, and the time of one
``si.initialize(model, x)`` on a fresh model. Prints both and their ratio.

    python -m benchmarks.sew_resnet_init --batch 4 --steps 5 [--out runs/sew]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn


def build() -> nn.Module:
    from spikingjelly.activation_based import functional, neuron, surrogate
    from spikingjelly.activation_based.model import sew_resnet

    torch.manual_seed(0)
    net = sew_resnet.sew_resnet18(
        spiking_neuron=neuron.LIFNode,
        surrogate_function=surrogate.ATan(),
        detach_reset=True,
        cnf="ADD",
    )
    functional.set_step_mode(net, "m")
    return net


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--time-steps", type=int, default=4)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    from spikingjelly.activation_based import functional

    import spikeinit as si

    g = torch.Generator().manual_seed(0)
    x = torch.rand(args.time_steps, args.batch, 3, args.size, args.size, generator=g)
    y = torch.randint(0, 1000, (args.batch,), generator=g)
    net = build()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    times = []
    for step in range(args.steps + 1):
        start = time.perf_counter()
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x).mean(0), y)
        loss.backward()
        opt.step()
        functional.reset_net(net)
        if step > 0:
            times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    fresh = build()
    start = time.perf_counter()
    report = si.initialize(fresh, x)
    init_s = time.perf_counter() - start
    sig = [layer.sigma_u_theta for layer in report.layers if layer.sigma_u_theta is not None]
    result = {
        "train_step_s": step_s,
        "initialize_s": init_s,
        "initialize_over_step": init_s / step_s,
        "sigma_u_theta_min": min(sig),
        "sigma_u_theta_max": max(sig),
        "layers": len(sig),
        "input_shape": list(x.shape),
        "threads": torch.get_num_threads(),
    }
    print(
        f"sew_resnet18 {list(x.shape)}: training step {step_s:.2f} s (median of {args.steps}), "
        f"si.initialize {init_s:.2f} s = {init_s / step_s:.2f} steps; "
        f"{len(sig)} spiking layers at sigma_U/theta {min(sig):.3f}..{max(sig):.3f}"
    )
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "sew_resnet_init.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
