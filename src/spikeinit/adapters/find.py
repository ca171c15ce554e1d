"""Finding the (weight module, neuron) pairs of an snnTorch, Norse or SpikingJelly model.

:func:`find_layers` runs the user's own forward pass once on a small slice of
the data, with hooks that record which module produced the tensor each neuron
receives (a Linear/Conv call followed by a neuron call on its output), and how
often each is called (once with the whole ``[T, B, ...]`` sequence, or ``T``
times in a model that loops over time). This covers ``nn.Sequential`` stacks,
Norse ``SequentialState``, SpikingJelly multi-step models and the tutorial style
``cur = self.fc1(x[t]); spk, mem = self.lif1(cur, mem)``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch
from torch import nn

from . import norse as _norse
from . import snntorch as _snntorch
from . import spikingjelly as _sj
from .base import WEIGHT_TYPES, CallMode, ForeignLayer

Forward = Callable[[nn.Module, torch.Tensor], Any]

_FRAMEWORKS: tuple[tuple[str, ModuleType, type[ForeignLayer]], ...] = (
    ("snntorch", _snntorch, _snntorch.SnnTorchLayer),
    ("norse", _norse, _norse.NorseLayer),
    ("spikingjelly", _sj, _sj.SpikingJellyLayer),
)


def supported_neurons() -> dict[str, tuple[str, ...]]:
    """The neuron classes the adapters handle, per framework."""
    return {name: mod.SUPPORTED for name, mod, _ in _FRAMEWORKS}


def _supported_text() -> str:
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in supported_neurons().items())


def _framework(module: nn.Module) -> tuple[str, ModuleType, type[ForeignLayer]] | None:
    for entry in _FRAMEWORKS:
        if entry[1].is_neuron(module):
            return entry
    return None


def neuron_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """All framework neurons in ``model``; an unsupported one raises ``ValueError``."""
    out = []
    for name, module in model.named_modules():
        entry = _framework(module)
        if entry is None:
            continue
        if not entry[1].is_supported(module):
            raise ValueError(
                f"module {name or type(module).__name__!r} ({entry[0]} {type(module).__name__}) "
                f"is not supported by spikeinit's adapters; supported: {_supported_text()}"
            )
        out.append((name or type(module).__name__, module))
    return out


def reset_states(model: nn.Module) -> None:
    """Reset every snnTorch / SpikingJelly neuron state in ``model`` (Norse is stateless)."""
    for module in model.modules():
        entry = _framework(module)
        if entry is not None:
            entry[1].reset(module)


def time_loop(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a single-step model over time: reset states, ``model(x[t])`` for each t, stack.

    For snnTorch ``nn.Sequential`` models with ``init_hidden=True`` (snnTorch
    neurons advance one step per call). A tuple output keeps its first element.
    """
    reset_states(model)
    outs = []
    for t in range(x.shape[0]):
        out = model(x[t])
        outs.append(out[0] if isinstance(out, (tuple, list)) else out)
    reset_states(model)
    return torch.stack(outs)


def _make(
    name: str,
    neuron: nn.Module,
    producer: nn.Module | None,
    mode: CallMode,
    steps: int | None,
    root: nn.Module,
    dt: float,
) -> ForeignLayer:
    entry = _framework(neuron)
    assert entry is not None
    notes: list[str] = []
    params = entry[1].params_of(neuron, dt, notes)
    return entry[2](name, neuron, producer, params, mode=mode, steps=steps, root=root, notes=notes)


def _flat_children(model: nn.Module) -> list[nn.Module]:
    out: list[nn.Module] = []
    for child in model.children():
        if isinstance(child, nn.Sequential) and _framework(child) is None:
            out.extend(_flat_children(child))
        else:
            out.append(child)
    return out


def _structural(model: nn.Module, dt: float) -> list[tuple[str, ForeignLayer]]:
    """Without data: pair consecutive (weight, neuron) children of a Sequential."""
    if not isinstance(model, nn.Sequential):
        raise ValueError(
            f"{type(model).__name__} is not an nn.Sequential: pass data so that the "
            "adapters can trace which weight module feeds which neuron"
        )
    names = {id(m): n for n, m in model.named_modules()}
    out: list[tuple[str, ForeignLayer]] = []
    prev: nn.Module | None = None
    for module in _flat_children(model):
        if _framework(module) is not None:
            entry = _framework(module)
            assert entry is not None
            own = entry[1].has_own_input_weights(module)
            if not own and prev is None:
                raise ValueError(f"neuron {names[id(module)]!r} has no weight module before it")
            name = names[id(module)]
            out.append((name, _make(name, module, None if own else prev, "seq", None, model, dt)))
            prev = None
        elif isinstance(module, WEIGHT_TYPES) or any(
            isinstance(m, WEIGHT_TYPES) for m in module.modules()
        ):
            prev = module
    return out


def find_layers(
    model: nn.Module,
    data: torch.Tensor | None = None,
    forward: Forward | None = None,
    *,
    dt: float = 1e-3,
    trace_samples: int = 2,
) -> list[tuple[str, ForeignLayer]]:
    """The model's foreign spiking layers, in execution order, as spikeinit layers.

    Args:
        model: an snnTorch, Norse or SpikingJelly model (any module tree).
        data: time-first input ``[T, B, ...]``; the model is run once on
            ``data[:, :trace_samples]`` to find which weight module feeds which
            neuron. Without data only an ``nn.Sequential`` can be read, by
            pairing each neuron with the weight module just before it.
        forward: ``forward(model, x)`` for models that need a custom call
            (e.g. :func:`time_loop` for an snnTorch ``nn.Sequential``).
        dt: the step in seconds for frameworks without one (snnTorch,
            SpikingJelly): it converts their per-step decays to time constants
            and spike counts to Hz. Norse's own ``dt`` is always used.

    Returns:
        ``[(name, layer)]`` where ``name`` is the neuron's module name and
        ``layer`` a :class:`~spikeinit.adapters.base.ForeignLayer`.

    Raises:
        ValueError: no supported neuron, an unsupported neuron (the message lists
            the supported ones), or a neuron not fed by a Linear/Conv module.
    """
    neurons = neuron_modules(model)
    if not neurons:
        raise ValueError(
            f"{type(model).__name__} has no spikeinit spiking layers and no supported "
            f"snnTorch / Norse / SpikingJelly neuron ({_supported_text()})"
        )
    if data is None:
        return _structural(model, dt)
    steps = int(data.shape[0])
    x = data[:, :trace_samples]
    neuron_ids = {id(m) for _, m in neurons}
    inside_neuron = {id(sub) for _, m in neurons for sub in m.modules() if sub is not m}
    names = {id(m): n or type(m).__name__ for n, m in model.named_modules()}
    producers: dict[int, tuple[nn.Module, torch.Tensor]] = {}
    calls: dict[int, int] = {}
    first_input: dict[int, int] = {}
    order: list[nn.Module] = []
    handles = []

    def post(m: nn.Module, _args: Any, out: Any) -> None:
        if isinstance(out, torch.Tensor):
            producers.setdefault(id(out), (m, out))

    def count(m: nn.Module, args: tuple[Any, ...]) -> None:
        calls[id(m)] = calls.get(id(m), 0) + 1
        if id(m) in neuron_ids and id(m) not in first_input and args:
            inp = args[0]
            if isinstance(inp, torch.Tensor):
                base = inp if id(inp) in producers else inp._base
                first_input[id(m)] = id(base) if base is not None else id(inp)
            order.append(m)

    for module in model.modules():
        if id(module) in inside_neuron:
            continue
        handles.append(module.register_forward_pre_hook(count))
        if id(module) not in neuron_ids:
            handles.append(module.register_forward_hook(post))
    reset_states(model)
    try:
        with torch.no_grad():
            (forward or (lambda m, d: m(d)))(model, x)
    finally:
        for h in handles:
            h.remove()
        reset_states(model)

    def mode_of(module: nn.Module) -> CallMode:
        n = calls.get(id(module), 0)
        if n == 1:
            return "seq"
        if n == steps:
            return "step"
        raise ValueError(
            f"module {names[id(module)]!r} was called {n} times in one forward pass on "
            f"{steps} time steps; expected once (whole sequence) or once per step"
        )

    out: list[tuple[str, ForeignLayer]] = []
    for neuron in order:
        name = names[id(neuron)]
        entry = _framework(neuron)
        assert entry is not None
        neuron_mode = mode_of(neuron)
        if entry[0] == "snntorch" and neuron_mode == "seq" and steps > 1:
            raise ValueError(
                f"snnTorch neuron {name!r} was called once for {steps} time steps, but "
                "snnTorch neurons advance one step per call; pass "
                "forward=spikeinit.adapters.time_loop (or a forward that loops over time)"
            )
        if entry[1].has_own_input_weights(neuron):
            layer = _make(name, neuron, None, neuron_mode, steps, model, dt)
        else:
            found = producers.get(first_input.get(id(neuron), -1))
            if found is None:
                raise ValueError(
                    f"neuron {name!r}: its input is not the output of a module of the model "
                    "(spikeinit needs a Linear/Conv module feeding it directly)"
                )
            producer = found[0]
            layer = _make(name, neuron, producer, mode_of(producer), steps, model, dt)
        out.append((name, layer))
    if not out:
        raise ValueError(
            f"none of the neurons of {type(model).__name__} was called by the forward pass; "
            "pass forward=... if the model needs a custom call"
        )
    return out
