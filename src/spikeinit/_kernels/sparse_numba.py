"""Event-driven products with a sparse input matrix, compiled with numba (float32, CPU).

For an input ``X`` of shape ``[M, K]`` (time and batch folded into ``M``)
whose entries are mostly zero (spike trains), the two products of a linear
layer only need its nonzero entries:

* forward current ``Y[m, :] = sum_{k: X[m,k] != 0} X[m, k] W^T[k, :]``
  (:func:`scan_matmul`), and
* weight gradient ``dL/dW^T[k, :] = sum_{m: X[m,k] != 0} X[m, k] G[m, :]``
  (:func:`scan_weight_grad`),

each costing one pass over ``X`` plus ``nnz(X) * N`` multiply-adds instead of
the dense ``M K N``. ``X`` is scanned directly (no index structure is built):
building a CSR index costs as much as the dense product at SHD's sizes.
The order of the sums differs from a BLAS GEMM, so results agree with the
dense products to rounding (relative 1e-6), not bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .threads import follow_torch_threads


@njit(parallel=True, cache=True, error_model="numpy")
def _scan_matmul(x, wt, out):  # type: ignore[no-untyped-def]
    rows, cols = x.shape
    width = wt.shape[1]
    for m in prange(rows):
        for n in range(width):
            out[m, n] = 0.0
        for k in range(cols):
            v = x[m, k]
            if v != 0:
                for n in range(width):
                    out[m, n] += v * wt[k, n]


@njit(parallel=True, cache=True, error_model="numpy")
def _scan_weight_grad(x, g, acc):  # type: ignore[no-untyped-def]
    chunks, cols, width = acc.shape
    rows = g.shape[0]
    for c in prange(chunks):
        lo = c * rows // chunks
        hi = (c + 1) * rows // chunks
        for m in range(lo, hi):
            for k in range(cols):
                v = x[m, k]
                if v != 0:
                    for n in range(width):
                        acc[c, k, n] += v * g[m, n]


@follow_torch_threads
def scan_matmul(x: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """``x @ wt`` for a mostly-zero ``x [M, K]`` and a dense ``wt [K, N]`` (float32)."""
    out = np.empty((x.shape[0], wt.shape[1]), dtype=np.float32)
    _scan_matmul(x, np.ascontiguousarray(wt), out)
    return out


@follow_torch_threads
def scan_weight_grad(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``x.T @ g`` ``[K, N]`` for a mostly-zero ``x [M, K]`` and dense ``g [M, N]``.

    Rows of ``x`` are split into one chunk per thread, each with its own
    accumulator (no write conflicts); the chunks are summed at the end.
    """
    chunks = max(1, min(numba.get_num_threads(), x.shape[0]))
    acc = np.zeros((chunks, x.shape[1], g.shape[1]), dtype=np.float32)
    _scan_weight_grad(x, np.ascontiguousarray(g), acc)
    return acc.sum(axis=0)
