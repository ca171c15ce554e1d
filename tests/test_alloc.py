"""The pool of large per-step buffers (spikeinit._kernels.alloc)."""

from __future__ import annotations

import torch

from spikeinit._kernels import alloc

MIB = 1 << 20


def test_pool_reuses_a_block_only_when_nothing_uses_it() -> None:
    alloc.release()
    a = alloc.empty(8, 4 * MIB)  # 128 MiB
    view = a[3:]
    ptr = a.data_ptr()
    del a
    b = alloc.empty(8, 4 * MIB)  # the view keeps the first block busy
    assert b.data_ptr() != ptr
    del view
    c = alloc.empty(6, 4 * MIB)  # smaller: served by the idle first block
    assert c.data_ptr() == ptr
    c.fill_(1.0)
    assert bool((b.data_ptr() != c.data_ptr()) and c.shape == (6, 4 * MIB))
    del b, c
    alloc.release()
    assert alloc.pooled_bytes() == 0


def test_pool_holds_no_more_than_the_blocks_in_use_plus_the_new_one() -> None:
    alloc.release()
    small = [alloc.empty(4 * MIB) for _ in range(3)]  # 3 x 16 MiB
    big = alloc.empty(12 * MIB)  # 48 MiB
    assert alloc.pooled_bytes() == 3 * 16 * MIB + 48 * MIB
    del small
    big2 = alloc.empty(12 * MIB)  # a miss: the idle small blocks are released first
    assert alloc.pooled_bytes() == 2 * 48 * MIB
    del big, big2
    alloc.release()


def test_small_and_uint8_requests() -> None:
    t = alloc.empty(3, 5)
    assert t.shape == (3, 5) and t.dtype == torch.float32
    u = alloc.empty(20 * MIB, dtype=torch.uint8)
    assert u.dtype == torch.uint8 and u.is_contiguous()
    del u
    alloc.release()
