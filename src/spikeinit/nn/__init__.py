"""Spiking layers that follow the protocol in :mod:`spikeinit.nn.base`."""

from .base import SpikingLayer, WeightGroup
from .layers import Readout, SpikingConv1d, SpikingConv2d, SpikingLinear

__all__ = [
    "Readout",
    "SpikingConv1d",
    "SpikingConv2d",
    "SpikingLayer",
    "SpikingLinear",
    "WeightGroup",
]
