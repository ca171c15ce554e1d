"""The dataset API: registry, splits, loaders, event storage."""

from __future__ import annotations

import pytest
import torch

import spikeinit.data as sd

SMALL = dict(n_classes=3, n_units=5, n_steps=30, samples_per_class=40, alpha=3.0)


def test_registry():
    names = sd.names()
    for n in ("randman", "digits", "mnist5k", "mnist", "fashion_mnist", "cifar10", "shd"):
        assert n in names
    assert "dvs_gesture" in names
    assert set(sd.OFFLINE) <= set(names)
    ds = sd.load("RandMan", **SMALL)
    assert ds.name == "randman"
    with pytest.raises(ValueError, match="name must be one of"):
        sd.load("imagenet")


def test_dataset_metadata_and_splits():
    ds = sd.load("randman", **SMALL)
    assert ds.n_inputs == 5 and ds.duration == pytest.approx(30 * 2e-3)
    assert ds.split("valid") is ds.val and ds.split("validation") is ds.val
    with pytest.raises(ValueError, match="split"):
        ds.split("dev")
    summary = ds.summary()
    assert summary["sizes"] == {"train": 96, "val": 12, "test": 12}
    assert summary["input_shape"] == [5]
    x, y = ds.test[0]
    assert x.shape == (30, 5) and y.dtype == torch.int64
    with pytest.raises(IndexError):
        ds.test[12]
    xs, ys = ds.sample("train", 10, seed=1)
    assert xs.shape == (30, 10, 5)
    assert torch.equal(xs, ds.sample("train", 10, seed=1)[0])


def test_loader_variants():
    ds = sd.load("randman", **SMALL)
    dl = ds.loader("train", 40, drop_last=True)
    assert len(dl) == 2 and all(x.shape[1] == 40 for x, _ in dl)
    dl = ds.loader("val", 5)
    assert len(dl) == 3 and [x.shape[1] for x, _ in dl] == [5, 5, 2]
    assert torch.equal(torch.cat([y for _, y in dl]), ds.val.labels)  # val not shuffled
    with pytest.raises(ValueError, match="batch_size"):
        ds.loader("train", 0)
    with pytest.raises(TypeError):
        sd.loader([1, 2, 3], 2)  # type: ignore[arg-type]
    # the plain torch DataLoader works with collate_time_first
    tdl = torch.utils.data.DataLoader(ds.val, batch_size=4, collate_fn=sd.collate_time_first)
    x, y = next(iter(tdl))
    assert x.shape == (30, 4, 5) and torch.equal(y, ds.val.labels[:4])
    assert torch.equal(x, ds.val.batch(torch.arange(4))[0])


def test_event_store_roundtrip_and_validation():
    store = sd.EventStore.from_lists(
        [[0, 2, 2], [], [1]], [[0, 3, 3], [], [5]], n_steps=3, feature_shape=(2, 3), binary=True
    )
    assert store.counts().tolist() == [2, 0, 1]
    x = store[torch.tensor([2, 0, 1])]
    assert x.shape == (3, 3, 2, 3)
    assert x[0, 1, 1, 2] == 1 and x[1, 0, 0, 0] == 1 and x[1, 2, 1, 0] == 1
    assert x.sum() == 3 and x[2].sum() == 0
    counts = sd.EventStore.from_lists([[1, 1]], [[0, 0]], 2, (1,))
    assert counts[0][1, 0] == 2  # without binary, events are counted
    sub = store.subset(torch.tensor([2, 0]))
    assert torch.equal(sub[torch.arange(2)], store[torch.tensor([2, 0])])
    # the time-first batch (written in place) is the sample-first one transposed,
    # counts included, for any order and repeated indices
    for s_, idx in ((store, [2, 0, 1, 2]), (counts, [0, 0])):
        i = torch.tensor(idx)
        assert torch.equal(s_.time_first(i), s_[i].transpose(0, 1))
    with pytest.raises(ValueError, match="keys"):
        sd.EventStore(torch.tensor([6]), torch.tensor([0, 1]), 1, (6,))
    with pytest.raises(ValueError, match="offsets"):
        sd.EventStore(torch.tensor([1]), torch.tensor([0, 2]), 1, (6,))


def test_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SPIKEINIT_DATA", str(tmp_path))
    assert sd.cache_dir() == tmp_path
    assert sd.cache_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("SPIKEINIT_DATA")
    assert sd.cache_dir().name == "spikeinit"


def test_event_store_batches_match_a_naive_loop():
    # events counted one by one into a dense [B, T, *features] tensor, duplicates and
    # empty samples included, against the store's batch and its time-first form
    gen = torch.Generator().manual_seed(0)
    steps, units = [], []
    for _ in range(30):
        n = int(torch.randint(0, 9, (1,), generator=gen))
        steps.append(torch.randint(0, 7, (n,), generator=gen).tolist())
        units.append(torch.randint(0, 6, (n,), generator=gen).tolist())
    store = sd.EventStore.from_lists(steps, units, n_steps=7, feature_shape=(2, 3))
    idx = torch.randint(0, 30, (17,), generator=gen)
    want = torch.zeros(17, 7, 6)
    for j, i in enumerate(idx.tolist()):
        for t, u in zip(steps[i], units[i], strict=True):
            want[j, t, u] += 1.0
    want = want.view(17, 7, 2, 3)
    assert torch.equal(store[idx], want)
    assert torch.equal(store.time_first(idx), want.transpose(0, 1))
    assert float(want.max()) >= 2  # a repeated event ran


def test_event_store_time_first_matches_a_naive_loop_over_many_batches():
    # time_first against events counted one by one: random stores with
    # empty samples and repeated events, batches with repeated, unsorted and no indices
    gen = torch.Generator().manual_seed(1)
    for n_steps, shape in ((5, (4,)), (9, (2, 3)), (1, (1,))):
        n_feat = int(torch.tensor(shape).prod())
        steps, units = [], []
        for _ in range(25):
            n = int(torch.randint(0, 12, (1,), generator=gen))
            steps.append(torch.randint(0, n_steps, (n,), generator=gen).tolist())
            units.append(torch.randint(0, n_feat, (n,), generator=gen).tolist())
        store = sd.EventStore.from_lists(steps, units, n_steps=n_steps, feature_shape=shape)
        for b in (0, 1, 7, 40):
            idx = torch.randint(0, 25, (b,), generator=gen)
            want = torch.zeros(n_steps, b, n_feat)
            for j, i in enumerate(idx.tolist()):
                for t, u in zip(steps[i], units[i], strict=True):
                    want[t, j, u] += 1.0
            got = store.time_first(idx)
            assert got.dtype == torch.float32 and got.is_contiguous()
            assert torch.equal(got, want.view(n_steps, b, *shape))
