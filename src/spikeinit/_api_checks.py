"""Checks at the public entries of the Python API (``si.initialize``, ``si.diagnose``).

One place for what every entry must refuse before any work, with the parameter
named: a ``model`` that is no ``torch.nn.Module`` (``TypeError``), a model or a
data tensor on the ``meta`` device (``ValueError``: it holds no numbers to
measure or set), and numeric keywords that are no real numbers (``TypeError``,
instead of a ``'<' not supported`` from deep inside).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn

from ._validate import real

__all__ = ["check_model_and_data", "check_reals", "names_data_errors"]

#: what torch says when a model's forward meets data of the wrong shape or dtype
_DATA_MISMATCH = (
    "shapes cannot be multiplied",
    "must have the same dtype",
    "need to be at least",
    "size mismatch",
    "The size of tensor a",
    "expected scalar type",
    "Expected all tensors to be on the same device",
    "Given groups=",
    "to have the same dtype",
    "should be the same",
)


def check_model_and_data(model: Any, data: Any = None) -> None:
    """``TypeError`` unless ``model`` is an ``nn.Module``; ``ValueError`` if it or
    ``data`` (a tensor) lies on the ``meta`` device."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    tensors = itertools.chain(model.named_parameters(), model.named_buffers())
    meta = next((name for name, t in tensors if t.is_meta), None)
    if meta is not None:
        raise ValueError(
            f"model is on the meta device ({meta!r} holds no numbers): materialise it first "
            "(model.to_empty(device='cpu'), or build it outside torch.device('meta'))"
        )
    if isinstance(data, torch.Tensor) and data.is_meta:
        raise ValueError("data is on the meta device (no numbers to measure): pass real data")


def check_reals(**values: Any) -> None:
    """``TypeError`` naming the first keyword whose value is neither ``None`` nor a
    real number (a bool, a string, a tensor of several values)."""
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_meta:
            value = value.item()
        real(name, value)


F = TypeVar("F", bound=Callable[..., Any])


def names_data_errors(function: F) -> F:
    """Decorate an entry ``function(model, data, ...)``: torch's shape / dtype / device
    mismatch raised inside the model's forward becomes a ``ValueError`` naming
    ``data``, its shape and dtype (the model is left as it was by the entry itself);
    a layer left with no input variance names the targets asked for (a tiny
    ``sigma_u`` or a huge ``xi`` silences the layers before it)."""

    @functools.wraps(function)
    def wrapper(model: Any, data: Any = None, *args: Any, **kw: Any) -> Any:
        try:
            return function(model, data, *args, **kw)
        except ValueError as exc:
            targets = {k: kw[k] for k in ("sigma_u", "xi", "mu_u") if kw.get(k) is not None}
            if "no temporal variance" not in str(exc) or not targets:
                raise
            given = ", ".join(f"{k}={v!r}" for k, v in targets.items())
            raise ValueError(
                f"{exc}; with the targets asked for ({given}) the layers before it may be "
                "silent: raise sigma_u (or lower xi)"
            ) from exc
        except RuntimeError as exc:
            text = str(exc)
            if not any(s in text for s in _DATA_MISMATCH):
                raise
            what = (
                f"a {data.dtype} tensor of shape {list(data.shape)} on {data.device}"
                if isinstance(data, torch.Tensor)
                else type(data).__name__
            )
            first = text.strip().splitlines()[0][:200]
            raise ValueError(
                f"data does not fit the model: its forward failed on {what} ({first}); "
                "pass float data [T, B, features] (time first) that the model takes"
            ) from exc

    return wrapper  # type: ignore[return-value]
