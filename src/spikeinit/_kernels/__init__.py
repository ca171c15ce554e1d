"""Optional fused backends for the LIF sequence kernel.

:mod:`spikeinit.neuron` dispatches here when a backend is available and the
case is supported: Triton for float32 CUDA tensors (feed-forward), numba for
float32 CPU tensors; otherwise it uses its pure-torch loop.
"""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType

# integer codes the compiled kernels (numba and Triton) branch on
RESET_CODES = {"zero": 0, "subtract": 1, "none": 2}
SURROGATE_CODES = {"superspike": 0, "fast_sigmoid": 0, "atan": 1, "sigmoid": 2, "triangle": 3}


@lru_cache(maxsize=1)
def numba_backend() -> ModuleType | None:
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
def triton_backend() -> ModuleType | None:
    """The Triton (CUDA) LIF backend, or ``None`` if triton cannot be imported."""
    try:
        from . import lif_triton
    except Exception:
        return None
    return lif_triton
