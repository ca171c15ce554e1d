"""spikeinit: initialise spiking neural networks so that they train."""

from . import init, losses, nn, theory
from .diagnostics import Diagnosis, diagnose
from .init.model import InitReport, initialize
from .neuron import lif_sequence
from .params import LIFParams
from .surrogate import Surrogate

__version__ = "0.1.0"

__all__ = [
    "Diagnosis",
    "InitReport",
    "LIFParams",
    "Surrogate",
    "__version__",
    "diagnose",
    "init",
    "initialize",
    "lif_sequence",
    "losses",
    "nn",
    "theory",
]
