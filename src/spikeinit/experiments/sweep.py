"""``spikeinit sweep``: grid or random search over training set-ups, run by Ray Tune.

Every trial is one :func:`spikeinit.experiments.presets.run` (one ``Trainer``
run) of a :class:`~spikeinit.experiments.presets.RunSpec`. The sweepable
parameters are :data:`PARAMETERS` (``sigma_u``, ``mu_u`` or ``xi``, ``init``,
``lr``, ``seed``, ``model``, ``dataset``, ``hidden``, ...). ``xi`` is the
threshold distance of Rossbroich, Gygax & Zenke (2022),
``xi = (1 - mu_U) / sigma_U``: with ``sigma_u`` it sets ``mu_u = 1 - xi sigma_u``,
with ``mu_u`` it sets ``sigma_u = (1 - mu_u) / xi``.

Engines. ``"ray"`` runs the trials as Ray Tune trials (embedded local Ray
started by the command, or an existing cluster with ``address``); ``"inprocess"``
runs them one after another in this process. Both call :func:`execute_trial`,
which fixes the torch thread count (``threads``) and writes the trial's
checkpoints into its own directory, so a trial gives bit-identical metrics in
either engine and after an interruption (the Trainer seeds every epoch from
``(seed, epoch)``; see :mod:`spikeinit.train`).

Files under ``out``: ``trials/<name>/`` (``last.pt``, ``best.pt``,
``metrics.jsonl`` from the Trainer, and ``trial.json`` once the trial is done),
``results.json`` (every trial's params, spec, metrics, learning curve and
initial-state diagnosis, plus the summary), ``heatmap.png`` (mean test accuracy
over two swept targets, iso-lines of xi, silent / saturated initial states
marked) and ``report.md``.

Faults. A trial whose worker dies is retried by Ray Tune
(``FailureConfig(max_failures)``) and continues from its last atomic checkpoint;
``resume=True`` skips trials whose ``trial.json`` exists and continues the
others from theirs.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import random
import re
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import DATASETS, LOSSES, MODELS, OPTIMIZERS, OUTPUTS, SCHEDULES
from ..cli_args import ENGINES, MAX_SEED, readout_rule
from ..cli_run import resolve_device
from ..diagnostics import diagnose
from ..entry_points import absolute, is_entry_point
from ..train import TrainingDiverged
from .common import (
    _jsonable,
    new_figure,
    progress,
    save_figure,
    write_report,
    write_results,
)
from .presets import INIT_NAMES, RunSpec, build_initialized, preset, spec_dict
from .presets import run as run_one
from .train_cmd import dataset_of, spec_overrides

#: environment variable of the fault-injection hook used by the tests:
#: ``<marker file>[:<epoch>]`` makes the first trial that reaches the end of
#: ``epoch`` (default 1) kill its own process (``os._exit``), once
FAULT_ENV = "SPIKEINIT_SWEEP_FAULT"
#: history keys that measure time, not training (left out of equality checks)
TIMING_KEYS = ("epoch_time_s",)
STATES = ("silent", "saturated", "mean-driven", "fluctuation-driven")
#: the most trials one sweep may have (grid points, or ``random`` draws, times seeds):
#: checked before the grid is expanded, so a huge grid is refused, not run out of memory
MAX_TRIALS = 100_000
#: the most seeds per grid point (``--seeds`` and ``seeds`` in a TOML file)
MAX_SEEDS = 1000
#: longest swept-values part of a trial's directory name (the spec hash follows it)
MAX_LABEL = 120


# ------------------------------------------------------------------------------------------
# parameters


@dataclass(frozen=True)
class Param:
    """One sweepable parameter: its kind and the check of a value."""

    kind: str  # "float", "int", "choice", "hidden", "readout", "table"
    help: str
    low: float | None = None  # inclusive lower bound (ints, floats)
    high: float | None = None  # inclusive upper bound (ints)
    positive: bool = False  # floats: > 0
    choices: Callable[[], Sequence[str]] | None = None


def _inits() -> Sequence[str]:
    return sorted(INIT_NAMES)


def _models() -> Sequence[str]:
    return list(MODELS)


def _datasets() -> Sequence[str]:
    return list(DATASETS)


def _const(*names: str) -> Callable[[], Sequence[str]]:
    return lambda: names


PARAMETERS: dict[str, Param] = {
    "sigma_u": Param("float", "fluctuation target sigma_U / theta", positive=True),
    "mu_u": Param("float", "mean target mu_U / theta"),
    "xi": Param("float", "threshold distance (1 - mu_U) / sigma_U", positive=True),
    "lr": Param("float", "learning rate", positive=True),
    "seed": Param("int", "random seed", low=0, high=MAX_SEED),
    "epochs": Param("int", "epochs", low=1),
    "batch_size": Param("int", "mini-batch size", low=1),
    "steps": Param("int", "time steps T (image datasets)", low=1),
    "samples_per_class": Param("int", "Randman size", low=1),
    "hidden": Param("hidden", "hidden widths of fc/recurrent, e.g. 128 or 64x64"),
    "init": Param("choice", "initialisation", choices=_inits),
    "model": Param("choice", "zoo model", choices=_models),
    "dataset": Param("choice", "dataset", choices=_datasets),
    "optimizer": Param("choice", "optimiser", choices=_const(*OPTIMIZERS)),
    "loss": Param("choice", "loss", choices=_const(*LOSSES)),
    "schedule": Param("choice", "lr schedule", choices=_const(*SCHEDULES)),
    "readout": Param(
        "readout", "output-layer rule: auto, fluctuation, normal, keep or a target sigma_U"
    ),
    # a user's model and data (--model / --data FILE.py:FUNCTION)
    "model_kw": Param("table", "keyword arguments of the --model factory"),
    "data_kw": Param("table", "keyword arguments of the --data factory"),
    "output": Param("choice", "which part of a user model's output is decoded",
                    choices=_const(*OUTPUTS)),
    "repeat_steps": Param("int", "steps a one-step user model sees a static batch", low=1),
    "diagnose_every": Param("int", "diagnose the layers every N epochs", low=1),
}  # fmt: skip


def canonical_name(name: str) -> str:
    """``sigma-u`` -> ``sigma_u``; ``ValueError`` for an unknown name."""
    key = name.strip().replace("-", "_")
    if key not in PARAMETERS:
        raise ValueError(
            f"unknown sweep parameter {name!r}; choose from {', '.join(sorted(PARAMETERS))}"
        )
    return key


def parse_value(name: str, raw: Any) -> Any:
    """One value of parameter ``name`` from CLI text or a TOML value, checked."""
    p = PARAMETERS[name]
    if isinstance(raw, bool):
        raise TypeError(f"{name}: expected a {p.kind} value, got the boolean {raw!r}")
    if p.kind == "float":
        if isinstance(raw, str):
            try:
                value = float(raw)
            except ValueError:
                raise TypeError(f"{name}: expected a number, got {raw!r}") from None
        elif isinstance(raw, (int, float)):
            value = float(raw)
        else:
            raise TypeError(f"{name}: expected a number, got {raw!r}")
        if not math.isfinite(value) or (p.positive and value <= 0):
            raise ValueError(
                f"{name} must be a finite number{' > 0' if p.positive else ''}, got {raw!r}"
            )
        return value
    if p.kind == "int":
        if isinstance(raw, str):
            try:
                value = int(raw)
            except ValueError:
                raise TypeError(f"{name}: expected an integer, got {raw!r}") from None
        elif isinstance(raw, int):
            value = raw
        else:
            raise TypeError(f"{name}: expected an integer, got {raw!r}")
        if p.low is not None and value < p.low:
            raise ValueError(f"{name} must be an integer >= {p.low:g}, got {raw!r}")
        if p.high is not None and value > p.high:
            raise ValueError(f"{name} must be an integer <= {p.high:.0f}, got {raw!r}")
        return value
    if p.kind == "hidden":
        if isinstance(raw, int):
            parts: list[Any] = [raw]
        elif isinstance(raw, str):
            parts = raw.lower().split("x")
        elif isinstance(raw, list):
            parts = list(raw)
        else:
            raise TypeError(f"hidden: expected widths like 128 or 64x64, got {raw!r}")
        try:
            widths = tuple(
                int(w) if not isinstance(w, bool) and isinstance(w, (int, str)) else None
                for w in parts
            )
        except ValueError:
            raise TypeError(f"hidden: expected widths like 128 or 64x64, got {raw!r}") from None
        if not widths or any(w is None or w < 1 for w in widths):
            raise ValueError(f"hidden: expected positive widths like 128 or 64x64, got {raw!r}")
        return widths
    if p.kind == "table":
        if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
            raise TypeError(f"{name}: expected a table of keyword arguments, got {raw!r}")
        return dict(raw)
    if name in ("model", "dataset") and is_entry_point(raw):
        return absolute(str(raw), "--model" if name == "model" else "--data")
    if p.kind == "readout":
        try:
            return readout_rule(str(raw))
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"readout: {exc}") from None
    # choice
    assert p.choices is not None
    allowed = p.choices()
    if not isinstance(raw, str):
        raise TypeError(f"{name}: expected one of {', '.join(allowed)}, got {raw!r}")
    if raw not in allowed:
        raise ValueError(f"{name}: unknown {raw!r}; choose from {', '.join(allowed)}")
    return raw


def parse_grid_items(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["sigma_u=0.5,1", "init=fluctuation"]`` -> ``{"sigma_u": [0.5, 1.0], ...}``."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--grid: expected NAME=V1,V2,..., got {item!r}")
        key = canonical_name(name)
        if key in grid:
            raise ValueError(f"--grid: {key} is given twice")
        texts = [v.strip() for v in values.split(",")]
        if not values.strip() or any(not t for t in texts):
            raise ValueError(f"--grid: {key} needs a comma-separated list of values, got {item!r}")
        grid[key] = _unique([parse_value(key, t) for t in texts], key)
    return grid


def _unique(values: list[Any], name: str) -> list[Any]:
    keys = [json.dumps(v, sort_keys=True, default=str) for v in values]  # tables too
    out = [values[i] for i, k in enumerate(keys) if k not in keys[:i]]
    if len(out) != len(values):
        raise ValueError(f"{name}: repeated value in {values!r}")
    return out


def load_toml(path: str | Path) -> dict[str, Any]:
    """A sweep file: ``[grid]`` (name = [values]), ``[fixed]`` (name = value) and the
    optional top-level keys ``seeds``, ``random``, ``seed`` (base seed)::

        seeds = 3
        [grid]
        sigma_u = [0.25, 0.5, 1, 2, 4]
        mu_u = [-1, -0.5, 0, 0.5]
        [fixed]
        dataset = "randman"
        epochs = 20
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"--config: no such file {str(path)!r}")
    try:
        data = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"--config: {path} is not valid TOML ({exc})") from None
    unknown = set(data) - {"grid", "fixed", "seeds", "random", "seed"}
    if unknown:
        raise ValueError(
            f"--config: unknown keys {sorted(unknown)}; allowed: grid, fixed, seeds, random, seed"
        )
    grid: dict[str, list[Any]] = {}
    for name, key, values in _toml_table(data, "grid"):
        if not isinstance(values, list) or not values:
            raise ValueError(f"--config: grid.{name} must be a non-empty list, got {values!r}")
        grid[key] = _unique([parse_value(key, v) for v in values], key)
    fixed = {key: parse_value(key, v) for _, key, v in _toml_table(data, "fixed")}
    if "seed" in fixed:
        raise ValueError(
            "--config: [fixed] seed would be ignored (each trial's seed is the base seed plus "
            "its seed index): write seed = N at the top level (the base seed), or sweep it "
            "in [grid]"
        )
    out: dict[str, Any] = {"grid": grid, "fixed": fixed}
    for key in ("seeds", "random", "seed"):
        if key in data:
            v = data[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if key == "seed" else 1):
                raise ValueError(f"--config: {key} must be a positive integer, got {v!r}")
            if key == "seed" and v > MAX_SEED:
                raise ValueError(f"--config: seed must be between 0 and {MAX_SEED}, got {v}")
            if key == "seeds" and v > MAX_SEEDS:
                raise ValueError(f"--config: seeds must be between 1 and {MAX_SEEDS}, got {v}")
            out[key] = v
    return out


def _toml_table(data: dict[str, Any], table: str) -> list[tuple[str, str, Any]]:
    """``(name as written, canonical name, value)`` of the TOML table ``[table]``.

    ``ValueError`` if ``table`` is not a table, or if one parameter appears under
    two spellings (``sigma_u`` and ``sigma-u``), which would silently drop one.
    """
    raw = data.get(table, {})
    if not isinstance(raw, dict):
        raise ValueError(
            f"--config: {table} must be a table ([{table}] with name = "
            f"{'[values]' if table == 'grid' else 'value'} lines), got {raw!r}"
        )
    seen: dict[str, str] = {}
    rows = []
    for name, value in raw.items():
        key = canonical_name(name)
        if key in seen:
            raise ValueError(
                f"--config: {table}.{key} is given twice ({seen[key]!r} and {name!r}); "
                "give each parameter once"
            )
        seen[key] = name
        rows.append((name, key, value))
    return rows


# ------------------------------------------------------------------------------------------
# trials


@dataclass(frozen=True)
class Trial:
    """One training run of a sweep: ``name`` is its directory under the sweep's ``out``."""

    name: str
    params: dict[str, Any]
    spec: Any  # RunSpec
    extra: dict[str, Any] = field(default_factory=dict)


def _fmt(value: Any) -> str:
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def spec_for(point: dict[str, Any], base: dict[str, Any]) -> Any:
    """The RunSpec of one grid point: the dataset preset, then ``base``, then ``point``."""

    values = {**base, **point}
    if "xi" in values:
        xi = values.pop("xi")
        if "sigma_u" in values and "mu_u" in values:
            raise ValueError("give two of sigma_u, mu_u and xi, not all three")
        if "mu_u" in values:
            values["sigma_u"] = (1.0 - values["mu_u"]) / xi
            if not values["sigma_u"] > 0:
                raise ValueError(f"xi = {xi:g} with mu_u = {values['mu_u']:g} gives sigma_u <= 0")
        else:
            values["mu_u"] = 1.0 - xi * values.get("sigma_u", 1.0)
    dataset_kw: dict[str, Any] = dict(values.pop("dataset_kw", None) or {})
    dataset_kw.update(values.pop("data_kw", None) or {})
    dataset_kw.update({k: values.pop(k) for k in ("steps", "samples_per_class") if k in values})
    if "steps" in dataset_kw:
        dataset_kw["n_steps"] = dataset_kw.pop("steps")
    if dataset_kw:
        values["dataset_kw"] = dataset_kw
    dataset = values.pop("dataset", "randman")
    return preset(dataset, **values)


def make_trials(
    grid: dict[str, list[Any]],
    fixed: dict[str, Any],
    seeds: int = 1,
    base_seed: int = 0,
    random_n: int | None = None,
) -> list[Trial]:
    """The trials of a grid (or ``random_n`` points drawn from it without replacement).

    ``seeds`` repeats every point with seeds ``base_seed, ..., base_seed + seeds - 1``
    (unless ``seed`` is swept itself). Names are ``<swept values>-<hash of the spec>``,
    so a changed set-up never reuses another's checkpoints.
    """

    if not grid:
        raise ValueError("--grid: empty grid; give at least one NAME=V1,V2,...")
    if "seed" in grid and seeds != 1:
        raise ValueError("give either --seeds or a swept seed, not both")
    if sum(k in {**fixed, **grid} for k in ("sigma_u", "mu_u", "xi")) > 2:
        raise ValueError("give two of sigma_u, mu_u and xi, not all three")
    n_points = math.prod(len(v) for v in grid.values())
    if random_n is not None and random_n > n_points:
        raise ValueError(f"--random {random_n} exceeds the {n_points} grid points")
    _check_trial_count(grid, random_n, seeds)
    names = list(grid)
    if random_n is None:
        combos = list(itertools.product(*grid.values()))
    else:  # draw indices, then look up only those points (the grid may be large)
        rng = random.Random(base_seed)
        combos = [_grid_point(grid, i) for i in sorted(rng.sample(range(n_points), random_n))]
    points = [dict(zip(names, combo, strict=True)) for combo in combos]
    if "seed" not in grid:
        points = [{**p, "seed": base_seed + k} for p in points for k in range(seeds)]
    trials = []
    for point in points:
        spec = spec_for(point, fixed)
        digest = hashlib.sha1(json.dumps(spec_dict(spec), sort_keys=True).encode()).hexdigest()[:8]
        label = "_".join(f"{k}={_fmt(v)}" for k, v in point.items())
        label = re.sub(r"[^A-Za-z0-9_.=+-]", "-", label)
        if len(label) > MAX_LABEL:  # a file name has at most 255 bytes; the hash tells apart
            label = label[:MAX_LABEL] + "..."
        trials.append(Trial(f"trials/{label}-{digest}", point, spec))
    return trials


def _check_trial_count(grid: dict[str, list[Any]], random_n: int | None, seeds: int) -> None:
    """``ValueError`` if the sweep would have more than :data:`MAX_TRIALS` trials.

    The count (grid points, or ``random_n``, times ``seeds``) is computed from the
    axis lengths, before anything is expanded.
    """
    sizes = [len(v) for v in grid.values()]
    count = (random_n if random_n is not None else math.prod(sizes)) * seeds
    if count > MAX_TRIALS:
        shape = " x ".join(map(str, sizes))
        how = f"--random {random_n}" if random_n is not None else f"a {shape} grid"
        raise ValueError(
            f"the sweep would have {count} trials ({how} x {seeds} seed(s)); "
            f"the limit is {MAX_TRIALS}: use fewer values, seeds or --random N"
        )


def _grid_point(grid: dict[str, list[Any]], index: int) -> tuple[Any, ...]:
    """The ``index``-th combination of ``itertools.product(*grid.values())``."""
    combo = []
    for values in reversed(list(grid.values())):
        index, k = divmod(index, len(values))
        combo.append(values[k])
    return tuple(reversed(combo))


def _crash_hook(
    trial_dir: Path, setting: str | None
) -> Callable[[int, dict[str, Any]], None] | None:
    """The fault-injection hook of :data:`FAULT_ENV` (tests only), or ``None``."""
    if not setting:
        return None
    marker, _, epoch_text = setting.partition(":")
    at = int(epoch_text or 1)

    def hook(epoch: int, record: dict[str, Any]) -> None:
        if epoch != at:
            return
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return  # someone already crashed once
        os.write(fd, f"{trial_dir.name} pid {os.getpid()} epoch {epoch}\n".encode())
        os.close(fd)
        os._exit(17)  # the worker process dies, as if killed

    return hook


def trial_state(diagnosis: dict[str, Any] | None) -> str | None:
    """The initial state of a network from its hidden layers' diagnoses: ``"silent"`` if
    any hidden layer is silent, else ``"saturated"`` if any is saturated, else
    ``"mean-driven"`` if any is, else ``"fluctuation-driven"``."""
    if not diagnosis:
        return None
    states = [la["state"] for la in diagnosis.get("layers", []) if la["state"] != "readout"]
    for s in STATES:
        if s in states:
            return s
    return None


def execute_trial(task: dict[str, Any]) -> dict[str, Any]:
    """Run one trial (in this process, or inside a Ray worker) and return its record.

    ``task``: ``{"name", "params", "spec" (spec_dict), "out" (absolute), "device",
    "threads" (torch threads, or None to keep), "cwd", "extra"}``. Continues from the
    trial directory's ``last.pt`` if there is one (the driver clears it for a fresh
    sweep). Writes ``trial.json`` atomically at the end.
    """
    import torch

    if task.get("cwd") and os.path.isdir(task["cwd"]):
        os.chdir(task["cwd"])  # Ray Tune starts trials in their own directory
    old_threads = torch.get_num_threads()
    if task.get("threads"):
        torch.set_num_threads(int(task["threads"]))
    trial_dir = Path(task["out"]) / task["name"]
    trial_dir.mkdir(parents=True, exist_ok=True)
    spec_d = dict(task["spec"])
    spec_d["hidden"] = tuple(spec_d["hidden"])
    spec = RunSpec(**spec_d)
    record: dict[str, Any] = {
        "name": task["name"],
        "params": task["params"],
        **task.get("extra", {}),
        "spec": task["spec"],
    }
    attempts_file = trial_dir / "attempts"
    attempt = int(attempts_file.read_text() or 0) + 1 if attempts_file.exists() else 1
    attempts_file.write_text(str(attempt))
    record["attempt"] = attempt
    t0 = time.perf_counter()
    try:
        res = run_one(
            spec,
            trial_dir,
            device=task["device"],
            resume=True,
            progress=False,
            diagnose_init=True,
            on_epoch_end=_crash_hook(trial_dir, task.get("fault")),
        )
        diag = res["initial_diagnosis"]
        record.update(
            status="ok",
            metrics=res["metrics"],
            history=res["history"],
            init=res["init"],
            dataset=res.get("dataset"),
            initial_state=trial_state(diag),
            initial_diagnosis=_diag_summary(diag),
        )
    except TrainingDiverged as exc:
        record.update(status="diverged", error=str(exc), metrics={"test_accuracy": None})
        record.update(history=_read_history(trial_dir), initial_state=None)
    except ValueError as exc:
        if "unreachable targets" in str(exc):
            # the fluctuation-driven rule has no real weights for these targets (sigma_W^2 <= 0)
            record.update(status="unreachable", error=str(exc), metrics={"test_accuracy": None})
            record.update(history=[], initial_state="unreachable")
        elif "no temporal variance" in str(exc):
            # a hidden layer gives the readout nothing to measure: diagnose the network
            # initialised up to the readout (which keeps its default weights)
            diag = _diagnose_before_readout(spec)
            record.update(status="init_failed", error=str(exc), metrics={"test_accuracy": None})
            record.update(
                history=[], initial_state=trial_state(diag), initial_diagnosis=_diag_summary(diag)
            )
        else:
            raise
    finally:
        torch.set_num_threads(old_threads)
    record["wall_s"] = time.perf_counter() - t0
    tmp = trial_dir / "trial.json.tmp"

    record = _jsonable(record)
    tmp.write_text(json.dumps(record) + "\n")
    os.replace(tmp, trial_dir / "trial.json")
    return record


def _diagnose_before_readout(spec: Any) -> dict[str, Any]:

    model, _, x_init, _ = build_initialized(spec, readout="keep")
    return diagnose(model, x_init).to_dict()


def _diag_summary(diag: dict[str, Any]) -> list[dict[str, Any]]:
    keys = (
        "name",
        "state",
        "rate",
        "silent_fraction",
        "saturated_fraction",
        "free_mem_mean",
        "free_mem_std",
    )
    return [{k: la.get(k) for k in keys} for la in diag.get("layers", [])]


def _read_history(trial_dir: Path) -> list[dict[str, Any]]:
    path = trial_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def finished_record(out: Path, trial: Trial) -> dict[str, Any] | None:
    """The saved record of a finished trial, if its ``trial.json`` matches its spec."""

    path = out / trial.name / "trial.json"
    if not path.exists():
        return None
    try:
        rec = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    _check_record(path, rec)
    return rec if rec.get("spec") == _jsonable(spec_dict(trial.spec)) else None


def _check_record(path: Path, rec: Any) -> None:
    """``ValueError`` naming ``path`` if ``rec`` is not the shape a trial writes (a
    hand-edited ``trial.json``): resuming from it would fail later, or silently."""
    problem = None
    if not isinstance(rec, dict):
        problem = f"a {type(rec).__name__}, not a trial record"
    elif not isinstance(rec.get("metrics"), dict):
        problem = f"'metrics' is {rec.get('metrics')!r}, not a table"
    elif not isinstance(rec.get("history", []), list):
        problem = "'history' is not a list"
    elif not isinstance(rec.get("status"), str):
        problem = f"'status' is {rec.get('status')!r}"
    else:
        acc = rec["metrics"].get("test_accuracy")
        if rec["status"] == "ok" and not isinstance(acc, (int, float)):
            problem = f"a finished trial with test_accuracy {acc!r}"
    if problem:
        raise ValueError(
            f"--resume: {path} is damaged ({problem}); delete it to run that trial again"
        )


def clear_trial(out: Path, trial: Trial) -> None:
    """Remove what an earlier run of ``trial`` left (its Trainer files and trial.json)."""
    d = out / trial.name
    for f in ("last.pt", "best.pt", "metrics.jsonl", "trial.json", "attempts"):
        (d / f).unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------
# engines


def check_address(address: str, timeout: float = 3.0) -> None:
    """``ValueError`` unless ``host:port`` of a Ray address answers within ``timeout`` s.

    ``"auto"`` (the cluster this machine belongs to) is checked by Ray itself.
    """
    if address == "auto":
        return
    rest = address.split("://", 1)[-1]
    host, sep, port_text = rest.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"--address must be HOST:PORT, ray://HOST:PORT or auto, got {address!r}")
    try:
        with socket.create_connection((host.strip("[]"), int(port_text)), timeout=timeout) as sock:
            speaks_grpc = _answers_http2(sock, timeout)
    except OSError as exc:
        raise ValueError(
            f"--address {address}: no Ray cluster answers there ({exc.strerror or exc})"
        ) from None
    if not speaks_grpc:
        # Ray would wait for it forever: its GCS (and the ray:// client server) speak gRPC
        raise ValueError(
            f"--address {address}: something listens there but it is not a Ray cluster "
            f"(no gRPC answer within {timeout:g} s); give the Ray head's GCS port (default 6379)"
        )


#: the HTTP/2 client preface and an empty SETTINGS frame (RFC 9113, sections 3.4 and 6.5)
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _answers_http2(sock: socket.socket, timeout: float) -> bool:
    """Whether the server on ``sock`` answers an HTTP/2 preface with a SETTINGS frame, as
    every gRPC server (Ray's GCS, Ray client server) does; ``False`` on silence or
    anything else."""
    sock.settimeout(timeout)
    try:
        sock.sendall(_HTTP2_HELLO)
        head = b""
        deadline = time.monotonic() + timeout
        while len(head) < 9 and time.monotonic() < deadline:
            chunk = sock.recv(9 - len(head))
            if not chunk:
                break
            head += chunk
    except OSError:
        return False
    return len(head) == 9 and head[3] == 0x04  # frame type 4: SETTINGS


def check_trial_cpus(threads: int, num_cpus: int | None, address: str | None) -> None:
    """``ValueError`` if a trial asks for more CPUs (``--threads``) than the embedded Ray
    has (``--num-cpus``, default all): Ray Tune would wait for them forever. A joined
    cluster is checked by :func:`run_ray` once joined."""
    if address:
        return
    have = num_cpus or os.cpu_count() or 1
    if threads > have:
        raise ValueError(
            f"--threads {threads} asks for {threads} CPUs per trial, but the embedded Ray has "
            f"{have} (--num-cpus {have}); lower --threads or raise --num-cpus"
        )


def _check_cluster_fits(cpus: float, gpus: float, address: str | None) -> None:
    """``ValueError`` unless one alive node of the Ray cluster has ``cpus`` CPUs and
    ``gpus`` GPUs (a trial runs on one node; otherwise it would never start)."""
    import ray

    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    for what, asked, flag in (("CPU", cpus, "--threads"), ("GPU", gpus, "--device cuda")):
        best = max((float(r.get(what, 0)) for r in nodes), default=0.0)
        if asked > best:
            where = f"cluster at {address}" if address else "embedded Ray"
            raise ValueError(
                f"{flag} asks for {asked:g} {what}s per trial, but the largest node of the "
                f"{where} has {best:g}; the trials would never start"
            )


def _tune_trainable(config: dict[str, Any], tasks: list[dict[str, Any]]) -> None:
    from ray import tune

    record = execute_trial(tasks[config["index"]])
    acc = record.get("metrics", {}).get("test_accuracy")
    tune.report({"test_accuracy": acc, "record": json.dumps(record)})


def _progress_callback(total: int) -> Any:
    from ray import tune
    from tqdm.auto import tqdm

    disable = os.environ.get("SPIKEINIT_NO_PROGRESS", "") not in ("", "0")

    class Progress(tune.Callback):  # type: ignore[misc]
        """A tqdm bar of trials done, with running / pending / retried counts."""

        def __init__(self) -> None:
            import sys

            self.bar = tqdm(
                total=total,
                desc="sweep",
                unit="trial",
                file=sys.stderr,
                disable=disable,
                dynamic_ncols=True,
            )

        def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
            c = Counter(t.status for t in trials)
            done = c.get("TERMINATED", 0) + c.get("ERROR", 0)
            self.bar.update(done - self.bar.n)
            self.bar.set_postfix(
                running=c.get("RUNNING", 0),
                pending=total - done - c.get("RUNNING", 0),
                failed=c.get("ERROR", 0),
                refresh=False,
            )

        def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
            self.on_step_end(0, trials)
            self.bar.close()

    return Progress()


def use_token_auth_if_available() -> bool:
    """Join with token authentication where a token is at hand, as ``ray start`` does.

    Ray >= 2.59 starts a ``ray start --head`` cluster with token authentication
    when a token exists (``~/.ray/auth_token``, ``RAY_AUTH_TOKEN`` or
    ``RAY_AUTH_TOKEN_PATH``), but a driver joining it with ``ray.init(address=...)``
    only sends the token when ``RAY_AUTH_MODE=token`` is set. An explicit
    ``RAY_AUTH_MODE`` is left as it is. Returns whether token mode is on.
    """
    mode = os.environ.get("RAY_AUTH_MODE")
    if mode is not None:
        return mode.lower() == "token"
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or "~/.ray/auth_token").expanduser()
    if os.environ.get("RAY_AUTH_TOKEN") or path.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"
        return True
    return False


def run_ray(
    tasks: list[dict[str, Any]],
    out: Path,
    address: str | None = None,
    max_concurrent: int | None = None,
    num_cpus: int | None = None,
    gpus_per_trial: float = 0.0,
    cpus_per_trial: float = 1.0,
    max_failures: int = 2,
) -> list[dict[str, Any]]:
    """Run ``tasks`` as Ray Tune trials; returns their records in order.

    Without ``address`` (and without a running ``ray.init`` in this process) Ray
    starts embedded here with ``num_cpus`` CPUs and is shut down afterwards.
    """
    import logging

    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    token = bool(address) and use_token_auth_if_available()  # before Ray reads its config
    import ray
    from ray import tune

    for name in ("ray.tune", "ray.train", "ray.tune.analysis.experiment_analysis"):
        logging.getLogger(name).setLevel(logging.ERROR)
    started = False
    if not ray.is_initialized():
        kw: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        if address:
            try:
                ray.init(address=address, **kw)
            except (ConnectionError, RuntimeError) as exc:
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                hint = (
                    "" if token else "; if the cluster uses token authentication (Ray >= 2.59), "
                    "set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or copy the head node's "
                    "~/.ray/auth_token here)"
                )
                raise ValueError(
                    f"--address {address}: cannot join the Ray cluster ({msg}){hint}"
                ) from None
        else:
            # address="local": always a fresh instance of our own, never a cluster that an
            # earlier `ray start` (or a killed run) left behind in ray_current_cluster
            ray.init(
                address="local",
                num_cpus=num_cpus or os.cpu_count() or 1,
                include_dashboard=False,
                **kw,
            )
        started = True
    try:
        _check_cluster_fits(cpus_per_trial, gpus_per_trial, address)
        resources = {"cpu": cpus_per_trial, "gpu": gpus_per_trial}
        trainable = tune.with_resources(
            tune.with_parameters(_tune_trainable, tasks=tasks), resources
        )
        tuner = tune.Tuner(
            trainable,
            param_space={"index": tune.grid_search(list(range(len(tasks))))},
            tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent, reuse_actors=True),
            run_config=tune.RunConfig(
                name=f"sweep-{int(time.time())}",
                storage_path=str((out / "ray").resolve()),
                failure_config=tune.FailureConfig(max_failures=max_failures),
                callbacks=[_progress_callback(len(tasks))],
                verbose=0,
            ),
        )
        grid = tuner.fit()
        records: list[dict[str, Any] | None] = [None] * len(tasks)
        for k in range(len(grid)):
            result = grid[k]
            i = (result.config or {})["index"]
            if result.metrics and "record" in result.metrics:
                records[i] = json.loads(result.metrics["record"])
            else:  # the worker died more than max_failures times, or the trial raised
                records[i] = _failed_record(tasks[i], result.error)
    finally:
        if started:
            ray.shutdown()
    assert all(r is not None for r in records)
    return [r for r in records if r is not None]


def _failed_record(task: dict[str, Any], error: Any) -> dict[str, Any]:
    text = str(error).strip().splitlines()
    return {
        "name": task["name"],
        "params": task["params"],
        **task.get("extra", {}),
        "spec": task["spec"],
        "status": "failed",
        "error": text[-1] if text else repr(error),
        "metrics": {"test_accuracy": None},
        "history": [],
        "initial_state": None,
    }


def run_inprocess(tasks: list[dict[str, Any]], max_failures: int = 2) -> list[dict[str, Any]]:
    """Run ``tasks`` one after another in this process.

    As on Ray Tune (``FailureConfig(max_failures)``), a trial that raises is tried
    again up to ``max_failures`` times (from its own ``last.pt``) and then recorded
    as ``failed`` with its error; the other trials go on. If every trial failed
    with the same error, that error is the set-up's (a missing model file, data
    that do not load), not a grid point's: it is raised, and the command ends with
    it in one line instead of a table of identical failures.
    """
    records = []
    errors: list[Exception] = []
    for task in progress(tasks, total=len(tasks), desc="trials"):
        for attempt in range(max_failures + 1):
            try:
                records.append(execute_trial(task))
                break
            except Exception as exc:  # noqa: BLE001 - recorded, as Ray records a trial's error
                if attempt == max_failures:
                    records.append(_failed_record(task, f"{type(exc).__name__}: {exc}"))
                    errors.append(exc)
    if errors and len(errors) == len(tasks) and len({str(e) for e in errors}) == 1:
        raise errors[0]
    return records


def execute(
    trials: list[Trial],
    out: str | Path,
    device: str = "cpu",
    engine: str = "ray",
    resume: bool = False,
    threads: int | None = 1,
    **ray_kw: Any,
) -> list[dict[str, Any]]:
    """Run ``trials`` (skipping finished ones with ``resume``) and return every record.

    Without ``resume`` each trial's directory is cleared first; with it, finished
    trials are read back from ``trial.json`` and unfinished ones continue from
    their ``last.pt``.
    """

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {list(ENGINES)}, got {engine!r}")
    out = Path(out).resolve()
    records: list[dict[str, Any] | None] = [None] * len(trials)
    todo = []
    for i, trial in enumerate(trials):
        done = finished_record(out, trial) if resume else None
        if done is not None:
            records[i] = done
            continue
        if not resume:
            clear_trial(out, trial)
        todo.append(i)
    tasks = [
        {
            "name": trials[i].name,
            "params": trials[i].params,
            "extra": trials[i].extra,
            "spec": spec_dict(trials[i].spec),
            "out": str(out),
            "device": device,
            "threads": threads,
            "cwd": os.getcwd(),
            "fault": os.environ.get(FAULT_ENV),
        }
        for i in todo
    ]
    if tasks:
        if engine == "ray":
            gpus = 1.0 if device.startswith("cuda") else 0.0
            new = run_ray(
                tasks, out, gpus_per_trial=gpus, cpus_per_trial=float(threads or 1), **ray_kw
            )
        else:
            new = run_inprocess(tasks, max_failures=ray_kw.get("max_failures", 2))
        for i, rec in zip(todo, new, strict=True):
            records[i] = rec
    for i, done_rec in enumerate(records):
        assert done_rec is not None
        done_rec["resumed_finished"] = i not in todo
    return [r for r in records if r is not None]


# ------------------------------------------------------------------------------------------
# summary, heatmap, report


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A record's metrics and learning curve without timing (for equality checks)."""
    history = [{k: v for k, v in h.items() if k not in TIMING_KEYS} for h in record["history"]]
    return {"metrics": record["metrics"], "history": history}


def group_table(records: list[dict[str, Any]], swept: list[str]) -> list[dict[str, Any]]:
    """Mean / std / n of test accuracy per combination of the swept params (seeds pooled)."""
    keys = [k for k in swept if k != "seed"]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(tuple(_hashable(r["params"].get(k)) for k in keys), []).append(r)
    rows = []
    for combo, rs in groups.items():
        acc = np.array([_acc(r) for r in rs], dtype=float)
        ok = acc[np.isfinite(acc)]
        states = Counter(r.get("initial_state") for r in rs)
        rows.append(
            {
                "params": dict(zip(keys, combo, strict=True)),
                "test_accuracy_mean": float(ok.mean()) if ok.size else None,
                "test_accuracy_std": float(ok.std()) if ok.size else None,
                "n_runs": len(rs),
                "n_failed": sum(r.get("status") != "ok" for r in rs),
                "initial_state": states.most_common(1)[0][0],
            }
        )
    return rows


def _hashable(v: Any) -> Any:
    if isinstance(v, dict):  # a table of keyword arguments (model_kw, data_kw)
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return tuple(v) if isinstance(v, list) else v


def _acc(r: dict[str, Any]) -> float:
    v = r.get("metrics", {}).get("test_accuracy")
    return math.nan if v is None else float(v)


def heatmap_axes(grid: dict[str, list[Any]], axes: list[str] | None = None) -> list[str] | None:
    """The two swept targets of the heatmap: ``axes`` if given, else (mu_u or xi, sigma_u)
    when swept, else the first two numeric swept parameters with >= 2 values."""
    numeric = [
        k
        for k, v in grid.items()
        if PARAMETERS[k].kind in ("float", "int") and k != "seed" and len(v) >= 2
    ]
    if axes:
        for a in axes:
            if a not in numeric:
                raise ValueError(
                    f"--axes: {a} is not a swept numeric parameter with >= 2 values "
                    f"(swept: {', '.join(numeric) or 'none'})"
                )
        return axes
    for x in ("mu_u", "xi"):
        if x in numeric and "sigma_u" in numeric:
            return [x, "sigma_u"]
    return numeric[:2] if len(numeric) >= 2 else None


def _edges(values: np.ndarray, log: bool) -> np.ndarray:
    v = np.log(values) if log else values.astype(float)
    if len(v) == 1:
        mids = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        inner = (v[1:] + v[:-1]) / 2
        mids = np.concatenate([[v[0] - (inner[0] - v[0])], inner, [v[-1] + (v[-1] - inner[-1])]])
    return np.exp(mids) if log else mids


def heatmap_cells(
    records: list[dict[str, Any]], xname: str, yname: str
) -> tuple[list[Any], list[Any], list[dict[str, Any]]]:
    """Cells of the heatmap: mean test accuracy over all trials of each (x, y)."""
    xs = sorted({r["params"][xname] for r in records})
    ys = sorted({r["params"][yname] for r in records})
    cells = []
    for y in ys:
        for x in xs:
            rs = [r for r in records if r["params"][xname] == x and r["params"][yname] == y]
            acc = np.array([_acc(r) for r in rs], dtype=float)
            ok = acc[np.isfinite(acc)]
            states = Counter(r.get("initial_state") for r in rs)
            cells.append(
                {
                    xname: x,
                    yname: y,
                    "test_accuracy_mean": float(ok.mean()) if ok.size else None,
                    "test_accuracy_std": float(ok.std()) if ok.size else None,
                    "n_runs": len(rs),
                    "initial_state": states.most_common(1)[0][0] if rs else None,
                }
            )
    return xs, ys, cells


def plot_heatmap(records: list[dict[str, Any]], xname: str, yname: str, out: str | Path) -> Path:
    """Mean test accuracy over (x, y); iso-lines of xi = (1 - mu_U) / sigma_U when the axes
    are mu_u and sigma_u; cells whose initial network was silent (hatched ``//``, "S") or
    saturated (hatched ``xx``, "X") marked."""
    from matplotlib.patches import Rectangle

    xs, ys, cells = heatmap_cells(records, xname, yname)
    xv, yv = np.array(xs, dtype=float), np.array(ys, dtype=float)
    logx = bool((xv > 0).all() and len(xv) > 2 and xv.max() / xv.min() >= 8)
    logy = bool((yv > 0).all() and len(yv) > 2 and yv.max() / yv.min() >= 8)
    xe, ye = _edges(xv, logx), _edges(yv, logy)
    z = np.array(
        [math.nan if c["test_accuracy_mean"] is None else c["test_accuracy_mean"] for c in cells]
    ).reshape(len(ys), len(xs))
    fig, axes = new_figure(1, 1, size=(6.5, 5.0))
    ax = axes[0][0]
    mesh = ax.pcolormesh(
        xe,
        ye,
        np.ma.masked_invalid(z),
        cmap="viridis",
        vmin=np.nanmin(z) if np.isfinite(z).any() else 0,
        vmax=np.nanmax(z) if np.isfinite(z).any() else 1,
    )
    fig.colorbar(mesh, ax=ax, label="test accuracy (mean over seeds)")
    ax.set_facecolor("0.85")  # cells without an accuracy (unreachable, diverged)
    for i, _y in enumerate(ys):
        for j, _x in enumerate(xs):
            c = cells[i * len(xs) + j]
            state = c["initial_state"]
            cx = math.sqrt(xe[j] * xe[j + 1]) if logx else (xe[j] + xe[j + 1]) / 2
            cy = math.sqrt(ye[i] * ye[i + 1]) if logy else (ye[i] + ye[i + 1]) / 2
            mark = {
                "silent": ("//", "S"),
                "saturated": ("xx", "X"),
                "unreachable": ("..", "U"),
            }.get(state or "")
            if mark:
                ax.add_patch(
                    Rectangle(
                        (xe[j], ye[i]),
                        xe[j + 1] - xe[j],
                        ye[i + 1] - ye[i],
                        fill=False,
                        hatch=mark[0],
                        edgecolor="0.5",
                        lw=0,
                    )
                )
            acc = c["test_accuracy_mean"]
            label = [] if acc is None and mark else ["-" if acc is None else f"{100 * acc:.0f}"]
            ax.text(
                cx,
                cy,
                "\n".join(label + ([mark[1]] if mark else [])),
                ha="center",
                va="center",
                fontsize=8,
                color="black" if acc is None or float(mesh.norm(acc)) >= 0.5 else "white",
            )
    if {xname, yname} == {"mu_u", "sigma_u"}:
        # mu_U = 1 - xi sigma_U: straight lines in the (mu_U, sigma_U) plane
        se, me = (ye, xe) if yname == "sigma_u" else (xe, ye)
        log_s = logy if yname == "sigma_u" else logx
        lo = max(se[0], 1e-3 * se[-1])
        sig = np.geomspace(lo, se[-1], 200) if log_s else np.linspace(lo, se[-1], 200)
        for xi in (0.5, 1.0, 2.0, 4.0):
            mu = 1.0 - xi * sig
            inside = np.flatnonzero((mu >= me[0]) & (mu <= me[-1]) & (sig >= se[0]))
            if yname == "sigma_u":
                ax.plot(mu, sig, "w--", lw=1)
            else:
                ax.plot(sig, mu, "w--", lw=1)
            if inside.size:
                k = int(inside[inside.size // 2])
                pos = (mu[k], sig[k]) if yname == "sigma_u" else (sig[k], mu[k])
                ax.text(*pos, f"ξ={xi:g}", color="white", fontsize=8)
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(ye[0], ye[-1])
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xticks(xv, [f"{v:g}" for v in xv], minor=False)
    ax.set_yticks(yv, [f"{v:g}" for v in yv], minor=False)
    ax.minorticks_off()
    ax.set(
        xlabel=_axis_label(xname),
        ylabel=_axis_label(yname),
        title="S: silent, X: saturated initial network, U: unreachable target; "
        "dashed: ξ = (1 - μ_U)/σ_U",
    )
    ax.title.set_fontsize(9)
    return save_figure(fig, out, "heatmap.png")


def _axis_label(name: str) -> str:
    return {
        "mu_u": "μ_U / θ (target mean)",
        "sigma_u": "σ_U / θ (target fluctuation)",
        "xi": "ξ = (1 - μ_U)/σ_U",
    }.get(name, name)


def summarize(
    records: list[dict[str, Any]], grid: dict[str, list[Any]], axes: list[str] | None
) -> dict[str, Any]:
    swept = list(grid) + (["seed"] if "seed" not in grid else [])
    table = group_table(records, swept)
    ok = [row for row in table if row["test_accuracy_mean"] is not None]
    best = max(ok, key=lambda r: r["test_accuracy_mean"]) if ok else None
    summary: dict[str, Any] = {"table": table, "best": best, "n_trials": len(records)}
    if axes:
        xs, ys, cells = heatmap_cells(records, axes[0], axes[1])
        summary["heatmap"] = {"x": axes[0], "y": axes[1], "cells": cells}
    summary["silent_or_saturated"] = [
        row for row in table if row["initial_state"] in ("silent", "saturated")
    ]
    return summary


def report_table(summary: dict[str, Any]) -> str:
    rows = summary["table"]
    if not rows:
        return ""
    keys = list(rows[0]["params"])
    head = keys + ["test accuracy (mean ± std)", "runs", "initial state"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        acc = (
            "failed"
            if r["test_accuracy_mean"] is None
            else f"{r['test_accuracy_mean']:.4f} ± {r['test_accuracy_std']:.4f}"
        )
        vals = [_fmt(_hashable(r["params"][k])) for k in keys]
        lines.append(f"| {' | '.join(vals)} | {acc} | {r['n_runs']} | {r['initial_state']} |")
    return "\n".join(lines)


def write_outputs(
    out: str | Path,
    command: str,
    records: list[dict[str, Any]],
    grid: dict[str, list[Any]],
    config: dict[str, Any],
    device: str,
    cmdline: str,
    axes: list[str] | None,
    wall_s: float,
) -> dict[str, Any]:
    """``results.json``, ``heatmap.png`` (with two axes) and ``report.md``."""
    summary = summarize(records, grid, axes)
    summary["wall_s"] = wall_s
    if axes:
        plot_heatmap(records, axes[0], axes[1], out)
    write_results(out, command, config, device, trials=records, summary=summary)
    best = summary["best"]
    best_text = (
        "none (every trial failed)"
        if best is None
        else ", ".join(f"{k} = {_fmt(_hashable(v))}" for k, v in best["params"].items())
        + f": {best['test_accuracy_mean']:.4f} ± {best['test_accuracy_std']:.4f}"
    )
    bad = summary["silent_or_saturated"]
    bad_text = (
        "; ".join(
            ", ".join(f"{k} = {_fmt(_hashable(v))}" for k, v in r["params"].items())
            + f" ({r['initial_state']})"
            for r in bad
        )
        or "none"
    )
    text = (
        f"# spikeinit {command}\n\n`{cmdline}`\n\n{len(records)} trials, wall time "
        f"{wall_s:.1f} s.\n\n**Best:** {best_text}\n\n**Silent or saturated initial "
        f"networks:** {bad_text}\n\n{report_table(summary)}\n"
    )
    if axes:
        text += f"\n![test accuracy over {axes[0]} x {axes[1]}](heatmap.png)\n"
    write_report(out, text)
    return summary


# ------------------------------------------------------------------------------------------
# CLI


def _fixed_from_args(args: argparse.Namespace) -> dict[str, Any]:

    over = {k: v for k, v in spec_overrides(args).items() if v is not None}
    kw = dict(over.pop("dataset_kw", None) or {})
    if "n_steps" in kw:
        over["steps"] = kw.pop("n_steps")
    if "samples_per_class" in kw:
        over["samples_per_class"] = kw.pop("samples_per_class")
    if kw:  # a user's --data-kw: passed to the data factory as given
        over["dataset_kw"] = kw
    if getattr(args, "data", None) or args.dataset is not None:
        over["dataset"] = dataset_of(args)
    if args.init is not None:
        over["init"] = args.init
    return over


def check_engine_options(args: argparse.Namespace) -> None:
    """``ValueError`` for engine options that the chosen engine would ignore
    (``--address``, ``--num-cpus``, ``--max-concurrent`` with ``--engine inprocess``),
    and for a negative ``--max-failures`` (``sweep`` and ``compare`` alike)."""
    if args.max_failures < 0:
        raise ValueError(f"--max-failures must be >= 0, got {args.max_failures}")
    if args.engine == "inprocess":
        given = [
            flag
            for flag, value in (
                ("--address", args.address),
                ("--num-cpus", args.num_cpus),
                ("--max-concurrent", args.max_concurrent),
            )
            if value is not None
        ]
        if given:
            raise ValueError(
                f"{', '.join(given)}: Ray options, but --engine inprocess runs the trials one "
                "after another in this process; use --engine ray or leave them out"
            )


def plan(args: argparse.Namespace) -> tuple[list[Trial], dict[str, list[Any]], dict[str, Any]]:
    """Validate the arguments and build the trials (before anything is written)."""
    check_engine_options(args)
    file: dict[str, Any] = load_toml(args.config) if args.config else {}
    grid = dict(file.get("grid", {}))
    grid.update(parse_grid_items(args.grid))
    fixed = dict(file.get("fixed", {}))
    fixed.update(_fixed_from_args(args))  # the command line wins over the file
    for k in list(fixed):
        if k in grid:
            fixed.pop(k)
    seeds = args.seeds if args.seeds is not None else file.get("seeds", 1)
    random_n = args.random if args.random is not None else file.get("random")
    base_seed = args.seed if args.seed is not None else file.get("seed", 0)
    trials = make_trials(grid, fixed, seeds=seeds, base_seed=base_seed, random_n=random_n)
    axes = None
    if args.axes:
        axes = [canonical_name(a) for a in args.axes.split(",")]
        if len(axes) != 2:
            raise ValueError(f"--axes needs two names, e.g. mu_u,sigma_u, got {args.axes!r}")
    shown = {k: v for k, v in grid.items()}
    if random_n is not None:
        shown = {k: sorted({t.params[k] for t in trials}, key=_sort_key) for k in grid}
    axes = heatmap_axes(shown, axes)
    config = {
        "grid": grid,
        "fixed": fixed,
        "seeds": seeds,
        "base_seed": base_seed,
        "random": random_n,
        "axes": axes,
        "engine": args.engine,
        "address": args.address,
        "max_concurrent": args.max_concurrent,
        "threads": args.threads,
    }
    return trials, shown, config


def _sort_key(v: Any) -> Any:
    return v if not isinstance(v, tuple) else (len(v), v)


def command_line(args: argparse.Namespace) -> str:
    """The ``spikeinit sweep`` command that reproduces ``args`` (for report.md)."""
    import shlex

    parts = ["spikeinit", "sweep"]
    for key, value in vars(args).items():
        if key in ("func", "command", "out", "resume") or value in (None, False, [], ""):
            continue
        if key == "dataset" and getattr(args, "data", None):
            continue  # --data names the data
        defaults = {"seed": 0, "threads": 1, "engine": "ray", "max_failures": 2, "device": "cpu"}
        if key in defaults and value == defaults[key]:
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, dict):
            parts += [flag, ",".join(f"{k}={json.dumps(v)}" for k, v in value.items())]
        elif isinstance(value, list):
            parts += [flag, *map(str, value)]
        elif value is True:
            parts.append(flag)
        else:
            parts += [flag, str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def run(args: argparse.Namespace) -> int:
    import sys

    device = resolve_device(args.device)
    trials, grid, config = plan(args)
    if args.address and args.engine == "ray":
        check_address(args.address)
    if args.engine == "ray":
        check_trial_cpus(args.threads, args.num_cpus, args.address)
        if args.address:
            use_token_auth_if_available()  # before Ray is imported and reads its config
        try:
            import ray  # noqa: F401
        except ModuleNotFoundError:
            raise ValueError(
                "--engine ray needs Ray: pip install 'spikeinit[sweep]' (or use --engine inprocess)"
            ) from None
    t0 = time.perf_counter()
    records = execute(
        trials,
        args.out,
        str(device),
        engine=args.engine,
        resume=args.resume,
        threads=args.threads,
        **(
            {
                "address": args.address,
                "max_concurrent": args.max_concurrent,
                "num_cpus": args.num_cpus,
                "max_failures": args.max_failures,
            }
            if args.engine == "ray"
            else {"max_failures": args.max_failures}
        ),
    )
    wall = time.perf_counter() - t0
    cmdline = command_line(args)
    summary = write_outputs(
        args.out, "sweep", records, grid, config, str(device), cmdline, config["axes"], wall
    )
    print(report_table(summary))
    print(f"{len(records)} trials in {wall:.1f} s -> {args.out}")
    failed = [r["name"] for r in records if r.get("status") == "failed"]
    if failed:
        print(
            f"spikeinit sweep: {len(failed)} trial(s) failed ({failed[0]}: "
            f"{records[[r['name'] for r in records].index(failed[0])]['error']}); "
            "rerun with --resume to retry them",
            file=sys.stderr,
        )
        return 1
    return 0
