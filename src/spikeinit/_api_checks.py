"""Checks at the public entries of the Python API (``si.initialize``, ``si.diagnose``).

One place for what every entry must refuse before any work, with the parameter
named: a ``model`` that is no ``torch.nn.Module`` (``TypeError``), a model or a
data tensor on the ``meta`` device (``ValueError``: it holds no numbers to
measure or set), and numeric keywords that are no real numbers (``TypeError``,
instead of a ``'<' not supported`` from deep inside).
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn

from ._validate import real

__all__ = ["check_model_and_data", "check_reals"]


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
