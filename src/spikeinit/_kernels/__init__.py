"""Optional fused backends for the LIF sequence kernel.

:mod:`spikeinit.neuron` dispatches here when a backend is available and the
case is supported: Triton for float32 CUDA tensors (feed-forward), numba for
float32 CPU tensors; otherwise it uses its pure-torch loop. Every backend
implements :class:`KernelBackend` and runs the step of :mod:`spikeinit._kernels.rule`
with the surrogates of :data:`spikeinit.surrogate.SURROGATE_TABLE`.

The numba kernels compile with ``error_model="numpy"``: a float division by zero
gives IEEE inf or NaN instead of raising. Under numba's default (``"python"``)
every division carries a zero test and a branch to raise, which stops LLVM from
vectorising the loop around it: the surrogate derivative divides, so every
backward pass over neurons ran scalar (measured: the fused layer's adjoint loop
3.6 -> 0.6 ns per neuron and step). No divisor in these kernels can be zero
(the surrogates divide by ``1 + ...^2`` or ``1 + exp(...)``), so the results are
the same.
"""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType
from typing import Protocol, runtime_checkable

import torch

from ..params import LIFParams
from ..surrogate import Surrogate
from .rule import RESET_CODES, SURROGATE_CODES

__all__ = ["RESET_CODES", "SURROGATE_CODES", "KernelBackend"]



@runtime_checkable
class KernelBackend(Protocol):
    """What a fused LIF backend module provides (``lif_numba``, ``lif_triton``).

    The maths is the generic step of :mod:`spikeinit._kernels.rule` and its adjoint
    (:func:`spikeinit.neuron._backward_torch`), which the tests check every backend
    against. ``w_rec`` is a dense recurrent matrix or ``None``.
    """

    def supports(self, x: torch.Tensor, w_rec: torch.Tensor | None) -> bool:
        """Whether this backend handles ``x`` (dtype, device) and ``w_rec``."""
        ...

    def forward(
        self,
        x: torch.Tensor,
        i0: torch.Tensor,
        v0: torch.Tensor,
        w_rec: torch.Tensor | None,
        params: LIFParams,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Spikes and stored membrane ``U``, both ``[T, B, ...]``."""
        ...

    def backward(
        self,
        mem: torch.Tensor,
        g_spk: torch.Tensor | None,
        g_mem: torch.Tensor | None,
        w_rec: torch.Tensor | None,
        params: LIFParams,
        surrogate: Surrogate,
        detach_reset: bool,
        v0: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``dL/dx [T, B, ...]``, ``dL/dI0`` and ``dL/dV0`` (``[B, ...]``)."""
        ...


@lru_cache(maxsize=1)
def numba_backend() -> KernelBackend | None:
    """The numba backend module, or ``None`` if numba cannot be imported."""
    try:
        from . import lif_numba
    except Exception:  # ImportError, or numba failing to initialise
        return None
    return lif_numba


@lru_cache(maxsize=1)
def sparse_backend() -> ModuleType | None:
    """The event-driven sparse-input products (numba), or ``None`` without numba."""
    try:
        from . import sparse_numba
    except Exception:
        return None
    return sparse_numba


@lru_cache(maxsize=1)
def readout_backend() -> ModuleType | None:
    """The fused readout (event-driven product + leaky filter, numba), or ``None``."""
    try:
        from . import readout_numba
    except Exception:
        return None
    return readout_numba


@lru_cache(maxsize=1)
def linear_lif_backend() -> ModuleType | None:
    """The fused feed-forward linear LIF layer on sparse input (numba), or ``None``."""
    try:
        from . import linear_lif_numba
    except Exception:
        return None
    return linear_lif_numba


@lru_cache(maxsize=1)
def sparse_conv_backend() -> ModuleType | None:
    """The event-driven 1-D convolution of a sparse input (numba), or ``None``."""
    try:
        from . import sparse_conv_numba
    except Exception:
        return None
    return sparse_conv_numba


@lru_cache(maxsize=1)
def conv_backend() -> ModuleType | None:
    """The fused LIF loops with a recurrent 1-D convolution (numba), or ``None``."""
    try:
        from . import conv_numba
    except Exception:
        return None
    return conv_numba


@lru_cache(maxsize=1)
def triton_backend() -> KernelBackend | None:
    """The Triton (CUDA) LIF backend, or ``None`` if triton cannot be imported."""
    try:
        from . import lif_triton
    except Exception:
        return None
    return lif_triton
