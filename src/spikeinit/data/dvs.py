"""IBM DVS Gesture (Amir et al. 2017) through tonic, binned to a dense time grid.

tonic's ``DVSGesture`` (1077 train, 264 test samples, 11 classes, 128x128
sensor, 2 polarities) is read event by event; each sample is

- shifted so that its first event is at t = 0 and cropped to ``duration``
  seconds (stork's runs: 1 s);
- binned into ``round(duration / dt)`` steps (stork: 500 steps of 2 ms);
- spatially downsampled by ``128 // size`` (pixel ``(x, y)`` goes to
  ``(x // f, y // f)``), giving ``input_shape = (2, size, size)``
  (polarity, y, x); several events in one bin count once (binary input).

The binned result is cached next to tonic's files so that the slow pass over
the raw events runs once. The validation split is a seeded ``val_fraction``
of the train set.
"""

from __future__ import annotations

import importlib
import math
import os
import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._base import (
    DatasetUnavailableError,
    EventStore,
    SpikeDataset,
    Split,
    cache_dir,
    check_float,
    check_int,
    holdout_split,
)

__all__ = ["DVS_FILES", "bin_events", "dvs_gesture"]

SENSOR = 128
N_CLASSES = 11
#: split -> (file name, URL, MD5) as used by tonic
DVS_FILES = {
    "train": (
        "ibmGestureTrain.tar.gz",
        "https://figshare.com/ndownloader/files/38022171",
        "3a8f0d4120a166bac7591f77409cb105",
    ),
    "test": (
        "ibmGestureTest.tar.gz",
        "https://figshare.com/ndownloader/files/38020584",
        "56070e45dadaa85fff82e0fbfbc06de5",
    ),
}


def bin_events(
    events: np.ndarray, dt: float, n_steps: int, size: int, sensor: int = SENSOR
) -> tuple[np.ndarray, np.ndarray]:
    """Bin one structured event array (fields x, y, p, t in microseconds).

    Returns ``(steps, units)`` with ``units = p * size^2 + (y // f) * size + x // f``
    and ``f = sensor // size``, keeping events with ``step < n_steps``.

    Raises:
        ValueError: missing fields, coordinates outside the sensor, or
            non-finite times.
    """
    names = events.dtype.names or ()
    for field in ("x", "y", "p", "t"):
        if field not in names:
            raise ValueError(f"DVS events must have fields x, y, p, t; got {names}")
    x = np.asarray(events["x"], dtype=np.int64)
    y = np.asarray(events["y"], dtype=np.int64)
    p = np.asarray(events["p"]).astype(np.int64)
    t = np.asarray(events["t"], dtype=np.float64)
    if x.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if not np.isfinite(t).all():
        raise ValueError("DVS event times contain NaN or inf")
    if x.min() < 0 or x.max() >= sensor or y.min() < 0 or y.max() >= sensor:
        raise ValueError(f"DVS event coordinates must lie in [0, {sensor - 1}]")
    if p.min() < 0 or p.max() > 1:
        raise ValueError("DVS event polarities must be 0 or 1")
    f = sensor // size
    step = np.floor((t - t.min()) * 1e-6 / dt).astype(np.int64)
    keep = step < n_steps
    unit = p * size * size + (y // f) * size + (x // f)
    return step[keep], unit[keep]


def _manual_step(root: Path) -> str:
    files = "; ".join(f"{name} from {url} (md5 {md5})" for name, url, md5 in DVS_FILES.values())
    return (
        f"Manual step: download {files}, and put both archives in {root / 'DVSGesture'} "
        "(tonic extracts them there), or set $SPIKEINIT_DATA / data_dir to a directory "
        "whose 'dvs_gesture/DVSGesture' folder holds them."
    )


def _check_cached_labels(cache: Path, labels: Any, n_samples: int) -> None:
    """``ValueError`` naming ``cache`` unless ``labels`` are ``n_samples`` integer class
    indices in ``[0, N_CLASSES)``: a hand-edited or foreign cache fails here, at load,
    not in the middle of ``fit``."""
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.is_floating_point():
        raise ValueError(
            f"dvs_gesture: {cache} holds labels that are not a 1-D integer tensor; delete it "
            "to rebuild the cache"
        )
    if labels.numel() != n_samples:
        raise ValueError(
            f"dvs_gesture: {cache} holds {labels.numel()} labels for {n_samples} samples; "
            "delete it to rebuild the cache"
        )
    bad = ((labels < 0) | (labels >= N_CLASSES)).nonzero()
    if bad.numel():
        i = int(bad[0, 0])
        raise ValueError(
            f"dvs_gesture: {cache} holds label {int(labels[i])} (sample {i}), outside "
            f"[0, {N_CLASSES - 1}]; delete it to rebuild the cache"
        )


def _load_split(
    train: bool, root: Path, dt: float, n_steps: int, size: int
) -> tuple[EventStore, torch.Tensor]:
    cache = root / f"binned_{'train' if train else 'test'}_dt{dt:g}_T{n_steps}_s{size}.pt"
    if cache.is_file():
        try:
            blob = torch.load(cache, weights_only=True)
            store = EventStore(blob["keys"], blob["offsets"], n_steps, (2, size, size))
            labels = blob["labels"]
        except Exception:  # noqa: BLE001 - a bad cache entry is rebuilt
            cache.unlink(missing_ok=True)
        else:
            _check_cached_labels(cache, labels, len(blob["offsets"]) - 1)
            return store, labels
    try:
        tonic_datasets = importlib.import_module("tonic.datasets")
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the 'dvs_gesture' dataset needs tonic: pip install tonic "
            "(or pip install 'spikeinit[data]')"
        ) from err
    try:
        ds = tonic_datasets.DVSGesture(save_to=str(root), train=train)
    except (urllib.error.URLError, OSError, RuntimeError, ConnectionError, TimeoutError) as err:
        raise DatasetUnavailableError(
            f"dvs_gesture: the dataset is not in {root} and could not be downloaded "
            f"({type(err).__name__}: {err}). {_manual_step(root)}"
        ) from err
    if len(ds) == 0:
        raise DatasetUnavailableError(
            f"dvs_gesture: no samples found under {root}. {_manual_step(root)}"
        )
    steps, units, labels = [], [], []
    for i in range(len(ds)):
        events, target = ds[i]
        try:
            s, u = bin_events(np.asarray(events), dt, n_steps, size)
        except ValueError as err:
            raise ValueError(f"dvs_gesture sample {i} ({root}): {err}") from err
        steps.append(s)
        units.append(u)
        labels.append(int(target))
    y = torch.as_tensor(labels, dtype=torch.int64)
    if int(y.min()) < 0 or int(y.max()) >= N_CLASSES:
        raise ValueError(f"dvs_gesture: labels must lie in [0, {N_CLASSES - 1}]")
    store = EventStore.from_lists(steps, units, n_steps, (2, size, size), binary=True)
    tmp = cache.with_name(cache.name + ".part")
    torch.save({"keys": store.keys, "offsets": store.offsets, "labels": y}, tmp)
    os.replace(tmp, cache)
    return store, y


def dvs_gesture(
    dt: float = 2e-3,
    duration: float = 1.0,
    size: int = 32,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    data_dir: str | os.PathLike[str] | None = None,
) -> SpikeDataset:
    """DVS Gesture: 11 classes, input ``(2, size, size)``, ``round(duration / dt)`` steps.

    Defaults follow stork (32x32x2, 1 s, 500 steps of 2 ms). Splits: train
    minus a seeded ``val_fraction`` (969 / 108) and test (264). tonic's files
    and the binned cache live under ``cache_dir(data_dir) / "dvs_gesture"``.
    """
    dt = check_float("dt", dt, 0.0, lo_open=True)
    duration = check_float("duration", duration, 0.0, lo_open=True)
    size = check_int("size", size, 1, SENSOR)
    if SENSOR % size:
        raise ValueError(f"size must divide {SENSOR} (e.g. 16, 32, 64, 128), got {size!r}")
    seed = check_int("seed", seed, 0)
    check_float("val_fraction", val_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    n_steps = int(round(duration / dt))
    if n_steps < 1 or not math.isclose(n_steps * dt, duration, rel_tol=1e-6):
        raise ValueError(
            f"duration must be a positive multiple of dt (= {dt!r} s), got {duration!r} s"
        )
    root = cache_dir(data_dir) / "dvs_gesture"
    root.mkdir(parents=True, exist_ok=True)
    tr_store, tr_y = _load_split(True, root, dt, n_steps, size)
    te_store, te_y = _load_split(False, root, dt, n_steps, size)
    tr_idx, va_idx = holdout_split(len(tr_y), val_fraction, seed)
    config: dict[str, Any] = {
        "dt": dt,
        "duration": duration,
        "size": size,
        "seed": seed,
        "val_fraction": val_fraction,
        "data_dir": str(root),
    }
    return SpikeDataset(
        name="dvs_gesture",
        train=Split(tr_store.subset(tr_idx), tr_y[tr_idx], seed=seed),
        val=Split(tr_store.subset(va_idx), tr_y[va_idx], seed=seed),
        test=Split(te_store, te_y, seed=seed),
        n_classes=N_CLASSES,
        input_shape=(2, size, size),
        n_steps=n_steps,
        dt=dt,
        encoding="events",
        config=config,
    )
