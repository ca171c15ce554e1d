"""Surrogate gradients for the spike nonlinearity ``S = H(U - theta)``.

The forward pass is always the Heaviside step; the backward pass replaces its
derivative by a smooth pseudo-derivative ``sigma'(x)`` with ``x = U - theta``:

=============  =============================================  ===============
name           sigma'(x)                                      default scale
=============  =============================================  ===============
superspike     ``1 / (scale |x| + 1)^2`` (Zenke & Ganguli 2018) 20 (stork)
fast_sigmoid   same function as superspike                     25 (snnTorch)
atan           ``(a/2) / (1 + (pi a x / 2)^2)``                 2 (snnTorch)
sigmoid        ``k s(k x) (1 - s(k x))``                        25 (snnTorch)
triangle       ``scale * max(0, 1 - scale |x|)``                1
=============  =============================================  ===============
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SurrogateSpec:
    """One row of :data:`SURROGATE_TABLE`: the formula's ``code`` (every backend --
    torch here, numba and Triton in :mod:`spikeinit._kernels` -- branches on it),
    the default steepness and the formula in words."""

    code: int
    default_scale: float
    formula: str


#: The surrogate table (docs/science.md, section 'Surrogate gradients'): the one
#: place that names the surrogates, their formula codes and default steepness.
SURROGATE_TABLE: dict[str, SurrogateSpec] = {
    "superspike": SurrogateSpec(0, 20.0, "1 / (k |x| + 1)^2"),
    "fast_sigmoid": SurrogateSpec(0, 25.0, "1 / (k |x| + 1)^2"),
    "atan": SurrogateSpec(1, 2.0, "(k/2) / (1 + (pi k x / 2)^2)"),
    "sigmoid": SurrogateSpec(2, 25.0, "k s(k x) (1 - s(k x))"),
    "triangle": SurrogateSpec(3, 1.0, "k max(0, 1 - k |x|)"),
}
#: name -> default steepness (read from :data:`SURROGATE_TABLE`)
SURROGATES: dict[str, float] = {n: spec.default_scale for n, spec in SURROGATE_TABLE.items()}


@dataclass(frozen=True)
class Surrogate:
    """A surrogate pseudo-derivative: ``name`` from :data:`SURROGATES`, steepness ``scale``."""

    name: str = "superspike"
    scale: float | None = None

    def __post_init__(self) -> None:
        if self.name not in SURROGATES:
            raise ValueError(f"surrogate must be one of {sorted(SURROGATES)}, got {self.name!r}")
        if self.scale is not None and not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"surrogate scale must be a finite number > 0, got {self.scale!r}")

    @property
    def steepness(self) -> float:
        return SURROGATES[self.name] if self.scale is None else float(self.scale)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """The pseudo-derivative ``sigma'(x)`` evaluated at ``x = U - theta``."""
        k = self.steepness
        code = SURROGATE_TABLE[self.name].code
        if code == 0:  # superspike / fast sigmoid
            return 1.0 / (k * x.abs() + 1.0) ** 2
        if code == 1:  # atan
            return (k / 2.0) / (1.0 + (math.pi * k * x / 2.0) ** 2)
        if code == 2:  # sigmoid
            s = torch.sigmoid(k * x)
            return k * s * (1.0 - s)
        return k * torch.clamp(1.0 - k * x.abs(), min=0.0)  # code 3: triangle


def as_surrogate(surrogate: str | Surrogate, scale: float | None = None) -> Surrogate:
    """Normalise a name (plus optional steepness) or a :class:`Surrogate`."""
    if isinstance(surrogate, Surrogate):
        return surrogate if scale is None else Surrogate(surrogate.name, scale)
    if not isinstance(surrogate, str):
        raise TypeError(f"surrogate must be a name or a Surrogate, got {type(surrogate).__name__}")
    return Surrogate(surrogate, scale)


class _SpikeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad_out * ctx.surrogate.grad(x), None


def spike(x: torch.Tensor, surrogate: str | Surrogate = "superspike") -> torch.Tensor:
    """Heaviside ``H(x) = 1[x > 0]`` with a surrogate gradient; ``x = U - theta``."""
    return _SpikeFn.apply(x, as_surrogate(surrogate))
