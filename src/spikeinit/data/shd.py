"""Spiking Heidelberg Digits (Cramer, Stradmann, Schemmel and Zenke 2020).

Files: ``shd_train.h5`` (8156 samples) and ``shd_test.h5`` (2264 samples),
served gzipped as ``shd_train.h5.gz`` / ``shd_test.h5.gz`` at
https://zenkelab.org/datasets/ (formerly https://compneuro.net/datasets/; the
server also lists the checksums in ``md5sums.txt``). Each file is HDF5 with

- ``spikes/times``: one variable-length float array per sample, spike times in seconds;
- ``spikes/units``: one variable-length integer array per sample, channel ids 0..699;
- ``labels``: one integer per sample, 0..19 (digits 0-9 in English and German).

Samples are binned with step ``dt`` (``step = floor(t / dt)``), cropped to
``duration`` seconds (stork: 0.7 s with dt = 2 ms, 350 steps), and stored
sparsely; several spikes of one channel in one bin count once (binary input).
The validation split is a seeded ``val_fraction`` of the train file.

The MD5 checksums of the gzipped files below are those published with the
dataset and repeated in several independent public loaders; they could not
be checked against the server from the machine this code was written on.
Override them with ``SHD_FILES`` (or pass ``verify=False``) if the server's
``md5sums.txt`` says otherwise.
"""

from __future__ import annotations

import math
import os
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
from .download import download_file, file_md5, gunzip_file

__all__ = ["SHD_BASE_URL", "SHD_FILES", "SHD_N_CLASSES", "SHD_N_UNITS", "read_shd", "shd"]

SHD_BASE_URL = "https://zenkelab.org/datasets/"
#: split -> (gzipped file name, MD5 of the .gz file, MD5 of the decompressed .h5 file)
SHD_FILES: dict[str, tuple[str, str | None, str | None]] = {
    "train": (
        "shd_train.h5.gz",
        "d47c9825dee33347913e8ce0f2be08b0",
        "8e9877c85f29a28dd353ea6a54402667",
    ),
    "test": (
        "shd_test.h5.gz",
        "3062a80ec0c5719404d5b02e166543b1",
        "207ad1295a0ab611e22d1734989c254e",
    ),
}
SHD_N_UNITS = 700
SHD_N_CLASSES = 20
#: latest plausible spike time in seconds (the longest SHD recordings last about 1.4 s)
SHD_MAX_TIME = 10.0


def _manual_step(root: Path) -> str:
    names = ", ".join(f"{SHD_BASE_URL}{gz} (md5 {md5})" for gz, md5, _ in SHD_FILES.values())
    return (
        f"Manual step: download {names} and put the .h5.gz files (or the gunzipped "
        f"shd_train.h5 and shd_test.h5) in {root}, or set $SPIKEINIT_DATA / data_dir to the "
        "directory whose 'shd' subfolder holds them."
    )


def _move_aside(path: Path) -> Path:
    """Rename a rejected file to ``NAME.rejected`` (``.rejected.1``, ...): never delete a
    file the user put there."""
    for k in range(1000):
        target = path.with_name(path.name + (".rejected" if k == 0 else f".rejected.{k}"))
        if not target.exists():
            path.rename(target)
            return target
    raise ValueError(f"{path}: too many rejected copies beside it; clean up {path.parent}")


def fetch_shd_file(
    split: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    verify: bool = True,
    base_url: str | None = None,
) -> Path:
    """Return the path of ``shd_{split}.h5`` in the cache, downloading it if needed.

    Order: an existing ``.h5`` is used as is (its structure is checked when
    read); else an existing ``.h5.gz`` is verified and gunzipped; else the
    ``.h5.gz`` is downloaded from ``base_url`` (default :data:`SHD_BASE_URL`),
    verified against its MD5 and gunzipped. A ``.h5.gz`` found in the cache that
    fails the check (or is not gzip) is moved aside to ``NAME.rejected``, never
    deleted, and a ``ValueError`` raised; a download that fails it is deleted.
    """
    if split not in SHD_FILES:
        raise ValueError(f"split must be one of {tuple(SHD_FILES)}, got {split!r}")
    gz_name, md5, _ = SHD_FILES[split]
    root = cache_dir(data_dir) / "shd"
    h5 = root / gz_name[: -len(".gz")]
    if h5.is_file():
        return h5
    gz = root / gz_name
    manual = _manual_step(root)
    if gz.is_file():
        if verify and md5 is not None:
            got = file_md5(gz)
            if got != md5:
                aside = _move_aside(gz)
                raise ValueError(
                    f"{gz}: checksum mismatch (md5 {got}, expected {md5}); the file was "
                    f"moved aside to {aside.name}. {manual}"
                )
        try:
            gunzip_file(gz, h5)
        except ValueError:
            aside = _move_aside(gz)
            raise ValueError(
                f"{gz}: not a valid or complete gzip file; it was moved aside to {aside.name}. "
                f"{manual}"
            ) from None
        return h5
    elif download:
        url = (base_url or SHD_BASE_URL).rstrip("/") + "/" + gz_name
        download_file(url, gz, md5 if verify else None, manual_step=manual)
    else:
        raise DatasetUnavailableError(f"SHD: {h5} not found and download=False. {manual}")
    gunzip_file(gz, h5)
    return h5


def read_shd(
    path: str | os.PathLike[str],
    dt: float = 2e-3,
    n_steps: int = 350,
    *,
    n_units: int = SHD_N_UNITS,
    n_classes: int = SHD_N_CLASSES,
    max_time: float = SHD_MAX_TIME,
    max_silent_fraction: float = 0.5,
) -> tuple[EventStore, torch.Tensor]:
    """Read and validate one SHD HDF5 file; bin spikes to ``dt`` and keep the first ``n_steps``.

    Returns:
        an :class:`EventStore` of binary spikes ``[N, n_steps, n_units]`` and
        int64 labels ``[N]``.

    Raises:
        ValueError: naming the file and the problem: not HDF5, missing keys,
            mismatched lengths, NaN / infinite / negative times, times beyond
            ``max_time`` seconds (SHD recordings last under 1.5 s; times in
            milliseconds would otherwise read as almost no events), more than
            ``max_silent_fraction`` of the samples without any spike in the
            ``n_steps`` window, units outside ``[0, n_units)``, labels outside
            ``[0, n_classes)``.
    """
    dt = check_float("dt", dt, 0.0, lo_open=True)
    n_steps = check_int("n_steps", n_steps, 1)
    try:
        import h5py
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "reading SHD needs h5py: pip install h5py (or pip install 'spikeinit[data]')"
        ) from err
    path = Path(path)
    try:
        fh = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 file ({err})") from err
    with fh:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in fh:
                raise ValueError(f"{path}: missing dataset '{key}' (not an SHD file?)")
        try:
            times = fh["spikes/times"][()]
            units = fh["spikes/units"][()]
            labels = np.asarray(fh["labels"][()])
        except (OSError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: could not read the SHD datasets ({err})") from err
    for key, value in (("spikes/times", times), ("spikes/units", units)):
        if np.ndim(value) != 1:
            raise ValueError(
                f"{path}: '{key}' must be a 1-D array of per-sample arrays, got shape "
                f"{np.shape(value)}"
            )
    n = labels.size if labels.ndim != 1 else len(labels)
    if labels.ndim != 1 or n == 0:
        raise ValueError(
            f"{path}: 'labels' must be a non-empty 1-D array, got shape {labels.shape}"
        )
    if len(times) != n or len(units) != n:
        raise ValueError(
            f"{path}: mismatched lengths: {len(times)} spike-time arrays, {len(units)} unit "
            f"arrays, {n} labels"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: 'labels' must be integers, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(
            f"{path}: labels must lie in [0, {n_classes - 1}], got [{labels.min()}, {labels.max()}]"
        )
    steps_l: list[np.ndarray] = []
    units_l: list[np.ndarray] = []
    t_max = 0.0
    for i in range(n):
        t = np.asarray(times[i], dtype=np.float64).reshape(-1)
        u = np.asarray(units[i]).reshape(-1)
        if t.shape != u.shape:
            raise ValueError(
                f"{path}: sample {i}: spikes/times has {t.size} entries but spikes/units "
                f"has {u.size}"
            )
        if t.size:
            if not np.isfinite(t).all():
                raise ValueError(f"{path}: sample {i}: spike times contain NaN or inf")
            if t.min() < 0:
                raise ValueError(f"{path}: sample {i}: negative spike time {t.min()!r} s")
            t_max = max(t_max, float(t.max()))
            if not np.issubdtype(u.dtype, np.integer):
                raise ValueError(f"{path}: sample {i}: units must be integers, got {u.dtype}")
            if u.min() < 0 or u.max() >= n_units:
                raise ValueError(
                    f"{path}: sample {i}: units must lie in [0, {n_units - 1}], got "
                    f"[{u.min()}, {u.max()}]"
                )
        s = np.floor(t / dt).astype(np.int64)
        keep = s < n_steps
        steps_l.append(s[keep])
        units_l.append(u[keep].astype(np.int64))
    if t_max > max_time:
        raise ValueError(
            f"{path}: spike times reach {t_max:g} s, beyond any SHD recording (at most "
            f"max_time = {max_time:g} s); SHD times are in seconds: are these milliseconds?"
        )
    silent = sum(1 for st in steps_l if st.size == 0)
    if silent > max_silent_fraction * n:
        raise ValueError(
            f"{path}: {silent} of {n} samples have no spike in the first {n_steps} steps "
            f"({n_steps * dt:g} s at dt = {dt:g} s); the data or its time unit is wrong"
        )
    store = EventStore.from_lists(steps_l, units_l, n_steps, (n_units,), binary=True)
    return store, torch.as_tensor(labels.astype(np.int64))


def shd(
    dt: float = 2e-3,
    duration: float = 0.7,
    *,
    seed: int = 0,
    val_fraction: float = 0.1,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    verify: bool = True,
) -> SpikeDataset:
    """The SHD dataset: 700 input channels, 20 classes, ``round(duration / dt)`` steps.

    Defaults follow stork's SHD runs (dt = 2 ms, 0.7 s, 350 steps). Splits:
    train file minus a seeded ``val_fraction`` (7340 / 816 by default) and the
    test file (2264). Files are cached under ``cache_dir(data_dir) / "shd"``.
    """
    dt = check_float("dt", dt, 0.0, lo_open=True)
    duration = check_float("duration", duration, 0.0, lo_open=True)
    seed = check_int("seed", seed, 0)
    check_float("val_fraction", val_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    n_steps = int(round(duration / dt))
    if n_steps < 1 or not math.isclose(n_steps * dt, duration, rel_tol=1e-6):
        raise ValueError(
            f"duration must be a positive multiple of dt (= {dt!r} s), got {duration!r} s"
        )
    train_path = fetch_shd_file("train", data_dir, download=download, verify=verify)
    test_path = fetch_shd_file("test", data_dir, download=download, verify=verify)
    try:
        tr_store, tr_y = read_shd(train_path, dt, n_steps)
        te_store, te_y = read_shd(test_path, dt, n_steps)
    except ValueError as err:
        raise ValueError(f"{err}. Delete the file to download it again.") from err
    tr_idx, va_idx = holdout_split(len(tr_y), val_fraction, seed)
    config: dict[str, Any] = {
        "dt": dt,
        "duration": duration,
        "seed": seed,
        "val_fraction": val_fraction,
        "data_dir": str(train_path.parent),
    }
    return SpikeDataset(
        name="shd",
        train=Split(tr_store.subset(tr_idx), tr_y[tr_idx], seed=seed),
        val=Split(tr_store.subset(va_idx), tr_y[va_idx], seed=seed),
        test=Split(te_store, te_y, seed=seed),
        n_classes=SHD_N_CLASSES,
        input_shape=(SHD_N_UNITS,),
        n_steps=n_steps,
        dt=dt,
        encoding="events",
        config=config,
    )
