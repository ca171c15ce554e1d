"""Dataset registry: ``names()`` and ``load(name, **kw)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..catalog import DATASET_ALIASES
from ._base import SpikeDataset
from .dvs import dvs_gesture
from .images import cifar10, digits, fashion_mnist, mnist, mnist5k
from .randman import randman
from .shd import shd

__all__ = ["OFFLINE", "load", "names"]

_REGISTRY: dict[str, Callable[..., SpikeDataset]] = {
    "randman": randman,
    "digits": digits,
    "mnist5k": mnist5k,
    "mnist": mnist,
    "fashion_mnist": fashion_mnist,
    "cifar10": cifar10,
    "shd": shd,
    "dvs_gesture": dvs_gesture,
}
_ALIASES = DATASET_ALIASES  # the torch-free catalog holds the names the CLI offers
#: datasets available without network access
OFFLINE = ("randman", "digits", "mnist5k")


def names() -> list[str]:
    """Canonical dataset names accepted by :func:`load` (aliases not listed)."""
    return list(_REGISTRY)


def load(name: str, **kwargs: Any) -> SpikeDataset:
    """Build the dataset ``name`` (see :func:`names`) with its keyword parameters.

    Returns a :class:`SpikeDataset`; get time-first batches with
    ``ds.loader("train", batch_size)`` (``x [T, B, *ds.input_shape]``, ``y [B]``).
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be one of {names()}, got {name!r}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _REGISTRY:
        raise ValueError(f"name must be one of {names()}, got {name!r}")
    return _REGISTRY[key](**kwargs)
