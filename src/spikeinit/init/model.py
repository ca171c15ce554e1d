"""Layer-by-layer initialisation of a whole model: :func:`initialize`.

:func:`initialize` walks the model's spiking layers in order. For each one it
runs the data through the layers already initialised, measures what arrives at
the layer (:mod:`spikeinit.measure`) and asks the rule (from the registry,
:mod:`spikeinit.init.registry`) to set the layer's weights with its layer hook.
The rules and their science live in :mod:`spikeinit.init.rules`, one module
per family:

* ``method="fluctuation"`` (Rossbroich, Gygax & Zenke 2022;
  :mod:`spikeinit.init.rules.fluctuation`): weights drawn so that the free
  membrane potential has mean ``mu_U theta`` and temporal std ``sigma_U theta``,
  from the *measured* statistics of each layer's input (docs/science.md,
  section 'Beyond the Poisson assumption'); Dale layers by
  :mod:`spikeinit.init.rules.dale`;
* ``"micheli"``, ``"micheli_reset"``, ``"micheli_finite"`` (Micheli et al. 2024),
  ``"kaiming"``, ``"glorot"``, ``"default"``: data-independent rules applied to
  every weight group with its own fan-in; the data only feeds the report;
* ``"perez_nieves"``: rate-preserving variance propagation, from each layer's input.

What the user aims at is one validated :class:`~spikeinit.init.targets.InitTargets`.

**Readout.** A :class:`~spikeinit.nn.Readout` has no threshold. By default
(``readout="fluctuation"``) it gets the same fluctuation rule with its
``params.threshold`` as the unit, as stork's Randman and SHD examples do;
``readout="normal"`` draws ``N(0, 1/fan_in)`` (stork's other examples) and
``readout="keep"`` leaves it untouched.

**Calibration** (``calibrate=True``): :mod:`spikeinit.init.calibrate`.

snnTorch / Norse / SpikingJelly models are set by :mod:`spikeinit.init.foreign`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from .._api_checks import check_model_and_data, check_reals, names_data_errors
from ..adapters.find import TimeDim, check_time_dim
from ..adapters.trace import shared_parameters
from ..measure import (  # the shared measuring code (re-exported: si.init.model.*)
    capture_input,
    check_plausible_input,
    collect_data,
    flat_sequence,
    free_membrane_stats,
    pooled_filtered_stats,
    restored_on_failure,
    spiking_layers,
)
from ..nn.base import SpikingLayer
from . import registry
from .calibrate import calibrate_layer
from .foreign import initialize_foreign
from .outputs import OUTPUT_RULES
from .registry import DATA_DEPENDENT as DATA_DEPENDENT  # re-exported: si.init.model.*
from .registry import METHODS as METHODS  # re-exported: si.init.model.METHODS
from .report import GroupInit, InitReport, LayerInit
from .rules._tensor import _fan_in, _set_normal
from .rules.base import LayerJob, Rule
from .rules.context import ResetForm
from .rules.fluctuation import sigma_from_xi
from .targets import MAX_TARGET, InitTargets, RuleTargets

__all__ = [
    "METHODS",
    "InitReport",
    "InitTargets",
    "capture_input",
    "collect_data",
    "free_membrane_stats",
    "initialize",
    "pooled_filtered_stats",
    "spiking_layers",
]

READOUT_RULES = tuple(r for r in OUTPUT_RULES if r not in ("spikes", "membrane"))


def _check_native_sharing(model: nn.Module) -> None:
    """Refuse a spiking layer used twice, or layers that share a weight tensor."""
    seen: dict[int, str] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        if isinstance(module, SpikingLayer):
            if id(module) in seen:
                raise ValueError(
                    f"the layer object {seen[id(module)]!r} is used again as {name!r}: "
                    "one set of weights cannot be initialised for two inputs; use two layers"
                )
            seen[id(module)] = name
    shared = shared_parameters(model)
    if shared:
        raise ValueError(
            f"parameters {shared[0][0]!r} and {shared[0][1]!r} are the same tensor (tied "
            "weights): each layer is set from its own input, which cannot hold for both"
        )


# --------------------------------------------------------------------------- entry point
@names_data_errors
def initialize(
    model: nn.Module,
    data: torch.Tensor | Iterable[Any] | None = None,
    method: str = "fluctuation",
    *,
    targets: InitTargets | None = None,
    sigma_u: float | None = None,
    mu_u: float = 0.0,
    xi: float | None = None,
    nu: float | None = None,
    stats: str = "filtered",
    variance: str = "auto",
    alpha: float = 0.9,
    mean_split: str = "alpha",
    readout: str | float | Mapping[str, str | float] = "auto",
    calibrate: bool = False,
    target_rate: float | None = None,
    tol: float = 0.02,
    max_iter: int = 20,
    max_samples: int | None = 512,
    forward: Callable[[nn.Module, torch.Tensor], Any] | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    batch_first: bool | None = None,
    form: ResetForm = "covariance",
    time_dim: TimeDim = "auto",
) -> InitReport:
    """Initialise every spiking layer of ``model`` in place, layer by layer.

    Args:
        model: an ``nn.Sequential`` of spikeinit layers (and any non-spiking
            modules between them), or any module whose forward calls them.
        data: time-first input ``[T, B, ...]`` or a DataLoader of such batches.
            Required for ``"fluctuation"`` and for ``calibrate``; optional for the
            data-independent methods (then nothing is measured).
        method: one of ``METHODS`` (the rules of :mod:`spikeinit.init.registry`
            that apply to a whole model; aliases are for the command line).
        targets: an :class:`~spikeinit.init.targets.InitTargets` holding the
            keywords from ``sigma_u`` to ``form`` below; give either it or those
            keywords (left at their defaults), not both.
        sigma_u, mu_u: targets for the free membrane's temporal std and mean, in
            units of the threshold theta. Or give ``xi = (1 - mu_u) / sigma_u``.
            ``sigma_u=None`` (default) is 1 theta, except for a snnTorch / Norse /
            SpikingJelly model whose input is static in time (an image repeated
            every step, or one step): 0.5 theta there, chosen by measurement
            (docs/science.md, section 'Static input'); the report's first layer says
            which.
        nu: one global input rate in Hz for every layer (stork's rule).
        stats: ``"filtered"`` (default) or ``"rate"`` (measured nu, Poisson formula).
        variance: ``"temporal"`` (sigma_U over time, the paper's definition),
            ``"total"`` (over time and samples, for static inputs), or ``"auto"``
            (temporal, unless the data has a single time step).
        alpha: feed-forward share of the variance in recurrent layers.
        mean_split: how a recurrent layer's target mean ``mu_u`` is split between
            its feed-forward and recurrent weights: ``"alpha"`` (default, like the
            variance) or ``"stork"`` (stork's rule: group ``g`` supplies
            ``N_g / N_total`` of the mean, so with one rate every group gets
            ``mu_W = mu_u theta / (N_total nu eps_bar)``;
            :func:`spikeinit.init.stork_mean_share`). Only matters for ``mu_u != 0``.
        readout: rule for the output layers (``READOUT_RULES``): ``"auto"`` (default;
            spikeinit's own :class:`~spikeinit.nn.Readout` as ``"fluctuation"``, the
            papers' setting; the output layers of snnTorch / Norse / SpikingJelly
            models by the decode-aware rule of :mod:`spikeinit.init.outputs`),
            ``"fluctuation"``, ``"normal"``, ``"keep"``; for a foreign model also a
            target ``sigma_U / theta`` for its output layers (a number) or a
            ``{layer name: rule}`` dict.
        calibrate: refine each layer by measurement (``tol`` relative error).
        target_rate: with ``calibrate``, hit this output rate (Hz) instead of sigma_U.
        max_samples: at most this many samples of ``data`` are used.
        forward: ``forward(model, x)`` for models that need a custom call.
        generator, seed: randomness for the weights (``seed`` makes a generator).
        batch_first: spikeinit's own layers take time-first ``[T, B, ...]``; a
            DataLoader over a ``TensorDataset`` yields batch-first ``[B, T, ...]``.
            ``None`` reads the layout from the labels of ``(x, y)`` batches (the
            dimension of ``x`` with ``len(y)`` entries) and refuses to guess when
            that is ambiguous; ``True`` / ``False`` say it. Foreign models take the
            data exactly as their own forward does, so this does not apply to them.
        form: the form of ``method="micheli_reset"``: ``"covariance"`` (default) or
            ``"public"``, the public code's (n Var[w] = 5.41 and 13.50 at beta 0.5,
            theta 1; :func:`spikeinit.init.micheli_reset_normal_`, docs/science.md,
            section 'Variants in the public code'). Other methods ignore it.
        time_dim: for a foreign model whose forward is one time step (an
            ``nn.Sequential`` of snnTorch ``init_hidden=True`` or SpikingJelly
            single-step neurons, a Norse ``SequentialState`` of cells): ``0`` if
            ``data`` is time-first ``[T, B, ...]`` (the model is called on
            ``x[t]`` for each ``t``), ``None`` if it has no time axis (the model
            is called once: one step). ``"auto"`` (default) decides by probing
            the model and refuses (``ValueError``) when both readings run.
            docs/interop.md, section 'Calling conventions'. spikeinit's own
            layers always take time-first data (``0`` or ``"auto"``).

    Returns:
        An :class:`InitReport`.
    """
    check_model_and_data(model, data)
    check_reals(sigma_u=sigma_u, mu_u=mu_u, xi=xi, alpha=alpha, nu=nu, tol=tol,
                target_rate=target_rate)  # fmt: skip
    check_time_dim(time_dim, forward)
    rule = registry.model_rule(method)
    keywords = {
        "sigma_u": sigma_u, "mu_u": mu_u, "xi": xi, "nu": nu, "stats": stats,
        "variance": variance, "alpha": alpha, "mean_split": mean_split, "readout": readout,
        "calibrate": calibrate, "target_rate": target_rate, "tol": tol, "max_iter": max_iter,
        "form": form,
    }  # fmt: skip
    targets = _targets(targets, keywords)
    _check_run(max_samples, seed, generator, batch_first)
    if data is None and (rule.data_dependent or targets.calibrate):
        raise ValueError(f"method={method!r} (or calibrate=True) needs data to measure")
    if generator is None and seed is not None:
        generator = torch.Generator().manual_seed(seed)
    layers = spiking_layers(model)
    if not layers:
        # snnTorch / Norse / SpikingJelly: measured, neuron by neuron (init/foreign.py)
        return initialize_foreign(
            model,
            data,
            method,
            _foreign_targets(targets, rule),
            max_samples=max_samples,
            forward=forward,
            generator=generator,
            time_dim=time_dim,
        )
    if time_dim is None:
        raise ValueError(
            "time_dim=None applies to snnTorch / Norse / SpikingJelly models whose forward is "
            "one step; spikeinit's own layers take time-first data [T, B, ...]"
        )
    if not isinstance(targets.readout, str) or targets.readout in ("spikes", "membrane"):
        raise ValueError(
            "readout as a number, 'spikes', 'membrane' or a {layer name: rule} dict applies to "
            "snnTorch / Norse / SpikingJelly / sinabs models; spikeinit's own model takes one "
            "of " + str(list(READOUT_RULES))
        )
    targets = replace(
        targets,
        readout="fluctuation" if targets.readout == "auto" else targets.readout,  # the papers'
        sigma_u=1.0 if targets.sigma_u is None else targets.sigma_u,  # the papers' 1
    )
    _check_native_sharing(model)
    if data is not None:
        data = collect_data(data, max_samples, batch_first)
    with restored_on_failure(model):
        return _initialize_native(model, layers, data, rule, targets, forward, generator)


def _targets(targets: InitTargets | None, keywords: dict[str, Any]) -> InitTargets:
    """The one :class:`InitTargets` of a call: ``targets=``, or built (and so validated)
    from the keywords; both given is refused, naming the keywords."""
    if targets is None:
        return InitTargets(**keywords)
    if not isinstance(targets, InitTargets):
        raise TypeError(f"targets must be an InitTargets, got {type(targets).__name__}")
    given = InitTargets.given(keywords)
    if given:
        raise ValueError(
            f"give the targets either as targets=InitTargets(...) or as keywords, not both: "
            f"targets= was given with {', '.join(given)}"
        )
    return targets


def _check_run(
    max_samples: object, seed: object, generator: object, batch_first: object
) -> None:
    """The keywords of :func:`initialize` that say how to run, not what to aim at."""
    if max_samples is not None and (
        isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1
    ):
        raise ValueError(f"max_samples must be an integer >= 1 or None, got {max_samples!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if batch_first not in (None, True, False):
        raise TypeError(f"batch_first must be None, True or False, got {batch_first!r}")


def _foreign_targets(targets: InitTargets, rule: Rule) -> InitTargets:
    """The targets of a snnTorch / Norse / SpikingJelly model: refuse what applies to
    spikeinit's own layers only; ``xi`` becomes ``sigma_u``."""
    if targets.nu is not None or targets.stats != "filtered":
        raise ValueError(
            "nu and stats='rate' apply to spikeinit's own layers; snnTorch / Norse / "
            "SpikingJelly models are set by measuring each neuron's free membrane"
        )
    if targets.xi is not None:
        targets = replace(targets, sigma_u=_sigma_from_xi(targets.xi, targets.mu_u), xi=None)
    if not rule.takes_foreign:
        raise ValueError(
            f"method={rule.name!r} applies to spikeinit's own layers; snnTorch / Norse / "
            "SpikingJelly models take 'fluctuation' or a data-independent rule"
        )
    if targets.mean_split != "alpha":
        raise ValueError(
            "mean_split='stork' applies to spikeinit's own recurrent layers; snnTorch / "
            "Norse / SpikingJelly models are set by measuring each neuron's free membrane"
        )
    if targets.target_rate is not None:
        raise ValueError(
            "target_rate is not supported for snnTorch / Norse / SpikingJelly models; "
            "calibrate=True calibrates sigma_U"
        )
    return targets


def _sigma_from_xi(xi: float, mu_u: float) -> float:
    """``sigma_u = (1 - mu_u) / xi``, refused unless it is a target spikeinit's own
    layers accept: ``xi > 0``, ``mu_u < 1`` and ``sigma_u`` in ``(0, MAX_TARGET]``."""
    sigma_u = sigma_from_xi(xi, mu_u)
    if not (math.isfinite(sigma_u) and 0 < sigma_u <= MAX_TARGET):
        raise ValueError(
            f"xi={xi!r} with mu_u={mu_u!r} gives sigma_u = (1 - mu_u) / xi = {sigma_u:g}; "
            f"it must be in (0, {MAX_TARGET:g}] (theta)"
        )
    return sigma_u


def _initialize_native(
    model: nn.Module,
    layers: list[tuple[str, SpikingLayer]],
    data: torch.Tensor | None,
    rule: Rule,
    targets: InitTargets,
    forward: Callable[[nn.Module, torch.Tensor], Any] | None,
    generator: torch.Generator | None,
) -> InitReport:
    x = data
    t = targets
    measured = x is not None and rule.data_dependent and t.nu is None
    if measured and x is not None and not bool((x != 0).any()):
        raise ValueError("data contains no spikes at all (all zeros): nothing to measure")
    if measured and x is not None:
        check_plausible_input(x)
    variance = t.variance
    if variance == "auto":
        variance = "total" if x is not None and x.shape[0] == 1 else "temporal"
    rule_rate = t.nu
    if rule_rate is None and x is not None and rule.data_dependent:
        first = layers[0][1]
        rule_rate = float(x.double().mean()) / first.params.dt  # the model input's rate
    rule_targets = RuleTargets(
        t.sigma_u if t.xi is None else None,
        t.mu_u,
        t.xi,
        t.nu,
        t.stats,
        t.alpha,
        variance,
        t.mean_split,
        rule_rate,
    )
    chain = flat_sequence(model) if forward is None else None
    report = InitReport(
        rule.name,
        t.stats if t.nu is None else "global nu",
        {
            "sigma_u": t.sigma_u,
            "mu_u": t.mu_u,
            "xi": t.xi,
            "nu": t.nu,
            "alpha": t.alpha,
            "mean_split": t.mean_split,
            "variance": variance,
        },
        [],
    )

    def layer_input(layer: SpikingLayer, h: torch.Tensor | None) -> torch.Tensor:
        if chain is not None:
            assert h is not None
            return h
        assert x is not None
        return capture_input(model, layer, x, forward)

    h = x
    chain_iter = iter(chain) if chain is not None else None
    for index, (name, layer) in enumerate(layers, start=1):
        if chain_iter is not None and h is not None:
            # run the non-spiking modules between the previous layer and this one
            for module in chain_iter:
                if module is layer:
                    break
                with torch.no_grad():
                    h = module(h)
        inp = layer_input(layer, h) if x is not None else None
        entry = LayerInit(index, name, type(layer).__name__, [])
        job = LayerJob(name, layer, inp, rule_targets, generator, t.form, entry)
        _init_layer(rule, job, str(t.readout))
        if inp is not None:
            _calibrate_and_measure(layer, inp, entry, t, variance)
            if chain is not None:
                with torch.no_grad():
                    h = layer(inp)
        report.layers.append(entry)
    return report


def _calibrate_and_measure(
    layer: SpikingLayer, inp: torch.Tensor, entry: LayerInit, t: InitTargets, variance: str
) -> None:
    """After the rule: calibrate the layer if asked, then measure its free membrane on
    ``inp`` into ``entry`` (every rule alike)."""
    theta = layer.params.threshold
    sigma_target = theta * t.sigma_target
    weightless = not layer.weight_groups()  # e.g. an input LIF: nothing to set
    if weightless:
        entry.notes.append("no weights: sigma_U is set by its input, not initialised")
    if t.calibrate and not weightless and not (layer.is_readout and t.readout == "keep"):
        entry.calibration_steps = calibrate_layer(
            layer, inp, sigma_target, t.mu_u * theta, t.target_rate, t.tol, t.max_iter, variance
        )
    entry.measured_mu_u, entry.measured_sigma_u, entry.measured_rate_hz = free_membrane_stats(
        layer, inp, variance
    )
    entry.sigma_u_theta = entry.measured_sigma_u / theta
    entry.mu_u_theta = entry.measured_mu_u / theta
    entry.variance = variance


def _init_layer(rule: Rule, job: LayerJob, readout: str) -> LayerInit:
    """One layer: a readout by the ``readout`` rule, every other layer by the rule's hook."""
    layer, entry = job.layer, job.entry
    entry.threshold = layer.params.threshold
    entry.is_readout = layer.is_readout
    if layer.is_readout and readout == "keep":
        entry.notes.append("readout kept as it was (readout='keep')")
        return entry
    if layer.is_readout and readout == "normal":
        for g in layer.weight_groups():
            n = _fan_in(g.weight)
            _set_normal(g.weight, 0.0, 1.0 / math.sqrt(n), job.generator)
            entry.groups.append(
                GroupInit(g.name, g.kind, n, "normal(0, 1/fan_in)", sigma_w=n**-0.5)
            )
        return entry
    if rule.data_dependent:
        assert job.presyn is not None
        if layer.zero_bias_():
            entry.notes.append("bias set to 0: the fluctuation rule sets the mean through mu_W")
    return rule.init_layer(job)
