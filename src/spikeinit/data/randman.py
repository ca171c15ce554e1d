"""The Randman task (Zenke and Vogels 2021), following stork's ``make_tempo_randman``.

Each class owns ``nb_spikes`` random smooth manifolds of dimension
``dim_manifold`` embedded in ``[0, 1]^n_units``. Embedding coordinate ``j`` of
manifold ``m`` is a product over the manifold dimensions ``d`` of random 1-D
functions::

    f(x) = sum_{i=0}^{K-1} a_i * s_i * sin(2 pi (i * b_i * x + c_i))
    s_i = 1 / ((i + 1)^alpha + 1),   K = min(ceil(prec^(-1/alpha)), 1000),  prec = 1e-3
    a, b, c ~ U[0, 1] (independent per class, manifold, unit and dimension),  a_0 = 0

A sample of class k draws a point ``x ~ U[0, 1]^dim_manifold`` (one point per
sample, shared by the class's manifolds). Each coordinate is min-max scaled to
[0, 1] over that class's samples, for that manifold, and becomes the spike
step of one input unit: ``step = int(n_steps * step_frac * y)``. Each unit thus
spikes exactly ``nb_spikes`` times, once per manifold. The information is purely
in spike timing.

Choices (documented deviations / decisions):

- Random numbers come from ``numpy.random.default_rng(seed)``: first one
  manifold seed per (class, spike), then per class the sample coordinates; a
  final permutation interleaves the classes. The values therefore differ from
  stork's (which uses the legacy global numpy RNG), the distribution does not.
- Like stork (``shuffle=True`` then the unshuffled ``split_dataset``), the
  samples are shuffled once with the data seed and then cut, unshuffled, into
  ``int(0.8 N)`` train, ``int(0.1 N)`` validation and the rest test. With
  1000 samples per class every split holds every class (checked; an error is
  raised if a split misses a class).
- ``y = 1`` exactly (the class maximum) would give ``step = n_steps * step_frac``,
  which is outside the window (and, for ``step_frac = 1``, outside the
  sample). It is clipped to the last step of the window,
  ``ceil(n_steps * step_frac) - 1``, so every step is ``< n_steps * step_frac``.
- The sine is evaluated in float32 after reducing the phase modulo 1 in
  float64 (about 10x faster than float64; the coordinates agree to ~1e-7).
- Two spikes of one unit (``nb_spikes > 1``) that land on the same step are
  kept as a count of 2 in that bin, so every unit always carries exactly
  ``nb_spikes`` spikes; the raster is binary whenever no such collision occurs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from ._base import EventStore, SpikeDataset, Split, check_float, check_int, split_sizes

__all__ = ["RandmanData", "make_randman", "randman", "randman_cutoff"]

PREC = 1e-3
MAX_CUTOFF = 1000


def randman_cutoff(alpha: float, prec: float = PREC, max_cutoff: int = MAX_CUTOFF) -> int:
    """Number of Fourier terms ``K = min(ceil(prec^(-1/alpha)), max_cutoff)``."""
    alpha = check_float("alpha", alpha, 0.0, lo_open=True)
    prec = check_float("prec", prec, 0.0, 1.0, lo_open=True, hi_open=True)
    # in logs: prec ** (-1 / alpha) overflows a float for a small alpha (1e-3)
    exponent = -math.log(prec) / alpha
    if exponent >= math.log(max_cutoff):
        return int(max_cutoff)
    return int(min(math.ceil(math.exp(exponent)), max_cutoff))


def _eval_manifold(
    x: np.ndarray, n_units: int, alpha: float, rng: np.random.Generator
) -> np.ndarray:
    """Embedding ``[n, n_units]`` of points ``x [n, dim]`` on one random manifold."""
    n, dim = x.shape
    k = randman_cutoff(alpha)
    params = rng.random((3, n_units, dim, k))
    a, b, c = params[0], params[1], params[2]
    a[:, :, 0] = 0.0
    i = np.arange(k, dtype=np.float64)
    spect = 1.0 / ((i + 1.0) ** alpha + 1.0)
    out = np.ones((n, n_units), dtype=np.float64)
    for u in range(n_units):
        for d in range(dim):
            phase = np.outer(x[:, d], i * b[u, d]) + c[u, d]
            phase -= np.floor(phase)
            s = np.sin((2.0 * np.pi * phase).astype(np.float32)).astype(np.float64)
            out[:, u] *= s @ (a[u, d] * spect)
    return out


def _minmax(y: np.ndarray) -> np.ndarray:
    lo = y.min(axis=0, keepdims=True)
    hi = y.max(axis=0, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    return np.asarray((y - lo) / span)


@dataclass(frozen=True)
class RandmanData:
    """Raw Randman samples in generation order after the shuffle.

    Attributes:
        steps: ``[N, n_units * nb_spikes]`` int64 spike steps (column ``m * n_units + j``
            is the spike of unit ``j`` from manifold ``m``).
        units: ``[n_units * nb_spikes]`` int64 unit of each column.
        labels: ``[N]`` int64 class labels.
        coords: ``[N, dim_manifold]`` float64 manifold coordinates of each sample.
        n_steps: number of time steps.
        n_units: number of input units.
    """

    steps: np.ndarray
    units: np.ndarray
    labels: np.ndarray
    coords: np.ndarray
    n_steps: int
    n_units: int

    def dense(self, index: np.ndarray | None = None) -> torch.Tensor:
        """Spike counts ``[N, n_steps, n_units]`` (float32) of the given samples (default all)."""
        idx = np.arange(len(self.labels)) if index is None else np.asarray(index)
        store = self.event_store(idx)
        return store[torch.arange(len(idx))]

    def event_store(self, index: np.ndarray) -> EventStore:
        """Sparse storage of the samples ``index`` (one event per spike)."""
        s = self.steps[np.asarray(index)]
        n, m = s.shape
        keys = (s * self.n_units + self.units[None, :]).reshape(-1)
        offsets = torch.arange(n + 1, dtype=torch.int64) * m
        return EventStore(torch.from_numpy(keys), offsets, self.n_steps, (self.n_units,))


@lru_cache(maxsize=4)
def _make_randman_cached(*args: Any) -> RandmanData:
    data = _make_randman(*args)
    for arr in (data.steps, data.units, data.labels, data.coords):
        arr.setflags(write=False)
    return data


def make_randman(
    n_classes: int = 10,
    n_units: int = 20,
    n_steps: int = 100,
    step_frac: float = 0.5,
    nb_spikes: int = 1,
    dim_manifold: int = 1,
    alpha: float = 1.0,
    samples_per_class: int = 1000,
    seed: int = 1,
    shuffle: bool = True,
) -> RandmanData:
    """Generate Randman samples (see the module docstring for the exact recipe).

    Args:
        n_classes: number of classes, >= 2.
        n_units: number of input units (embedding dimension), >= 1.
        n_steps: number of time steps, >= 1.
        step_frac: fraction of the steps, from the start, that hold spikes, in (0, 1].
        nb_spikes: spikes per unit (manifolds per class), >= 1.
        dim_manifold: manifold dimension, >= 1.
        alpha: smoothness (spectral decay) of the manifolds, > 0.
        samples_per_class: samples drawn per class, >= 1.
        seed: data seed (stork's reference runs use 1).
        shuffle: interleave the classes with a seeded permutation.

    The result is cached per parameter set (its arrays are read-only).
    """
    args = (
        check_int("n_classes", n_classes, 2),
        check_int("n_units", n_units, 1),
        check_int("n_steps", n_steps, 1),
        check_float("step_frac", step_frac, 0.0, 1.0, lo_open=True),
        check_int("nb_spikes", nb_spikes, 1),
        check_int("dim_manifold", dim_manifold, 1),
        check_float("alpha", alpha, 0.0, lo_open=True),
        check_int("samples_per_class", samples_per_class, 1),
        check_int("seed", seed, 0),
        bool(shuffle),
    )
    return _make_randman_cached(*args)


def _make_randman(
    n_classes: int = 10,
    n_units: int = 20,
    n_steps: int = 100,
    step_frac: float = 0.5,
    nb_spikes: int = 1,
    dim_manifold: int = 1,
    alpha: float = 1.0,
    samples_per_class: int = 1000,
    seed: int = 1,
    shuffle: bool = True,
) -> RandmanData:
    rng = np.random.default_rng(seed)
    manifold_seeds = rng.integers(0, 2**63 - 1, size=(n_classes, nb_spikes))
    window = n_steps * step_frac
    last = max(math.ceil(window) - 1, 0)

    steps_all: list[np.ndarray] = []
    coords_all: list[np.ndarray] = []
    for k in range(n_classes):
        x = rng.random((samples_per_class, dim_manifold))
        cols = []
        for m in range(nb_spikes):
            y = _eval_manifold(x, n_units, alpha, np.random.default_rng(manifold_seeds[k, m]))
            y = _minmax(y)
            st = np.floor(window * y).astype(np.int64)
            cols.append(np.minimum(st, last))
        steps_all.append(np.concatenate(cols, axis=1))
        coords_all.append(x)
    steps = np.concatenate(steps_all, axis=0)
    coords = np.concatenate(coords_all, axis=0)
    labels = np.repeat(np.arange(n_classes, dtype=np.int64), samples_per_class)
    if shuffle:
        perm = rng.permutation(len(labels))
        steps, coords, labels = steps[perm], coords[perm], labels[perm]
    units = np.tile(np.arange(n_units, dtype=np.int64), nb_spikes)
    return RandmanData(steps, units, labels, coords, n_steps, n_units)


def randman(
    n_classes: int = 10,
    n_units: int = 20,
    n_steps: int = 100,
    step_frac: float = 0.5,
    nb_spikes: int = 1,
    dim_manifold: int = 1,
    alpha: float = 1.0,
    samples_per_class: int = 1000,
    seed: int = 1,
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1),
    dt: float = 2e-3,
) -> SpikeDataset:
    """The Randman dataset as a :class:`SpikeDataset` (stork's reference settings by default).

    Input shape ``(n_units,)``, ``n_steps`` steps of ``dt`` seconds (metadata only:
    the data are defined in steps). Splits are the unshuffled ``splits``
    fractions of the seeded, class-interleaved sample list.
    """
    dt = check_float("dt", dt, 0.0, lo_open=True)
    n_total = check_int("n_classes", n_classes, 2) * check_int(
        "samples_per_class", samples_per_class, 1
    )
    sizes = split_sizes(n_total, splits)
    data = make_randman(
        n_classes=n_classes,
        n_units=n_units,
        n_steps=n_steps,
        step_frac=step_frac,
        nb_spikes=nb_spikes,
        dim_manifold=dim_manifold,
        alpha=alpha,
        samples_per_class=samples_per_class,
        seed=seed,
    )
    parts: list[Split] = []
    start = 0
    for name, size in zip(("train", "val", "test"), sizes, strict=True):
        idx = np.arange(start, start + size)
        start += size
        labels = torch.from_numpy(data.labels[idx])
        present = torch.unique(labels).numel()
        if present < n_classes:
            raise ValueError(
                f"randman: the {name} split ({size} samples) holds only {present} of "
                f"{n_classes} classes; increase samples_per_class (got {samples_per_class})"
            )
        parts.append(Split(data.event_store(idx), labels, seed=seed))
    config = {
        "n_classes": n_classes,
        "n_units": n_units,
        "n_steps": n_steps,
        "step_frac": step_frac,
        "nb_spikes": nb_spikes,
        "dim_manifold": dim_manifold,
        "alpha": alpha,
        "samples_per_class": samples_per_class,
        "seed": seed,
        "splits": list(splits),
        "dt": dt,
    }
    return SpikeDataset(
        name="randman",
        train=parts[0],
        val=parts[1],
        test=parts[2],
        n_classes=n_classes,
        input_shape=(n_units,),
        n_steps=n_steps,
        dt=dt,
        encoding="events",
        config=config,
    )
