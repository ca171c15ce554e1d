"""Checks and helpers shared by the tensor-level rules (``torch.nn.init`` style).

The fan-in comes from the weight's shape, ``shape[1] * prod(shape[2:])``, so
linear ``[out, in]`` and convolution ``[out, in, *kernel]`` weights both work.
"""

from __future__ import annotations

import math

import torch

from ..._validate import finite


def _check_tensor(w: object, name: str = "w") -> torch.Tensor:
    if not isinstance(w, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(w).__name__}")
    if w.dim() < 2:
        raise ValueError(
            f"{name} must have at least 2 dims ([out, in, *kernel]) to define a fan-in, "
            f"got shape {tuple(w.shape)}"
        )
    if not w.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (float16/32/64, bfloat16), got dtype {w.dtype}"
        )
    if w.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(w.shape)})")
    return w


def _fan_in(w: torch.Tensor) -> int:
    return int(w.shape[1] * math.prod(w.shape[2:]))


def _fan_out(w: torch.Tensor) -> int:
    return int(w.shape[0] * math.prod(w.shape[2:]))


def _positive(name: str, value: object) -> float:
    v = finite(name, value)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def _check_generator(gen: object) -> torch.Generator | None:
    if gen is not None and not isinstance(gen, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(gen).__name__}")
    return gen


def _normal_(w: torch.Tensor, mean: float, std: float, gen: torch.Generator | None) -> torch.Tensor:
    gen = _check_generator(gen)
    # about 6 standard deviations must stay representable in the tensor's dtype
    big = torch.finfo(w.dtype).max / 8.0
    if not (math.isfinite(std) and math.isfinite(mean)) or abs(mean) + 6.0 * std > big:
        raise ValueError(
            f"the weight distribution N({mean:.3g}, {std:.3g}^2) does not fit in {w.dtype} "
            "(the targets or the threshold are too large)"
        )
    with torch.no_grad():
        return w.normal_(mean, std, generator=gen)

def _set_normal(w: torch.Tensor, mu: float, sigma: float, gen: torch.Generator | None) -> None:
    with torch.no_grad():
        noise = torch.randn(w.shape, generator=gen, dtype=w.dtype, device="cpu")
        w.copy_((noise * sigma + mu).to(w.device))

