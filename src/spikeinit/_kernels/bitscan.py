"""Find the nonzero entries of a float32 row eight at a time (numba, LLVM vector code).

The event-driven kernels (:mod:`spikeinit._kernels.event_rows`) need, for every
row of a spike tensor, the indices of its nonzero entries in ascending order.
A spike row is mostly zero (1-5 % dense), so the scan itself, not the few
multiply-adds after it, is the work. :func:`flags8` compares eight consecutive
entries with zero in one vector instruction and packs the results into the low
eight bits of an integer (bit ``i`` set where ``row[start + i] != 0``; NaN counts
as nonzero, ``-0.0`` as zero: the ``!=`` of IEEE 754). :func:`lowest_bit` is the
index of the lowest set bit (count trailing zeros), so a mask's set bits are
walked in ascending order by ``i = lowest_bit(m); m &= m - 1``.

On a C-contiguous row :func:`flags8` loads the eight floats as one LLVM vector
(``fcmp une`` then a bitcast of ``<8 x i1>`` to ``i8``: ``vcmpps`` and
``vmovmskps`` on x86 with AVX); on any other layout it reads them one by one.
The caller guarantees ``start + 8 <= len(row)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import errors
from numba.extending import intrinsic, overload

_F0 = np.float32(0.0)


@intrinsic
def _flags8_contiguous(typingctx, row, start):  # type: ignore[no-untyped-def]
    if not (isinstance(row, types.Array) and row.dtype == types.float32 and row.ndim == 1):
        raise errors.TypingError("flags8: row must be a 1-d float32 array")
    sig = types.uint64(row, types.intp)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        arr = context.make_array(signature.args[0])(context, builder, args[0])
        first = builder.gep(arr.data, [args[1]])
        vec = ir.VectorType(ir.FloatType(), 8)
        values = builder.load(builder.bitcast(first, vec.as_pointer()), align=4)
        nonzero = builder.fcmp_unordered("!=", values, ir.Constant(vec, None))
        return builder.zext(builder.bitcast(nonzero, ir.IntType(8)), ir.IntType(64))

    return sig, codegen


def flags8(row: np.ndarray, start: int) -> int:
    """Bit ``i`` (``i < 8``) set where ``row[start + i] != 0`` (compiled code only)."""
    mask = 0
    for i in range(8):
        mask |= int(row[start + i] != 0) << i
    return mask


@overload(flags8)
def _flags8_impl(row, start):  # type: ignore[no-untyped-def]
    if isinstance(row, types.Array) and row.layout == "C":

        def contiguous(row, start):  # type: ignore[no-untyped-def]
            return _flags8_contiguous(row, start)

        return contiguous

    def strided(row, start):  # type: ignore[no-untyped-def]
        mask = np.uint64(0)
        for i in range(8):
            mask |= np.uint64(row[start + i] != _F0) << np.uint64(i)
        return mask

    return strided


@intrinsic
def _cttz64(typingctx, value):  # type: ignore[no-untyped-def]
    sig = types.uint64(types.uint64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))

    return sig, codegen


def lowest_bit(mask: int) -> int:
    """The index of the lowest set bit of a nonzero 64-bit ``mask``."""
    return (mask & -mask).bit_length() - 1


@overload(lowest_bit)
def _lowest_bit_impl(mask):  # type: ignore[no-untyped-def]
    def impl(mask):  # type: ignore[no-untyped-def]
        return np.int64(_cttz64(np.uint64(mask)))

    return impl


@njit(cache=True, inline="always")
def _word64(row, k0):  # type: ignore[no-untyped-def]
    """The flags of ``row[k0 : k0 + 64]`` as one word (eight :func:`flags8`)."""
    m = np.uint64(0)
    for j in range(8):
        m |= flags8(row, k0 + 8 * j) << np.uint64(8 * j)
    return m


@njit(cache=True, inline="always")
def _set_bits(m, base, idx, cnt):  # type: ignore[no-untyped-def]
    """Append ``base + i`` for the set bits ``i`` of ``m`` to ``idx`` from ``cnt`` on, in
    ascending order; the new count."""
    one = np.uint64(1)
    while m:
        idx[cnt] = base + lowest_bit(m)
        cnt += 1
        m &= m - one
    return cnt


@njit(cache=True, inline="always")
def nonzero(srow, idx):  # type: ignore[no-untyped-def]
    """The indices of the nonzero entries of ``srow`` into ``idx``, in ascending order;
    their count. Eight entries per :func:`flags8`, the tail one by one."""
    n = srow.shape[0]
    cnt = 0
    k0 = 0
    while k0 + 64 <= n:
        cnt = _set_bits(_word64(srow, k0), k0, idx, cnt)
        k0 += 64
    while k0 + 8 <= n:
        cnt = _set_bits(flags8(srow, k0), k0, idx, cnt)
        k0 += 8
    for k in range(k0, n):  # the tail: branch-free, every index written
        idx[cnt] = k
        cnt += srow[k] != _F0
    return cnt


def words(width: int) -> int:
    """The 64-bit words of a bit row of ``width`` entries."""
    return (width + 63) // 64


@njit(cache=True, inline="always")
def pack(row, out):  # type: ignore[no-untyped-def]
    """``out[w]`` bit ``i`` set where ``row[64 w + i] != 0`` (``out``: ``words(len(row))``
    uint64 words; the bits past the row's end are zero)."""
    n = row.shape[0]
    for w in range(out.shape[0]):
        k0 = 64 * w
        if k0 + 64 <= n:
            out[w] = _word64(row, k0)
            continue
        m = np.uint64(0)
        for k in range(k0, n):
            m |= np.uint64(row[k] != _F0) << np.uint64(k - k0)
        out[w] = m


@njit(cache=True, inline="always")
def unpack(bits, idx):  # type: ignore[no-untyped-def]
    """The indices of the set bits of the words ``bits`` into ``idx``, ascending; their
    count (the inverse of :func:`pack`)."""
    cnt = 0
    for w in range(bits.shape[0]):
        cnt = _set_bits(bits[w], 64 * w, idx, cnt)
    return cnt
