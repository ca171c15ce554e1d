"""Reused CPU buffers for the kernels' large per-step outputs.

A training step of the SHD recurrent-conv net allocates a dozen tensors of
``[T, B, C, L]`` float32 (up to 609 MB each at batch 400), which the step after
allocates again. Blocks that large bypass malloc's free lists: each one is mapped
fresh and the first write faults once per page, which made about a third of the
step system time. :func:`empty` hands out memory from a small pool instead:

* a pooled block is *idle* when the array handed out of it has died (a weak
  reference says so: the tensor, and every view of it, keep that array alive), and
  is then reused for any request of its size down to half its size;
* on a miss, idle blocks that cannot serve the request are released first, so that
  the pool never holds more than the blocks in use plus the new one: the peak is
  the peak of plain allocation. Idle blocks otherwise stay mapped between steps
  (:func:`release` returns them to the system);
* requests below :data:`MIN_BYTES` (1 MiB) are plain allocations (malloc keeps
  chunks that small on its free lists).

Mid-sized blocks are pooled too: the Randman layers' ``[100, 250, 128]`` outputs
(12.8 MB) were left to malloc at first, and glibc returned them to the system and
mapped them afresh in some processes and not in others: the fused layer's forward
then took 8-11 ms instead of 2-3 ms (``python -m benchmarks.epoch_kernels``, the
same commit run several times).

New blocks are numpy allocations, which numpy backs with transparent huge pages
(``madvise``) where the system allows.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np
import torch

MIN_BYTES = 1 << 20
"""Requests smaller than this (1 MiB) are not pooled."""

# [block (1-D uint8), weak reference to the array handed out of it, or None]
_POOL: list[list[Any]] = []
_LOCK = threading.Lock()
_NP = {torch.float32: np.float32, torch.uint8: np.uint8}


def _idle(entry: list[Any]) -> bool:
    return entry[1] is None or entry[1]() is None


def _entry(nbytes: int) -> list[Any]:
    fits = [e for e in _POOL if nbytes <= e[0].nbytes and _idle(e)]
    if fits:
        return min(fits, key=lambda e: e[0].nbytes)
    _POOL[:] = [e for e in _POOL if not _idle(e)]  # all smaller than this request
    entry = [np.empty(nbytes, dtype=np.uint8), None]
    _POOL.append(entry)
    return entry


def empty(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """An uninitialised contiguous CPU tensor of ``shape``, from the pool when large."""
    np_dtype = _NP[dtype]
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(np_dtype).itemsize
    if nbytes < MIN_BYTES:
        return torch.empty(shape, dtype=dtype)
    with _LOCK:
        entry = _entry(nbytes)
        arr = entry[0][:nbytes].view(np_dtype).reshape(shape)
        entry[1] = weakref.ref(arr)  # the tensor keeps ``arr`` alive, and so the block busy
    return torch.from_numpy(arr)


def release() -> None:
    """Return every idle pooled block to the system."""
    with _LOCK:
        _POOL[:] = [e for e in _POOL if not _idle(e)]


def pooled_bytes() -> int:
    """Bytes held by the pool (in use and idle)."""
    with _LOCK:
        return sum(e[0].nbytes for e in _POOL)
