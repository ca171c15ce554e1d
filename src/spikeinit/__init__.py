"""spikeinit: initialise spiking neural networks so that they train."""

from . import data, init, losses, models, nn, optim, regularizers, sparse_input, theory, train
from .diagnostics import Diagnosis, diagnose
from .init.model import InitReport, initialize
from .neuron import ConvRecurrence, MatrixRecurrence, lif_sequence
from .nir_export import export_nir
from .params import LIFParams
from .surrogate import Surrogate

__version__ = "0.1.0"

__all__ = [
    "ConvRecurrence",
    "Diagnosis",
    "InitReport",
    "LIFParams",
    "MatrixRecurrence",
    "Surrogate",
    "__version__",
    "diagnose",
    "export_nir",
    "data",
    "init",
    "initialize",
    "lif_sequence",
    "losses",
    "models",
    "nn",
    "optim",
    "regularizers",
    "sparse_input",
    "theory",
    "train",
]
