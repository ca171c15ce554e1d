"""Read snnTorch, Norse and SpikingJelly models as spikeinit layers.

:func:`find_layers` traces the model once (:mod:`spikeinit.adapters.trace`) and
turns each neuron into a :class:`ForeignLayer`, which implements the spikeinit
layer protocol (``params``, ``weight_groups()``, ``fan_in``, ``simulate``) with
the framework's *own* neuron update, and whose weight groups are the weights
that really feed the neuron. :func:`spikeinit.initialize` and
:func:`spikeinit.diagnose` use it when a model has no spikeinit layers::

    si.initialize(snntorch_net, x)
    si.diagnose(norse_net, x)

Supported neurons: :func:`supported_neurons`. How the inputs are found, what is
set and the calling conventions: ``docs/interop.md``.
"""

from .base import ForeignLayer
from .find import find_layers, neuron_modules, reset_states, supported_neurons, time_loop

__all__ = [
    "ForeignLayer",
    "find_layers",
    "neuron_modules",
    "reset_states",
    "supported_neurons",
    "time_loop",
]
