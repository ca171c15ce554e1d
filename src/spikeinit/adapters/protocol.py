"""The adapter interface, the registry of neuron adapters, and :func:`register_neuron`.

Two protocols:

* :class:`FrameworkAdapter` is what each built-in adapter module
  (:mod:`~spikeinit.adapters.snntorch`, :mod:`~spikeinit.adapters.norse`,
  :mod:`~spikeinit.adapters.spikingjelly`, :mod:`~spikeinit.adapters.sinabs`)
  implements for a whole framework:
  which modules are its neurons, which of them it supports, whether they
  advance one step per call, how to reset them, their ``LIFParams`` and
  threshold. Each is paired with a :class:`~spikeinit.adapters.base.ForeignLayer`
  subclass that runs the framework's own neuron.
* :class:`NeuronAdapter` is the few things a user says about one neuron class
  of their own: :func:`register_neuron` wraps it into a framework entry (a
  :class:`FrameworkAdapter` and a :class:`RegisteredLayer`), so that
  :func:`spikeinit.initialize` and :func:`spikeinit.diagnose` treat that class
  like a built-in neuron.

:func:`frameworks` is the registry that :mod:`spikeinit.adapters.find` reads:
registered classes first (so that a registration can also teach spikeinit a
framework neuron that its built-in adapter refuses), then the built-ins.
docs/interop.md, section 'Your own neuron'.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch
from torch import nn

from ..params import LIFParams
from .base import FREE_THRESHOLD, CallMode, ForeignLayer


class FrameworkAdapter(Protocol):
    """What a built-in adapter module implements for one framework (module functions).

    Optional, looked up by name: ``time_first(module, x)``, the input a sequence neuron
    receives in one call as ``[T, B, ...]`` (default: it already is), and
    ``batch_dim(module)``, the batch axis of that input (default 1; None: none of its
    own), for frameworks whose neurons take another layout (sinabs: ``[B, T, ...]``).
    """

    #: the neuron class names it supports (listed in docs/interop.md and the README)
    SUPPORTED: tuple[str, ...]

    def is_neuron(self, module: nn.Module) -> bool:
        """Any neuron of the framework, supported or not (an unsupported one is refused)."""
        ...

    def is_supported(self, module: nn.Module) -> bool:
        """A neuron this adapter can read and run."""
        ...

    def is_step(self, module: nn.Module) -> bool:
        """The neuron advances one time step per call (``[B, ...]``), else takes ``[T, B, ...]``."""
        ...

    def carries_state(self, module: nn.Module) -> bool:
        """The neuron keeps its state from one call to the next (until reset)."""
        ...

    def reset(self, module: nn.Module) -> None:
        """Back to rest, so that the next call starts from the initial state."""
        ...

    def params_of(self, neuron: Any, dt: float, notes: list[str]) -> LIFParams | None:
        """The neuron's ``LIFParams`` (None: no closed form; measured alone), notes appended."""
        ...

    def threshold_of(self, neuron: Any) -> float:
        """The firing threshold theta, the unit of sigma_U and mu_U."""
        ...


@runtime_checkable
class NeuronAdapter(Protocol):
    """How spikeinit runs one neuron class of your own (:func:`register_neuron`).

    Required:

    * ``mode``: ``"step"`` if the neuron advances one time step per call (input
      ``[B, ...]``), ``"seq"`` if one call takes the whole ``[T, B, ...]``;
    * ``threshold(neuron)``: its firing threshold (the unit of sigma_U);
    * ``free(neuron)``: a copy of it that never spikes and never resets (the
      threshold raised, e.g. to ``1e30``): the free membrane is its membrane;
    * ``reset(neuron)``: back to rest, so that the next call starts from the
      initial state (a no-op for a neuron that keeps no state between calls);
    * ``output(neuron, out)``: the ``(spikes, membrane)`` of one call, from the
      call's return value ``out`` (or from the neuron's attributes).

    Optional (looked up by name): ``params(neuron, dt) -> LIFParams | None`` (a
    closed-form kernel, which enables spikeinit's predictions; without it the
    weights are set by measurement alone), ``carries_state(neuron) -> bool``
    (default ``mode == "step"``; decides whether a static batch is refused,
    docs/interop.md, 'Calling conventions'), ``leaky`` (default True; False
    for integrate-and-fire: sigma_U is then the input's per-step std) and
    ``readout`` (default False: a non-spiking integrator).
    """

    mode: CallMode

    def threshold(self, neuron: Any) -> float: ...

    def free(self, neuron: Any) -> nn.Module: ...

    def reset(self, neuron: Any) -> None: ...

    def output(self, neuron: Any, out: Any) -> tuple[torch.Tensor, torch.Tensor]: ...


class Framework(NamedTuple):
    """One registry entry: a name for messages, its adapter, and its layer class."""

    name: str
    adapter: Any  # a FrameworkAdapter (a module for the built-ins)
    layer: type[ForeignLayer]


class RegisteredLayer(ForeignLayer):
    """A neuron of a registered class, run through its :class:`NeuronAdapter`."""

    framework = "registered"
    user_adapter: NeuronAdapter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.leaky = bool(getattr(self.user_adapter, "leaky", True))
        self.is_readout = bool(getattr(self.user_adapter, "readout", False))

    def _run(self, neuron: Any, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        adapter = self.user_adapter
        adapter.reset(neuron)
        if adapter.mode == "step":
            spikes, mems = [], []
            for t in range(current.shape[0]):
                s, m = adapter.output(neuron, neuron(current[t]))
                spikes.append(s)
                mems.append(m)
            out = torch.stack(spikes), torch.stack(mems)
        else:
            s, m = adapter.output(neuron, neuron(current))
            out = s, m
        adapter.reset(neuron)
        return out

    def run_current(
        self, current: torch.Tensor, free: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        spikes, mem = self._run(copy.deepcopy(self.neuron), current)
        if free:
            mem = self._run(self.user_adapter.free(self.neuron), current)[1]
        return spikes, mem


class _Registered:
    """A :class:`NeuronAdapter` for one class, seen as a :class:`FrameworkAdapter`."""

    def __init__(self, cls: type[nn.Module], adapter: NeuronAdapter) -> None:
        self.cls = cls
        self.user = adapter
        self.SUPPORTED = (cls.__name__,)

    def is_neuron(self, module: nn.Module) -> bool:
        return isinstance(module, self.cls)

    def is_supported(self, module: nn.Module) -> bool:
        return isinstance(module, self.cls)

    def is_step(self, module: nn.Module) -> bool:
        return self.user.mode == "step"

    def carries_state(self, module: nn.Module) -> bool:
        fn = getattr(self.user, "carries_state", None)
        return self.user.mode == "step" if fn is None else bool(fn(module))

    def reset(self, module: nn.Module) -> None:
        self.user.reset(module)

    def params_of(self, neuron: Any, dt: float, notes: list[str]) -> LIFParams | None:
        fn = getattr(self.user, "params", None)
        params = None if fn is None else fn(neuron, dt)
        if params is None:
            notes.append(
                f"registered {type(neuron).__name__}: no LIFParams form given (its adapter has "
                "no params()); the weights are set by measurement of its free membrane alone"
            )
        return params

    def threshold_of(self, neuron: Any) -> float:
        return float(torch.as_tensor(self.user.threshold(neuron)).float().mean())


_REQUIRED = ("threshold", "free", "reset", "output")
_REGISTERED: dict[type[nn.Module], Framework] = {}


def register_neuron(cls: type[nn.Module], adapter: NeuronAdapter) -> None:
    """Teach spikeinit a neuron class: its modules are then read like a built-in neuron's.

    Args:
        cls: the neuron's ``nn.Module`` class (its subclasses are included). It may
            also be a framework's class that spikeinit's built-in adapter refuses:
            the registration is looked up first.
        adapter: a :class:`NeuronAdapter` (``mode``, ``threshold``, ``free``,
            ``reset``, ``output``; optionally ``params``, ``carries_state``,
            ``leaky``, ``readout``). Registering a class again replaces its adapter.

    Example (a neuron that returns its spikes and keeps its membrane in ``.mem``;
    ``free_copy`` is :func:`spikeinit.adapters.free_copy`; docs/interop.md, section
    'Your own neuron')::

        class MyLIFAdapter:
            mode = "step"
            def threshold(self, neuron): return neuron.threshold
            def free(self, neuron): return free_copy(neuron, "threshold")
            def reset(self, neuron): neuron.mem = None
            def output(self, neuron, out): return out, neuron.mem

        si.register_neuron(MyLIF, MyLIFAdapter())
    """
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise TypeError(f"cls must be an nn.Module class, got {cls!r}")
    missing = [name for name in _REQUIRED if not callable(getattr(adapter, name, None))]
    mode = getattr(adapter, "mode", None)
    if missing:
        raise TypeError(
            f"the adapter for {cls.__name__} lacks {', '.join(missing)} (a NeuronAdapter has "
            "mode, threshold(neuron), free(neuron), reset(neuron), output(neuron, out))"
        )
    if mode not in ("step", "seq"):
        raise ValueError(
            f"the adapter for {cls.__name__} has mode={mode!r}: 'step' (one time step per "
            "call) or 'seq' (one call takes [T, B, ...])"
        )
    layer = type(
        f"{cls.__name__}Layer",
        (RegisteredLayer,),
        {"user_adapter": adapter, "framework": f"registered {cls.__name__}"},
    )
    _REGISTERED[cls] = Framework(f"registered {cls.__name__}", _Registered(cls, adapter), layer)


def unregister_neuron(cls: type[nn.Module]) -> None:
    """Forget a class given to :func:`register_neuron` (nothing if it was not)."""
    _REGISTERED.pop(cls, None)


def registered_neurons() -> tuple[type[nn.Module], ...]:
    """The classes given to :func:`register_neuron`, in registration order."""
    return tuple(_REGISTERED)


def free_copy(neuron: nn.Module, attribute: str = "threshold") -> nn.Module:
    """A deep copy of ``neuron`` with ``attribute`` (its threshold) set to ``1e30``.

    A helper for :meth:`NeuronAdapter.free`: a tensor threshold keeps its shape
    (and stays a parameter if it was one), a number becomes ``1e30``.
    """
    free = copy.deepcopy(neuron)
    value = getattr(free, attribute)
    with torch.no_grad():
        if isinstance(value, nn.Parameter):
            value.fill_(FREE_THRESHOLD)
        elif isinstance(value, torch.Tensor):
            setattr(free, attribute, torch.full_like(value, FREE_THRESHOLD, dtype=torch.float))
        else:
            setattr(free, attribute, FREE_THRESHOLD)
    return free
