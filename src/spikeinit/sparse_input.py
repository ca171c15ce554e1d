"""Event-driven input path for linear layers fed sparse spike trains.

A linear layer on spikes computes ``Y = X W^T (+ b)`` with ``X [T*B, K]``
mostly zero. The dense GEMM costs ``T B K N`` multiply-adds whatever the
input; the event-driven path (:mod:`spikeinit._kernels.sparse_numba`) costs one
scan of ``X`` plus ``nnz(X) N``, for both the forward current and the weight
gradient ``dL/dW = G^T X``. The input gradient ``G W`` (needed only when the
input itself requires grad) stays a dense GEMM.

It pays off below a break-even input density, measured on the project's
2-core CPU with ``python -m benchmarks.sparse_input`` (forward + weight
gradient, float32): see :data:`SPARSE_BREAK_EVEN`. With ``sparse=None``
(auto) the path is taken when the density, estimated from an evenly spaced
sample of rows, is below that value, and the tensors are float32 on the CPU
with numba installed; otherwise :func:`torch.nn.functional.linear` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional as F

from ._kernels import sparse_backend, sparse_conv_backend

SPARSE_BREAK_EVEN: float = 0.1
"""Input density (fraction of nonzero entries) below which ``sparse=None`` uses the
event-driven path. Measured break-evens on the project's 2-core CPU
(``python -m benchmarks.sparse_input``, forward current + weight gradient):
12.6 % for ``[44800, 700] -> 128``, 14.8 % for ``[44800, 128] -> 128``, 22.7 % for
``[8000, 512] -> 512``; 0.1 sits below all of them."""

_SAMPLE_ROWS = 1024


def input_density(x: torch.Tensor) -> float:
    """Fraction of nonzero entries of ``x [M, K]``, from at most 1024 evenly spaced rows."""
    if x.shape[0] == 0 or x.shape[1] == 0:
        return 0.0
    step = max(1, x.shape[0] // _SAMPLE_ROWS)
    sample = x[::step]
    return float(torch.count_nonzero(sample)) / sample.numel()


def _supported(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        sparse_backend() is not None
        and x.device.type == "cpu"
        and weight.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and x.dim() == 2
    )


def uses_sparse_path(
    x: torch.Tensor, weight: torch.Tensor, sparse: bool | None, density: float | None = None
) -> bool:
    """Whether :func:`linear` takes the event-driven path for this input (``density``:
    the fraction of nonzero entries of ``x`` where the caller knows it, else estimated)."""
    return _event_path(x, _supported(x, weight), sparse, density)


def _event_path(
    x2d: torch.Tensor, supported: bool, sparse: bool | None, density: float | None = None
) -> bool:
    """The one rule of :func:`linear` and :func:`conv1d`: ``sparse`` forces the path
    (where ``supported``) or the dense product; ``None`` decides by the density of
    ``x2d [M, K]`` (``density`` where the caller knows it, else estimated) against
    :data:`SPARSE_BREAK_EVEN`."""
    if sparse is not None and not isinstance(sparse, bool):
        raise TypeError(f"sparse must be True, False or None, got {sparse!r}")
    if sparse is False or not supported:
        return False
    if sparse is True:
        return True
    return (input_density(x2d) if density is None else density) < SPARSE_BREAK_EVEN


def _dispatch(
    x2d: torch.Tensor,
    weight: torch.Tensor,
    supported: bool,
    sparse: bool | None,
    event: Callable[[], torch.Tensor],
    dense: Callable[[], torch.Tensor],
) -> torch.Tensor:
    """``event()`` where :func:`_event_path` says so and the weight is finite, else
    ``dense()``: a NaN/inf weight must reach every output as the dense product has it
    (0 * NaN = NaN); the event scan would skip it where the input is 0."""
    if not _event_path(x2d, supported, sparse) or not bool(torch.isfinite(weight).all()):
        return dense()
    return event()


def linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    sparse: bool | None = None,
) -> torch.Tensor:
    """``x @ weight.T + bias`` for ``x [M, K]``, event-driven where it pays off.

    Args:
        x: input ``[M, K]``.
        weight: ``[N, K]``.
        bias: optional ``[N]``.
        sparse: ``True`` forces the event-driven path where supported (float32
            CPU with numba), ``False`` forces the dense GEMM, ``None`` (default)
            decides by the estimated density against :data:`SPARSE_BREAK_EVEN`.
    """

    def event() -> torch.Tensor:
        out: torch.Tensor = _ScanLinear.apply(x.contiguous(), weight)
        return out if bias is None else out + bias

    return _dispatch(
        x, weight, _supported(x, weight), sparse, event, lambda: F.linear(x, weight, bias)
    )


class _ScanLinear(torch.autograd.Function):
    """``Y = X W^T`` by scanning ``X``; backward ``dW = (X^T G)^T`` by scanning ``X``,
    ``dX = G W`` dense."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        kernels = sparse_backend()
        assert kernels is not None
        w = weight.detach()
        out = kernels.scan_matmul(x.detach().numpy(), w.t().contiguous().numpy())
        ctx.save_for_backward(x, weight)
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        kernels = sparse_backend()
        assert kernels is not None
        grad_x = grad_out @ weight if ctx.needs_input_grad[0] else None
        grad_w = None
        if ctx.needs_input_grad[1]:
            g = grad_out.detach().to(torch.float32).contiguous()
            grad_wt = kernels.scan_weight_grad(x.detach().numpy(), g.numpy())
            grad_w = torch.from_numpy(grad_wt).t().contiguous()
        return grad_x, grad_w


def conv1d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: int,
    padding: int,
    sparse: bool | None = None,
) -> torch.Tensor:
    """``F.conv1d(x, weight, bias, stride, padding)`` for ``x [N, C, L]``, event-driven
    (:mod:`spikeinit._kernels.sparse_conv_numba`) where it pays off: the forward
    output and the weight gradient scan the nonzero inputs; the input gradient is
    the dense transposed convolution. ``sparse`` as in :func:`linear` (the same
    break-even density, :data:`SPARSE_BREAK_EVEN`)."""
    supported = (
        sparse_conv_backend() is not None
        and x.device.type == "cpu"
        and weight.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and x.dim() == 3
        and weight.dim() == 3
    )

    def event() -> torch.Tensor:
        out: torch.Tensor = _ScanConv1d.apply(x.contiguous(), weight, stride, padding)
        return out if bias is None else out + bias[:, None]

    def dense() -> torch.Tensor:
        return F.conv1d(x, weight, bias, stride=stride, padding=padding)

    x2d = x.reshape(x.shape[0], -1) if supported else x  # read by the density rule only
    return _dispatch(x2d, weight, supported, sparse, event, dense)


class _ScanConv1d(torch.autograd.Function):
    """Event-driven forward and weight gradient; dense input gradient (window dot
    products, :func:`spikeinit._kernels.window_numba.conv1d_input`)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int
    ) -> torch.Tensor:
        kernels = sparse_conv_backend()
        assert kernels is not None
        out, spikes = kernels.conv1d(x.detach().numpy(), weight.detach().numpy(), stride, padding)
        # spikes (all 0 or 1) are kept for the weight gradient as uint8, a quarter of
        # the memory: the float spike tensor itself can then be freed after the forward
        kept = x if spikes is None else torch.from_numpy(spikes)
        ctx.save_for_backward(kept, weight)
        ctx.stride, ctx.padding, ctx.x_shape = stride, padding, x.shape
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor):  # type: ignore[override]
        x, weight = ctx.saved_tensors
        kernels = sparse_conv_backend()
        assert kernels is not None
        g = grad_out.detach().to(torch.float32).contiguous()
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            w = weight.detach().contiguous().numpy()
            gx = kernels.conv1d_input(g.numpy(), w, ctx.x_shape[2], ctx.stride, ctx.padding)
            grad_x = torch.from_numpy(gx)
        if ctx.needs_input_grad[1]:
            gw = kernels.conv1d_weight(
                x.detach().numpy(), g.numpy(), weight.shape[2], ctx.stride, ctx.padding
            )
            grad_w = torch.from_numpy(gw)
        return grad_x, grad_w, None, None
