"""spikeinit: initialise spiking neural networks so that they train."""

from . import losses, nn
from .neuron import lif_sequence
from .params import LIFParams
from .surrogate import Surrogate

__version__ = "0.1.0"

__all__ = ["LIFParams", "Surrogate", "lif_sequence", "losses", "nn", "__version__"]
