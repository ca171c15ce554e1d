"""Per-row pieces shared by the fused event-driven kernels (numba, float32).

The fused feed-forward layer (:mod:`spikeinit._kernels.linear_lif_numba`) and
the fused readout (:mod:`spikeinit._kernels.readout_numba`) walk the input
spikes ``S [T, B, K]`` one batch row at a time and build the current of that
row from its nonzero entries alone::

    x[t, b] = sum_{k: S[t,b,k] != 0, k ascending} S[t,b,k] W^T[k]  (+ b)

in float32, in that order (the order of the event-driven product of
:mod:`spikeinit.sparse_input`, so that both agree bit for bit). Threads take
contiguous blocks of batch rows (:func:`block`), about four blocks per thread
(:func:`chunks`); each block carries its own state through time.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit

_F0 = np.float32(0.0)


@njit(cache=True, inline="always")
def nonzero(srow, idx):  # type: ignore[no-untyped-def]
    """The indices of the nonzero entries of ``srow`` into ``idx`` (in order); their count.
    Branch-free: every index is written, the count only advances on a nonzero."""
    cnt = 0
    for k in range(srow.shape[0]):
        idx[cnt] = k
        cnt += srow[k] != _F0
    return cnt


@njit(cache=True, inline="always")
def add_events(srow, wt, idx, cur):  # type: ignore[no-untyped-def]
    """``cur += S[k] W^T[k]`` for the nonzero ``k`` of ``srow`` in ascending order
    (``wt = W^T``, ``idx`` a scratch of ``len(srow)`` indices)."""
    width = cur.shape[0]
    cnt = nonzero(srow, idx)
    for q in range(cnt):
        k = idx[q]
        v = srow[k]
        wk = wt[k]
        for n in range(width):
            cur[n] += v * wk[n]


@njit(cache=True, inline="always")
def event_current(srow, wt, bias, has_bias, idx, cur):  # type: ignore[no-untyped-def]
    """``cur = srow W^T (+ bias)`` from the nonzero entries of ``srow``: zero, then
    :func:`add_events`, then ``+ bias``."""
    width = cur.shape[0]
    for n in range(width):
        cur[n] = _F0
    add_events(srow, wt, idx, cur)
    if has_bias:
        for n in range(width):
            cur[n] = cur[n] + bias[n]


@njit(cache=True, inline="always")
def block(c, nblocks, batch):  # type: ignore[no-untyped-def]
    """Rows ``[lo, hi)`` of batch block ``c`` of ``nblocks``."""
    return c * batch // nblocks, (c + 1) * batch // nblocks


def chunks(batch: int) -> int:
    """Batch blocks: about four per thread (each carries its own state)."""
    return max(1, min(4 * numba.get_num_threads(), batch))
