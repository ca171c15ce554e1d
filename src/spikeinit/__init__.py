"""spikeinit: initialise spiking neural networks so that they train.

The public names below load on first use (PEP 562), so that ``import spikeinit``
and the command line's argument parsing do not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it (a submodule is its own entry)
_LAZY: dict[str, str] = {
    "ConvRecurrence": "spikeinit.neuron",
    "Diagnosis": "spikeinit.diagnostics",
    "InitReport": "spikeinit.init.model",
    "InitTargets": "spikeinit.init.targets",
    "LIFParams": "spikeinit.params",
    "MatrixRecurrence": "spikeinit.neuron",
    "NeuronAdapter": "spikeinit.adapters.protocol",
    "Surrogate": "spikeinit.surrogate",
    "compare": "spikeinit.experiment_api",
    "diagnose": "spikeinit.diagnostics",
    "export_nir": "spikeinit.nir_export",
    "initialize": "spikeinit.init.model",
    "lif_sequence": "spikeinit.neuron",
    "register_neuron": "spikeinit.adapters.protocol",
    "sweep": "spikeinit.experiment_api",
}

__all__ = [
    "ConvRecurrence",
    "Diagnosis",
    "InitReport",
    "InitTargets",
    "LIFParams",
    "MatrixRecurrence",
    "NeuronAdapter",
    "Surrogate",
    "__version__",
    "compare",
    "data",
    "diagnose",
    "export_nir",
    "init",
    "initialize",
    "lif_sequence",
    "losses",
    "models",
    "nn",
    "optim",
    "register_neuron",
    "regularizers",
    "sparse_input",
    "sweep",
    "theory",
    "train",
]
#: the public submodules (the rest of ``__all__``)
_SUBMODULES = tuple(n for n in __all__ if n not in _LAZY and n != "__version__")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = importlib.import_module(f"spikeinit.{name}")
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'spikeinit' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # the names as the type checker and IDEs see them
    from . import data, init, losses, models, nn, optim, regularizers, sparse_input, theory, train
    from .adapters.protocol import NeuronAdapter, register_neuron
    from .diagnostics import Diagnosis, diagnose
    from .experiment_api import compare, sweep
    from .init.model import InitReport, initialize
    from .init.targets import InitTargets
    from .neuron import ConvRecurrence, MatrixRecurrence, lif_sequence
    from .nir_export import export_nir
    from .params import LIFParams
    from .surrogate import Surrogate
