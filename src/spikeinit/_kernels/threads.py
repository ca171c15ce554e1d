"""Keep numba's parallel kernels on torch's thread count, and torch's count intact.

numba's OpenMP threading layer shares the OpenMP runtime with torch: the first
parallel launch sets the runtime's thread count to ``NUMBA_NUM_THREADS``, which
silently undoes a user's ``torch.set_num_threads`` (on a busy machine the
oversubscription made per-step loops 10-50x slower). :func:`follow_torch_threads`
wraps a kernel entry point so that numba uses ``min(torch threads, numba's
maximum)`` threads and torch's setting is restored after the call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numba
import torch

F = TypeVar("F", bound=Callable[..., Any])


def follow_torch_threads(fn: F) -> F:
    """Decorator: run ``fn`` with numba on torch's thread count; keep torch's count."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        n = torch.get_num_threads()
        limit = int(getattr(numba.config, "NUMBA_NUM_THREADS", 1))
        numba.set_num_threads(max(1, min(n, limit)))
        try:
            return fn(*args, **kwargs)
        finally:
            if torch.get_num_threads() != n:
                torch.set_num_threads(n)

    return wrapper  # type: ignore[return-value]
