"""The four fused kernels of one Randman training batch, timed one by one.

Builds :class:`benchmarks.epoch.SpikeinitEpoch` (the ``randman`` preset: 20-128-10,
T = 100, batch 250, fluctuation-initialised), takes its first training batch and
calls the kernels the way :class:`spikeinit.nn.SpikingLinear` and
:class:`spikeinit.nn.Readout` call them in a training step: the hidden layer's
forward (:mod:`spikeinit._kernels.linear_lif_numba`), the readout's forward and
backward (:mod:`spikeinit._kernels.readout_numba`, handing ``dL/dx_ro`` over) and
the hidden layer's backward with the readout's part and a per-trial gradient (the
activity regularisers'). The readout's incoming gradient is the max-over-time
loss's: nonzero at each class's maximal step. Prints the median milliseconds of
each over ``--calls`` calls (after one warm call), and the spike density.

Where the hidden layer leaves its spikes' bits (:mod:`spikeinit.kept`), the
readout reads them as in training; run against an older commit's ``src`` (which
has none) it scans the spikes, so that the two can be compared:

    PYTHONPATH=path/to/checkout/src python -m benchmarks.epoch_kernels --calls 40
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from spikeinit._kernels import linear_lif_numba, readout_numba
from spikeinit._kernels.rule import SURROGATE_CODES
from spikeinit.neuron import lif_step
from spikeinit.nn import Readout, SpikingLinear

from ._common import median_time, setup_threads
from .epoch import SpikeinitEpoch


def _median_ms(fn: Callable[[], Any], calls: int) -> float:
    return median_time(fn, calls, warmup=1)["median_s"] * 1e3


def time_kernels(calls: int, samples_per_class: int = 1000) -> dict[str, Any]:
    run = SpikeinitEpoch(samples_per_class=samples_per_class)
    hidden = next(m for m in run.model.modules() if type(m) is SpikingLinear)
    readout = next(m for m in run.model.modules() if isinstance(m, Readout))
    x = next(iter(run.loader))[0].to(torch.float32).contiguous()
    consts = hidden._fused_lif_consts(x)
    assert consts is not None, "the randman preset's hidden layer must run fused"
    xn = x.numpy()
    wt = hidden.weight.detach().t().contiguous().numpy()
    out = linear_lif_numba.forward(xn, wt, None, consts)
    mem, spikes = out[0], out[1]
    kw = {"bits": out[3]} if len(out) == 5 else {}  # (mem, spk, counts[, bits], finite)
    r_consts = readout._fused_consts(torch.from_numpy(spikes))
    assert r_consts is not None, "the readout must run fused"
    r_wt = readout.weight.detach().t().contiguous().numpy()
    r_w = readout.weight.detach().contiguous().numpy()
    u, _, at = readout_numba.forward(spikes, r_wt, None, *r_consts, **kw)
    g_u = np.zeros_like(u)  # the max-over-time loss's gradient: at each maximal step
    classes = np.arange(u.shape[2])
    for b in range(u.shape[1]):
        g_u[at[b], b, classes] = 1.0 / u.shape[1]
    g_ro = readout_numba.backward(spikes, r_w, g_u, *r_consts, False, True, True, **kw)[0]
    h_w = hidden.weight.detach().contiguous().numpy()
    g_counts = np.full(spikes.shape[1:], 1e-3, np.float32)  # a regulariser's dL/dcount
    sg = hidden.surrogate
    step = lif_step(hidden.params)

    def hidden_backward() -> Any:
        return linear_lif_numba.backward(
            mem, xn, h_w, g_counts, (g_ro, r_w), consts, step.reset_grad,
            hidden.detach_reset, SURROGATE_CODES[sg.name], sg.steepness, False, True,
        )  # fmt: skip

    ms = {
        "hidden forward": _median_ms(lambda: linear_lif_numba.forward(xn, wt, None, consts), calls),
        "readout forward": _median_ms(
            lambda: readout_numba.forward(spikes, r_wt, None, *r_consts, **kw), calls
        ),
        "readout backward": _median_ms(
            lambda: readout_numba.backward(
                spikes, r_w, g_u, *r_consts, False, True, True, **kw
            ),
            calls,
        ),
        "hidden backward": _median_ms(hidden_backward, calls),
    }
    return {
        "shape": list(spikes.shape),
        "spike_density": float(spikes.mean()),
        "readout_reads_bits": bool(kw),
        "threads": torch.get_num_threads(),
        "median_ms": {k: round(v, 3) for k, v in ms.items()},
        "total_ms": round(sum(ms.values()), 3),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    setup_threads(args.threads)
    res = time_kernels(args.calls)
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
