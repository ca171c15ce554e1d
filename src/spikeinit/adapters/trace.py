"""Finding what feeds each neuron of a foreign model, through the real data flow.

docs/interop.md, section 'Finding what feeds each neuron'.

:func:`trace_model` runs the user's own forward pass once, with gradients on,
and reads the autograd graph of each neuron's input back to the parameters it
depends on. The spikes that every neuron emits are replaced, for that one
pass, by fresh leaf tensors, so the walk from a neuron's input stops at the
spikes of the neurons before it (or at its own spikes one step earlier: a
recurrent connection) and never crosses a neuron. No tensor identities are
guessed: each input is followed through the operations that really produced
it, so anything may sit between a weight and its neuron (pooling,
BatchNorm, dropout, reshapes, scaling, functional ops, residual additions,
several branches).

On every path from a neuron's input back to a source, the *first* module
with parameters met is that path's **knob**: the thing that sets the scale of
the current on that path.

* a Linear / Conv module (or a neuron's own input weights): the weights are
  the knob; a constant factor, pooling or dropout after it leave the current
  linear (positively homogeneous) in these weights;
* a BatchNorm module: the weights behind it are normalised away, so its
  affine ``weight`` and ``bias`` are the knob; the Linear / Conv modules behind
  it are recorded as ``behind`` (set for a sensible scale, but not the knob).

A path that reaches a source without meeting any parameter is a **fixed**
part of the current (an identity shortcut of a residual block, an input fed
straight to a neuron). Which neurons' spikes arrive where is recorded too,
for the report and for recurrent connections.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

Forward = Callable[[nn.Module, Any], Any]

WEIGHT_TYPES: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)
NORM_TYPES: tuple[type[nn.Module], ...] = (nn.modules.batchnorm._BatchNorm,)
INPUT = "<input>"


@dataclass
class Site:
    """One neuron module of the model and what feeds it.

    Attributes:
        name: the neuron's qualified module name.
        neuron: the neuron module.
        mode: ``"seq"`` (called once with ``[T, B, ...]``) or ``"step"`` (called
            once per time step with ``[B, ...]``).
        calls: how often the neuron was called in one forward pass.
        knobs: names of the modules whose parameters set the scale of the
            neuron's input current (see the module docstring), in walk order.
        behind: weight modules behind a BatchNorm knob (normalised away).
        transparent: modules with parameters that spikeinit passes through
            without setting them (reported).
        sources: where the spikes / input on knob paths come from
            (neuron names, :data:`INPUT`).
        fixed_sources: sources reached with no knob on the way (residual
            shortcuts); their current is added as is.
        recurrent: the neuron's own earlier spikes reach its input.
        knob_sources: for each knob, the sources on its paths.
        ops: names of the autograd operations met between knobs and the
            neuron (e.g. ``MaxPool2DWithIndicesBackward0``), for the report.
        call_knobs: the knobs of each of the first calls, one list per call (a
            neuron used at two places of the forward pass has calls whose knob
            sets are not nested; see :func:`places`).
        call_fed: for each of those calls, whether its input came from a source
            (a neuron or the model input) at all.
        knob_behind: for each knob, the weight modules behind it (``behind`` per knob).
        indirect: modules whose parameters reach the input only through an operation
            that is not a view (``F.linear(x, w.sign())``, a standardised or masked
            weight) with no other knob before: candidates that
            :mod:`spikeinit.init.knob_check` measures.
        shared: knobs on this neuron's paths that an earlier neuron owns (a membrane
            shortcut: one module's output reaches two neurons), ``knob -> owner``;
            filled by :mod:`spikeinit.init.shortcuts`.
    """

    name: str
    neuron: nn.Module
    mode: str
    calls: int
    knobs: list[str] = field(default_factory=list)
    behind: list[str] = field(default_factory=list)
    transparent: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    fixed_sources: list[str] = field(default_factory=list)
    recurrent: bool = False
    ops: list[str] = field(default_factory=list)
    knob_sources: dict[str, list[str]] = field(default_factory=dict)
    call_knobs: list[list[str]] = field(default_factory=list)
    call_fed: list[bool] = field(default_factory=list)
    knob_behind: dict[str, list[str]] = field(default_factory=dict)
    indirect: list[str] = field(default_factory=list)
    shared: dict[str, str] = field(default_factory=dict)


def places(site: Site) -> tuple[list[str], list[str]] | None:
    """Two knob sets that show ``site``'s neuron used at two places, or ``None``.

    A neuron called once per time step sees the same weights at every call (a
    recurrent weight may join after the first step, so one call's knobs may hold
    another's); two calls whose knob sets are not nested (``lif(fc1(x))`` and
    ``lif(fc2(s1))`` with one ``lif``) are two places of the forward pass, and so
    are a call fed through weights and one fed by a source directly
    (``lif(lif(fc(x)))``). A call fed by nothing (zeros before the first step) is
    no place.
    """
    calls = list(zip(site.call_knobs, site.call_fed, strict=True))
    for i, (a, fed_a) in enumerate(calls):
        for b, fed_b in calls[i + 1 :]:
            if not (set(a) <= set(b) or set(b) <= set(a)):
                return a, b
            if fed_a and fed_b and bool(a) != bool(b):
                return a, b
    return None


class _Stop(Exception):
    """Raised inside a hook to end a forward pass early."""


def default_forward(model: nn.Module, x: Any) -> Any:
    return model(x)


def call_model(model: nn.Module, x: Any, forward: Forward | None) -> Any:
    """``forward(model, x)``, or the model's own call; a :class:`_Stop` ends it quietly."""
    try:
        return (forward or default_forward)(model, x)
    except _Stop:
        return None


def _owner_map(model: nn.Module) -> dict[int, tuple[str, nn.Module, str]]:
    """``id(parameter) -> (module name, module, parameter name)`` for the first owner."""
    owners: dict[int, tuple[str, nn.Module, str]] = {}
    for mname, module in model.named_modules():
        for pname, p in module.named_parameters(recurse=False):
            owners.setdefault(id(p), (mname, module, pname))
    return owners


def shared_parameters(model: nn.Module) -> list[tuple[str, str]]:
    """Pairs of module names that hold the same parameter object (tied weights)."""
    seen: dict[int, str] = {}
    out: list[tuple[str, str]] = []
    for mname, module in model.named_modules(remove_duplicate=False):
        for pname, p in module.named_parameters(recurse=False):
            key = f"{mname}.{pname}" if mname else pname
            if id(p) in seen and seen[id(p)] != key:
                first = seen[id(p)]
                if (first, key) not in out:
                    out.append((first, key))
            else:
                seen[id(p)] = key
    return out


def is_knob_module(module: nn.Module) -> bool:
    return isinstance(module, WEIGHT_TYPES + NORM_TYPES)


VIEWS = frozenset(
    {
        "TBackward0",
        "ViewBackward0",
        "ReshapeAliasBackward0",
        "UnsafeViewBackward0",
        "PermuteBackward0",
        "TransposeBackward0",
        "ExpandBackward0",
        "UnsqueezeBackward0",
        "SqueezeBackward0",
        "SqueezeBackward1",
        "SliceBackward0",
        "SelectBackward0",
        "AsStridedBackward0",
        "CloneBackward0",
        "ToCopyBackward0",
    }
)


#: autograd operations whose output is linear in each parameter they take (weights,
#: biases, a BatchNorm's affine weight): a parameter met at any other operation
#: (``w.sign()``, a standardised or custom-Function weight) is recorded in ``Site.indirect``
LINEAR_OPS = frozenset(
    {"AddmmBackward0", "MmBackward0", "BmmBackward0", "MulBackward0", "AddBackward0",
     "SubBackward0", "MvBackward0", "LinearBackward0", "EmbeddingBackward0"}
)  # fmt: skip


def linear_in_parameters(op: str) -> bool:
    """Whether the autograd operation ``op`` is linear in the parameters it reads."""
    return op in LINEAR_OPS or op in VIEWS or "Convolution" in op or "BatchNorm" in op


def _param_owner(node: Any, owners: dict[int, tuple[str, nn.Module, str]]) -> str | None:
    """The module whose parameter ``node`` reads, through views of it (``W.t()``), or None."""
    for _ in range(8):
        if type(node).__name__ == "AccumulateGrad":
            owner = owners.get(id(node.variable))
            return None if owner is None else owner[0]
        if type(node).__name__ not in VIEWS:
            return None
        nexts = [n for n, _ in node.next_functions if n is not None]
        if len(nexts) != 1:
            return None
        node = nexts[0]
    return None


def _param_source(
    node: Any, owners: dict[int, tuple[str, nn.Module, str]], limit: int = 12
) -> tuple[str, bool] | None:
    """``(module, through_ops)`` when everything ``node`` computes comes from parameters
    of one module (``W.t()``, ``W.sign()``, ``(W - W.mean()) / W.std()``, a custom
    autograd Function of ``W``), else None (also where a tensor without gradient, i.e.
    data, takes part). ``through_ops``: some operation on the way
    is not a view (the weight reaches the current transformed)."""
    owner = _param_owner(node, owners)
    if owner is not None:
        return owner, False
    stack, seen, found = [node], set(), set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if len(seen) > limit:
            return None
        if type(n).__name__ == "AccumulateGrad":
            held = owners.get(id(n.variable))
            if held is None:
                return None  # data (a source leaf, the model input) takes part
            found.add(held[0])
            continue
        nexts = [m for m, _ in n.next_functions]
        if any(m is None for m in nexts):
            return None  # a constant input takes part (``lin(zeros)``): data, not a weight
        stack.extend(nexts)
    if len(found) != 1:
        return None
    return found.pop(), True


def _walk(
    root: torch.Tensor,
    site: Site,
    owners: dict[int, tuple[str, nn.Module, str]],
    leaves: dict[int, str],
    modules: dict[str, nn.Module],
) -> None:
    """Follow ``root``'s autograd graph back to parameters and source leaves."""
    fn = root.grad_fn
    if fn is None:  # the neuron receives a source directly (e.g. the model input)
        tag = leaves.get(id(root))
        if tag is not None and tag not in site.fixed_sources:
            site.fixed_sources.append(tag)
            site.recurrent = site.recurrent or tag == site.name
        return
    stack: list[tuple[Any, str | None]] = [(fn, None)]
    seen: set[tuple[int, str | None]] = set()
    while stack:
        node, knob = stack.pop()
        key = (id(node), knob)
        if key in seen:
            continue
        seen.add(key)
        name = type(node).__name__
        if name == "AccumulateGrad":
            tag = leaves.get(id(node.variable))
            if tag is not None:
                if tag == site.name:
                    site.recurrent = True
                target = site.sources if knob is not None else site.fixed_sources
                if tag not in target:
                    target.append(tag)
                if knob is not None:
                    per_knob = site.knob_sources.setdefault(knob, [])
                    if tag not in per_knob:
                        per_knob.append(tag)
            continue
        nexts = [n for n, _ in node.next_functions if n is not None]
        param_mods: list[str] = []
        transformed: set[str] = set()
        data_nexts = []
        for n in nexts:
            found = _param_source(n, owners)
            if found is None:
                data_nexts.append(n)
                continue
            owner, through_ops = found
            if owner not in param_mods:
                param_mods.append(owner)
            if through_ops:
                transformed.add(owner)
        new_knob = knob
        for mname in param_mods:
            if knob in (None, mname) and (mname in transformed or not linear_in_parameters(name)):
                if mname not in site.indirect:  # a parameter used through sign(), std(), ...
                    site.indirect.append(mname)
            module = modules[mname]
            if knob is None and is_knob_module(module):
                if new_knob is None:
                    new_knob = mname
                    if mname not in site.knobs:
                        site.knobs.append(mname)
            elif knob is not None and isinstance(module, WEIGHT_TYPES):
                if mname not in site.behind and mname not in site.knobs:
                    site.behind.append(mname)
                per_knob = site.knob_behind.setdefault(knob, [])
                if mname not in per_knob:
                    per_knob.append(mname)
            elif not is_knob_module(module) and mname not in site.transparent:
                site.transparent.append(mname)
        if knob is None and not param_mods and name not in site.ops:
            site.ops.append(name)
        for n in data_nexts:
            stack.append((n, new_knob))


@dataclass
class Trace:
    """The result of :func:`trace_model`: the neuron sites in execution order.

    ``outputs`` maps each neuron whose output reaches the tensors the model
    returns *directly* (through no module with parameters and no other neuron)
    to what of it does: ``"spikes"`` (its first output) and/or ``"state"`` (a
    membrane or state it also returns, snnTorch's ``mem``). Those neurons are
    the model's output layer: their spikes or membrane are decoded into classes.
    """

    sites: list[Site]
    modules: dict[str, nn.Module]
    batch_size: int | None
    outputs: dict[str, list[str]] = field(default_factory=dict)


def _output_tensors(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _output_tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _output_tensors(o)]
    return []


def direct_outputs(
    out: Any, leaves: dict[int, tuple[str, str]], owners: dict[int, tuple[str, nn.Module, str]]
) -> dict[str, list[str]]:
    """The neurons whose outputs reach ``out`` through no parameterised module (Trace)."""
    found: dict[str, list[str]] = {}
    stack: list[Any] = []
    for t in _output_tensors(out):
        if t.grad_fn is not None:
            stack.append(t.grad_fn)
        elif id(t) in leaves:
            name, kind = leaves[id(t)]
            found.setdefault(name, []).append(kind)
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if type(node).__name__ == "AccumulateGrad":
            tag = leaves.get(id(node.variable))
            if tag is not None and tag[1] not in found.setdefault(tag[0], []):
                found[tag[0]].append(tag[1])
            continue
        nexts = [n for n, _ in node.next_functions if n is not None]
        if any(_param_owner(n, owners) is not None for n in nexts):
            continue  # a weight sits between: what lies behind it is not decoded directly
        stack.extend(nexts)
    return {k: [kind for kind in ("spikes", "state") if kind in v] for k, v in found.items() if v}


def trace_model(
    model: nn.Module,
    x: Any,
    is_neuron: Callable[[nn.Module], bool],
    step_neuron: Callable[[nn.Module], bool],
    reset: Callable[[nn.Module], None],
    forward: Forward | None = None,
    max_calls: int = 3,
    batch_dim: Callable[[nn.Module, str], int | None] | None = None,
) -> Trace:
    """Run ``model`` once on ``x`` with gradients and read each neuron's inputs.

    Args:
        model: any module tree containing framework neurons.
        x: the input exactly as the model's forward takes it.
        is_neuron: which modules are neurons.
        step_neuron: whether a neuron advances one time step per call.
        reset: resets the model's neuron states.
        forward: ``forward(model, x)`` where the model needs a custom call.
        max_calls: the graph is read from this many calls of each neuron
            (enough to see a recurrent connection one step back).
        batch_dim: ``batch_dim(neuron, mode)``, the batch axis of a neuron's input
            (default 0 for step neurons, 1 for sequence neurons; None: unknown).

    Returns:
        A :class:`Trace`. Raises ``ValueError`` if no neuron is called. A neuron
        used at two places of the forward pass is recorded (``Site.calls``,
        ``Site.call_knobs``, :func:`places`) and refused by the initialisation.
    """
    modules = dict(model.named_modules())
    names = {id(m): n for n, m in modules.items()}
    neurons = [m for m in modules.values() if is_neuron(m)]
    inside = {id(s) for m in neurons for s in m.modules() if s is not m}
    neurons = [m for m in neurons if id(m) not in inside]
    owners = _owner_map(model)
    leaves: dict[int, str] = {}
    kinds: dict[int, tuple[str, str]] = {}  # neuron outputs: (neuron, "spikes" | "state")
    keep: list[torch.Tensor] = []
    inputs: dict[int, list[torch.Tensor]] = {}
    shapes: dict[int, tuple[int, ...]] = {}
    calls: dict[int, int] = {}
    order: list[nn.Module] = []

    def pre(m: nn.Module, args: tuple[Any, ...]) -> None:
        calls[id(m)] = calls.get(id(m), 0) + 1
        if calls[id(m)] == 1:
            order.append(m)
        inp = args[0] if args else None
        if isinstance(inp, torch.Tensor):
            shapes.setdefault(id(m), tuple(inp.shape))
            if calls[id(m)] <= max_calls:
                inputs.setdefault(id(m), []).append(inp)

    def post(m: nn.Module, _args: tuple[Any, ...], out: Any) -> Any:
        def leaf(t: torch.Tensor, kind: str) -> torch.Tensor:
            new = t.detach().clone()
            if new.is_floating_point():
                new.requires_grad_(True)
                leaves[id(new)] = names[id(m)]
                kinds[id(new)] = (names[id(m)], kind)
                keep.append(new)
            return new

        if isinstance(out, torch.Tensor):
            return leaf(out, "spikes")
        if isinstance(out, tuple) and out and isinstance(out[0], torch.Tensor):
            if hasattr(out, "_fields"):  # a namedtuple state: keep its type
                return out
            first = leaf(out[0], "spikes")
            rest = tuple(leaf(o, "state") if isinstance(o, torch.Tensor) else o for o in out[1:])
            return (first, *rest)
        return out

    handles = []
    for m in neurons:
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    # integer parameters (sinabs' min_v_mem=-1) cannot require gradients; they set no knob
    flags = [(p, p.requires_grad) for p in model.parameters() if p.is_floating_point()]
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        x = x.detach().clone().requires_grad_(True)
        leaves[id(x)] = INPUT
        keep.append(x)
    reset(model)
    try:
        for p, _ in flags:
            p.requires_grad_(True)
        with torch.enable_grad():
            returned = call_model(model, x, forward)
        outputs = direct_outputs(returned, kinds, owners)
        del returned
        sites: list[Site] = []
        for m in order:
            name = names[id(m)]
            n = calls[id(m)]
            site = Site(name, m, "step" if step_neuron(m) else "seq", n)
            for inp in inputs.get(id(m), []):
                _walk(inp, site, owners, leaves, modules)
                one = Site(name, m, site.mode, n)
                _walk(inp, one, owners, leaves, modules)
                site.call_knobs.append(one.knobs)
                site.call_fed.append(bool(one.sources or one.fixed_sources))
            sites.append(site)
    finally:
        for h in handles:
            h.remove()
        for p, flag in flags:
            p.requires_grad_(flag)
        reset(model)
    if not sites:
        raise ValueError(
            f"none of the {len(neurons)} neurons of {type(model).__name__} was called by its "
            "forward pass on the data given; pass forward=... if the model needs a custom call"
        )
    batch = None
    first = sites[0]
    shape = shapes.get(id(first.neuron))
    if shape:
        default = 0 if first.mode == "step" else 1
        dim = batch_dim(first.neuron, first.mode) if batch_dim else default
        batch = shape[dim] if dim is not None and dim < len(shape) else None
    return Trace(sites, modules, batch, outputs)


# --------------------------------------------------------------------------- capture
@dataclass
class Captured:
    """What one pass recorded: per module name, its inputs (and outputs) per call."""

    inputs: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    outputs: dict[str, list[torch.Tensor]] = field(default_factory=dict)


def capture_pass(
    model: nn.Module,
    x: Any,
    inputs_of: Iterable[str],
    outputs_of: Iterable[str],
    modules: dict[str, nn.Module],
    reset: Callable[[nn.Module], None],
    forward: Forward | None = None,
    stop_after: tuple[str, int] | None = None,
) -> Captured:
    """One forward pass without gradients that records module inputs and outputs.

    ``stop_after=(name, n)`` ends the pass when module ``name`` has been called
    ``n`` times (after recording that call's input).
    """
    cap = Captured()
    handles = []
    counts: dict[str, int] = {}
    want_in = set(inputs_of)
    want_out = set(outputs_of)
    hooks_for = want_in | want_out | ({stop_after[0]} if stop_after else set())

    def make_pre(name: str) -> Callable[..., None]:
        def pre(m: nn.Module, args: tuple[Any, ...]) -> None:
            counts[name] = counts.get(name, 0) + 1
            inp = args[0] if args else None
            if isinstance(inp, torch.Tensor):
                if name in want_in:
                    cap.inputs.setdefault(name, []).append(inp.detach())
            if stop_after and name == stop_after[0] and counts[name] >= stop_after[1]:
                raise _Stop

        return pre

    def make_post(name: str) -> Callable[..., None]:
        def post(_m: nn.Module, _args: tuple[Any, ...], out: Any) -> None:
            first = out[0] if isinstance(out, (tuple, list)) and out else out
            if isinstance(first, torch.Tensor):
                # a clone: the model may change its output in place later (out += identity)
                cap.outputs.setdefault(name, []).append(first.detach().clone())

        return post

    for name in hooks_for:
        module = modules[name]
        handles.append(module.register_forward_pre_hook(make_pre(name)))
        if name in want_out:
            handles.append(module.register_forward_hook(make_post(name)))
    reset(model)
    try:
        with torch.no_grad():
            call_model(model, x, forward)
    finally:
        for h in handles:
            h.remove()
        reset(model)
    return cap
