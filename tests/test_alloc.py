"""The pool of large per-step buffers (spikeinit._kernels.alloc)."""

from __future__ import annotations

import pytest
import torch

from spikeinit._kernels import alloc, conv_backend
from spikeinit.nn import RecurrentSpikingConv1d

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


def test_mid_sized_requests_are_pooled_and_small_ones_are_not() -> None:
    """A Randman layer's [100, 250, 128] float32 output (12.8 MB) is pooled: the block
    of a dead one serves the next; below MIN_BYTES malloc serves the request."""
    alloc.release()
    a = alloc.empty(100, 250, 128)
    ptr = a.data_ptr()
    assert alloc.pooled_bytes() == 100 * 250 * 128 * 4
    del a
    b = alloc.empty(100, 250, 128)
    assert b.data_ptr() == ptr and alloc.pooled_bytes() == 100 * 250 * 128 * 4
    small = alloc.empty(alloc.MIN_BYTES // 4 - 1)
    assert alloc.pooled_bytes() == 100 * 250 * 128 * 4 and small.numel() > 0
    del b
    alloc.release()
    assert alloc.pooled_bytes() == 0


def test_small_and_uint8_requests() -> None:
    t = alloc.empty(3, 5)
    assert t.shape == (3, 5) and t.dtype == torch.float32
    u = alloc.empty(20 * MIB, dtype=torch.uint8)
    assert u.dtype == torch.uint8 and u.is_contiguous()
    del u
    alloc.release()


@pytest.mark.skipif(conv_backend() is None, reason="numba is not installed")
@pytest.mark.usefixtures("one_thread")
def test_kernels_on_pooled_buffers_repeat_the_unpooled_step(monkeypatch) -> None:
    """Two recurrent-conv layers on sparse spikes (every kernel output that the SHD step
    pools: event conv, its uint8 copy and input gradient, LIF U/S, dL/dx): the same
    outputs and gradients, bit for bit, from fresh and from reused pooled blocks."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        RecurrentSpikingConv1d(2, 3, 5, stride=2), RecurrentSpikingConv1d(3, 4, 3, stride=2)
    )
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(12.0)
    x = (torch.rand(40, 3, 2, 60) < 0.08).float()  # below the break-even density
    g = torch.randn(40, 3, 4, 13)  # L: 60 -> 28 -> 13

    def step() -> list[torch.Tensor]:
        model.zero_grad()
        out = model(x)
        (out * g).sum().backward()
        return [out.detach().clone()] + [p.grad.clone() for p in model.parameters()]

    ref = step()
    assert float(ref[0].mean()) > 0.01, "the layers should fire"
    alloc.release()
    monkeypatch.setattr(alloc, "MIN_BYTES", 0)
    first = step()
    assert alloc.pooled_bytes() > 0
    second = step()  # on the blocks the first step left idle
    alloc.release()
    for a, b, r in zip(first, second, ref, strict=True):
        assert torch.equal(a, r) and torch.equal(b, r)


def test_training_returns_the_idle_blocks_to_the_system() -> None:
    """Trainer.fit releases the pool when it ends (idle blocks would otherwise stay
    mapped after training, up to the largest step's peak)."""
    import spikeinit as si

    alloc.release()
    block = alloc.empty(8, 4 * MIB)
    del block  # idle, still mapped
    assert alloc.pooled_bytes() == 128 * MIB  # 8 x 4 Mi float32
    torch.manual_seed(0)
    model = torch.nn.Sequential(si.nn.SpikingLinear(6, 8), si.nn.Readout(8, 3))
    x = (torch.rand(20, 12, 6) < 0.2).float()
    si.train.Trainer(model, si.train.TrainConfig(epochs=1, batch_size=6)).fit(
        (x, torch.arange(12) % 3)
    )
    assert alloc.pooled_bytes() == 0
