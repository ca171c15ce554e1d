"""Encoders that turn static images (intensities in [0, 1]) into time-first inputs.

Every encoder maps ``x [B, ...]`` to ``[T, B, ...]`` (float32):

- :func:`encode_current` — direct current injection: the image is repeated at
  every step and fed to the first layer as input current (Micheli et al. 2024
  feed raw pixels to a 784-unit LIF layer this way; their default T is 1).
- :func:`encode_poisson` — rate coding: at each step a pixel of intensity ``x``
  spikes independently with probability ``p = x * max_rate * dt``
  (``max_rate`` in Hz is the rate of a white pixel; ``max_rate * dt <= 1``).
  Strictly this is a Bernoulli process, the discrete-time Poisson process.
- :func:`encode_latency` — time-to-first-spike coding: one spike per pixel,
  brighter pixels earlier, pixels with ``x < threshold`` never spike.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ._base import check_choice, check_float, check_int

__all__ = [
    "ENCODINGS",
    "encode_current",
    "encode_latency",
    "encode_poisson",
    "make_encoder",
]

ENCODINGS = ("current", "poisson", "latency")


def _check_images(x: Tensor) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"x must have a non-empty batch dimension, got shape {tuple(x.shape)}")
    x = x.float()
    if x.numel():
        lo, hi = float(x.min()), float(x.max())
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"x must hold intensities in [0, 1] (no NaN), got values in [{lo}, {hi}]"
            )
    return x


def encode_current(x: Tensor, n_steps: int = 1) -> Tensor:
    """Direct current injection: ``out[t] = x`` for every ``t < n_steps``.

    Args:
        x: intensities ``[B, ...]`` in [0, 1].
        n_steps: number of time steps T (>= 1).

    Returns:
        ``[T, B, ...]`` float32, a contiguous copy.
    """
    n_steps = check_int("n_steps", n_steps, 1)
    x = _check_images(x)
    return x.unsqueeze(0).expand(n_steps, *x.shape).contiguous()


def encode_poisson(
    x: Tensor,
    n_steps: int,
    *,
    max_rate: float = 100.0,
    dt: float = 1e-3,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Rate coding with per-step spike probability ``p = x * max_rate * dt``.

    Args:
        x: intensities ``[B, ...]`` in [0, 1].
        n_steps: number of time steps T (>= 1).
        max_rate: firing rate of a pixel with intensity 1, in Hz (>= 0).
        dt: time step in seconds (> 0); ``max_rate * dt`` must be <= 1.
        generator: torch generator for reproducible spikes.

    Returns:
        binary spikes ``[T, B, ...]`` float32; the expected rate of a pixel is
        ``x * max_rate`` Hz.
    """
    n_steps = check_int("n_steps", n_steps, 1)
    max_rate = check_float("max_rate", max_rate, 0.0)
    dt = check_float("dt", dt, 0.0, lo_open=True)
    if max_rate * dt > 1.0:
        raise ValueError(
            f"max_rate * dt must be in [0, 1] (a spike probability per step), got "
            f"max_rate={max_rate!r} Hz * dt={dt!r} s = {max_rate * dt!r}"
        )
    x = _check_images(x)
    p = (x * (max_rate * dt)).unsqueeze(0).expand(n_steps, *x.shape)
    u = torch.rand(p.shape, generator=generator, device=x.device)
    return (u < p).float()


def encode_latency(
    x: Tensor,
    n_steps: int,
    *,
    threshold: float = 0.2,
    mode: str = "linear",
    tau: float = 20e-3,
    dt: float = 1e-3,
) -> Tensor:
    """Latency (time-to-first-spike) coding: one spike per pixel, brighter is earlier.

    Pixels with ``x < threshold`` never spike.

    - ``mode="linear"``: ``step = floor((1 - x) / (1 - threshold) * (T - 1))``,
      so ``x = 1`` spikes at step 0 and ``x = threshold`` at step ``T - 1``.
    - ``mode="lif"``: the time at which a leaky integrator with time constant
      ``tau`` driven by constant current ``x`` reaches ``threshold``,
      ``t = tau * ln(x / (x - threshold))``, at ``step = floor(t / dt)``;
      pixels with ``x <= threshold`` or ``step >= T`` do not spike.

    Args:
        x: intensities ``[B, ...]`` in [0, 1].
        n_steps: number of time steps T (>= 1).
        threshold: intensity below which a pixel is silent, in (0, 1).
        mode: ``"linear"`` or ``"lif"``.
        tau: time constant in seconds for ``mode="lif"`` (> 0).
        dt: time step in seconds for ``mode="lif"`` (> 0).

    Returns:
        binary spikes ``[T, B, ...]`` float32 with at most one spike per pixel.
    """
    n_steps = check_int("n_steps", n_steps, 1)
    threshold = check_float("threshold", threshold, 0.0, 1.0, lo_open=True, hi_open=True)
    mode = check_choice("mode", mode, ("linear", "lif"))
    tau = check_float("tau", tau, 0.0, lo_open=True)
    dt = check_float("dt", dt, 0.0, lo_open=True)
    x = _check_images(x)
    if mode == "linear":
        active = x >= threshold
        frac = ((1.0 - x) / (1.0 - threshold)).clamp(0.0, 1.0)
        step = torch.floor(frac * (n_steps - 1) + 1e-6).long().clamp(0, n_steps - 1)
    else:
        active = x > threshold
        safe = torch.where(active, x, torch.ones_like(x))
        t = tau * torch.log(safe / (safe - threshold))
        step = torch.floor(t / dt).long()
        active = active & (step < n_steps)
        step = step.clamp(0, n_steps - 1)
    out = torch.zeros(n_steps, *x.shape, dtype=torch.float32, device=x.device)
    out.scatter_(0, step.unsqueeze(0), active.float().unsqueeze(0))
    return out


def make_encoder(
    encoding: str,
    n_steps: int,
    *,
    dt: float = 1e-3,
    max_rate: float = 100.0,
    threshold: float = 0.2,
    latency_mode: str = "linear",
    tau: float = 20e-3,
) -> Callable[[Tensor, torch.Generator], Tensor]:
    """Validated batch encoder ``(x [B, ...], generator) -> [T, B, ...]`` by name.

    ``encoding`` is one of :data:`ENCODINGS`. Parameters are checked now, so a
    bad value fails before any data is loaded.
    """
    encoding = check_choice("encoding", encoding, ENCODINGS)
    n_steps = check_int("n_steps", n_steps, 1)
    dt = check_float("dt", dt, 0.0, lo_open=True)
    # validate the encoder's parameters on a dummy input
    dummy = torch.zeros(1, 1)
    if encoding == "current":

        def enc(x: Tensor, g: torch.Generator) -> Tensor:
            del g
            return encode_current(x, n_steps)

    elif encoding == "poisson":
        # a private generator: checking the parameters must not advance the global RNG
        encode_poisson(dummy, 1, max_rate=max_rate, dt=dt, generator=torch.Generator())

        def enc(x: Tensor, g: torch.Generator) -> Tensor:
            return encode_poisson(x, n_steps, max_rate=max_rate, dt=dt, generator=g)

    else:
        encode_latency(dummy, 1, threshold=threshold, mode=latency_mode, tau=tau, dt=dt)

        def enc(x: Tensor, g: torch.Generator) -> Tensor:
            del g
            return encode_latency(
                x, n_steps, threshold=threshold, mode=latency_mode, tau=tau, dt=dt
            )

    return enc
