"""Randman generator: determinism, shapes, spike counts, splits, manifold smoothness."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import spikeinit.data as sd
from spikeinit.data.randman import randman_cutoff


@pytest.fixture(scope="module")
def reference():
    """stork's reference Randman settings (10 classes, 20 units, 100 steps, ...)."""
    return sd.load("randman")


SMALL = dict(n_classes=3, n_units=6, n_steps=40, samples_per_class=60, alpha=2.0)


def test_cutoff():
    assert randman_cutoff(1.0) == 1000
    assert randman_cutoff(2.0) == 32  # ceil(1e-3 ** -0.5) = ceil(31.62)
    assert randman_cutoff(0.5) == 1000  # capped


def test_reference_metadata_and_sizes(reference):
    ds = reference
    assert ds.name == "randman"
    assert ds.n_classes == 10 and ds.input_shape == (20,) and ds.n_steps == 100
    assert ds.dt == pytest.approx(2e-3)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (8000, 1000, 1000)
    for split in (ds.train, ds.val, ds.test):
        assert set(split.labels.tolist()) == set(range(10))
    # exactly one spike per unit and sample -> 1 spike / 0.2 s = 5 Hz (stork's nu)
    assert ds.input_rate(n=None) == pytest.approx(5.0, rel=1e-6)


def test_reference_spike_structure(reference):
    x, y = reference.train.batch(torch.arange(500))
    assert x.shape == (100, 500, 20) and y.shape == (500,)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.all(x.sum(0) == 1)  # nb_spikes = 1 per unit per sample
    assert set(torch.unique(x).tolist()) == {0.0, 1.0}
    assert x[50:].sum() == 0  # all steps < n_steps * step_frac = 50
    assert x[49].sum() > 0 and x[0].sum() > 0  # the window is used to its edges


def test_deterministic_and_seed_dependent():
    from spikeinit.data.randman import _make_randman  # uncached generator

    a = sd.make_randman(seed=3, **SMALL)
    fresh = _make_randman(3, 6, 40, 0.5, 1, 1, 2.0, 60, 3, True)
    np.testing.assert_array_equal(a.steps, fresh.steps)
    np.testing.assert_array_equal(a.labels, fresh.labels)
    np.testing.assert_array_equal(a.coords, fresh.coords)
    other = _make_randman(3, 6, 40, 0.5, 1, 1, 2.0, 60, 4, True)
    assert not np.array_equal(a.steps, other.steps)
    ds1, ds2 = sd.randman(seed=3, **SMALL), sd.randman(seed=4, **SMALL)
    assert not torch.equal(ds1.test.batch(torch.arange(10))[0], ds2.test.batch(torch.arange(10))[0])


def test_loader_time_first_and_reproducible():
    ds = sd.randman(**SMALL, seed=5)
    batches1 = list(ds.loader("train", 32, shuffle=True, seed=7))
    batches2 = list(ds.loader("train", 32, shuffle=True, seed=7))
    assert len(batches1) == int(np.ceil(len(ds.train) / 32))
    for (x1, y1), (x2, y2) in zip(batches1, batches2, strict=True):
        assert x1.shape[0] == 40 and x1.shape[2] == 6
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    ys = torch.cat([y for _, y in batches1])
    assert sorted(ys.tolist()) == sorted(ds.train.labels.tolist())  # one epoch = each once
    loader = ds.loader("train", 32, shuffle=True, seed=7)
    e1 = torch.cat([y for _, y in loader])
    e2 = torch.cat([y for _, y in loader])
    assert not torch.equal(e1, e2)  # a new order every epoch


def test_multiple_spikes_and_step_frac_one():
    data = sd.make_randman(nb_spikes=3, step_frac=1.0, **SMALL)
    x = data.dense()
    assert x.shape == (180, 40, 6)
    assert torch.all(x.sum(1) == 3)  # exactly nb_spikes per unit, collisions counted
    assert data.steps.max() <= 39  # y = 1 clipped into the sample


def test_manifold_is_smooth():
    """Nearby manifold coordinates give nearby spike times (1-D manifold, alpha = 2)."""
    data = sd.make_randman(n_classes=2, n_units=10, n_steps=1000, step_frac=1.0,
                           samples_per_class=400, alpha=2.0, seed=2)  # fmt: skip
    cls = data.labels == 0
    order = np.argsort(data.coords[cls, 0])
    steps = data.steps[cls][order].astype(float)
    near = np.abs(np.diff(steps, axis=0)).mean()  # neighbours along the manifold
    rand = np.abs(steps[:, None, :] - steps[None, :, :]).mean()  # random pairs
    assert near < 0.1 * rand


@pytest.mark.parametrize(
    "kw, name",
    [
        ({"n_classes": 1}, "n_classes"),
        ({"step_frac": 0.0}, "step_frac"),
        ({"step_frac": 1.5}, "step_frac"),
        ({"nb_spikes": 0}, "nb_spikes"),
        ({"alpha": -1.0}, "alpha"),
        ({"n_units": 0}, "n_units"),
        ({"samples_per_class": 0}, "samples_per_class"),
        ({"dim_manifold": 0}, "dim_manifold"),
        ({"splits": (0.8, 0.3, 0.1)}, "splits"),
        ({"dt": -1e-3}, "dt"),
    ],
)
def test_invalid_parameters(kw, name):
    with pytest.raises(ValueError, match=name):
        sd.randman(**kw)


def test_split_missing_class_is_an_error():
    with pytest.raises(ValueError, match="classes"):
        sd.randman(n_classes=10, n_units=2, samples_per_class=1, alpha=4.0)
