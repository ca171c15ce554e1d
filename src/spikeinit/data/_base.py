"""Core containers: :class:`SpikeDataset`, :class:`Split`, :class:`EventStore` and loaders.

Storage is sample-first (whatever is cheapest: images as ``uint8``/``float32``,
event data as a compressed event list); every batch handed to a model is
time-first, ``x [T, B, *input_shape]`` and ``y [B]`` (``int64``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._validate import finite_in as check_float
from .._validate import integer as check_int
from .._validate import one_of as check_choice

__all__ = [
    "DatasetUnavailableError",
    "EventStore",
    "Split",
    "SpikeDataset",
    "TimeFirstLoader",
    "cache_dir",
    "collate_time_first",
    "loader",
]

#: ``(raw batch [B, ...], generator) -> time-first batch [T, B, ...]``
BatchEncoder = Callable[[Tensor, torch.Generator], Tensor]


class DatasetUnavailableError(RuntimeError):
    """A dataset is not on disk and could not be downloaded.

    The message always states the manual step: which file(s) to fetch from
    where, and the directory to put them in.
    """


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Directory where downloadable datasets are cached.

    Order: ``override`` if given, else ``$SPIKEINIT_DATA``, else
    ``~/.cache/spikeinit``. The directory is not created here.
    """
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get("SPIKEINIT_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "spikeinit"


# ----------------------------------------------------------------------------
# validation helpers (messages name the parameter, the value and the range)
# ----------------------------------------------------------------------------


def split_sizes(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """Sizes of an unshuffled train/val/test split as in stork's ``split_dataset``.

    ``int(f * n)`` for train and validation; the test split takes the rest.
    """
    if len(fractions) != 3:
        raise ValueError(f"splits must be three fractions (train, val, test), got {fractions!r}")
    fr = [check_float(f"splits[{i}]", f, 0.0, 1.0, lo_open=True) for i, f in enumerate(fractions)]
    if abs(sum(fr) - 1.0) > 1e-6:
        raise ValueError(f"splits must sum to 1, got {tuple(fractions)!r} (sum {sum(fr)!r})")
    n_train = int(fr[0] * n)
    n_val = int(fr[1] * n)
    n_test = n - n_train - n_val
    if min(n_train, n_val, n_test) < 1:
        raise ValueError(
            f"splits {tuple(fractions)!r} of {n} samples leave an empty split "
            f"(train {n_train}, val {n_val}, test {n_test})"
        )
    return n_train, n_val, n_test


# ----------------------------------------------------------------------------
# event storage
# ----------------------------------------------------------------------------


class EventStore:
    """Sparse, sample-first storage of binned spike events.

    Each event is one integer key ``step * n_features + unit`` (``unit`` indexes
    the flattened feature vector). Sample ``i`` owns ``keys[offsets[i]:offsets[i+1]]``.
    Indexing with an index tensor returns a dense float32 tensor
    ``[B, n_steps, *feature_shape]`` holding the event count of each bin
    (0/1 when the store was built with ``binary=True``).
    """

    def __init__(
        self,
        keys: Tensor,
        offsets: Tensor,
        n_steps: int,
        feature_shape: tuple[int, ...],
    ) -> None:
        self.n_steps = check_int("n_steps", n_steps, 1)
        self.feature_shape = tuple(int(s) for s in feature_shape)
        self.n_features = int(np.prod(self.feature_shape))
        n_bins = self.n_steps * self.n_features
        dtype = torch.int32 if n_bins < 2**31 else torch.int64
        self.keys = keys.to(dtype)
        self.offsets = offsets.to(torch.int64)
        if self.keys.ndim != 1:
            raise ValueError("keys must be a 1-D tensor")
        if self.offsets.ndim != 1 or self.offsets.numel() < 1:
            raise ValueError("offsets must be a non-empty 1-D tensor")
        if int(self.offsets[0]) != 0 or int(self.offsets[-1]) != self.keys.numel():
            raise ValueError("offsets must start at 0 and end at the number of events")
        if bool((self.offsets[1:] < self.offsets[:-1]).any()):
            raise ValueError("offsets must be non-decreasing")
        if self.keys.numel() and (int(self.keys.min()) < 0 or int(self.keys.max()) >= n_bins):
            raise ValueError(f"event keys must lie in [0, {n_bins - 1}] (n_steps * n_features - 1)")

    @classmethod
    def from_lists(
        cls,
        steps: Sequence[np.ndarray],
        units: Sequence[np.ndarray],
        n_steps: int,
        feature_shape: tuple[int, ...],
        *,
        binary: bool = False,
    ) -> EventStore:
        """Build from per-sample arrays of integer steps and flat unit indices.

        Steps must lie in ``[0, n_steps)`` and units in ``[0, prod(feature_shape))``.
        ``binary=True`` merges events that fall in the same (step, unit) bin.
        """
        n_feat = int(np.prod(feature_shape))
        lengths = np.zeros(len(steps) + 1, dtype=np.int64)
        out: list[np.ndarray] = []
        for i, (s, u) in enumerate(zip(steps, units, strict=True)):
            key = np.asarray(s, dtype=np.int64) * n_feat + np.asarray(u, dtype=np.int64)
            if binary:
                key = np.unique(key)
            out.append(key)
            lengths[i + 1] = key.size
        flat = np.concatenate(out) if out else np.zeros(0, np.int64)
        return cls(
            torch.from_numpy(flat), torch.from_numpy(np.cumsum(lengths)), n_steps, feature_shape
        )

    def __len__(self) -> int:
        return self.offsets.numel() - 1

    def counts(self) -> Tensor:
        """Number of events per sample, ``[N]``."""
        return self.offsets[1:] - self.offsets[:-1]

    def subset(self, index: Tensor) -> EventStore:
        """A new store holding the samples ``index`` (in that order)."""
        idx = torch.as_tensor(index, dtype=torch.int64).reshape(-1)
        ev = self._event_index(idx)
        length = self.offsets[idx + 1] - self.offsets[idx]
        offsets = torch.zeros(idx.numel() + 1, dtype=torch.int64)
        offsets[1:] = torch.cumsum(length, 0)
        return EventStore(self.keys[ev], offsets, self.n_steps, self.feature_shape)

    def _event_index(self, idx: Tensor) -> Tensor:
        return self._events(idx)[0]

    def _events(self, idx: Tensor) -> tuple[Tensor, Tensor, int]:
        """``(positions in keys, sample of each event, count)`` of the samples ``idx``:
        sample ``j``'s events are ``keys[start_j : start_j + length_j]``, so event ``e``
        (the ``e``-th overall) sits at ``e + start_j - first_j`` with ``first_j`` the
        events before sample ``j`` (one ``repeat_interleave`` for both columns)."""
        bounds = self.offsets[torch.stack((idx, idx + 1))]
        start, length = bounds[0], bounds[1] - bounds[0]
        total = int(length.sum())
        first = torch.cumsum(length, 0) - length
        per_sample = torch.stack((start - first, torch.arange(idx.numel())))
        shift, row = torch.repeat_interleave(per_sample, length, dim=1, output_size=total)
        return torch.arange(total) + shift, row, total

    def __getitem__(self, index: Tensor | int | slice) -> Tensor:
        if isinstance(index, int):
            return self[torch.tensor([index])][0]
        if isinstance(index, slice):
            index = torch.arange(len(self))[index]
        idx = torch.as_tensor(index, dtype=torch.int64).reshape(-1)
        b = idx.numel()
        n_bins = self.n_steps * self.n_features
        out = torch.zeros(b * n_bins, dtype=torch.float32)
        ev, row, total = self._events(idx)
        if total:
            flat = row * n_bins + self.keys[ev].to(torch.int64)
            out.index_add_(0, flat, torch.ones(total, dtype=torch.float32))
        return out.view(b, self.n_steps, *self.feature_shape)

    def time_first(self, index: Tensor) -> Tensor:
        """``self[index]`` time-first, ``[n_steps, B, *feature_shape]``, written in place
        (no transposed copy): the batch :class:`Split` yields for stored events."""
        idx = torch.as_tensor(index, dtype=torch.int64).reshape(-1)
        b = idx.numel()
        out = torch.zeros(self.n_steps * b * self.n_features, dtype=torch.float32)
        ev, row, total = self._events(idx)
        if total:
            key = self.keys[ev].to(torch.int64)
            step = torch.div(key, self.n_features, rounding_mode="floor")
            flat = (step * b + row) * self.n_features + (key - step * self.n_features)
            # one count per event (whole numbers: exact in any order, as with accumulate)
            out.index_add_(0, flat, torch.ones(total, dtype=torch.float32))
        return out.view(self.n_steps, b, *self.feature_shape)


def transpose_time_first(raw: Tensor, generator: torch.Generator) -> Tensor:
    """Encoder for data stored as ``[B, T, ...]``: returns ``[T, B, ...]``."""
    del generator
    return raw.transpose(0, 1).contiguous()


# ----------------------------------------------------------------------------
# splits and loaders
# ----------------------------------------------------------------------------


class Split(torch.utils.data.Dataset[tuple[Tensor, Tensor]]):
    """One split (train, val or test) of a :class:`SpikeDataset`.

    ``data`` is the sample-first storage (a tensor or an :class:`EventStore`),
    ``labels`` an ``int64`` tensor ``[N]`` and ``encode`` turns a raw batch
    ``[B, ...]`` into the time-first network input ``[T, B, ...]`` (for static
    images this is the spike encoder; random encoders draw from the generator).

    ``split[i]`` returns ``(x [T, ...], y)``; a random encoder is then seeded
    with ``seed + i`` so that items are reproducible. :meth:`batch` and
    :func:`loader` return time-first batches.
    """

    def __init__(
        self,
        data: Tensor | EventStore,
        labels: Tensor,
        encode: BatchEncoder = transpose_time_first,
        *,
        seed: int = 0,
    ) -> None:
        labels = torch.as_tensor(labels).to(torch.int64).reshape(-1)
        if len(data) != labels.numel():
            raise ValueError(
                f"data has {len(data)} samples but labels has {labels.numel()} entries"
            )
        if labels.numel() == 0:
            raise ValueError("a split must contain at least one sample")
        self.data: Tensor | EventStore = data
        self.labels = labels
        self.encode = encode
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.labels.numel()

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        n = len(self)
        if not -n <= int(index) < n:
            raise IndexError(f"index {index} out of range for a split of {n} samples")
        i = int(index) % n
        g = torch.Generator().manual_seed(self.seed + i)
        x, y = self.batch(torch.tensor([i]), generator=g)
        return x[:, 0], y[0]

    def batch(
        self, index: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Time-first batch ``(x [T, B, ...], y [B])`` for the given sample indices."""
        idx = torch.as_tensor(index, dtype=torch.int64).reshape(-1)
        g = generator if generator is not None else torch.Generator().manual_seed(self.seed)
        if self.encode is transpose_time_first and isinstance(self.data, EventStore):
            return self.data.time_first(idx), self.labels[idx]  # the same, without a copy
        x = self.encode(self.data[idx], g)
        return x, self.labels[idx]

    def sample(self, n: int | None = None, seed: int = 0) -> tuple[Tensor, Tensor]:
        """``n`` random samples (all if None), time-first, reproducible from ``seed``."""
        g = torch.Generator().manual_seed(int(seed))
        total = len(self)
        n = total if n is None else check_int("n", n, 1, total)
        idx = torch.randperm(total, generator=g)[:n]
        return self.batch(idx, generator=g)


def collate_time_first(items: Sequence[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
    """``collate_fn`` for ``torch.utils.data.DataLoader`` over a :class:`Split`.

    Stacks items ``(x [T, ...], y)`` into ``(x [T, B, ...], y [B])``.
    """
    xs = torch.stack([x for x, _ in items], dim=1)
    ys = torch.stack([torch.as_tensor(y, dtype=torch.int64) for _, y in items])
    return xs, ys


class TimeFirstLoader:
    """Iterable over time-first batches of a :class:`Split`.

    Each ``iter()`` is one epoch. With ``shuffle=True`` every epoch has a new
    order; the sequence of orders (and of random encodings, e.g. Poisson
    spikes) is fully determined by ``seed``.
    """

    def __init__(
        self,
        split: Split,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        device: torch.device | str | None = None,
    ) -> None:
        if not isinstance(split, Split):
            raise TypeError(f"split must be a spikeinit.data.Split, got {type(split).__name__}")
        self.split = split
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.shuffle = bool(shuffle)
        self.seed = check_int("seed", seed)
        self.drop_last = bool(drop_last)
        self.device = torch.device(device) if device is not None else None
        self._generator = torch.Generator().manual_seed(self.seed)
        if drop_last and len(split) < self.batch_size:
            raise ValueError(
                f"batch_size must be <= the split size ({len(split)}) when drop_last=True, "
                f"got {batch_size}"
            )

    def set_epoch(self, epoch: int) -> None:
        """Reseed from ``(seed, epoch)``: epoch ``e`` then yields the same batches (order and
        random encoding) whatever ran before it, which makes resumed training exact."""
        mixed = np.random.SeedSequence([self.seed, check_int("epoch", epoch, 0)])
        self._generator.manual_seed(int(mixed.generate_state(1, dtype=np.uint64)[0] >> 1))

    def __len__(self) -> int:
        n = len(self.split)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n = len(self.split)
        g = self._generator
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        for k in range(len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            x, y = self.split.batch(idx, generator=g)
            if self.device is not None:
                x, y = x.to(self.device), y.to(self.device)
            yield x, y


def loader(
    split: Split,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    *,
    drop_last: bool = False,
    device: torch.device | str | None = None,
) -> TimeFirstLoader:
    """Time-first batches ``(x [T, B, ...], y [B])`` over a split; see :class:`TimeFirstLoader`."""
    return TimeFirstLoader(split, batch_size, shuffle, seed, drop_last, device)


SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class SpikeDataset:
    """A dataset with fixed train / validation / test splits and its metadata.

    Attributes:
        name: registry name (``si.data.names()``).
        train, val, test: the three :class:`Split` objects.
        n_classes: number of classes; labels are ``0 .. n_classes - 1``.
        input_shape: shape of one time step of one sample (no T, no B).
        n_steps: number of time steps T.
        dt: duration of one time step in seconds.
        encoding: how the input was turned into spikes / currents
            (``"events"`` for native spike data, else the encoder name).
        config: the parameters the dataset was built with (JSON-friendly).
    """

    name: str
    train: Split
    val: Split
    test: Split
    n_classes: int
    input_shape: tuple[int, ...]
    n_steps: int
    dt: float
    encoding: str
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_inputs(self) -> int:
        """Number of input features per time step (``prod(input_shape)``)."""
        return int(np.prod(self.input_shape))

    @property
    def duration(self) -> float:
        """Sample duration in seconds (``n_steps * dt``)."""
        return self.n_steps * self.dt

    def split(self, name: str) -> Split:
        """The split ``"train"``, ``"val"`` (alias ``"valid"``, ``"validation"``) or ``"test"``."""
        key = {"valid": "val", "validation": "val"}.get(name, name)
        check_choice("split", key, SPLIT_NAMES)
        s: Split = getattr(self, key)
        return s

    def loader(
        self,
        split: str = "train",
        batch_size: int = 128,
        shuffle: bool | None = None,
        seed: int = 0,
        *,
        drop_last: bool = False,
        device: torch.device | str | None = None,
    ) -> TimeFirstLoader:
        """Time-first batches ``(x [T, B, *input_shape], y [B])``.

        ``shuffle`` defaults to True for ``"train"`` and False otherwise.
        """
        if shuffle is None:
            shuffle = split == "train"
        return loader(
            self.split(split), batch_size, shuffle, seed, drop_last=drop_last, device=device
        )

    def sample(
        self, split: str = "train", n: int | None = 256, seed: int = 0
    ) -> tuple[Tensor, Tensor]:
        """``n`` random samples of a split as one time-first batch (e.g. for initialisation)."""
        return self.split(split).sample(n, seed)

    def input_rate(self, split: str = "train", n: int | None = 512, seed: int = 0) -> float:
        """Mean input spike rate in Hz (spikes per input unit per second) over ``n`` samples.

        Meaningful for spike inputs; for current injection it is the mean
        input value divided by ``dt``.
        """
        x, _ = self.sample(split, None if n is None else min(n, len(self.split(split))), seed)
        return float(x.float().mean()) / self.dt

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description: name, sizes, shapes, dt, encoding, config."""
        return {
            "name": self.name,
            "n_classes": self.n_classes,
            "input_shape": list(self.input_shape),
            "n_steps": self.n_steps,
            "dt": self.dt,
            "encoding": self.encoding,
            "sizes": {k: len(self.split(k)) for k in SPLIT_NAMES},
            "config": dict(self.config),
        }


def permute_split(
    data: Tensor | EventStore | np.ndarray,
    labels: Tensor | np.ndarray,
    fractions: Sequence[float],
    seed: int,
) -> tuple[list[Tensor], list[Tensor]]:
    """Shuffle with ``seed`` and cut into train/val/test by ``fractions`` (see :func:`split_sizes`).

    Returns index tensors and label tensors per split (indices into ``data``).
    """
    n = len(labels)
    sizes = split_sizes(n, fractions)
    g = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(n, generator=g)
    y = torch.as_tensor(np.asarray(labels)).to(torch.int64)
    out_idx: list[Tensor] = []
    out_y: list[Tensor] = []
    start = 0
    for s in sizes:
        idx = perm[start : start + s]
        out_idx.append(idx)
        out_y.append(y[idx])
        start += s
    return out_idx, out_y


def holdout_split(n: int, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Seeded (train indices, validation indices) with ``round(val_fraction * n)`` held out."""
    val_fraction = check_float("val_fraction", val_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    n_val = int(round(val_fraction * n))
    if n_val < 1 or n_val >= n:
        raise ValueError(
            f"val_fraction={val_fraction!r} of {n} samples leaves an empty train or val split"
        )
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    return perm[n_val:], perm[:n_val]
