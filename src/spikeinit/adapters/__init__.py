"""Read snnTorch, Norse and SpikingJelly models as spikeinit layers.

:func:`find_layers` turns each (weight module, neuron) pair of a foreign model
into a :class:`ForeignLayer`, which implements the spikeinit layer protocol
(``params``, ``weight_groups()``, ``fan_in``, ``input_current``, ``simulate``)
with the framework's *own* neuron update. :func:`spikeinit.initialize` and
:func:`spikeinit.diagnose` use it when a model has no spikeinit layers::

    si.initialize(snntorch_net, x, method="fluctuation", forward=si.adapters.time_loop)
    si.diagnose(norse_net, x)

Supported neurons: snnTorch ``Leaky``, ``Synaptic``, ``RLeaky``, ``RSynaptic``;
Norse ``LIF``, ``LIFCell``, ``LIFRecurrent``, ``LIFRecurrentCell``, ``LI``,
``LICell``; SpikingJelly ``LIFNode``, ``ParametricLIFNode``. Weight modules:
``nn.Linear``, ``nn.Conv1d``, ``nn.Conv2d`` and containers holding exactly one
(SpikingJelly ``SeqToANNContainer``, Norse ``Lift``). See ``docs/interop.md``.
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
