"""Read snnTorch, Norse, SpikingJelly and sinabs models as spikeinit layers.

:func:`find_layers` traces the model once (:mod:`spikeinit.adapters.trace`) and
turns each neuron into a :class:`ForeignLayer`, which implements the spikeinit
layer protocol (``params``, ``weight_groups()``, ``fan_in``, ``simulate``) with
the framework's *own* neuron update, and whose weight groups are the weights
that really feed the neuron. :func:`spikeinit.initialize` and
:func:`spikeinit.diagnose` use it when a model has no spikeinit layers::

    si.initialize(snntorch_net, x)
    si.diagnose(norse_net, x)

Supported neurons: :func:`supported_neurons`. A neuron class of your own (or a
framework's class the built-in adapters refuse) is taught with
:func:`register_neuron` and a :class:`NeuronAdapter`. How the inputs are found,
what is set and the calling conventions: ``docs/interop.md``.
"""

from .base import ForeignLayer
from .find import (
    find_layers,
    frameworks,
    neuron_modules,
    reset_states,
    supported_neurons,
    time_loop,
)
from .protocol import (
    FrameworkAdapter,
    NeuronAdapter,
    free_copy,
    register_neuron,
    registered_neurons,
    unregister_neuron,
)

__all__ = [
    "ForeignLayer",
    "FrameworkAdapter",
    "NeuronAdapter",
    "find_layers",
    "frameworks",
    "free_copy",
    "neuron_modules",
    "register_neuron",
    "registered_neurons",
    "reset_states",
    "supported_neurons",
    "time_loop",
    "unregister_neuron",
]
