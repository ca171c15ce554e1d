"""A stork (fmi-basel/stork) Randman model that trains one epoch per request.

Run by :mod:`benchmarks.epoch` with the Python of an environment where stork is
installed (``--stork-python``), so that its epochs can be interleaved with
spikeinit's and snnTorch's. The model is built as stork's Randman notebook
(``examples/01_Shallow_SNN_Randman.ipynb``) builds it: 20 inputs, 128 LIF units
(tau_mem 20 ms, tau_syn 10 ms, SuperSpike beta 20), a readout with tau_mem =
duration, fluctuation-driven centred-normal init (sigma_u 1, nu = 1 spike per
trial), lower-bound (100, 1e-3, per neuron) and upper-bound (0.1, 4, dims=1)
homeostasis, max-over-time cross-entropy, SMORMS3 lr 5e-3, batch 250,
``StandardGenerator(nb_workers=2)``. The training samples (spike times and
units, as stork's ``RasDataset`` takes them) come from a file that
:mod:`benchmarks.epoch` writes from spikeinit's Randman split, so all three
libraries train on the same 8000 samples.

    python -m benchmarks._stork_worker THREADS DATA.pt

Protocol: prints one JSON line ``{"ready": ...}`` after set-up; then for every
line ``epoch`` on stdin trains one epoch and prints ``{"seconds": s, "cpu_seconds": c, "loss": l}``;
``quit`` ends it.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    data_path = sys.argv[2]
    import torch

    torch.set_num_threads(threads)
    import stork.activations
    import stork.datasets
    import stork.loss_stacks
    import stork.optimizers
    import stork.regularizers
    from stork.connections import Connection
    from stork.generators import StandardGenerator
    from stork.initializers import FluctuationDrivenCenteredNormalInitializer
    from stork.models import RecurrentSpikingModel
    from stork.nodes import InputGroup, LIFGroup, ReadoutGroup

    n_in, n_classes, steps, dt, batch = 20, 10, 100, 2e-3, 250
    duration = steps * dt
    # the train split as spike lists (times in steps, units), written by benchmarks.epoch
    # from spikeinit's Randman (the same generator; stork's own takes minutes to draw here)
    saved = torch.load(data_path)
    ras = [(t, u) for t, u in zip(saved["times"], saved["units"], strict=True)]
    ds_train = stork.datasets.RasDataset(
        (ras, saved["labels"].numpy()), nb_steps=steps, nb_units=n_in, time_scale=1.0
    )
    act = stork.activations.SuperSpike
    act.beta = 20
    model = RecurrentSpikingModel(batch, steps, n_in, torch.device("cpu"), torch.float)
    inp = model.add_group(InputGroup(n_in))
    hid = model.add_group(LIFGroup(128, tau_mem=20e-3, tau_syn=10e-3, activation=act))
    ro = model.add_group(
        ReadoutGroup(n_classes, tau_mem=duration, tau_syn=10e-3, initial_state=-1e-2)
    )
    con = model.add_connection(Connection(inp, hid))
    con_ro = model.add_connection(Connection(hid, ro))
    hid.regularizers.extend(
        [
            stork.regularizers.LowerBoundL2(100, threshold=1e-3, dims=False),
            stork.regularizers.UpperBoundL2(0.1, threshold=4, dims=1),
        ]
    )
    init = FluctuationDrivenCenteredNormalInitializer(sigma_u=1.0, nu=1 / duration, timestep=dt)
    con.init_parameters(initializer=init)
    con_ro.init_parameters(initializer=init)
    model.configure(
        input=inp, output=ro, loss_stack=stork.loss_stacks.MaxOverTimeCrossEntropy(),
        generator=StandardGenerator(nb_workers=2), optimizer=stork.optimizers.SMORMS3,
        optimizer_kwargs=dict(lr=5e-3), time_step=dt,
    )  # fmt: skip
    print(json.dumps({"ready": True, "train_samples": len(ds_train), "threads": threads}))
    sys.stdout.flush()
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            break
        if cmd != "epoch":
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        metrics = model.train_epoch(ds_train)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "loss": float(metrics[0])}))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
