"""Training: the :class:`Trainer`, checkpoints, resume and per-epoch metrics.

Usage::

    import spikeinit as si
    from spikeinit.train import TrainConfig, fit
    from spikeinit.regularizers import ActivityRegularizer

    cfg = TrainConfig(epochs=200, batch_size=250, lr=5e-3, optimizer="smorms3", loss="max",
                      regularizers=(ActivityRegularizer(100.0, 1e-3, "lower", per_neuron=True),
                                    ActivityRegularizer(0.1, 4.0, "upper", dims=1)))
    result = fit(model, (x_train, y_train), (x_val, y_val), (x_test, y_test),
                 config=cfg, out_dir="runs/rm", resume=True)
    result.test_accuracy, result.best_val_accuracy, result.history

Data is either an in-memory pair ``(x [T, N, ...], y [N])`` (batched by
:class:`SequenceLoader`) or any iterable of ``(x [T, B, ...], y [B])`` batches,
such as a ``torch.utils.data.DataLoader`` (set ``batch_first=True`` if it yields
``[B, T, ...]``). The model maps ``x`` to a readout trace ``[T, B, C]`` (or to
output spikes for ``loss="count"``).

**Determinism and resume.** Every epoch runs under its own random state,
derived from ``(seed, epoch)``: the global torch, numpy and Python generators
are forked (the caller's state is left untouched) and seeded from it, and
:class:`SequenceLoader` shuffles with a generator seeded from it. A loader
with ``set_epoch(epoch)`` (or a DataLoader whose sampler has one) is told the
epoch. Epoch ``e`` therefore draws the same random numbers whether or not the
run was interrupted before it, and ``resume=True`` after a kill ends with the
same weights and metrics as an uninterrupted run (on the same device and
thread count).

**Files in out_dir.** ``last.pt`` (after every epoch) and ``best.pt`` (the
epoch with the best validation accuracy), both written atomically (temporary
file in the same directory, fsync, ``os.replace``), and ``metrics.jsonl`` (one
JSON object per epoch). Checkpoints hold only tensors and plain containers and
load with ``torch.load(path, weights_only=True)`` (see :func:`load_checkpoint`)::

    {"format": "spikeinit.checkpoint", "version": 1, "epoch": int (epochs completed),
     "model": state_dict, "optimizer": state_dict, "scheduler": state_dict | None,
     "history": [per-epoch metrics], "best_val_accuracy": float | None, "best_epoch": int,
     "config": TrainConfig.to_dict(), "rng": {"torch": ByteTensor, "cuda": [ByteTensor],
     "numpy": {...}, "python": {...}}, "versions": {"spikeinit": str, "torch": str},
     "identity": dict | None (what the run trains on; resume refuses another),
     "digest": SHA-256 hex of all the rest (see checkpoint_digest)}

:func:`load_checkpoint` checks the zip archive's CRCs before unpickling and the
digest after, so a damaged file raises ``ValueError`` instead of loading
changed weights.

**Divergence.** A non-finite loss, gradient or (after an epoch) parameter, or a
parameter grown beyond :data:`EXPLODED` times its initial scale (an absurd
learning rate), a training loss grown beyond :data:`LOSS_EXPLODED` times its
initial value (the first batch's, or on resume the first epoch's mean; at least 1),
or an optimiser step that overflows the parameters' float type, stops training
with :class:`TrainingDiverged`, naming the epoch and batch; no checkpoint
is written after the failure, so ``last.pt`` stays the last good one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import random
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import __version__
from . import losses as _losses
from ._kernels.alloc import release as release_buffers
from ._rundir import lock_run_dir
from ._validate import integer, one_of
from .data import Split, TimeFirstLoader
from .kept import mean_spikes
from .neuron import NonFiniteCurrentError
from .nn import Readout, SpikingLayer, spike_gradient_handoff
from .optim import OPTIMIZERS, SCHEDULES, make_optimizer, make_scheduler, schedule_per_batch
from .regularizers import ActivityRegularizer, activity_penalty

__all__ = [
    "CHECKPOINT_FORMAT",
    "SequenceLoader",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingDiverged",
    "evaluate",
    "fit",
    "checkpoint_digest",
    "load_checkpoint",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "spikeinit.checkpoint"
CHECKPOINT_VERSION = 1
LOSS_NAMES: tuple[str, ...] = tuple(sorted(_losses.LOSSES))
TEST_ON: tuple[str, ...] = ("best", "last")
#: config fields that may differ between a run and its resumption
_RESUMABLE_CHANGES = ("epochs", "device", "progress")

Data = Any  # (x, y) tensors or an iterable of (x, y) batches


#: a parameter whose largest magnitude grows beyond this many times its initial one
#: (or 1, if larger) has exploded: training stops as for a non-finite value
EXPLODED = 1e6
#: a training loss above this many times its initial value (or 1, if larger) has
#: exploded (adam with lr = 1e6 reaches 1e7 on Randman while every weight stays finite)
LOSS_EXPLODED = 1e3


class TrainingDiverged(RuntimeError):
    """Training produced a non-finite loss, gradient or parameter.

    Attributes: ``epoch`` (1-based), ``batch`` (1-based, or ``None`` for an
    end-of-epoch check), ``checkpoint`` (path of the last good checkpoint, or
    ``None``).
    """

    def __init__(self, message: str, epoch: int, batch: int | None, checkpoint: str | None) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.checkpoint = epoch, batch, checkpoint


# ----------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of a training run (validated on construction).

    Attributes:
        epochs: number of epochs, >= 1.
        batch_size: mini-batch size for in-memory data ``(x, y)``, >= 1.
        lr: (initial) learning rate, > 0. stork's experiments use 5e-3 with SMORMS3.
        optimizer: ``"smorms3"`` (default), ``"adam"`` or ``"adamw"``.
        weight_decay: L2 / decoupled weight decay passed to the optimiser, >= 0.
        loss: ``"max"`` (CE of the max over time, default), ``"mean"``, ``"sum"``
            or ``"count"`` (CE of output spike counts); see :mod:`spikeinit.losses`.
        schedule: ``"none"``, ``"cosine"`` (CosineAnnealingLR over the epochs,
            stepped per epoch) or ``"cosine_batch"`` (Micheli et al.:
            ``T_max=schedule_t_max`` stepped per batch).
        schedule_t_max: ``T_max`` of ``"cosine_batch"``, >= 1 (default 10).
        regularizers: activity regularisers on the hidden spiking layers.
        seed: base of every random draw of the run, >= 0.
        device: torch device name, e.g. ``"cpu"`` or ``"cuda"``.
        grad_clip: clip the global gradient norm to this value (> 0), or ``None``.
        test_on: evaluate the test set with the ``"best"`` (by validation
            accuracy) or the ``"last"`` weights; the model keeps those weights.
        batch_first: loaders yield ``[B, T, ...]``; transpose to ``[T, B, ...]``.
        progress: show a tqdm progress bar (only when stderr is a terminal).
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 5e-3
    optimizer: str = "smorms3"
    weight_decay: float = 0.0
    loss: str = "max"
    schedule: str = "none"
    schedule_t_max: int = 10
    regularizers: tuple[ActivityRegularizer, ...] = ()
    seed: int = 0
    device: str = "cpu"
    grad_clip: float | None = None
    test_on: str = "best"
    batch_first: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        integer("epochs", self.epochs, 1)
        integer("batch_size", self.batch_size, 1)
        integer("schedule_t_max", self.schedule_t_max, 1)
        integer("seed", self.seed, 0)
        for name in ("lr", "weight_decay", "grad_clip"):
            value = getattr(self, name)
            if name == "grad_clip" and value is None:
                continue
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if (
                not ok
                or not math.isfinite(value)
                or value < 0
                or (name != "weight_decay" and value == 0)
            ):
                bound = ">= 0" if name == "weight_decay" else "> 0"
                extra = " or None" if name == "grad_clip" else ""
                raise ValueError(f"{name} must be a finite number {bound}{extra}, got {value!r}")
        one_of("optimizer", self.optimizer, OPTIMIZERS)
        if self.optimizer == "smorms3" and self.lr > 1:
            # SMORMS3 steps by lr * min(1, x) / ... with x <= 1: any lr > 1 acts as lr = 1,
            # a step of the size of the weights themselves (issue 13: it trains to chance)
            raise ValueError(
                f"lr must be <= 1 for optimizer 'smorms3' (its step is min(lr, x) with x <= 1, "
                f"so a larger lr acts as 1), got {self.lr!r}"
            )
        if not (isinstance(self.loss, str) and _losses.is_custom(self.loss)):
            one_of("loss", self.loss, LOSS_NAMES)
        one_of("schedule", self.schedule, SCHEDULES)
        one_of("test_on", self.test_on, TEST_ON)
        if not isinstance(self.regularizers, tuple) or not all(
            isinstance(r, ActivityRegularizer) for r in self.regularizers
        ):
            raise ValueError(
                f"regularizers must be a tuple of ActivityRegularizer, got {self.regularizers!r}"
            )
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device must be a torch device name, got {self.device!r}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Plain values: JSON-serialisable and safe for ``weights_only`` checkpoints."""
        d = {f: getattr(self, f) for f in self.__dataclass_fields__}
        d["regularizers"] = [r.to_dict() for r in self.regularizers]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict` (unknown keys raise ``ValueError``)."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {sorted(unknown)}")
        kw = dict(d)
        if "regularizers" in kw:
            kw["regularizers"] = tuple(
                r if isinstance(r, ActivityRegularizer) else ActivityRegularizer.from_dict(r)
                for r in kw["regularizers"]
            )
        return cls(**kw)


@dataclass(frozen=True)
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Attributes:
        test_accuracy, test_loss: on the test data with the ``config.test_on``
            weights (``None`` without test data or when the run stopped early).
        best_val_accuracy, best_epoch: the best validation accuracy and its
            epoch (train accuracy when there is no validation data).
        epochs: epochs completed in total (across resumptions).
        epochs_this_run: epochs trained by this call.
        completed: whether all ``config.epochs`` epochs are done.
        history: per-epoch metrics, as in ``metrics.jsonl``.
        out_dir: where checkpoints and metrics were written, or ``None``.
    """

    test_accuracy: float | None
    test_loss: float | None
    best_val_accuracy: float | None
    best_epoch: int
    epochs: int
    epochs_this_run: int
    completed: bool
    history: list[dict[str, Any]] = field(default_factory=list)
    out_dir: str | None = None

    def metrics(self) -> dict[str, Any]:
        """The ``metrics`` block of ``results.json``."""
        last = self.history[-1] if self.history else {}
        return {
            "test_accuracy": self.test_accuracy,
            "test_loss": self.test_loss,
            "val_accuracy": self.best_val_accuracy,
            "best_epoch": self.best_epoch,
            "final_val_accuracy": last.get("val_acc"),
            "final_train_accuracy": last.get("train_acc"),
            "epochs": self.epochs,
        }


# ----------------------------------------------------------------------------
# data


def _epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for epoch ``epoch`` of a run seeded with ``seed``."""
    hi, lo = np.random.SeedSequence([seed, epoch]).generate_state(2, dtype=np.uint32)
    return ((int(hi) << 32) | int(lo)) & ((1 << 63) - 1)


class SequenceLoader(TimeFirstLoader):
    """Mini-batches of in-memory time-first data, reproducibly shuffled per epoch.

    The data layer's :class:`~spikeinit.data.TimeFirstLoader` over a
    :class:`~spikeinit.data.Split` of ``(x, y)``: one loader, one seed
    derivation (epoch ``e`` of a run seeded ``s`` shuffles with a generator
    seeded from ``(s, e)``, see :meth:`~spikeinit.data.TimeFirstLoader.set_epoch`).

    Args:
        x: inputs ``[T, N, ...]`` (``[N, T, ...]`` with ``batch_first=True``).
        y: integer labels ``[N]``.
        batch_size: samples per batch (the last batch may be smaller).
        shuffle: shuffle every epoch with a generator seeded from ``(seed, epoch)``.
        seed: the run's seed.
        batch_first: ``x`` is ``[N, T, ...]``.

    Yields ``(x [T, B, ...], y [B])`` (``y`` as ``int64``). Call :meth:`set_epoch`
    before iterating.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int = 64,
        shuffle: bool = False,
        seed: int = 0,
        batch_first: bool = False,
    ) -> None:
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError("x and y must be torch tensors")
        if batch_first:
            x = x.transpose(0, 1)
        if x.dim() < 3:
            raise ValueError(f"x must have shape [T, N, ...features], got {tuple(x.shape)}")
        if y.dim() != 1 or y.shape[0] != x.shape[1]:
            raise ValueError(f"y must have shape [N] = [{x.shape[1]}], got {tuple(y.shape)}")
        if x.shape[1] == 0:
            raise ValueError("the dataset is empty (N = 0 samples)")
        if y.is_floating_point() or y.is_complex():
            raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            raise ValueError("x contains NaN or inf")
        integer("batch_size", batch_size, 1)
        # stored sample-first; the split's encoder makes each batch time-first again
        super().__init__(Split(x.transpose(0, 1), y), batch_size, shuffle, seed)
        self.x, self.y = x, y


def _as_loader(data: Data, config: TrainConfig, shuffle: bool, name: str) -> Iterable[Any]:
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        return SequenceLoader(
            data[0], data[1], config.batch_size, shuffle, config.seed, config.batch_first
        )
    if not isinstance(data, Iterable):
        raise TypeError(
            f"{name} must be a pair (x, y) of tensors or an iterable of (x, y) batches, "
            f"got {type(data).__name__}"
        )
    return data


def _set_epoch(loader: Iterable[Any], seed: int, epoch: int) -> None:
    """Tell a loader (or its sampler) which epoch it serves, and reseed its generator."""
    if isinstance(loader, SequenceLoader) or hasattr(loader, "set_epoch"):
        loader.set_epoch(epoch)  # type: ignore[attr-defined]
        return
    if isinstance(loader, torch.utils.data.DataLoader):
        for sampler in (loader.sampler, getattr(loader.batch_sampler, "sampler", None)):
            if sampler is not None and hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
            gen = getattr(sampler, "generator", None)
            if isinstance(gen, torch.Generator):
                gen.manual_seed(_epoch_seed(seed, epoch) ^ 0x5EED)


class _SeededEpoch:
    """Fork the torch (CPU and CUDA), numpy and Python RNGs; seed them from one seed."""

    def __init__(self, seed: int, device: torch.device) -> None:
        self.seed = seed
        self.devices: list[int] = []
        if device.type == "cuda":
            index = device.index if device.index is not None else torch.cuda.current_device()
            self.devices = [index]

    def __enter__(self) -> None:
        self._fork = torch.random.fork_rng(devices=self.devices)
        self._fork.__enter__()
        self._np = np.random.get_state()
        self._py = random.getstate()
        torch.manual_seed(self.seed)
        np.random.seed(self.seed % (2**32))
        random.seed(self.seed)

    def __exit__(self, *exc: Any) -> None:
        np.random.set_state(self._np)
        random.setstate(self._py)
        self._fork.__exit__(*exc)


def _rng_state() -> dict[str, Any]:
    """The global RNG states as tensors and plain values (``weights_only``-safe)."""
    _, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]
    version, py_state, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": int(version),
            "state": torch.tensor(py_state, dtype=torch.int64),
            "gauss_next": gauss,
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore global RNG states saved in a checkpoint's ``"rng"`` entry."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), p["gauss_next"]))


# ----------------------------------------------------------------------------
# checkpoints


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc  # name the file
        raise
    _fsync_dir(path.parent)


def _digest_update(h: Any, obj: Any) -> None:
    """Feed ``obj`` (tensors, containers, plain values) to ``h`` in a fixed order."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().to("cpu").contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, Mapping):
        h.update(f"D{len(obj)};".encode())
        for key in sorted(obj, key=repr):
            _digest_update(h, key)
            _digest_update(h, obj[key])
    elif isinstance(obj, (list, tuple)):
        h.update(f"L{len(obj)};".encode())
        for item in obj:
            _digest_update(h, item)
    else:
        h.update(f"V{obj!r};".encode())


def checkpoint_digest(obj: Mapping[str, Any]) -> str:
    """SHA-256 over every value of a checkpoint except its ``"digest"`` entry.

    Tensors count with their dtype, shape and raw bytes, so any changed weight,
    optimiser state or metric changes the digest.
    """
    h = hashlib.sha256()
    _digest_update(h, {k: v for k, v in obj.items() if k != "digest"})
    return h.hexdigest()


def save_checkpoint(obj: Mapping[str, Any], path: str | Path) -> None:
    """``torch.save`` to ``path`` atomically: temporary file, fsync, ``os.replace``.

    A crash at any point leaves either the previous file or the new one, never a
    partial file. The checkpoint gets a ``"digest"`` entry,
    :func:`checkpoint_digest` of the rest, which :func:`load_checkpoint` verifies.
    """
    state = dict(obj)
    state["digest"] = checkpoint_digest(state)
    _atomic_write(Path(path), lambda f: torch.save(state, f))


def _corrupt(path: Path, why: str) -> ValueError:
    return ValueError(
        f"checkpoint {path} is corrupt ({why}); it was not loaded. Restore it from a "
        "backup or start the run afresh (never load an untrusted file with pickle)"
    )


def _check_zip(path: Path) -> None:
    """Every member's CRC-32 (torch.save writes a zip archive; torch.load never checks)."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise _corrupt(path, f"not a readable zip archive: {exc}") from None
    except Exception as exc:  # zipfile raises assorted errors on damaged headers
        raise _corrupt(path, f"damaged zip archive: {type(exc).__name__}") from None
    if bad is not None:
        raise _corrupt(path, f"CRC mismatch in member {bad!r}")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(..., weights_only=True)``, integrity first.

    Before unpickling, the zip archive's CRC-32 of every member is checked; after
    loading, the stored SHA-256 ``"digest"`` (see :func:`checkpoint_digest`;
    checkpoints written before it existed have none) must match the values read.

    Raises ``FileNotFoundError`` if it is missing and ``ValueError`` if it is
    corrupt or not a spikeinit checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    _check_zip(path)
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        # torch's message advises weights_only=False: wrong for a damaged or hostile file
        raise _corrupt(path, "it holds objects other than tensors and plain values") from None
    except Exception as exc:  # any failure to parse a damaged file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise _corrupt(path, f"{type(exc).__name__}: {first[:200]}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} file")
    stored = ckpt.get("digest")
    if stored is not None and stored != checkpoint_digest(ckpt):
        raise _corrupt(path, "its SHA-256 digest does not match its contents")
    return ckpt


# ----------------------------------------------------------------------------
# evaluation


def _to_device(
    x: torch.Tensor, y: torch.Tensor, device: torch.device, batch_first: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    if batch_first:
        x = x.transpose(0, 1)
    if not x.is_floating_point():
        x = x.float()
    return x.to(device, non_blocking=True), y.to(device, non_blocking=True).long()


def _check_labels(out: torch.Tensor, y: torch.Tensor) -> None:
    """Labels must be class indices of the readout ``out [T, B, C]``, one per sample."""
    if not isinstance(out, torch.Tensor) or out.dim() < 2:
        raise ValueError(
            "the model must return a readout trace [T, B, C], got "
            f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}"
        )
    n_classes, batch = out.shape[-1], out.shape[-2]
    if y.dim() != 1 or y.shape[0] != batch:
        raise ValueError(f"labels must have shape [{batch}] (one per sample), got {tuple(y.shape)}")
    if y.numel() == 0:
        return
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= n_classes:
        raise ValueError(
            f"labels must lie in [0, {n_classes - 1}] (the readout has {n_classes} outputs), "
            f"got labels in [{lo}, {hi}]"
        )


def _unpack(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"each batch must be a pair (x, y), got {type(batch).__name__}")
    return batch[0], batch[1]


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Data,
    loss: str = "max",
    device: str | torch.device | None = None,
    batch_size: int = 256,
    batch_first: bool = False,
) -> tuple[float, float]:
    """``(mean loss, accuracy)`` of ``model`` on ``data`` (pairs or batches).

    The model is put in eval mode for the pass and its mode restored after.
    """
    _losses.resolve(loss)  # a known name, or a user's FILE.py:FUNCTION
    if device is None:
        p = next(iter(model.parameters()), None)
        device = p.device if p is not None else torch.device("cpu")
    device = torch.device(device)
    cfg = TrainConfig(batch_size=batch_size, batch_first=batch_first)
    loader = _as_loader(data, cfg, shuffle=False, name="data")
    return _evaluate(
        model, loader, loss, device, batch_first and not isinstance(loader, SequenceLoader)
    )


@torch.no_grad()
def _evaluate(
    model: nn.Module, loader: Iterable[Any], loss: str, device: torch.device, batch_first: bool
) -> tuple[float, float]:
    fn = _losses.resolve(loss)
    was_training = model.training
    model.eval()
    total, loss_sum, correct = 0, 0.0, 0
    try:
        for batch in loader:
            x, y = _to_device(*_unpack(batch), device, batch_first)
            out = model(x)
            _check_labels(out, y)
            n = y.shape[0]
            loss_sum += float(fn(out, y)) * n
            correct += int((_losses.logits(out, loss).argmax(dim=1) == y).sum())
            total += n
    finally:
        model.train(was_training)
    if total == 0:
        raise ValueError("evaluation data is empty")
    return loss_sum / total, correct / total


# ----------------------------------------------------------------------------
# the trainer


class _HiddenSpikes:
    """Forward hooks that collect the outputs of hidden spiking layers."""

    def __init__(self, model: nn.Module) -> None:
        self.layers = [
            m for m in model.modules() if isinstance(m, SpikingLayer) and not isinstance(m, Readout)
        ]
        self.outputs: list[torch.Tensor] = []
        self.dts: list[float] = []
        self.active = False  # collect only during training steps
        self._handles = [m.register_forward_hook(self._hook) for m in self.layers]

    def _hook(self, module: nn.Module, args: Any, output: Any) -> None:
        if self.active and isinstance(output, torch.Tensor):
            self.outputs.append(output)
            params = getattr(module, "params", None)
            self.dts.append(float(params.dt) if params is not None else 1.0)

    def clear(self) -> None:
        self.outputs, self.dts = [], []

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        self.clear()


def _remove_stale_temporaries(directory: Path) -> None:
    """Delete ``.<name>.*.tmp`` files that an interrupted :func:`_atomic_write` left.

    Only called with the run directory locked, so no write is in progress.
    """
    for name in ("last.pt", "best.pt", "metrics.jsonl"):
        for tmp in directory.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)


def load_model_state(model: nn.Module, state: Mapping[str, Any], what: str = "the") -> None:
    """``model.load_state_dict(state)``; a mismatch raises a one-line ``ValueError``."""
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
        detail = " ".join(lines[1:3] or lines[:1])[:300]
        raise ValueError(f"{what} weights do not fit this model ({detail})") from None


def _plain_identity(identity: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``identity`` as plain JSON values (tuples become lists), for comparison."""
    if identity is None:
        return None
    if not isinstance(identity, Mapping):
        raise TypeError(f"identity must be a mapping or None, got {type(identity).__name__}")
    try:
        return json.loads(json.dumps(dict(identity), sort_keys=True))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"identity must hold JSON-able values: {exc}") from None


def _identity_diff(old: Any, new: Any, prefix: str = "") -> str:
    """``key: old -> new`` for the leaves that differ (first five)."""
    out: list[str] = []

    def walk(a: Any, b: Any, key: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                walk(a.get(k), b.get(k), f"{key}.{k}" if key else str(k))
        elif a != b:
            out.append(f"{key}: {a!r} -> {b!r}")

    walk(old, new, prefix)
    return ", ".join(out[:5]) + (", ..." if len(out) > 5 else "")


def _non_finite(x: torch.Tensor, exc: Exception) -> str:
    if not bool(torch.isfinite(x).all()):
        return "the input batch holds NaN or inf"
    return f"a spiking layer's {exc}"


def _isatty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Trainer:
    """Trains ``model`` with ``config``; writes checkpoints and metrics to ``out_dir``.

    Args:
        model: maps ``x [T, B, ...]`` to a readout trace ``[T, B, C]`` (output
            spikes for ``loss="count"``). Moved to ``config.device``.
        config: a :class:`TrainConfig`.
        out_dir: directory for ``last.pt``, ``best.pt`` and ``metrics.jsonl``;
            ``None`` writes nothing (and cannot resume).
        on_batch_end: optional ``f(epoch, batch, loss)`` after each optimiser step.
        on_epoch_end: optional ``f(epoch, record)`` after each epoch's checkpoint.
        epoch_probe: optional ``f(epoch) -> dict`` measured after each epoch's validation
            (e.g. a diagnosis of the layers on a fixed batch); its entries join the epoch's
            record in ``metrics.jsonl``. It runs without gradients and on a forked random
            state, so it does not change the training.
        identity: optional JSON-able description of what the run trains on (the
            dataset and its settings, the model, the init); stored in the
            checkpoint, and a resume with a different identity is refused.
    """

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig | None = None,
        out_dir: str | Path | None = None,
        on_batch_end: Callable[[int, int, float], None] | None = None,
        on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
        identity: Mapping[str, Any] | None = None,
        epoch_probe: Callable[[int], dict[str, Any]] | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.config = TrainConfig() if config is None else config
        if not isinstance(self.config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(self.config).__name__}")
        self.device = torch.device(self.config.device)
        self.model = model.to(self.device)
        if not any(p.requires_grad for p in model.parameters()):
            raise ValueError("model has no trainable parameters")
        for p in model.parameters():
            if p.is_floating_point() and self.config.lr >= torch.finfo(p.dtype).max:
                raise ValueError(
                    f"lr={self.config.lr!r} is beyond the range of the parameters' dtype "
                    f"{p.dtype} (max {torch.finfo(p.dtype).max:.3g})"
                )
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.on_batch_end, self.on_epoch_end = on_batch_end, on_epoch_end
        self.epoch_probe = epoch_probe
        self.identity = _plain_identity(identity)
        cfg = self.config
        opt_kw = {"weight_decay": cfg.weight_decay} if cfg.weight_decay else {}
        self.optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, **opt_kw)
        self.scheduler = make_scheduler(
            cfg.schedule, self.optimizer, cfg.epochs, cfg.schedule_t_max
        )
        self.history: list[dict[str, Any]] = []
        self.epoch = 0  # epochs completed
        self.best_val_accuracy: float | None = None
        self.best_epoch = 0
        self._best_state: dict[str, torch.Tensor] | None = None
        self._loss_fn = _losses.resolve(cfg.loss)
        self._names = {p: n for n, p in model.named_parameters()}
        # the scale each parameter starts from: growth beyond EXPLODED times it is divergence
        self._initial_loss: float | None = None  # see _check_loss_growth
        self._start_scale = {
            n: max(1.0, float(p.detach().abs().max())) if p.numel() else 1.0
            for n, p in model.named_parameters()
        }

    # -- paths ------------------------------------------------------------------
    @property
    def last_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / "last.pt"

    @property
    def best_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / "best.pt"

    @property
    def metrics_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / "metrics.jsonl"

    # -- checkpoint state ---------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The full checkpoint (see the module docstring for its format)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "epoch": self.epoch,
            "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "history": [dict(r) for r in self.history],
            "best_val_accuracy": self.best_val_accuracy,
            "best_epoch": self.best_epoch,
            "config": self.config.to_dict(),
            "rng": _rng_state(),
            "versions": {"spikeinit": str(__version__), "torch": str(torch.__version__)},
            "identity": self.identity,
        }

    def load_state_dict(self, ckpt: Mapping[str, Any]) -> None:
        """Restore a checkpoint written by :meth:`state_dict` (model, optimiser, ...)."""
        saved = dict(ckpt.get("config", {}))
        now = self.config.to_dict()
        diff = sorted(
            k for k in now if k not in _RESUMABLE_CHANGES and k in saved and saved[k] != now[k]
        )
        if diff:
            details = ", ".join(f"{k}: {saved[k]!r} -> {now[k]!r}" for k in diff)
            raise ValueError(f"cannot resume: the config differs from the checkpoint's ({details})")
        old_id = ckpt.get("identity")
        if self.identity is not None and old_id is not None and old_id != self.identity:
            raise ValueError(
                "cannot resume: the checkpoint was trained on another run set-up "
                f"({_identity_diff(old_id, self.identity)}); use the same settings or a new out_dir"
            )
        done = int(ckpt["epoch"])
        if done > self.config.epochs:
            raise ValueError(
                f"cannot resume: the checkpoint has already completed {done} epochs, more than "
                f"epochs={self.config.epochs}; ask for epochs >= {done} or use a new out_dir"
            )
        load_model_state(self.model, ckpt["model"], "cannot resume: the checkpoint's")
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler is not None and ckpt.get("scheduler") is not None:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        self.history = [dict(r) for r in ckpt["history"]]
        self.epoch = int(ckpt["epoch"])
        self.best_val_accuracy = ckpt["best_val_accuracy"]
        self.best_epoch = int(ckpt["best_epoch"])

    def _resume(self) -> None:
        assert self.last_path is not None and self.best_path is not None
        self.load_state_dict(load_checkpoint(self.last_path, map_location=self.device))
        # last.pt is written before best.pt, so a kill in between leaves an older
        # best.pt while last.pt says its own epoch is the best: use its weights then
        if self.best_epoch == self.epoch:
            self._best_state = self._model_copy()
        elif self.best_path.exists():
            best = load_checkpoint(self.best_path, map_location=self.device)
            if int(best["epoch"]) == self.best_epoch:
                self._best_state = best["model"]
        # metrics.jsonl may lag behind or run ahead of last.pt after a kill: rewrite it
        self._rewrite_metrics()

    def _model_copy(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _rewrite_metrics(self) -> None:
        if self.metrics_path is None:
            return
        text = "".join(json.dumps(r) + "\n" for r in self.history)
        _atomic_write(self.metrics_path, lambda f: f.write(text), mode="w")

    def _append_metrics(self, record: dict[str, Any]) -> None:
        if self.metrics_path is None:
            return
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())

    # -- divergence ---------------------------------------------------------------
    def _diverged(self, what: str, epoch: int, batch: int | None) -> TrainingDiverged:
        where = f"epoch {epoch}" + (f", batch {batch}" if batch is not None else "")
        if self.last_path is not None and self.last_path.exists():
            ckpt = str(self.last_path)
            kept = f"the last good checkpoint {ckpt} (epoch {self.epoch}) is kept"
        else:
            ckpt = None
            kept = "no checkpoint was written"
        msg = (
            f"training diverged at {where}: {what}; {kept}. "
            f"Try a smaller lr (now {self.config.lr}), grad_clip, or another init."
        )
        return TrainingDiverged(msg, epoch, batch, ckpt)

    def _check_gradients(self, epoch: int, batch: int, loss: float) -> None:
        params = [p for p in self.model.parameters() if p.grad is not None]
        if not params:
            return
        # one reduction per gradient (max |g|, which a NaN or an inf propagates to) and one
        # sync; the per-tensor isfinite below only runs to name the bad ones
        peaks = torch._foreach_norm([p.grad for p in params], math.inf)  # type: ignore[misc]
        if bool(torch.isfinite(torch.stack(peaks)).all()):
            return
        ok = torch.stack([torch.isfinite(p.grad).all() for p in params])  # type: ignore[arg-type]
        bad = [
            self._names.get(p, "?") for p, good in zip(params, ok.tolist(), strict=True) if not good
        ]
        raise self._diverged(f"non-finite gradient in {bad} (loss {loss:.4g})", epoch, batch)

    def _check_loss_growth(self, loss: float, epoch: int, batch: int) -> None:
        """Divergence if ``loss`` exceeds :data:`LOSS_EXPLODED` times the initial loss."""
        if self._initial_loss is None:
            first = self.history[0].get("train_loss") if self.history else None
            self._initial_loss = float(first) if isinstance(first, (int, float)) else loss
        reference = max(abs(self._initial_loss), 1.0)
        if loss > LOSS_EXPLODED * reference:
            raise self._diverged(
                f"the loss exploded to {loss:.4g}, more than {LOSS_EXPLODED:.0e} times its "
                f"initial {self._initial_loss:.4g} (lower the learning rate)",
                epoch,
                batch,
            )

    def _check_parameters(self, epoch: int) -> None:
        bad = [n for n, p in self.model.named_parameters() if not bool(torch.isfinite(p).all())]
        if bad:
            raise self._diverged(f"non-finite parameters {bad} after the update", epoch, None)
        grown = {
            n: float(p.detach().abs().max())
            for n, p in self.model.named_parameters()
            if p.numel() and float(p.detach().abs().max()) > EXPLODED * self._start_scale[n]
        }
        if grown:
            worst = max(grown, key=lambda n: grown[n])
            raise self._diverged(
                f"parameters exploded: {sorted(grown)} grew beyond {EXPLODED:.0e} times their "
                f"initial scale (max |{worst}| = {grown[worst]:.3g})",
                epoch,
                None,
            )

    # -- one epoch ----------------------------------------------------------------
    def _train_epoch(
        self, loader: Iterable[Any], epoch: int, hidden: _HiddenSpikes, bar: Any
    ) -> dict[str, Any]:
        cfg = self.config
        model, opt = self.model, self.optimizer
        per_batch = self.scheduler is not None and schedule_per_batch(cfg.schedule)
        batch_first = cfg.batch_first and not isinstance(loader, SequenceLoader)
        model.train()
        total, loss_sum, reg_sum, correct = 0, 0.0, 0.0, 0
        rate_sum: list[float] = []
        batches = 0
        try:
            n_batches: int | None = len(loader)  # type: ignore[arg-type]
        except TypeError:
            n_batches = None
        inner = tqdm(
            total=n_batches, desc=f"epoch {epoch}", leave=False, disable=bar.disable, unit="batch"
        )
        hidden.active = True
        try:
            for b, batch in enumerate(loader, 1):
                x, y = _to_device(*_unpack(batch), self.device, batch_first)
                hidden.clear()
                try:
                    with spike_gradient_handoff():  # nothing here reads dL/dS of a layer
                        out = model(x)
                except NonFiniteCurrentError as exc:
                    raise self._diverged(_non_finite(x, exc), epoch, b) from None
                _check_labels(out, y)
                data_loss = self._loss_fn(out, y)
                loss = data_loss
                reg = None
                if cfg.regularizers:
                    if not hidden.outputs:
                        raise ValueError(
                            "config.regularizers need hidden spiking layers (spikeinit.nn."
                            "SpikingLayer other than Readout) and the model has none"
                        )
                    reg = activity_penalty(cfg.regularizers, hidden.outputs)
                    if reg is not None:
                        loss = data_loss + reg
                loss_value = float(loss.detach())
                if not math.isfinite(loss_value):
                    raise self._diverged(f"the loss is {loss_value}", epoch, b)
                self._check_loss_growth(loss_value, epoch, b)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                self._check_gradients(epoch, b, loss_value)
                if cfg.grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                try:
                    opt.step()
                except RuntimeError as exc:
                    if "overflow" not in str(exc):
                        raise
                    # adam's lr / bias correction beyond the float range (lr = 1e38)
                    raise self._diverged(
                        f"the optimiser step overflowed ({exc}); lr = {cfg.lr:g} is too large",
                        epoch,
                        b,
                    ) from None
                if per_batch:
                    assert self.scheduler is not None
                    self.scheduler.step()
                n = y.shape[0]
                total += n
                batches += 1
                loss_sum += float(data_loss.detach()) * n
                reg_sum += (0.0 if reg is None else float(reg.detach())) * n
                with torch.no_grad():
                    correct += int((_losses.logits(out, cfg.loss).argmax(dim=1) == y).sum())
                    rates = [
                        mean_spikes(s) / dt
                        for s, dt in zip(hidden.outputs, hidden.dts, strict=True)
                    ]
                if not rate_sum:
                    rate_sum = [0.0] * len(rates)
                if len(rates) == len(rate_sum):
                    rate_sum = [a + r * n for a, r in zip(rate_sum, rates, strict=True)]
                hidden.clear()
                inner.update(1)
                inner.set_postfix(loss=f"{loss_sum / total:.4f}", acc=f"{correct / total:.3f}")
                if self.on_batch_end is not None:
                    self.on_batch_end(epoch, b, loss_value)
        finally:
            inner.close()
            hidden.active = False
            hidden.clear()
        if total == 0:
            raise ValueError("the training data is empty (no batches)")
        layer_rates = [r / total for r in rate_sum]
        return {
            "train_loss": loss_sum / total,
            "train_reg": reg_sum / total,
            "train_acc": correct / total,
            "hidden_rate_hz": (sum(layer_rates) / len(layer_rates)) if layer_rates else None,
            "hidden_rates_hz": layer_rates,
            "batches": batches,
        }

    # -- the loop -----------------------------------------------------------------
    def fit(
        self,
        train: Data,
        val: Data | None = None,
        test: Data | None = None,
        resume: bool = False,
        max_epochs_this_run: int | None = None,
    ) -> TrainResult:
        """Train for ``config.epochs`` epochs (in total) and evaluate on ``test``.

        Args:
            train: ``(x [T, N, ...], y [N])`` or an iterable of ``(x, y)`` batches.
            val: validation data (selects ``best.pt``), or ``None``.
            test: test data, evaluated once at the end, or ``None``.
            resume: continue from ``out_dir/last.pt`` if it exists (otherwise
                start afresh). Without ``resume`` an existing run in ``out_dir``
                is overwritten, except that a second call on the same Trainer
                continues from its in-memory state.
            max_epochs_this_run: stop after this many epochs (for time-limited
                jobs; call again with ``resume=True`` to continue).

        Raises:
            TrainingDiverged: on a non-finite loss, gradient or parameter.
            ValueError: another process is training into ``out_dir`` (it is
                locked for the whole call, see :mod:`spikeinit._rundir`).
        """
        try:
            if self.out_dir is None:
                return self._fit(train, val, test, resume, max_epochs_this_run)
            with lock_run_dir(self.out_dir):
                _remove_stale_temporaries(self.out_dir)
                return self._fit(train, val, test, resume, max_epochs_this_run)
        finally:  # the kernels' idle step buffers go back to the system (_kernels.alloc)
            release_buffers()

    def _fit(
        self,
        train: Data,
        val: Data | None,
        test: Data | None,
        resume: bool,
        max_epochs_this_run: int | None,
    ) -> TrainResult:
        cfg = self.config
        if max_epochs_this_run is not None:
            integer("max_epochs_this_run", max_epochs_this_run, 1)
        if resume and self.out_dir is None:
            raise ValueError("resume=True needs an out_dir to resume from")
        train_loader = _as_loader(train, cfg, shuffle=True, name="train")
        val_loader = None if val is None else _as_loader(val, cfg, shuffle=False, name="val")
        test_loader = None if test is None else _as_loader(test, cfg, shuffle=False, name="test")

        if resume and self.last_path is not None and self.last_path.exists():
            self._resume()
        elif self.out_dir is not None and self.epoch == 0:
            # a fresh run replaces whatever an earlier run left in out_dir
            self.out_dir.mkdir(parents=True, exist_ok=True)
            for path in (self.last_path, self.best_path):
                assert path is not None
                path.unlink(missing_ok=True)
            self._rewrite_metrics()

        hidden = _HiddenSpikes(self.model)
        start = self.epoch
        stop = cfg.epochs
        if max_epochs_this_run is not None:
            stop = min(stop, start + max_epochs_this_run)
        bar = tqdm(
            total=cfg.epochs,
            initial=start,
            desc="training",
            unit="epoch",
            disable=not (cfg.progress and _isatty()),
        )
        try:
            for epoch in range(start + 1, stop + 1):
                self._run_epoch(epoch, train_loader, val_loader, hidden, bar)
        finally:
            bar.close()
            hidden.remove()

        completed = self.epoch >= cfg.epochs
        test_loss = test_acc = None
        chosen = self._best_state if cfg.test_on == "best" else None
        if completed and chosen is not None:
            self.model.load_state_dict(chosen)
        if completed and test_loader is not None:
            with _SeededEpoch(_epoch_seed(cfg.seed, cfg.epochs + 1), self.device):
                test_loss, test_acc = _evaluate(
                    self.model,
                    test_loader,
                    cfg.loss,
                    self.device,
                    cfg.batch_first and not isinstance(test_loader, SequenceLoader),
                )
        return TrainResult(
            test_accuracy=test_acc,
            test_loss=test_loss,
            best_val_accuracy=self.best_val_accuracy,
            best_epoch=self.best_epoch,
            epochs=self.epoch,
            epochs_this_run=self.epoch - start,
            completed=completed,
            history=[dict(r) for r in self.history],
            out_dir=None if self.out_dir is None else str(self.out_dir),
        )

    def _run_epoch(
        self,
        epoch: int,
        train_loader: Iterable[Any],
        val_loader: Iterable[Any] | None,
        hidden: _HiddenSpikes,
        bar: Any,
    ) -> None:
        cfg = self.config
        t0 = time.perf_counter()
        lr = float(self.optimizer.param_groups[0]["lr"])
        with _SeededEpoch(_epoch_seed(cfg.seed, epoch), self.device):
            _set_epoch(train_loader, cfg.seed, epoch)
            record: dict[str, Any] = {"epoch": epoch}
            record.update(self._train_epoch(train_loader, epoch, hidden, bar))
            if self.scheduler is not None and not schedule_per_batch(cfg.schedule):
                self.scheduler.step()
            self._check_parameters(epoch)
            if val_loader is not None:
                _set_epoch(val_loader, cfg.seed, epoch)
                batch_first = cfg.batch_first and not isinstance(val_loader, SequenceLoader)
                try:
                    val_loss, val_acc = _evaluate(
                        self.model, val_loader, cfg.loss, self.device, batch_first
                    )
                except NonFiniteCurrentError as exc:
                    raise self._diverged(f"in validation, {exc}", epoch, None) from None
                if not math.isfinite(val_loss):
                    raise self._diverged(f"the validation loss is {val_loss}", epoch, None)
            else:
                val_loss, val_acc = None, None
        record.update({"val_loss": val_loss, "val_acc": val_acc, "lr": lr})
        record["epoch_time_s"] = time.perf_counter() - t0
        if self.epoch_probe is not None:
            with torch.random.fork_rng(devices=[]), torch.no_grad():  # draws nothing of the run's
                was_training = self.model.training
                try:
                    record.update(self.epoch_probe(epoch))
                finally:
                    self.model.train(was_training)
        score = record["train_acc"] if val_acc is None else val_acc
        is_best = self.best_val_accuracy is None or score > self.best_val_accuracy
        self.epoch = epoch
        self.history.append(record)
        if is_best:
            self.best_val_accuracy, self.best_epoch = score, epoch
            self._best_state = self._model_copy()
        if self.out_dir is not None:
            assert self.last_path is not None and self.best_path is not None
            state = self.state_dict()
            save_checkpoint(state, self.last_path)
            if is_best:
                save_checkpoint(state, self.best_path)
            self._append_metrics(record)
        bar.update(1)
        bar.set_postfix(
            loss=f"{record['train_loss']:.4f}",
            acc=f"{record['train_acc']:.3f}",
            val_acc="-" if val_acc is None else f"{val_acc:.3f}",
        )
        if self.on_epoch_end is not None:
            self.on_epoch_end(epoch, dict(record))


def fit(
    model: nn.Module,
    train: Data,
    val: Data | None = None,
    test: Data | None = None,
    config: TrainConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    max_epochs_this_run: int | None = None,
    on_batch_end: Callable[[int, int, float], None] | None = None,
    on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
    identity: Mapping[str, Any] | None = None,
    epoch_probe: Callable[[int], dict[str, Any]] | None = None,
) -> TrainResult:
    """Train ``model``: ``Trainer(model, config, out_dir, ...).fit(train, val, test, ...)``."""
    trainer = Trainer(
        model,
        config,
        out_dir,
        on_batch_end=on_batch_end,
        on_epoch_end=on_epoch_end,
        identity=identity,
        epoch_probe=epoch_probe,
    )
    return trainer.fit(train, val, test, resume=resume, max_epochs_this_run=max_epochs_this_run)
