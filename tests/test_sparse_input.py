"""The event-driven input path against the dense GEMM (values and gradients)."""

from __future__ import annotations

import pytest
import torch

import spikeinit as si
from spikeinit import sparse_input
from spikeinit._kernels import sparse_backend

pytestmark = pytest.mark.skipif(sparse_backend() is None, reason="needs numba")


def _spikes(shape: tuple[int, ...], density: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=g) < density).float()
    return x * torch.rand(shape, generator=g) * 2  # nonzero entries of any value


@pytest.mark.parametrize("density", [0.0, 0.03, 0.5])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("input_grad", [False, True])
def test_event_driven_linear_matches_dense(density: float, bias: bool, input_grad: bool) -> None:
    x = _spikes((300, 70), density).requires_grad_(input_grad)
    w = torch.randn(13, 70, requires_grad=True)
    b = torch.randn(13, requires_grad=True) if bias else None
    g = torch.randn(300, 13)
    out = sparse_input.linear(x, w, b, sparse=True)
    out.backward(g)
    grads = [w.grad.clone()] + ([x.grad.clone()] if input_grad else [])
    if b is not None:
        grads.append(b.grad.clone())
    for t in [x, w] + ([b] if b is not None else []):
        t.grad = None
    ref = torch.nn.functional.linear(x, w, b)
    ref.backward(g)
    refs = [w.grad] + ([x.grad] if input_grad else []) + ([b.grad] if b is not None else [])
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, refs, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


def test_gradcheck_of_the_custom_function_in_float32_by_finite_differences() -> None:
    # float32 only (the kernel's type): a loose finite-difference check of dL/dW
    x = _spikes((40, 9), 0.2)
    w = torch.randn(4, 9)
    g = torch.randn(40, 4)
    w1 = w.clone().requires_grad_()
    (sparse_input.linear(x, w1, sparse=True) * g).sum().backward()
    eps = 1e-2
    for i, j in [(0, 0), (1, 5), (3, 8)]:
        wp, wm = w.clone(), w.clone()
        wp[i, j] += eps
        wm[i, j] -= eps
        fd = ((x @ wp.t() * g).sum() - (x @ wm.t() * g).sum()) / (2 * eps)
        assert abs(w1.grad[i, j].item() - fd.item()) < 1e-3 * max(1.0, abs(fd.item()))


def test_auto_mode_follows_the_break_even_density() -> None:
    w = torch.randn(8, 200)
    sparse = _spikes((500, 200), sparse_input.SPARSE_BREAK_EVEN / 4)
    dense = _spikes((500, 200), min(1.0, sparse_input.SPARSE_BREAK_EVEN * 4))
    assert sparse_input.uses_sparse_path(sparse, w, None)
    assert not sparse_input.uses_sparse_path(dense, w, None)
    assert not sparse_input.uses_sparse_path(sparse, w, False)
    assert sparse_input.uses_sparse_path(dense, w, True)
    # float64 or other devices fall back to the dense GEMM
    assert not sparse_input.uses_sparse_path(sparse.double(), w.double(), True)


def test_input_density_estimate() -> None:
    x = _spikes((20000, 50), 0.05)
    assert abs(sparse_input.input_density(x) - 0.05) < 0.01
    assert sparse_input.input_density(torch.zeros(0, 4)) == 0.0


def test_bad_sparse_flag_is_rejected() -> None:
    with pytest.raises(TypeError, match="sparse"):
        sparse_input.linear(torch.zeros(2, 3), torch.zeros(4, 3), sparse="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sparse_input"):
        si.nn.SpikingLinear(3, 4, sparse_input=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("recurrent", [False, True])
def test_spiking_linear_sparse_and_dense_paths_agree(recurrent: bool) -> None:
    torch.manual_seed(0)
    x = _spikes((40, 6, 120), 0.03, seed=1)
    layers = [
        si.nn.SpikingLinear(120, 30, recurrent=recurrent, sparse_input=flag)
        for flag in (True, False)
    ]
    layers[1].load_state_dict(layers[0].state_dict())
    for layer in layers:
        torch.nn.init.normal_(layer.weight, 0.0, 0.4)
    layers[1].load_state_dict(layers[0].state_dict())
    outs, grads = [], []
    for layer in layers:
        _, mem = layer.run_current(layer.input_current(x))
        (mem**2).sum().backward()
        outs.append(mem.detach())
        grads.append(layer.weight.grad.clone())
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    "in_ch,length,out_ch,kernel,stride,padding",
    [(1, 300, 16, 21, 10, 0), (3, 20, 4, 5, 2, 2), (2, 9, 3, 3, 1, 1), (4, 12, 5, 7, 3, 4)],
)
@pytest.mark.parametrize("density", [0.0, 0.03, 0.5])
@pytest.mark.parametrize("binary", [False, True])
def test_event_driven_conv1d_matches_dense(
    in_ch: int,
    length: int,
    out_ch: int,
    kernel: int,
    stride: int,
    padding: int,
    density: float,
    binary: bool,
) -> None:
    """Values, weight, input and bias gradients against ``F.conv1d`` (strides, padding
    and kernels that do or do not divide the length; 0/1 spikes, kept as uint8 for the
    weight gradient, and inputs of any value)."""
    x = _spikes((40, in_ch, length), density, seed=1)
    x = ((x != 0).float() if binary else x).requires_grad_()
    w = torch.randn(out_ch, in_ch, kernel, requires_grad=True)
    b = torch.randn(out_ch, requires_grad=True)
    out = sparse_input.conv1d(x, w, b, stride, padding, sparse=True)
    g = torch.randn_like(out)
    out.backward(g)
    grads = [t.grad.clone() for t in (x, w, b)]  # type: ignore[union-attr]
    x2, w2, b2 = (t.detach().clone().requires_grad_() for t in (x, w, b))
    ref = torch.nn.functional.conv1d(x2, w2, b2, stride=stride, padding=padding)
    ref.backward(g)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, (x2.grad, w2.grad, b2.grad), strict=True):
        # sums over many rows: rounding relative to the largest entry
        scale = max(1.0, float(want.abs().max()))  # type: ignore[union-attr]
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5 * scale)


def test_conv1d_auto_mode_and_fallbacks() -> None:
    """Auto: event-driven below the break-even density only; float64 and a non-finite
    weight take ``F.conv1d`` (a NaN weight reaches every output, as in the dense
    product); a bad flag is rejected."""
    w = torch.randn(4, 2, 3)
    sparse = _spikes((20, 2, 16), 0.02)
    dense = _spikes((20, 2, 16), 0.6)
    assert sparse_input.conv1d(sparse, w, None, 1, 0).grad_fn is None  # no graph: no grad
    with torch.enable_grad():
        wg = w.clone().requires_grad_()
        assert type(sparse_input.conv1d(sparse, wg, None, 1, 0).grad_fn).__name__.startswith(
            "_ScanConv1d"
        )
        assert "Scan" not in type(sparse_input.conv1d(dense, wg, None, 1, 0).grad_fn).__name__
        assert (
            "Scan"
            not in type(
                sparse_input.conv1d(sparse.double(), wg.double(), None, 1, 0).grad_fn
            ).__name__
        )
    bad = w.clone()
    bad[0, 0, 0] = float("nan")
    out = sparse_input.conv1d(sparse, bad, None, 1, 0, sparse=True)
    assert bool(out[:, 0].isnan().all())
    with pytest.raises(TypeError, match="sparse"):
        sparse_input.conv1d(sparse, w, None, 1, 0, sparse=1)  # type: ignore[arg-type]


def test_spiking_conv1d_event_driven_and_dense_paths_agree() -> None:
    """The layer's feed-forward current on sparse spikes equals its own ``nn.Conv1d``."""
    torch.manual_seed(0)
    layer = si.nn.SpikingConv1d(2, 5, 7, stride=3, padding=1)
    x = _spikes((30, 4, 2, 40), 0.03)
    cur = layer.input_current(x)
    ref = layer.conv(x.reshape(120, 2, 40)).reshape(cur.shape)
    torch.testing.assert_close(cur, ref, rtol=1e-5, atol=1e-5)
