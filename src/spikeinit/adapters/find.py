"""The neurons of an snnTorch, Norse, SpikingJelly or sinabs model, as spikeinit layers.

:func:`find_sites` traces the model once (:func:`~spikeinit.adapters.trace.trace_model`)
and returns, for every neuron in execution order, a
:class:`~spikeinit.adapters.base.ForeignLayer` that runs the framework's own
neuron, with the weights that feed it (found through the autograd graph) as
its weight groups. :func:`find_layers` is the same list as ``(name, layer)``
pairs.

**Calling conventions.** The data is what the model's own forward takes: a
static image batch ``[B, ...]`` for a model that repeats it every step inside
its forward, a time-first ``[T, B, ...]`` sequence, a batch-first one for a
model that transposes it itself. Two kinds of model have no forward of their
own that loops over time, and are looped for the user:

* an ``nn.Sequential`` whose neurons advance one step per call (snnTorch with
  ``init_hidden=True``, SpikingJelly in single-step mode) is fed ``x[t]`` for
  each ``t`` of a time-first ``[T, B, ...]`` input (:func:`time_loop`, as
  snnTorch's tutorial 7 does);
* a Norse ``SequentialState`` holding cells is fed ``x[t]`` with its state
  carried from step to step (:func:`state_loop`).

Such a model's data reads two ways: a time-first sequence, or one batch with
no time axis (a single step). Where both run, ``time_dim`` must say which
(``0`` or ``None``); spikeinit refuses to guess (:func:`conventional_forward`).
A custom ``forward(model, x)`` overrides both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

from ..nn.base import WeightGroup
from ..params import LIFParams
from . import norse as _norse
from . import sinabs as _sinabs
from . import snntorch as _snntorch
from . import spikingjelly as _sj
from .base import ForeignLayer, from_library
from .protocol import _REGISTERED, Framework
from .trace import NORM_TYPES, WEIGHT_TYPES, Site, Trace, default_forward, trace_model

Forward = Callable[[nn.Module, Any], Any]

BUILTIN: tuple[Framework, ...] = (
    Framework("snntorch", _snntorch, _snntorch.SnnTorchLayer),
    Framework("norse", _norse, _norse.NorseLayer),
    Framework("spikingjelly", _sj, _sj.SpikingJellyLayer),
    Framework("sinabs", _sinabs, _sinabs.SinabsLayer),
)


def frameworks() -> tuple[Framework, ...]:
    """The registry: classes given to :func:`~spikeinit.register_neuron` first, then the
    built-in snnTorch, Norse, SpikingJelly and sinabs adapters."""
    return (*_REGISTERED.values(), *BUILTIN)


def supported_neurons() -> dict[str, tuple[str, ...]]:
    """The neuron classes the adapters handle, per framework (registered ones included)."""
    return {entry.name: tuple(entry.adapter.SUPPORTED) for entry in frameworks()}


def _supported_text() -> str:
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in supported_neurons().items())


def _framework(module: nn.Module) -> Framework | None:
    for entry in frameworks():
        if entry.adapter.is_neuron(module):
            return entry
    return None


def is_neuron(module: nn.Module) -> bool:
    """Any neuron module the registry knows (registered, snnTorch, Norse, SpikingJelly,
    sinabs; supported or not)."""
    return _framework(module) is not None


def is_step_neuron(module: nn.Module) -> bool:
    entry = _framework(module)
    return entry is not None and bool(entry.adapter.is_step(module))


def time_first(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A sequence neuron's input, as it receives it in one call, as ``[T, B, ...]``.

    The input of most frameworks' sequence neurons is already time-first; an
    adapter whose neurons take another layout (sinabs: ``[B, T, ...]``, or
    ``[B*T, ...]`` for its ``Squeeze`` layers) says how with ``time_first``.
    """
    entry = _framework(module)
    convert = getattr(entry.adapter, "time_first", None) if entry is not None else None
    return x if convert is None else convert(module, x)


def batch_dim(module: nn.Module, mode: str) -> int | None:
    """The batch axis of a neuron's input: 0 for a step neuron, 1 for a time-first sequence
    neuron, or what its adapter's ``batch_dim`` says (None: no batch axis of its own)."""
    entry = _framework(module)
    which = getattr(entry.adapter, "batch_dim", None) if entry is not None else None
    if which is not None:
        return which(module)  # type: ignore[no-any-return]
    return 0 if mode == "step" else 1


def neuron_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """All framework neurons in ``model``; an unsupported one raises ``ValueError``."""
    out = []
    inside: set[int] = set()
    for name, module in model.named_modules():
        if id(module) in inside:
            continue
        entry = _framework(module)
        if entry is None:
            continue
        inside.update(id(s) for s in module.modules() if s is not module)
        if not entry.adapter.is_supported(module):
            raise ValueError(_unsupported_message(name, module, entry))
        out.append((name or type(module).__name__, module))
    return out


def carries_state(module: nn.Module) -> bool:
    """Whether a step neuron keeps its state from one call of the model to the next.

    snnTorch with ``init_hidden=True`` and SpikingJelly single-step nodes do: such a
    model is run over several calls, so one call on a static batch is not its use.
    A neuron whose state is passed in explicitly (snnTorch ``init_hidden=False``,
    Norse cells) starts each call of a forward that does not carry it from rest.
    (snnTorch 1.0 also keeps ``mem`` in an ``init_hidden=False`` module called
    without it: a one-step forward that relies on that is not detected.)
    """
    entry = _framework(module)
    if entry is None:
        return False
    return bool(entry.adapter.carries_state(module))


WAY_FORWARD = (
    "to go on, teach spikeinit the neuron class with si.register_neuron(cls, adapter) "
    "(how to read its threshold, run it with the threshold off, reset it, step or sequence "
    "mode: docs/interop.md, section 'Your own neuron'), or set the weights that feed it "
    "with a data-independent rule from spikeinit.init (micheli_normal_(w, threshold), "
    "kaiming_normal_(w), ...) yourself"
)
#: top-level packages of spiking frameworks that spikeinit has no adapter for (never imported)
FOREIGN_FRAMEWORKS = (
    "lava",
    "spyx",
    "rockpool",
    "bindsnet",
    "brainpy",
    "brainstate",
    "slayer",
    "slayerpytorch",
    "snnax",
    "exodus",
    "spikingtorch",
)
_NEURON_WORDS = re.compile(
    r"LIF|IAF|Neuron|Node|Spik|Leaky|Izhikevich|AdEx|LSNN|Integrat|Fire|Lapicque|Synaptic"
)
_THRESHOLD_NAMES = ("threshold", "v_threshold", "v_th", "thr", "spike_threshold", "vth")


def _names(modules: list[tuple[str, nn.Module]], limit: int = 6) -> str:
    shown = [f"{name!r} ({_class_path(m)})" for name, m in modules[:limit]]
    more = f" and {len(modules) - limit} more" if len(modules) > limit else ""
    return ", ".join(shown) + more


def _class_path(module: nn.Module) -> str:
    """``"sinabs IAFSqueeze"`` for a spiking framework's class, ``"MyLIF"`` for a user's."""
    cls = type(module)
    top = cls.__module__.split(".")[0]
    known = (*FOREIGN_FRAMEWORKS, *(e.name for e in BUILTIN))
    return f"{top} {cls.__name__}" if top in known else cls.__name__


def _unsupported_message(name: str, module: nn.Module, entry: Framework) -> str:
    """Names the module, its class, why it is refused, and the way forward."""
    cls = type(module).__name__
    why = f"its update is none of those that spikeinit's {entry.name} adapter maps and runs"
    bases = [b.__name__ for b in type(module).__mro__[1:] if b.__name__ in entry.adapter.SUPPORTED]
    refusal = getattr(entry.adapter, "refusal", None)  # a class-specific reason
    specific = refusal(module) if callable(refusal) else None
    if specific:
        why = specific
    elif cls in entry.adapter.SUPPORTED:  # another class of the same name
        why = f"it is {type(module).__module__}.{cls}, not the {cls} that the adapter runs"
    elif bases:
        why = (
            f"it is a subclass of {bases[0]} that may change its update (the adapter runs "
            "exactly the classes it lists)"
        )
    return (
        f"module {name or cls!r} ({entry.name} {cls}) is a spiking neuron that spikeinit "
        f"does not support: {why}; supported: {_supported_text()}; {WAY_FORWARD}"
    )


def foreign_framework_modules(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    """``(name, module, package)`` of the modules whose class (or a base class) comes
    from a spiking framework without an adapter (:data:`FOREIGN_FRAMEWORKS`),
    outermost only. Read from ``__module__``: nothing is imported."""
    out: list[tuple[str, nn.Module, str]] = []
    inside: set[int] = set()
    for name, module in model.named_modules():
        if id(module) in inside or not name:
            continue
        tops = [c.__module__.split(".")[0] for c in type(module).__mro__]
        lib = next((t for t in tops if t in FOREIGN_FRAMEWORKS), None)
        if lib is not None:
            out.append((name, module, lib))
            inside.update(id(s) for s in module.modules())
    return out


def _looks_like_neuron(module: nn.Module) -> bool:
    cls = type(module)
    if cls.__module__.split(".")[0] == "torch" or isinstance(
        module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)
    ):
        return False
    if cls.__name__.endswith(("Encoder", "Decoder")):  # spike coding, not a neuron layer
        return False
    if _NEURON_WORDS.search(cls.__name__):
        return True
    return any(hasattr(module, a) for a in _THRESHOLD_NAMES)


def neuron_lookalikes(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Modules that look like neurons (a neuron-like class name, or a threshold
    attribute) and that no adapter knows, innermost only, the model itself excluded."""
    found = [
        (name, m)
        for name, m in model.named_modules()
        if name and _framework(m) is None and _looks_like_neuron(m)
    ]
    inner = []
    for name, m in found:
        if not any(o is not m and any(s is o for s in m.modules()) for _, o in found):
            inner.append((name, m))
    return inner


def reset_states(model: nn.Module) -> None:
    """Reset every framework neuron (snnTorch, sinabs, registered) and SpikingJelly memory
    module in ``model``."""
    for module in model.modules():
        if _sj.is_memory(module):
            _sj.reset(module)
            continue
        entry = _framework(module)
        if entry is not None:
            entry.adapter.reset(module)


def time_loop(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a single-step model over time: reset states, ``model(x[t])`` for each t, stack.

    For ``nn.Sequential`` models of neurons that advance one step per call
    (snnTorch ``init_hidden=True``, SpikingJelly single-step mode). A tuple
    output keeps its first element.
    """
    reset_states(model)
    outs = []
    for t in range(x.shape[0]):
        out = model(x[t])
        outs.append(out[0] if isinstance(out, (tuple, list)) else out)
    reset_states(model)
    return torch.stack(outs)


def state_loop(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a Norse ``SequentialState`` of cells over time, carrying its state."""
    state = None
    outs = []
    for t in range(x.shape[0]):
        out, state = model(x[t], state)
        outs.append(out)
    return torch.stack(outs)


TimeDim = Literal["auto"] | int | None
TIME_DIMS = ("auto", 0, None)


def check_time_dim(time_dim: Any, forward: Any = None) -> None:
    """``time_dim`` must be ``"auto"``, ``0`` or ``None``, and not given with ``forward=``."""
    if isinstance(time_dim, bool) or time_dim not in TIME_DIMS:
        raise ValueError(
            f"time_dim must be 'auto', 0 (x is time-first [T, B, ...]) or None (x has no "
            f"time axis: one step per call), got {time_dim!r}; for batch-first data pass "
            "x.transpose(0, 1) with time_dim=0"
        )
    if forward is not None and time_dim != "auto":
        raise ValueError(
            "pass forward= or time_dim=, not both: forward(model, x) already says how the "
            "model is run over time"
        )


def is_one_step(model: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``model(x)`` runs as one time step: every neuron advances one step per call
    and is called exactly once (the model's states and buffers left as they were)."""
    neurons = [m for _, m in neuron_modules(model)]
    if not neurons or not all(is_step_neuron(m) for m in neurons):
        return False
    return _one_step(model, x, neurons)


def _one_step(model: nn.Module, x: torch.Tensor, neurons: list[nn.Module]) -> bool:
    """Whether ``model(x)`` runs and calls each neuron exactly once (one time step).

    The model's states and buffers (BatchNorm running statistics) are left as
    they were.
    """
    counts: dict[int, int] = {}

    def count(m: nn.Module, _args: Any) -> None:
        counts[id(m)] = counts.get(id(m), 0) + 1

    handles = [m.register_forward_pre_hook(count) for m in neurons]
    buffers = [
        (m, n, b.clone()) for m in model.modules() for n, b in m._buffers.items() if b is not None
    ]
    reset_states(model)
    try:
        with torch.no_grad():
            model(x)
    except Exception:  # not one step of this input (it indexes time itself, or wrong shape)
        return False
    finally:
        for h in handles:
            h.remove()
        reset_states(model)
        for m, n, b in buffers:
            m._buffers[n] = b
    return bool(counts) and all(n == 1 for n in counts.values())


def _shape(x: torch.Tensor) -> str:
    return "[" + ", ".join(str(n) for n in x.shape) + "]"


def conventional_forward(
    model: nn.Module, x: Any = None, time_dim: TimeDim = "auto"
) -> Forward | None:
    """The loop a model without a time loop of its own needs (module docstring), or None.

    Only a model whose neurons all advance one step per call is looped. Its data
    can be read two ways: a time-first sequence (``model(x[t])`` for each ``t``)
    or one batch with no time axis (``model(x)`` once, one step). ``time_dim``
    says which: ``0`` time-first, ``None`` no time axis. With ``"auto"`` two
    probes decide: ``model(x[0])`` and ``model(x)``, each run as one step (every
    neuron called exactly once). If only ``model(x[0])`` runs so, ``x`` is
    time-first. If both run, ``ValueError`` asks for ``time_dim`` rather than
    guess (a batch of 8 images read as 8 time steps gives a wrong sigma_U with no
    error). If only ``model(x)`` runs, ``x`` is a static batch: a model whose
    neurons start each call from rest (the state passed in explicitly, as
    snnTorch tutorial 6's class ``Net`` does with ``init_leaky()``) is called once;
    one whose neurons keep their state between calls (:func:`carries_state`) is
    refused too, since it is run over several calls and the number is not in
    ``x`` (a static image seen for T steps sets about ``1 / (1 - beta)`` times
    smaller weights than one step). A model that loops over time itself calls
    its neurons several times (or fails on one step) and is called as it is.
    """
    check_time_dim(time_dim)
    neurons = [m for _, m in neuron_modules(model)]
    if not neurons or not all(is_step_neuron(m) for m in neurons) or time_dim is None:
        return None
    norse_state = from_library(model, "norse") and type(model).__name__ == "SequentialState"
    if norse_state and time_dim == 0:
        return state_loop
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        if time_dim == 0:
            got = _shape(x) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"time_dim=0 needs a time-first tensor [T, B, ...], got {got}")
        return state_loop if norse_state else None
    step_of_x0 = _one_step(model, x[0], neurons)
    if time_dim == 0:  # not one step on x[0]: the forward indexes time itself
        return time_loop if step_of_x0 else None
    step_of_x = _one_step(model, x, neurons)
    name = type(model).__name__
    static = (
        "time_dim=None if x is one batch with no time axis (model(x) is called once: one "
        "step from rest). A static input that the model sees every step (as snnTorch's "
        "tutorial 6 feeds its images) is x.expand(T, *x.shape) with time_dim=0: its sigma_U "
        "builds up over the steps, so one step gives other weights"
    )
    if step_of_x0 and step_of_x:
        raise ValueError(
            f"{name} advances its neurons one time step per call, and x of shape {_shape(x)} "
            f"runs both as one step of a batch of {x.shape[0]} (model(x)) and as "
            f"{x.shape[0]} time steps of x[t] {_shape(x[0])}: spikeinit cannot tell a batch "
            "of static samples from a time sequence, and will not guess. Pass time_dim=0 if "
            "x is time-first [T, B, ...] (model(x[t]) is called for each t, states "
            f"carried), or {static}."
        )
    if step_of_x and not step_of_x0 and (norse_state or any(map(carries_state, neurons))):
        raise ValueError(
            f"{name} advances its neurons one time step per call, and x of shape {_shape(x)} "
            f"is one step of a batch of {x.shape[0]} (model(x[0]) does not run as a step): "
            "x has no time axis, and how many steps the model runs on it is not in x. Pass "
            f"{static}."
        )
    if norse_state and not step_of_x:
        return state_loop
    return time_loop if step_of_x0 else None


def resolve_forward(
    model: nn.Module, x: Any, forward: Forward | None, time_dim: TimeDim = "auto"
) -> Forward:
    """``forward``, or the conventional loop for ``model`` on ``x``, or ``model(x)``.

    The result is never None, so that :func:`find_sites` does not probe again.
    """
    if forward is not None:
        return forward
    return conventional_forward(model, x, time_dim) or default_forward


def make_layer(
    name: str, neuron: nn.Module, mode: str, steps: int | None, root: nn.Module, dt: float
) -> ForeignLayer:
    """The :class:`ForeignLayer` for one neuron (parameters mapped, notes kept)."""
    entry = _framework(neuron)
    assert entry is not None
    notes: list[str] = []
    try:
        params = entry.adapter.params_of(neuron, dt, notes)
    except ValueError as err:  # e.g. a decay so slow that LIFParams refuses it
        notes.append(f"no LIFParams form ({err}); the weights are set by measurement alone")
        params = None
    if params is None:  # no LIFParams form: a placeholder that carries theta and dt
        params = LIFParams(
            dt=dt, threshold=entry.adapter.threshold_of(neuron), tau_mem=max(20e-3, 2 * dt)
        )
        layer = entry.layer(name, neuron, None, mode=mode, steps=steps, root=root, notes=notes)  # type: ignore[arg-type]
        layer.params = params
        return layer
    return entry.layer(name, neuron, params, mode=mode, steps=steps, root=root, notes=notes)  # type: ignore[arg-type]


def attach_weights(layer: ForeignLayer, site: Site, trace: Trace, model: nn.Module) -> None:
    """Give ``layer`` the knob weights of ``site`` as ``"ff"`` / ``"rec"`` groups."""
    for knob in site.knobs:
        module = trace.modules[knob]
        if isinstance(module, NORM_TYPES):
            continue
        sources = site.knob_sources.get(knob, [])
        split = _sj.recurrent_container_split(model, module)
        w = module.weight
        assert isinstance(w, torch.Tensor)
        if split is not None:
            layer.groups.append(WeightGroup(f"{knob}.weight[:, :{split}]", w[:, :split], "ff"))
            layer.groups.append(WeightGroup(f"{knob}.weight[:, {split}:]", w[:, split:], "rec"))
        else:
            kind = "rec" if sources == [site.name] else "ff"
            layer.groups.append(WeightGroup(f"{knob}.weight", w, kind))  # type: ignore[arg-type]
        bias = getattr(module, "bias", None)
        if isinstance(bias, torch.Tensor):
            layer.bias_tensors.append(bias)
    own_biases = getattr(layer, "own_biases", None)
    if callable(own_biases):
        layer.bias_tensors.extend(own_biases())


def check_supported(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's neurons; ``ValueError`` naming what was found when there is none, or
    when neurons of a spiking framework without an adapter sit among known ones."""
    neurons = neuron_modules(model)
    foreign = foreign_framework_modules(model)
    inside_foreign = {id(s) for _, m, _ in foreign for s in m.modules()}
    foreign_neurons = [
        (n, m, lib) for n, m, lib in foreign if any(_looks_like_neuron(s) for s in m.modules())
    ]
    if neurons and not foreign_neurons:
        return neurons
    libs = " and ".join(sorted({lib for _, _, lib in foreign_neurons or foreign}))
    held = _names([(n, m) for n, m, _ in foreign_neurons or foreign])
    if neurons:
        raise ValueError(
            f"{type(model).__name__} holds neurons of {libs}, a spiking framework spikeinit "
            f"has no adapter for ({held}), next to neurons it knows; they would be passed "
            f"through as if they were not neurons. {WAY_FORWARD[0].upper()}{WAY_FORWARD[1:]}"
        )
    parts = [
        f"{type(model).__name__} has no spikeinit spiking layers and no neuron that "
        f"spikeinit's adapters know ({_supported_text()})"
    ]
    if foreign:
        parts.append(
            f"it holds modules of {libs}, a spiking framework spikeinit has no adapter for: {held}"
        )
    lookalikes = [(n, m) for n, m in neuron_lookalikes(model) if id(m) not in inside_foreign]
    if lookalikes:
        parts.append(
            f"modules that look like neurons but are of no known class: {_names(lookalikes)}"
        )
    parts.append(WAY_FORWARD)
    raise ValueError("; ".join(parts))


def find_sites(
    model: nn.Module,
    x: Any,
    forward: Forward | None = None,
    dt: float = 1e-3,
    time_dim: TimeDim = "auto",
) -> tuple[Trace, list[ForeignLayer]]:
    """Trace ``model`` on ``x`` and build one layer per neuron, in execution order."""
    check_supported(model)
    trace = trace_model(
        model,
        x,
        is_neuron,
        is_step_neuron,
        reset_states,
        resolve_forward(model, x, forward, time_dim),
        batch_dim=batch_dim,
    )
    layers = []
    for site in trace.sites:
        steps = site.calls if site.mode == "step" else None
        layer = make_layer(site.name, site.neuron, site.mode, steps, model, dt)
        attach_weights(layer, site, trace, model)
        layer.decoded = layer.is_readout or site.name in trace.outputs
        layers.append(layer)
    return trace, layers


def _structural(model: nn.Module, dt: float) -> list[tuple[str, ForeignLayer]]:
    """Without data: pair consecutive (weight, neuron) children of a Sequential."""
    if not isinstance(model, nn.Sequential):
        raise ValueError(
            f"{type(model).__name__} is not an nn.Sequential: pass data so that spikeinit "
            "can trace which weights feed which neuron"
        )
    names = {id(m): n for n, m in model.named_modules()}
    out: list[tuple[str, ForeignLayer]] = []
    prev: nn.Module | None = None
    for module in model.modules():
        if _framework(module) is not None:
            name = names[id(module)]
            layer = make_layer(name, module, "seq", None, model, dt)
            if prev is not None and not layer.has_own_input_weights():
                layer.groups.append(WeightGroup(f"{names[id(prev)]}.weight", prev.weight, "ff"))  # type: ignore[arg-type]
                bias = getattr(prev, "bias", None)
                if isinstance(bias, torch.Tensor):
                    layer.bias_tensors.append(bias)
            out.append((name, layer))
            prev = None
        elif isinstance(module, WEIGHT_TYPES):
            prev = module
    return out


def find_layers(
    model: nn.Module,
    data: Any = None,
    forward: Forward | None = None,
    *,
    dt: float = 1e-3,
    time_dim: TimeDim = "auto",
) -> list[tuple[str, ForeignLayer]]:
    """The model's foreign spiking layers, in execution order, as spikeinit layers.

    Args:
        model: an snnTorch, Norse, SpikingJelly or sinabs model (any module tree).
        data: the input as the model's forward takes it; the model is run once
            on it and each neuron's input is followed back through the autograd
            graph (:mod:`spikeinit.adapters.trace`). Without data only an
            ``nn.Sequential`` can be read, by pairing each neuron with the weight
            module just before it.
        forward: ``forward(model, x)`` for models that need a custom call.
        dt: the step in seconds for frameworks without one (snnTorch,
            SpikingJelly): it converts their per-step decays to time constants
            and spike counts to Hz. Norse's own ``dt`` is always used.
        time_dim: ``0`` (time-first data) or ``None`` (no time axis) for a model
            whose forward is one step; ``"auto"`` probes and refuses to guess
            (:func:`conventional_forward`).

    Raises:
        ValueError: no supported neuron, or an unsupported neuron (the message
            lists the supported ones).
    """
    if data is None:
        check_supported(model)
        return _structural(model, dt)
    check_time_dim(time_dim, forward)
    _, layers = find_sites(model, data, forward, dt, time_dim)
    return [(layer.layer_name, layer) for layer in layers]
