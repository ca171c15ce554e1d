"""Pooling of time-first spike maps: :class:`TimeFold` around ``nn.MaxPool*d`` / ``nn.AvgPool*d``.

Max-pooling binary spikes is an OR over the window, so the output is spikes
again; average pooling gives fractional "rates" in ``[0, 1]`` per step.
Both are stateless and have no weights; initialisers pass through them.
"""

from __future__ import annotations

from torch import nn

from .wrappers import TimeFold


class SpikingMaxPool1d(TimeFold):
    """``[T, B, C, L]`` -> max over windows of ``kernel_size`` (default stride = kernel)."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0) -> None:
        super().__init__(nn.MaxPool1d(kernel_size, stride=stride, padding=padding))


class SpikingMaxPool2d(TimeFold):
    """``[T, B, C, H, W]`` -> max over ``kernel_size`` windows (default stride = kernel)."""

    def __init__(
        self, kernel_size: int | tuple[int, int], stride: int | None = None, padding: int = 0
    ) -> None:
        super().__init__(nn.MaxPool2d(kernel_size, stride=stride, padding=padding))


class SpikingAvgPool1d(TimeFold):
    """``[T, B, C, L]`` -> mean over windows of ``kernel_size``."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0) -> None:
        super().__init__(nn.AvgPool1d(kernel_size, stride=stride or kernel_size, padding=padding))


class SpikingAvgPool2d(TimeFold):
    """``[T, B, C, H, W]`` -> mean over ``kernel_size`` windows."""

    def __init__(
        self, kernel_size: int | tuple[int, int], stride: int | None = None, padding: int = 0
    ) -> None:
        super().__init__(nn.AvgPool2d(kernel_size, stride=stride, padding=padding))
