"""Per-row pieces shared by the fused event-driven kernels (numba, float32).

The fused feed-forward layer (:mod:`spikeinit._kernels.linear_lif_numba`) and
the fused readout (:mod:`spikeinit._kernels.readout_numba`) walk the input
spikes ``S [T, B, K]`` one batch row at a time and build the current of that
row from its nonzero entries alone::

    x[t, b] = sum_{k: S[t,b,k] != 0, k ascending} S[t,b,k] W^T[k]  (+ b)

in float32, in that order (the order of the event-driven product of
:mod:`spikeinit.sparse_input`, so that both agree bit for bit): :func:`event_current`.
The adjoints use :func:`add_outer` (a weight gradient over the nonzero entries)
and :func:`vec_mat` (``dL/dS = dL/dx W``, summed in one fixed order). Threads take
contiguous blocks of batch rows (:func:`block_state`), about four blocks per thread
(:func:`chunks`); each block carries its own state through time.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit

from .bitscan import nonzero, unpack

_F0 = np.float32(0.0)
_F1 = np.float32(1.0)


@njit(cache=True, inline="always")
def axpy(a, x, y):  # type: ignore[no-untyped-def]
    """``y += a x`` (float32, element by element)."""
    for n in range(y.shape[0]):
        y[n] += a * x[n]


@njit(cache=True, inline="always")
def add_events(srow, wt, idx, cur):  # type: ignore[no-untyped-def]
    """``cur += S[k] W^T[k]`` for the nonzero ``k`` of ``srow`` in ascending order
    (``wt = W^T``, ``idx`` a scratch of ``len(srow)`` indices)."""
    for q in range(nonzero(srow, idx)):
        k = idx[q]
        axpy(srow[k], wt[k], cur)


@njit(cache=True, inline="always")
def add_outer(srow, idx, c, acc):  # type: ignore[no-untyped-def]
    """``acc[k] += S[k] c`` for the nonzero ``k`` of ``srow`` (a weight gradient
    ``dL/dW^T += S^T dL/dx`` of one row; ``idx`` a scratch of ``len(srow)`` indices)."""
    for q in range(nonzero(srow, idx)):
        k = idx[q]
        axpy(srow[k], c, acc[k])


@njit(cache=True, inline="always")
def add_unit_events(brow, wt, idx, cur):  # type: ignore[no-untyped-def]
    """:func:`add_events` for a 0/1 row given as its bits ``brow``
    (:func:`spikeinit._kernels.bitscan.pack`): ``cur += 1 * W^T[k]`` for the set bits
    ``k`` in ascending order, the same float32 operations as on the row itself."""
    for q in range(unpack(brow, idx)):
        axpy(_F1, wt[idx[q]], cur)


@njit(cache=True, inline="always")
def add_unit_outer(brow, idx, c, acc):  # type: ignore[no-untyped-def]
    """:func:`add_outer` for a 0/1 row given as its bits: ``acc[k] += 1 * c``."""
    for q in range(unpack(brow, idx)):
        axpy(_F1, c, acc[idx[q]])


@njit(cache=True, inline="always")
def vec_mat(c, w, out):  # type: ignore[no-untyped-def]
    """``out = c W`` for ``c [R]`` and ``W [R, N]``, summed over ``r`` in ascending order
    (``c[0] W[0]``, then ``+= c[r] W[r]``)."""
    width = out.shape[0]
    c0 = c[0]
    w0 = w[0]
    for n in range(width):
        out[n] = c0 * w0[n]
    for r in range(1, c.shape[0]):
        axpy(c[r], w[r], out)


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
def block_state(c, nblocks, batch, width):  # type: ignore[no-untyped-def]
    """Rows ``[lo, hi)`` of batch block ``c`` of ``nblocks`` and two zeroed state arrays
    ``[hi - lo, width]`` (float32) for them (a synaptic and a membrane variable, or
    their adjoint carries)."""
    lo = c * batch // nblocks
    hi = (c + 1) * batch // nblocks
    return lo, hi, np.zeros((hi - lo, width), np.float32), np.zeros((hi - lo, width), np.float32)


def chunks(batch: int) -> int:
    """Batch blocks: about four per thread (each carries its own state)."""
    return max(1, min(4 * numba.get_num_threads(), batch))
