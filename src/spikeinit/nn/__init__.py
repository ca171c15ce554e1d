"""Spiking layers that follow the protocol in :mod:`spikeinit.nn.base`."""

from .base import SpikingLayer, WeightGroup
from .dale import DaleLinear
from .layers import (
    Readout,
    SpikingConv1d,
    SpikingConv2d,
    SpikingLinear,
    spike_gradient_handoff,
)
from .pooling import SpikingAvgPool1d, SpikingAvgPool2d, SpikingMaxPool1d, SpikingMaxPool2d
from .recurrent_conv import RecurrentSpikingConv1d, RecurrentSpikingConv2d
from .wrappers import LIF, Flatten, TimeConstantDropout, TimeFold

__all__ = [
    "DaleLinear",
    "RecurrentSpikingConv1d",
    "RecurrentSpikingConv2d",
    "SpikingAvgPool1d",
    "SpikingAvgPool2d",
    "SpikingMaxPool1d",
    "SpikingMaxPool2d",
    "LIF",
    "Flatten",
    "TimeConstantDropout",
    "TimeFold",
    "Readout",
    "SpikingConv1d",
    "SpikingConv2d",
    "SpikingLayer",
    "SpikingLinear",
    "WeightGroup",
    "spike_gradient_handoff",
]
