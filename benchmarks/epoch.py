"""One Randman training epoch in stork's set-up: spikeinit vs stork vs snnTorch.

stork's Randman example (Rossbroich, Gygax & Zenke 2022; fmi-basel/stork,
``examples/01_Shallow_SNN_Randman.ipynb``): 8000 training samples (80 % of
10 x 1000), batch 250, 20-128-10, T = 100 (dt 2 ms), tau_mem 20 ms, tau_syn
10 ms, readout tau_mem = duration, max-over-time cross-entropy, lower-bound
(100, 1e-3, per neuron) + upper-bound (0.1, 4 spikes, averaged over units)
homeostasis, SMORMS3 lr 5e-3, 2 threads.

* **spikeinit**: ``spikeinit train --dataset randman``'s own epoch: the
  ``randman`` preset's model, initialisation and loader, one epoch of
  :class:`spikeinit.train.Trainer` (checks, metrics and all).
* **stork**: its notebook's model, in a worker process started with
  ``--stork-python PATH`` (or ``$STORK_PYTHON``): the Python of an environment
  where fmi-basel/stork is installed (the registry package named ``stork`` is
  another project). Skipped, with a message, when absent.
* **snnTorch** as its tutorials teach: ``nn.Linear`` + ``snn.Synaptic``
  stepped in a Python loop over time, spikes and membranes appended to lists
  and stacked, a ``DataLoader`` over a ``TensorDataset`` (batch-first, shuffled);
  the same sizes, decays, loss, homeostasis terms and optimiser (spikeinit's
  SMORMS3, as torch has none).

The three run interleaved (one epoch of each per repetition) and the medians
and ratios come from the same run; the CPU time of each epoch (all threads of
its process, ``time.process_time``) is reported next to the wall time.
``--profile`` adds a breakdown of one spikeinit epoch (torch.profiler): the
hidden layer (fused input product + LIF kernel) and the readout forward and
backward, loss, regularisers, optimiser, data loading, the trainer's checks
and metrics, and the Python time outside any torch op.

    python -m benchmarks.epoch --reps 5 --stork-python /path/to/stork-venv/bin/python --profile

The OpenMP wait policy is left as the environment has it (the libraries'
defaults, what users get) and recorded in the output. On a machine shared with
other jobs, ``OMP_WAIT_POLICY=PASSIVE python -m benchmarks.epoch ...`` keeps a
2-thread OpenMP region from spinning at every barrier for a descheduled thread
(it applies to all three libraries alike; the stork worker inherits it); on an
idle machine PASSIVE slows the two peers down (measured: snnTorch 6.6 -> 9.4 s),
so ratios are quoted with the default policy.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

import spikeinit.nn.base as si_base
import spikeinit.train as si_train
from spikeinit.experiments.presets import _regularizers, build_initialized, preset
from spikeinit.nn import Readout, SpikingLinear
from spikeinit.optim import SMORMS3
from spikeinit.train import TrainConfig, Trainer

from ._common import fmt_table, parser, setup_threads, write_json

STEPS, DT, HIDDEN, BATCH, LR = 100, 2e-3, 128, 250, 5e-3


class _NoBar:
    disable = True


# ----------------------------------------------------------------------------
# spikeinit


class SpikeinitEpoch:
    """One epoch of the ``randman`` preset through :class:`spikeinit.train.Trainer`."""

    def __init__(self, seed: int = 0, samples_per_class: int = 1000) -> None:
        spec = preset("randman", seed=seed, dataset_kw={"samples_per_class": samples_per_class})
        self.model, self.ds, _, _ = build_initialized(spec)
        cfg = TrainConfig(
            epochs=1, batch_size=spec.batch_size, lr=spec.lr, optimizer=spec.optimizer,
            loss=spec.loss, regularizers=_regularizers(spec), seed=seed, progress=False,
        )  # fmt: skip
        self.trainer = Trainer(self.model, cfg)
        self.hidden = si_train._HiddenSpikes(self.model)
        self.loader = self.ds.loader("train", spec.batch_size, seed=seed)
        self.epoch = 0

    def __call__(self) -> dict[str, Any]:
        self.epoch += 1
        si_train._set_epoch(self.loader, self.trainer.config.seed, self.epoch)
        return self.trainer._train_epoch(self.loader, self.epoch, self.hidden, _NoBar)


# ----------------------------------------------------------------------------
# snnTorch, tutorial style


class SnnTorchNet(nn.Module):
    """snnTorch's tutorial network: Linear + Synaptic per layer, a loop over time."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int) -> None:
        import snntorch as snn

        super().__init__()
        alpha = math.exp(-DT / 10e-3)
        self.fc1 = nn.Linear(n_in, n_hidden, bias=False)
        self.lif1 = snn.Synaptic(alpha=alpha, beta=math.exp(-DT / 20e-3))
        self.fc2 = nn.Linear(n_hidden, n_out, bias=False)
        self.lif2 = snn.Synaptic(
            alpha=alpha, beta=math.exp(-DT / (STEPS * DT)), reset_mechanism="none"
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        syn1, mem1 = self.lif1.init_synaptic()
        syn2, mem2 = self.lif2.init_synaptic()
        spk1_rec, mem2_rec = [], []
        for step in range(x.shape[0]):
            cur1 = self.fc1(x[step])
            spk1, syn1, mem1 = self.lif1(cur1, syn1, mem1)
            cur2 = self.fc2(spk1)
            _, syn2, mem2 = self.lif2(cur2, syn2, mem2)
            spk1_rec.append(spk1)
            mem2_rec.append(mem2)
        return torch.stack(spk1_rec, dim=0), torch.stack(mem2_rec, dim=0)


class SnnTorchEpoch:
    """One epoch of the tutorial-style snnTorch network on the same Randman data."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.net = SnnTorchNet(x.shape[-1], HIDDEN, int(y.max()) + 1)
        data = torch.utils.data.TensorDataset(x.transpose(0, 1).contiguous(), y)  # [N, T, C]
        self.loader = torch.utils.data.DataLoader(data, batch_size=BATCH, shuffle=True)
        self.opt = SMORMS3(self.net.parameters(), lr=LR)

    def __call__(self) -> dict[str, Any]:
        total, loss_sum = 0, 0.0
        for data, targets in self.loader:
            spk1, mem2 = self.net(data.transpose(0, 1))
            loss = nn.functional.cross_entropy(mem2.max(0).values, targets)
            count = spk1.sum(0)  # [B, N]
            loss = loss + 100.0 * torch.relu(1e-3 - count).square().mean()
            loss = loss + 0.1 * torch.relu(count.mean(1) - 4.0).square().mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            loss_sum += loss.item() * len(targets)
            total += len(targets)
        return {"train_loss": loss_sum / total}


# ----------------------------------------------------------------------------
# stork, in its own environment


def stork_python(arg: str | None) -> str | None:
    """The stork environment's Python: ``--stork-python`` or ``$STORK_PYTHON``, if it runs."""
    path = arg or os.environ.get("STORK_PYTHON")
    if not path:
        return None
    if not Path(path).exists():
        print(f"stork: skipped ({path} does not exist)")
        return None
    return path


class StorkEpoch:
    """Drives :mod:`benchmarks._stork_worker` in the stork environment, one epoch per call."""

    def __init__(self, python: str, threads: int, x: torch.Tensor, y: torch.Tensor) -> None:
        root = Path(__file__).resolve().parent.parent
        self.tmp = tempfile.TemporaryDirectory()
        data_path = Path(self.tmp.name) / "randman_train.pt"
        times, units = [], []
        for i in range(x.shape[1]):
            t, u = x[:, i].nonzero(as_tuple=True)
            times.append(t)
            units.append(u)
        torch.save({"times": times, "units": units, "labels": y}, data_path)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = str(root)
        self.proc = subprocess.Popen(
            [python, "-m", "benchmarks._stork_worker", str(threads), str(data_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root, env=env,
        )  # fmt: skip
        self.info = self._read()
        if not self.info.get("ready"):
            raise RuntimeError(f"the stork worker did not start: {self.info}")

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the stork worker exited (code {self.proc.wait()})")
            line = line.strip()
            if line.startswith("{"):
                return dict(json.loads(line))

    def __call__(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("epoch\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin is not None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=60)
        self.tmp.cleanup()


# ----------------------------------------------------------------------------
# the profile of spikeinit's epoch


def _labelled(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kw: Any) -> Any:
        with torch.profiler.record_function(name):
            return fn(*args, **kw)

    return wrapper


class _LabelledLoader:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __len__(self) -> int:
        return len(self.inner)

    def __iter__(self) -> Iterator[Any]:
        it = iter(self.inner)
        while True:
            with torch.profiler.record_function("#data loading"):
                try:
                    batch = next(it)
                except StopIteration:
                    return
            yield batch


_BACKWARD = (
    ("FusedLinearLIF", "hidden layer backward (fused product + kernel)"),
    ("FusedReadout", "readout backward (fused)"),
    ("LIFSequence", "kernel backward"),
    ("ScanLinear", "input products backward"),
    ("MmBackward", "input products backward"),
    ("AddmmBackward", "input products backward"),
)


def _category(name: str) -> str:
    if name.startswith("#"):
        return name[1:]
    if name.startswith("Optimizer."):
        return "optimiser (step, zero_grad)"
    if name.startswith("autograd::engine::evaluate_function"):
        for key, cat in _BACKWARD:
            if key in name:
                return cat
        return "loss / regulariser / readout backward"
    return "trainer checks and metrics"


def profile_epoch(run: SpikeinitEpoch) -> dict[str, float]:
    """Seconds per category for one epoch of ``run`` (profiled; see the module doc)."""
    hidden_layer = next(m for m in run.model.modules() if type(m) is SpikingLinear)
    readout = next(m for m in run.model.modules() if isinstance(m, Readout))
    patched: list[tuple[Any, str, Any]] = []

    def patch(obj: Any, attr: str, name: str) -> None:
        patched.append((obj, attr, obj.__dict__.get(attr, None)))
        setattr(obj, attr, _labelled(name, getattr(obj, attr)))

    patch(hidden_layer, "forward", "#hidden layer forward (product + kernel)")
    patch(readout, "forward", "#readout forward")
    patch(run.trainer, "_loss_fn", "#loss forward")
    patch(run.trainer, "_check_gradients", "#trainer checks and metrics")
    inner_loader = run.loader
    run.loader = _LabelledLoader(inner_loader)
    old_penalty = si_train.activity_penalty
    si_train.activity_penalty = _labelled("#regularisers forward", old_penalty)
    old_lif = si_base.lif_sequence  # the unfused layers' kernel (inside the rows above)
    si_base.lif_sequence = _labelled("#kernel forward", old_lif)
    try:
        run()  # warm
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            t0 = time.perf_counter()
            run()
            wall = time.perf_counter() - t0
    finally:
        si_train.activity_penalty = old_penalty
        si_base.lif_sequence = old_lif
        run.loader = inner_loader
        for obj, attr, old in reversed(patched):
            if old is None:
                delattr(obj, attr)
            else:
                setattr(obj, attr, old)
    out: dict[str, float] = {}
    for ev in prof.events():
        if ev.cpu_parent is not None:
            continue
        cat = _category(ev.name)
        out[cat] = out.get(cat, 0.0) + ev.cpu_time_total * 1e-6
    out["Python outside torch ops"] = max(wall - sum(out.values()), 0.0)
    out["total (profiled)"] = wall
    return out


# ----------------------------------------------------------------------------


def run_all(
    reps: int, warmup: int, threads: int, stork: str | None, profile: bool, per_class: int = 1000
) -> dict[str, Any]:
    runners: dict[str, Callable[[], dict[str, Any]]] = {}
    si_run = SpikeinitEpoch(samples_per_class=per_class)
    runners["spikeinit"] = si_run
    x, y = si_run.ds.train.batch(torch.arange(len(si_run.ds.train)))
    try:
        runners["snntorch"] = SnnTorchEpoch(x, y)
    except ImportError:
        print("snntorch: skipped (not installed)")
    stork_run = None
    if stork is not None:
        stork_run = StorkEpoch(stork, threads, x, y)
        runners["stork"] = stork_run
    else:
        print("stork: skipped (give --stork-python PATH or set STORK_PYTHON to the Python of an "
              "environment with fmi-basel/stork installed)")  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in runners}
    cpu: dict[str, list[float]] = {k: [] for k in runners}
    try:
        for rep in range(warmup + reps):
            for name, fn in runners.items():
                t0, c0 = time.perf_counter(), time.process_time()
                res = fn()
                dt = float(res["seconds"]) if name == "stork" else time.perf_counter() - t0
                dc = float(res.get("cpu_seconds", "nan")) if name == "stork" else (
                    time.process_time() - c0
                )  # fmt: skip
                if rep >= warmup:
                    times[name].append(dt)
                    cpu[name].append(dc)
                print(
                    f"repetition {rep + 1 - warmup} {name}: {dt:.2f} s (CPU {dc:.2f} s)", flush=True
                )
        prof = profile_epoch(si_run) if profile else None
    finally:
        if stork_run is not None:
            stork_run.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "train_samples": len(si_run.ds.train),
        "threads": threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "reps": reps,
        "times_s": times,
        "median_s": med,
        "ratio_vs_spikeinit": {k: v / med["spikeinit"] for k, v in med.items()},
        "cpu_s": cpu,
        "median_cpu_s": {k: statistics.median(v) for k, v in cpu.items()},
        "profile_s": prof,
    }


_COLUMNS = ["library", "median s", "min s", "max s", "/ spikeinit", "median CPU s", "CPU ratio"]


def report(res: dict[str, Any]) -> str:
    cpu = res.get("median_cpu_s", {})
    rows = [
        [k, res["median_s"][k], min(res["times_s"][k]), max(res["times_s"][k]),
         f"{res['ratio_vs_spikeinit'][k]:.2f}x", cpu.get(k, float("nan")),
         f"{cpu.get(k, float('nan')) / cpu.get('spikeinit', float('nan')):.2f}x"]
        for k in res["median_s"]
    ]  # fmt: skip
    text = (
        f"Randman epoch ({res['train_samples']} samples, batch 250, 20-128-10, T = 100), "
        f"{res['threads']} threads, OMP_WAIT_POLICY={res.get('omp_wait_policy')}, "
        f"medians of {res['reps']} interleaved repetitions\n" + fmt_table(rows, _COLUMNS)
    )
    prof = res.get("profile_s")
    if prof:
        total = prof["total (profiled)"]
        prows = [[k, v, f"{100 * v / total:.1f} %"] for k, v in prof.items()]
        text += "\n\nspikeinit epoch, profiled (torch.profiler; the fused layers' rows hold\n"
        text += "their input products and kernels)\n"
        text += fmt_table(prows, ["part", "s", "share"])
    return text


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(reps=5, warmup=1, threads=2)
    p.add_argument("--stork-python", default=None, help="Python of an env with fmi-basel/stork")
    p.add_argument("--profile", action="store_true", help="add spikeinit's profile breakdown")
    p.add_argument(
        "--samples-per-class", type=int, default=1000,
        help="Randman samples per class (stork: 1000: 8000 train samples); less for a quick look",
    )  # fmt: skip
    args = p.parse_args(argv)
    setup_threads(args.threads)
    res = run_all(
        args.reps, args.warmup, torch.get_num_threads(), stork_python(args.stork_python),
        args.profile, args.samples_per_class,
    )  # fmt: skip
    print(report(res))
    write_json(args.out, "epoch", res)
    return res


if __name__ == "__main__":
    main()
