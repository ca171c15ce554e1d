"""spikeinit._kernels.bitscan: the vector scan for nonzero entries against numpy.

``nonzero`` must give ``np.flatnonzero(row != 0)`` (ascending; NaN and inf are
nonzero, ``-0.0`` is zero) for every length (the 64- and 8-entry blocks and the
tail), on contiguous rows (the vector load) and strided ones (the scalar path);
``pack`` must give numpy's little-endian ``packbits`` of ``row != 0`` and
``unpack`` its inverse.
"""

from __future__ import annotations

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from spikeinit._kernels.bitscan import nonzero, pack, unpack, words  # noqa: E402


@numba.njit
def _nonzero_rows(a):  # type: ignore[no-untyped-def]
    idx = np.empty((a.shape[0], a.shape[1]), np.int64)
    cnt = np.empty(a.shape[0], np.int64)
    for r in range(a.shape[0]):
        cnt[r] = nonzero(a[r], idx[r])
    return idx, cnt


@numba.njit
def _nonzero_columns(a):  # type: ignore[no-untyped-def]
    # a[:, c] is a strided (non-contiguous) row: the scalar path of flags8
    idx = np.empty((a.shape[1], a.shape[0]), np.int64)
    cnt = np.empty(a.shape[1], np.int64)
    for c in range(a.shape[1]):
        cnt[c] = nonzero(a[:, c], idx[c])
    return idx, cnt


@numba.njit
def _pack_rows(a, out):  # type: ignore[no-untyped-def]
    for r in range(a.shape[0]):
        pack(a[r], out[r])


@numba.njit
def _unpack_rows(bits, width):  # type: ignore[no-untyped-def]
    idx = np.empty((bits.shape[0], 64 * bits.shape[1]), np.int64)
    cnt = np.empty(bits.shape[0], np.int64)
    for r in range(bits.shape[0]):
        cnt[r] = unpack(bits[r], idx[r])
    return idx, cnt


def _rows(width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.zeros((12, width), np.float32)
    a[rng.random(a.shape) < 0.1] = 1.0
    specials = np.array([-0.0, np.nan, np.inf, -np.inf, 1e-45, -2.5], np.float32)
    hit = rng.random(a.shape) < 0.05
    a[hit] = rng.choice(specials, size=int(hit.sum()))
    a[0] = 0.0  # an empty row
    a[1] = 1.0  # a full one
    a[2] = -0.0  # zeros with the sign bit set
    a[3, -1] = 1.0  # only the last entry
    return a


WIDTHS = [1, 7, 8, 9, 63, 64, 65, 120, 128, 131, 200]


@pytest.mark.parametrize("width", WIDTHS)
def test_nonzero_matches_numpy_on_contiguous_and_strided_rows(width: int) -> None:
    a = _rows(width, width)
    idx, cnt = _nonzero_rows(a)
    for r in range(a.shape[0]):
        want = np.flatnonzero(a[r] != 0)
        assert cnt[r] == len(want)
        assert np.array_equal(idx[r, : cnt[r]], want)
    idx, cnt = _nonzero_columns(np.ascontiguousarray(a.T))
    for r in range(a.shape[0]):
        want = np.flatnonzero(a[r] != 0)
        assert np.array_equal(idx[r, : cnt[r]], want)


@pytest.mark.parametrize("width", WIDTHS)
def test_pack_is_little_endian_packbits_and_unpack_its_inverse(width: int) -> None:
    a = _rows(width, 100 + width)
    out = np.full((a.shape[0], words(width)), np.uint64(2**64 - 1), np.uint64)
    _pack_rows(a, out)
    flags = np.zeros((a.shape[0], 64 * words(width)), bool)
    flags[:, :width] = a != 0
    want = np.packbits(flags, axis=1, bitorder="little").view("<u8")
    assert np.array_equal(out, want)
    idx, cnt = _unpack_rows(out, width)
    for r in range(a.shape[0]):
        assert np.array_equal(idx[r, : cnt[r]], np.flatnonzero(a[r] != 0))
