"""Download paths (SHD, torchvision, DVS Gesture) on small files written here in the real formats.

No test touches the network: downloads use ``file://`` URLs, and the offline
case patches ``urllib.request.urlopen`` to fail.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import sys
import types
import urllib.error
import urllib.request
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import spikeinit.data as sd
from spikeinit.data.download import download_file, gunzip_file

shd_mod = importlib.import_module("spikeinit.data.shd")  # the module, not the function

# ----------------------------------------------------------------------------
# helpers: tiny SHD files in the real layout
# ----------------------------------------------------------------------------


def write_shd(path: Path, times, units, labels, times_dtype=np.float16) -> Path:
    with h5py.File(path, "w") as f:
        n = len(times)
        t = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.dtype(times_dtype)))
        u = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.dtype(np.uint16)))
        for i in range(n):
            t[i] = np.asarray(times[i], dtype=times_dtype)
            u[i] = np.asarray(units[i], dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        f.create_dataset("extra/speaker", data=np.zeros(len(labels), dtype=np.uint16))
    return path


def random_shd(path: Path, n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    times, units = [], []
    for _ in range(n):
        k = int(rng.integers(50, 200))
        times.append(np.sort(rng.uniform(0, 1.0, k)))
        units.append(rng.integers(0, 700, k))
    return write_shd(path, times, units, rng.integers(0, 20, n))


def gz(src: Path) -> Path:
    dst = src.with_name(src.name + ".gz")
    dst.write_bytes(gzip.compress(src.read_bytes()))
    return dst


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A 'server' directory with shd_{train,test}.h5.gz, wired in through a file:// URL."""
    srv = tmp_path / "server"
    srv.mkdir()
    files = {}
    for split, n in (("train", 20), ("test", 6)):
        h5 = random_shd(srv / f"shd_{split}.h5", n, seed=len(split))
        g = gz(h5)
        h5.unlink()
        files[split] = (g.name, md5(g), None)
    monkeypatch.setattr(shd_mod, "SHD_FILES", files)
    monkeypatch.setattr(shd_mod, "SHD_BASE_URL", srv.as_uri() + "/")
    monkeypatch.setenv("SPIKEINIT_DATA", str(tmp_path / "cache"))
    return srv


# ----------------------------------------------------------------------------
# SHD
# ----------------------------------------------------------------------------


def test_read_shd_bins_and_crops(tmp_path):
    times = [[0.0031, 0.0035, 0.0100, 0.6990, 0.7010], [0.5]]
    units = [[5, 5, 699, 3, 4], [0]]
    path = write_shd(tmp_path / "s.h5", times, units, [7, 19], times_dtype=np.float64)
    store, labels = sd.read_shd(path, dt=2e-3, n_steps=350)
    assert labels.tolist() == [7, 19]
    x = store[torch.arange(2)]
    assert x.shape == (2, 350, 700)
    assert x[0, 1, 5] == 1  # two spikes in one 2 ms bin count once
    assert x[0, 5, 699] == 1 and x[0, 349, 3] == 1
    assert x[0].sum() == 3  # t = 0.701 s is cropped
    assert x[1, 250, 0] == 1 and x[1].sum() == 1


def test_shd_download_verify_gunzip_and_splits(server, tmp_path, monkeypatch):
    ds = sd.load("shd", val_fraction=0.1, seed=0)
    assert ds.input_shape == (700,) and ds.n_steps == 350 and ds.n_classes == 20
    assert (len(ds.train), len(ds.val), len(ds.test)) == (18, 2, 6)
    x, y = next(iter(ds.loader("train", 4)))
    assert x.shape == (350, 4, 700) and y.shape == (4,)
    assert set(torch.unique(x).tolist()) <= {0.0, 1.0}
    cache = tmp_path / "cache" / "shd"
    assert (cache / "shd_train.h5").is_file() and (cache / "shd_test.h5").is_file()
    assert not list(cache.glob("*.part"))
    # a second load uses the cache: no network needed
    monkeypatch.setattr(shd_mod, "SHD_BASE_URL", "http://unreachable.invalid/")
    again = sd.shd(seed=0)
    assert torch.equal(again.val.labels, ds.val.labels)
    assert sd.shd(seed=1).val.labels.numel() == 2


def test_shd_checksum_mismatch_leaves_nothing(server, tmp_path, monkeypatch):
    files = dict(shd_mod.SHD_FILES)
    files["train"] = (files["train"][0], "0" * 32, None)
    monkeypatch.setattr(shd_mod, "SHD_FILES", files)
    with pytest.raises(ValueError, match="checksum mismatch.*deleted"):
        sd.shd()
    cache = tmp_path / "cache" / "shd"
    assert not (cache / "shd_train.h5.gz").exists()
    assert not (cache / "shd_train.h5").exists()
    assert not list(cache.glob("*.part"))


def test_shd_offline_gives_manual_step(server, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(sd.DatasetUnavailableError) as err:
        sd.shd()
    msg = str(err.value)
    assert "Manual step" in msg and "shd_train.h5.gz" in msg and "shd_test.h5.gz" in msg
    assert str(Path(sd.cache_dir()) / "shd") in msg
    with pytest.raises(sd.DatasetUnavailableError, match="download=False"):
        sd.shd(download=False)


def test_shd_manually_placed_gz_is_verified(server, tmp_path):
    cache = tmp_path / "cache" / "shd"
    cache.mkdir(parents=True)
    for name in ("shd_train.h5.gz", "shd_test.h5.gz"):
        (cache / name).write_bytes((server / name).read_bytes())
    (server / "shd_train.h5.gz").unlink()  # the download would fail: the cache must be used
    assert len(sd.shd().train) == 18


def test_shd_truncated_gzip(server, tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "shd"
    cache.mkdir(parents=True)
    data = (server / "shd_train.h5.gz").read_bytes()
    bad = cache / "shd_train.h5.gz"
    bad.write_bytes(data[: len(data) // 2])
    files = dict(shd_mod.SHD_FILES)
    files["train"] = (files["train"][0], md5(bad), None)  # checksum passes, gzip does not
    monkeypatch.setattr(shd_mod, "SHD_FILES", files)
    with pytest.raises(ValueError, match="shd_train.h5.gz.*gzip"):
        sd.shd()
    assert not (cache / "shd_train.h5").exists() and not list(cache.glob("*.part"))


def test_gunzip_rejects_non_gzip(tmp_path):
    src = tmp_path / "x.gz"
    src.write_bytes(b"this is not gzip data at all")
    with pytest.raises(ValueError, match="x.gz.*gzip"):
        gunzip_file(src, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_download_file_checksum(tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"abc" * 1000)
    out = download_file(src.as_uri(), tmp_path / "dl" / "a.bin", md5(src))
    assert out.read_bytes() == src.read_bytes()
    with pytest.raises(ValueError, match="checksum mismatch"):
        download_file(src.as_uri(), tmp_path / "dl" / "b.bin", "f" * 32)
    assert not (tmp_path / "dl" / "b.bin").exists()
    with pytest.raises(sd.DatasetUnavailableError, match="do this"):
        download_file((tmp_path / "missing").as_uri(), tmp_path / "c", None, manual_step="do this")


def test_shd_corrupt_hdf5(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"\x89HDF\r\n" + b"\x00" * 100)
    with pytest.raises(ValueError, match="junk.h5.*HDF5"):
        sd.read_shd(junk)
    good = random_shd(tmp_path / "good.h5", 5, seed=0)
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(ValueError, match="trunc.h5"):
        sd.read_shd(trunc)


def test_shd_cached_corrupt_h5_names_file(server, tmp_path):
    cache = tmp_path / "cache" / "shd"
    cache.mkdir(parents=True)
    (cache / "shd_train.h5").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="shd_train.h5.*Delete the file"):
        sd.shd()


@pytest.mark.parametrize(
    "times, units, labels, match",
    [
        ([[0.1, 0.2]], [[1]], [0], "1 entries|has 2 entries"),
        ([[0.1, np.nan]], [[1, 2]], [0], "NaN"),
        ([[0.1, 0.2]], [[1, 700]], [0], r"units must lie in \[0, 699\]"),
        ([[0.1, -0.2]], [[1, 2]], [0], "negative"),
        ([[0.1], [0.2]], [[1], [2]], [0], "mismatched lengths"),
        ([[0.1]], [[1]], [20], r"labels must lie in \[0, 19\]"),
    ],
)
def test_shd_bad_content(tmp_path, times, units, labels, match):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        vt = f.create_dataset("spikes/times", (len(times),), dtype=h5py.vlen_dtype(np.float64))
        vu = f.create_dataset("spikes/units", (len(units),), dtype=h5py.vlen_dtype(np.int64))
        for i, t in enumerate(times):
            vt[i] = np.asarray(t, dtype=np.float64)
        for i, u in enumerate(units):
            vu[i] = np.asarray(u, dtype=np.int64)
        f.create_dataset("labels", data=np.asarray(labels))
    with pytest.raises(ValueError, match=match) as err:
        sd.read_shd(path)
    assert "bad.h5" in str(err.value)


def test_shd_missing_key(tmp_path):
    path = tmp_path / "nolabels.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("spikes/times", data=np.zeros(3))
    with pytest.raises(ValueError, match="nolabels.h5.*missing dataset 'spikes/units'"):
        sd.read_shd(path)


@pytest.mark.parametrize(
    "kw, name",
    [({"dt": 0.0}, "dt"), ({"duration": -1.0}, "duration"), ({"val_fraction": 1.0}, "val_fraction"),
     ({"duration": 0.7005}, "duration")],
)  # fmt: skip
def test_shd_invalid_parameters(kw, name, tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEINIT_DATA", str(tmp_path))
    with pytest.raises(ValueError, match=name):
        sd.shd(**kw)


# ----------------------------------------------------------------------------
# torchvision datasets
# ----------------------------------------------------------------------------


def fake_torchvision(monkeypatch, cls_name, factory):
    mod = types.ModuleType("torchvision.datasets")
    setattr(mod, cls_name, factory)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", mod)


def test_torchvision_offline_message(monkeypatch, tmp_path):
    calls = []

    class Offline:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    fake_torchvision(monkeypatch, "MNIST", Offline)
    with pytest.raises(sd.DatasetUnavailableError) as err:
        sd.load("mnist", data_dir=tmp_path)
    msg = str(err.value)
    assert "Manual step" in msg and "train-images-idx3-ubyte.gz" in msg
    assert str(tmp_path / "torchvision" / "MNIST" / "raw") in msg
    assert calls and calls[0][2] is True


def test_torchvision_real_class_without_files(tmp_path):
    """The real torchvision class, download disabled, empty directory: a clear error."""
    pytest.importorskip("torchvision")
    with pytest.raises(sd.DatasetUnavailableError, match="FashionMNIST/raw"):
        sd.fashion_mnist(data_dir=tmp_path, download=False)


def test_torchvision_success_path(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)

    class FakeCIFAR:
        def __init__(self, root, train, download):
            n = 50 if train else 10
            self.data = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
            self.data[:, :, :, 0] = 255  # red channel saturated
            self.data[:, :, :, 1:] = 0
            self.targets = list(rng.integers(0, 10, n))

    fake_torchvision(monkeypatch, "CIFAR10", FakeCIFAR)
    ds = sd.cifar10(encoding="current", n_steps=2, data_dir=tmp_path)
    assert ds.input_shape == (3, 32, 32)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (45, 5, 10)
    x, y = next(iter(ds.loader("test", 10)))
    assert x.shape == (2, 10, 3, 32, 32)
    assert torch.all(x[:, :, 0] == 1.0) and torch.all(x[:, :, 1:] == 0.0)  # channels-first


# ----------------------------------------------------------------------------
# DVS Gesture
# ----------------------------------------------------------------------------

DVS_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("p", bool), ("t", np.int64)])


def fake_tonic(monkeypatch, cls):
    mod = types.ModuleType("tonic.datasets")
    mod.DVSGesture = cls  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tonic.datasets", mod)


def test_dvs_offline_message(monkeypatch, tmp_path):
    class Offline:
        def __init__(self, save_to, train):
            raise urllib.error.URLError("no route to host")

    fake_tonic(monkeypatch, Offline)
    with pytest.raises(sd.DatasetUnavailableError) as err:
        sd.load("dvs_gesture", data_dir=tmp_path)
    msg = str(err.value)
    assert "Manual step" in msg and "ibmGestureTrain.tar.gz" in msg
    assert str(tmp_path / "dvs_gesture" / "DVSGesture") in msg


def test_dvs_binning_downsampling_and_cache(monkeypatch, tmp_path):
    def sample(label):
        ev = np.zeros(4, dtype=DVS_DTYPE)
        t0 = 5_000_000  # samples do not start at t = 0
        ev["x"] = [0, 3, 127, 64]
        ev["y"] = [0, 2, 127, 8]
        ev["p"] = [False, False, True, True]
        ev["t"] = [t0, t0 + 1000, t0 + 999_000, t0 + 1_500_000]  # last one after 1 s
        return ev, label

    class Fake:
        def __init__(self, save_to, train):
            self.items = [sample(i % 11) for i in range(20 if train else 5)]

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]

    fake_tonic(monkeypatch, Fake)
    ds = sd.dvs_gesture(data_dir=tmp_path)
    assert ds.input_shape == (2, 32, 32) and ds.n_steps == 500 and ds.n_classes == 11
    assert (len(ds.train), len(ds.val), len(ds.test)) == (18, 2, 5)
    x, _ = ds.test.batch(torch.arange(5))
    assert x.shape == (500, 5, 2, 32, 32)
    s = x[:, 0]
    assert s[0, 0, 0, 0] == 1  # (0, 0) and (3, 2) fall in the same pixel and 2 ms bin
    assert s[499, 1, 31, 31] == 1  # t = 0.999 s -> step 499
    assert s.sum() == 2  # merged duplicate + cropped event
    # the binned cache is reused without tonic
    fake_tonic(monkeypatch, None)
    again = sd.dvs_gesture(data_dir=tmp_path)
    assert torch.equal(again.test.batch(torch.arange(5))[0], x)


def test_dvs_invalid_parameters(tmp_path):
    with pytest.raises(ValueError, match="size"):
        sd.dvs_gesture(size=30, data_dir=tmp_path)
    with pytest.raises(ValueError, match="dt"):
        sd.dvs_gesture(dt=-1.0, data_dir=tmp_path)
