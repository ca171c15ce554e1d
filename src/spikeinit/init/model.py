"""Data-dependent, layer-by-layer initialisation of a whole model.

:func:`initialize` walks the model's spiking layers in order. For each one it
runs the data through the layers already initialised, measures the statistics
of what arrives at each weight group, and sets that group's weights:

* ``method="fluctuation"`` (Rossbroich, Gygax & Zenke 2022): weights drawn from
  ``N(mu_W, sigma_W^2)`` so that the free membrane potential has mean
  ``mu_U theta`` and temporal std ``sigma_U theta``::

      mu_W      = share * mu_U theta / (N m)
      sigma_W^2 = share * (sigma_U theta)^2 / (N v) - mu_W^2

  With the default ``stats="filtered"``, ``m`` and ``v`` are the *measured* mean
  and temporal variance of each presynaptic train filtered by this layer's PSP
  kernel (:func:`spikeinit.theory.filtered_input_stats`). They replace Campbell's
  ``nu eps_bar`` and ``nu eps_hat`` and are exact for any stationary input, not
  only Poisson trains (docs/science.md, section 'Beyond the Poisson assumption').
  ``stats="rate"`` uses the measured rate ``nu`` in the Poisson formula, and
  ``nu=...`` one global rate for every layer, as stork does.
* ``"micheli"``, ``"micheli_reset"``, ``"micheli_finite"`` (Micheli et al. 2024),
  ``"kaiming"``, ``"glorot"``, ``"default"``: data-independent rules applied to
  every weight group with its own fan-in; the data only feeds the report.

**Recurrent layers.** The feed-forward group supplies a share ``alpha`` of the
target variance and the recurrent group ``1 - alpha``. The recurrent input is
the layer's own output, so it is measured from a run with the feed-forward
weights set and the recurrent weights at zero, then refined once with both.
The target mean is split by ``alpha`` too (``mean_split="alpha"``), or, with
``mean_split="stork"``, as stork does: each group supplies ``N_g / N_total`` of
it (docs/science.md, section 'Recurrent layers').

**Readout.** A :class:`~spikeinit.nn.Readout` has no threshold. By default
(``readout="fluctuation"``) it gets the same fluctuation rule with its
``params.threshold`` as the unit, as stork's Randman and SHD examples do;
``readout="normal"`` draws ``N(0, 1/fan_in)`` (stork's other examples) and
``readout="keep"`` leaves it untouched.

**Calibration** (``calibrate=True``, LSUV-style, cf. Mishkin & Matas 2016 and
the decolle code): after the analytic step, each layer's weights are rescaled
(and, for ``mu_U != 0``, shifted) by measurement until the measured free-membrane
``sigma_U`` (or, with ``target_rate``, the firing rate) is within ``tol`` of
its target.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import theory
from .._api_checks import check_model_and_data, check_reals, names_data_errors
from ..adapters.find import TimeDim, check_time_dim
from ..adapters.trace import shared_parameters
from ..catalog import init_names
from ..neuron import lif_sequence
from ..nn.base import SpikingLayer, WeightGroup
from ..nn.layers import SpikingLinear
from ..params import LIFParams
from . import functional as F
from . import registry
from .dale_rule import calibrate_dale_layer, init_dale_layer
from .foreign import initialize_foreign, restored_on_failure
from .outputs import OUTPUT_RULES
from .outputs import check_rule as check_output_rule
from .registry import DATA_DEPENDENT, RuleContext
from .registry import METHODS as METHODS  # re-exported: si.init.model.METHODS
from .report import GroupInit, InitReport, LayerInit

STATS = ("filtered", "rate")
MEAN_SPLITS = ("alpha", "stork")
#: targets beyond this many thresholds describe no useful regime (and overflow float32 weights)
MAX_TARGET = 1e3
READOUT_RULES = OUTPUT_RULES


# --------------------------------------------------------------------------- data
def collect_data(
    data: torch.Tensor | Iterable[Any],
    max_samples: int | None = None,
    batch_first: bool | None = None,
) -> torch.Tensor:
    """Return a time-first ``[T, B, ...]`` tensor from a tensor or a DataLoader.

    A tensor is time-first (``batch_first=True`` transposes it). A DataLoader may
    yield ``x`` or ``(x, y, ...)``; with labels, the batch dimension is the one
    of ``len(y)`` entries, and a batch-first loader (a ``TensorDataset`` with
    torch's default collate) is transposed. When both leading dimensions have
    ``len(y)`` entries the layout is ambiguous and ``batch_first`` must be given.
    Raises ``ValueError`` for empty data, NaN/inf, or inconsistent batches.
    """
    if isinstance(data, torch.Tensor):
        x = data.transpose(0, 1) if batch_first and data.dim() > 1 else data
    else:
        if not isinstance(data, Iterable):
            raise TypeError(
                f"data must be a [T, B, ...] tensor or a DataLoader, got {type(data).__name__}"
            )
        chunks: list[torch.Tensor] = []
        total = 0
        for batch in data:
            xb = batch[0] if isinstance(batch, (tuple, list)) else batch
            if not isinstance(xb, torch.Tensor):
                raise TypeError(f"data batches must be tensors, got {type(xb).__name__}")
            labels = batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
            xb = _time_first(xb, labels, batch_first)
            chunks.append(xb)
            total += xb.shape[1] if xb.dim() > 1 else 0
            if max_samples is not None and total >= max_samples:
                break
        if not chunks:
            raise ValueError("data is empty: the DataLoader yielded no batches")
        shapes = {(c.shape[0],) + tuple(c.shape[2:]) for c in chunks}
        if len(shapes) != 1:
            raise ValueError(f"data batches have inconsistent shapes: {sorted(shapes)}")
        x = torch.cat(chunks, dim=1)
    if x.dim() < 3:
        raise ValueError(f"data must have shape [T, B, features...], got {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"data is empty (shape {tuple(x.shape)})")
    if max_samples is not None:
        x = x[:, :max_samples]
    x = x.float() if not x.is_floating_point() else x
    if not torch.isfinite(x).all():
        raise ValueError("data contains NaN or inf")
    return x


def _time_first(x: torch.Tensor, labels: Any, batch_first: bool | None) -> torch.Tensor:
    """One loader batch as ``[T, B, ...]`` (see :func:`collect_data`)."""
    if batch_first is not None:
        return x.transpose(0, 1) if batch_first and x.dim() > 1 else x
    if not isinstance(labels, torch.Tensor) or labels.dim() == 0 or x.dim() < 3:
        return x
    n = labels.shape[0]
    if x.shape[0] == n and x.shape[1] == n:
        raise ValueError(
            f"data: a batch of shape {tuple(x.shape)} with {n} labels could be time-first or "
            "batch-first; pass batch_first=True (a TensorDataset loader) or False"
        )
    if x.shape[0] == n:
        return x.transpose(0, 1)
    if x.shape[1] != n:
        raise ValueError(f"data: no dimension of the batch {tuple(x.shape)} matches its {n} labels")
    return x


MIN_SPIKES_PER_SAMPLE = 1.0


def _check_plausible_input(x: torch.Tensor) -> None:
    """Refuse spike data too sparse to measure (e.g. spike times read in the wrong unit).

    With fewer than one input spike per sample, the filtered statistics rest on a
    handful of events and the rule scales the weights up by orders of magnitude
    (an SHD file with times in milliseconds read as seconds gives 0.0007 Hz).
    """
    binary = bool(((x == 0) | (x == 1)).all())
    if not binary:
        return
    per_sample = float(x.sum()) / max(int(x.shape[1]), 1)
    if per_sample < MIN_SPIKES_PER_SAMPLE:
        raise ValueError(
            f"data has {per_sample:.3g} input spikes per sample (over all inputs and "
            f"{x.shape[0]} steps): too few to measure its statistics; check the time unit "
            "and the number of steps (spike times in ms read as s give almost empty data)"
        )


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


def spiking_layers(model: nn.Module) -> list[tuple[str, SpikingLayer]]:
    """The model's spiking layers in registration (= usual execution) order."""
    return [
        (n or type(m).__name__, m) for n, m in model.named_modules() if isinstance(m, SpikingLayer)
    ]


def _flat_sequence(model: nn.Module) -> list[nn.Module] | None:
    """The modules of a (nested) ``nn.Sequential`` chain, else ``None``."""
    if not isinstance(model, nn.Sequential):
        return None
    out: list[nn.Module] = []
    for child in model:
        if isinstance(child, nn.Sequential):
            sub = _flat_sequence(child)
            assert sub is not None
            out.extend(sub)
        else:
            out.append(child)
    return out


class _Stop(Exception):
    pass


def capture_input(
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    forward: Callable[[nn.Module, torch.Tensor], Any] | None = None,
) -> torch.Tensor:
    """The input that ``layer`` receives when ``model`` runs on ``x`` (no grad).

    Uses a forward pre-hook and stops the forward pass there.
    """
    captured: list[torch.Tensor] = []

    def hook(_m: nn.Module, args: tuple[Any, ...]) -> None:
        captured.append(args[0].detach())
        raise _Stop

    handle = layer.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            (forward or (lambda m, d: m(d)))(model, x)
    except _Stop:
        pass
    finally:
        handle.remove()
    if not captured:
        raise ValueError(
            f"layer {type(layer).__name__} was not called by the model's forward pass; "
            "pass forward=... if the model needs a custom call"
        )
    return captured[0]


# --------------------------------------------------------------------------- rules
def _set_normal(w: torch.Tensor, mu: float, sigma: float, gen: torch.Generator | None) -> None:
    with torch.no_grad():
        noise = torch.randn(w.shape, generator=gen, dtype=w.dtype, device="cpu")
        w.copy_((noise * sigma + mu).to(w.device))


def _apply_fixed_rule(
    group: WeightGroup,
    method: str,
    threshold: float,
    beta: float,
    gen: torch.Generator | None,
    form: F.ResetForm = "covariance",
) -> GroupInit:
    w = group.weight
    ctx = RuleContext(threshold=threshold, beta=beta, generator=gen, form=form)
    registry.get(method).fn(w, ctx)
    with torch.no_grad():
        mu, sd = float(w.mean()), float(w.std()) if w.numel() > 1 else 0.0
    return GroupInit(group.name, group.kind, F._fan_in(w), method, mu_w=mu, sigma_w=sd)


@dataclass(frozen=True)
class _Targets:
    sigma_u: float | None
    mu_u: float
    xi: float | None
    nu: float | None
    stats: str
    alpha: float
    variance: str = "temporal"
    mean_split: str = "alpha"
    rule_rate: float | None = None  # target rate (Hz) of the other data-dependent rules


def _input_stats(
    spikes: torch.Tensor, layer: SpikingLayer, targets: _Targets
) -> tuple[float | None, float | None, float]:
    """(filtered_mean, filtered_var, rate_hz) of the trains arriving at ``layer``."""
    dt = layer.params.dt
    rate = float(spikes.mean()) / dt
    if targets.stats == "filtered" and targets.nu is None:
        if targets.variance == "total":
            m, v = pooled_filtered_stats(spikes, layer.params)
        else:
            m, v = theory.filtered_input_stats(spikes, layer.params)
        return m, v, rate
    return None, None, rate


def pooled_filtered_stats(spikes: torch.Tensor, params: LIFParams) -> tuple[float, float]:
    """Filtered input statistics pooled over time *and* samples (``variance="total"``).

    Each input train is filtered by the PSP kernel (the neuron's own linear
    update with unit weight), then ``m`` is its mean and ``v`` its variance over
    all (time step, sample) pairs, averaged over inputs. For static or very short
    inputs (T = 1, e.g. Micheli et al.'s single-step MNIST) the temporal variance
    is zero or meaningless; the variance across samples is then what drives the
    neurons, and the free membrane is measured the same way.
    """
    steps, batch = spikes.shape[:2]
    flat = spikes.reshape(steps, -1).float()
    _, filt = lif_sequence(flat, params.replace(reset="none", threshold=_NEVER), return_mem=True)
    filt = filt.reshape(steps, batch, -1).double()
    return float(filt.mean()), float(filt.var(dim=(0, 1), unbiased=False).mean())


_NEVER = 1e30  # a threshold no membrane reaches: the linear (free) response


def _fluctuation_group(
    group: WeightGroup,
    presyn: torch.Tensor,
    layer: SpikingLayer,
    targets: _Targets,
    share: float,
    gen: torch.Generator | None,
    mean_share: float | None = None,
) -> GroupInit:
    m, v, rate = _input_stats(presyn, layer, targets)
    fan_in = F._fan_in(group.weight)
    kw: dict[str, Any] = {
        "sigma_u": None if targets.xi is not None else targets.sigma_u,
        "mu_u": targets.mu_u,
        "xi": targets.xi,
        "threshold": layer.params.threshold,
        "share": share,
        "mean_share": mean_share,
    }
    if targets.nu is not None:
        kw.update(nu=targets.nu, params=layer.params)
        rule = "fluctuation(global nu)"
    elif targets.stats == "rate":
        if rate <= 0:
            raise ValueError(
                f"layer {type(layer).__name__}: the measured input rate is 0 Hz, so the "
                "Poisson formula (stats='rate') cannot be used; the data has no spikes to measure"
            )
        kw.update(nu=rate, params=layer.params)
        rule = "fluctuation(measured rate)"
    else:
        assert m is not None and v is not None
        if v <= 0:
            raise ValueError(
                f"layer {type(layer).__name__}: its input has no temporal variance (no spikes "
                "or constant input), so there is nothing to measure; check the data"
            )
        kw.update(filtered_mean=m if targets.mu_u != 0.0 else None, filtered_var=v)
        rule = "fluctuation(filtered)"
    mu_w, sigma_w = F.fluctuation_moments(fan_in, **kw)
    _set_normal(group.weight, mu_w, sigma_w, gen)
    return GroupInit(group.name, group.kind, fan_in, rule, m, v, rate, mu_w, sigma_w, share)


# --------------------------------------------------------------------------- measurement
def free_membrane_stats(
    layer: SpikingLayer, x: torch.Tensor, variance: str = "temporal"
) -> tuple[float, float, float]:
    """(mean U, std of U, rate Hz) of the layer's free membrane on input ``x``.

    The std is the per-neuron temporal std, averaged over neurons and samples as
    a root mean square, ``sqrt(mean_{b,j} Var_t U_bj)`` (``variance="temporal"``:
    sigma_U of Rossbroich et al., which Campbell's theorem predicts in variance),
    or the per-neuron std over time steps and samples together, averaged over
    neurons in the same way (``"total"``).
    ``U`` is the free membrane (threshold and reset off, recurrent input from the
    layer's actual spikes); the rate is the real layer's output rate.
    """
    with torch.no_grad():
        spikes, free = layer.simulate(x, free=True)
    if variance == "total":
        flat = free.reshape(free.shape[0] * free.shape[1], -1)
        sd = float(flat.var(dim=0, unbiased=False).mean().sqrt())
    else:
        sd = float(free.var(dim=0, unbiased=False).mean().sqrt())
    if layer.is_readout:
        rate = 0.0
    else:
        rate = float(spikes.mean()) / layer.params.dt
    return float(free.mean()), sd, rate


def _calibrate(
    layer: SpikingLayer,
    x: torch.Tensor,
    sigma_target: float,
    mu_target: float,
    target_rate: float | None,
    tol: float,
    max_iter: int,
    variance: str = "temporal",
) -> int:
    """Rescale (and shift) the layer's weights until the measured targets hold.

    The free membrane is linear in the weights, so scaling every group's centred
    part by ``sigma_target / sigma_measured`` fixes the std in one step for a
    feed-forward layer; recurrent layers need a few rounds because their own
    spikes change. For ``mu_target != 0`` the feed-forward weights are shifted
    uniformly, using the measured (linear) response of the mean to a shift.
    Returns the number of refinement rounds used.
    """
    groups = layer.weight_groups()
    if target_rate is not None and not layer.is_readout:  # a readout never fires: its sigma_U
        return _calibrate_rate(layer, x, groups, target_rate, tol, max_iter)
    if any(g.kind in ("exc", "inh") for g in groups):
        # Dale layers: rescaling around the mean could push weights negative
        return calibrate_dale_layer(layer, x, sigma_target, tol, max_iter, variance)
    for step in range(max_iter + 1):
        mu, sd, _ = free_membrane_stats(layer, x, variance)
        sd_ok = abs(sd - sigma_target) <= tol * sigma_target
        mu_ok = mu_target == 0.0 or abs(mu - mu_target) <= tol * abs(mu_target)
        if (sd_ok and mu_ok) or step == max_iter:
            return step
        if sd <= 0:
            raise ValueError(
                f"calibrate: layer {type(layer).__name__} has a constant free membrane; "
                "its input carries no fluctuations to scale"
            )
        with torch.no_grad():
            for g in groups:
                mean = g.weight.mean()
                g.weight.sub_(mean).mul_(sigma_target / sd).add_(mean)
            if mu_target != 0.0:
                ff = groups[0].weight
                mu_now = free_membrane_stats(layer, x)[0]
                probe = 1e-3
                ff.add_(probe)
                slope = (free_membrane_stats(layer, x)[0] - mu_now) / probe
                ff.sub_(probe)
                if slope != 0.0:
                    ff.add_((mu_target - mu_now) / slope)
    return max_iter


def _calibrate_rate(
    layer: SpikingLayer,
    x: torch.Tensor,
    groups: list[WeightGroup],
    target_rate: float,
    tol: float,
    max_iter: int,
) -> int:
    """Bisection on a common weight scale until the output rate is within ``tol``."""
    originals = [g.weight.detach().clone() for g in groups]

    def rate_at(scale: float) -> float:
        with torch.no_grad():
            for g, w0 in zip(groups, originals, strict=True):
                g.weight.copy_(w0 * scale)
        return free_membrane_stats(layer, x)[2]

    max_rate = 1.0 / layer.params.dt
    if target_rate >= max_rate:
        raise ValueError(
            f"target_rate={target_rate!r} Hz is unreachable: a neuron fires at most once per "
            f"step, {max_rate:.4g} Hz at dt={layer.params.dt!r} s"
        )
    lo, hi = 0.0, 1.0
    while rate_at(hi) < target_rate and hi < 1e4:
        lo, hi = hi, hi * 2.0
    if rate_at(hi) < target_rate:
        with torch.no_grad():
            for g, w0 in zip(groups, originals, strict=True):
                g.weight.copy_(w0)
        raise ValueError(
            f"target_rate={target_rate!r} Hz is unreachable for {type(layer).__name__}: "
            f"{rate_at(hi):.4g} Hz with the weights scaled 10^4 times"
        )
    for step in range(1, max_iter * 3 + 1):
        mid = 0.5 * (lo + hi)
        r = rate_at(mid)
        if abs(r - target_rate) <= tol * target_rate:
            return step
        lo, hi = (mid, hi) if r < target_rate else (lo, mid)
    return max_iter * 3


# --------------------------------------------------------------------------- entry point
@names_data_errors
def initialize(
    model: nn.Module,
    data: torch.Tensor | Iterable[Any] | None = None,
    method: str = "fluctuation",
    *,
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
    form: F.ResetForm = "covariance",
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
    methods = init_names()  # the registry's rules for whole models, read at call time
    if method not in methods:
        raise ValueError(f"method must be one of {list(methods)}, got {method!r}")
    if stats not in STATS:
        raise ValueError(f"stats must be one of {list(STATS)}, got {stats!r}")
    if variance not in ("auto", "temporal", "total"):
        raise ValueError(f"variance must be one of ['auto', 'temporal', 'total'], got {variance!r}")
    check_output_rule(readout)
    if not (0.0 < alpha <= 1.0) or not math.isfinite(alpha):
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    if mean_split not in MEAN_SPLITS:
        raise ValueError(f"mean_split must be one of {list(MEAN_SPLITS)}, got {mean_split!r}")
    if nu is not None and not (math.isfinite(nu) and nu > 0):
        raise ValueError(f"nu must be a finite rate > 0 Hz, got {nu!r}")
    if xi is None and sigma_u is not None and not (
        isinstance(sigma_u, (int, float)) and math.isfinite(sigma_u) and 0 < sigma_u <= MAX_TARGET
    ):
        raise ValueError(f"sigma_u must be in (0, {MAX_TARGET:g}] (theta), got {sigma_u!r}")
    if not (math.isfinite(mu_u) and abs(mu_u) <= MAX_TARGET):
        raise ValueError(f"mu_u must be in [-{MAX_TARGET:g}, {MAX_TARGET:g}] (theta), got {mu_u!r}")
    if xi is not None and not (math.isfinite(xi) and xi != 0):
        raise ValueError(f"xi must be a finite number other than 0, got {xi!r}")
    if not (0 < tol < 1):
        raise ValueError(f"tol must be in (0, 1), got {tol!r}")
    if target_rate is not None and not (math.isfinite(target_rate) and target_rate > 0):
        raise ValueError(f"target_rate must be a finite rate > 0 Hz, got {target_rate!r}")
    if target_rate is not None and not calibrate:
        raise ValueError("target_rate is a calibration target: pass calibrate=True with it")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise ValueError(f"max_iter must be an integer >= 0, got {max_iter!r}")
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
    if form not in ("covariance", "public"):
        raise ValueError(f"form must be 'covariance' or 'public', got {form!r}")
    needs_data = method in DATA_DEPENDENT or calibrate
    if data is None and needs_data:
        raise ValueError(f"method={method!r} (or calibrate=True) needs data to measure")
    if generator is None and seed is not None:
        generator = torch.Generator().manual_seed(seed)
    layers = spiking_layers(model)
    if not layers:
        # snnTorch / Norse / SpikingJelly: measured, neuron by neuron (init/foreign.py)
        if nu is not None or stats != "filtered":
            raise ValueError(
                "nu and stats='rate' apply to spikeinit's own layers; snnTorch / Norse / "
                "SpikingJelly models are set by measuring each neuron's free membrane"
            )
        if xi is not None:
            sigma_u = _sigma_from_xi(xi, mu_u)
        if method in DATA_DEPENDENT and method != "fluctuation":
            raise ValueError(
                f"method={method!r} applies to spikeinit's own layers; snnTorch / Norse / "
                "SpikingJelly models take 'fluctuation' or a data-independent rule"
            )
        if mean_split != "alpha":
            raise ValueError(
                "mean_split='stork' applies to spikeinit's own recurrent layers; snnTorch / "
                "Norse / SpikingJelly models are set by measuring each neuron's free membrane"
            )
        if target_rate is not None:
            raise ValueError(
                "target_rate is not supported for snnTorch / Norse / SpikingJelly models; "
                "calibrate=True calibrates sigma_U"
            )
        return initialize_foreign(
            model,
            data,
            method,
            sigma_u=sigma_u,
            mu_u=mu_u,
            alpha=alpha,
            readout=readout,
            calibrate=calibrate,
            tol=tol,
            max_iter=max_iter,
            max_samples=max_samples,
            forward=forward,
            generator=generator,
            form=form,
            time_dim=time_dim,
        )
    if time_dim is None:
        raise ValueError(
            "time_dim=None applies to snnTorch / Norse / SpikingJelly models whose forward is "
            "one step; spikeinit's own layers take time-first data [T, B, ...]"
        )
    if not isinstance(readout, str):
        raise ValueError(
            "readout as a number or a {layer name: rule} dict applies to snnTorch / Norse / "
            "SpikingJelly models; spikeinit's own model takes one of " + str(list(READOUT_RULES))
        )
    readout = "fluctuation" if readout == "auto" else readout  # the papers' readout
    sigma_u = 1.0 if sigma_u is None else sigma_u  # spikeinit's own layers: the papers' 1
    _check_native_sharing(model)
    if data is not None:
        data = collect_data(data, max_samples, batch_first)
    with restored_on_failure(model):
        return _initialize_native(
            model,
            layers,
            data,
            method,
            sigma_u,
            mu_u,
            xi,
            nu,
            stats,
            variance,
            alpha,
            readout,
            calibrate,
            target_rate,
            tol,
            max_iter,
            max_samples,
            forward,
            generator,
            mean_split,
            form,
        )


def _sigma_from_xi(xi: float, mu_u: float) -> float:
    """``sigma_u = (1 - mu_u) / xi``, refused unless it is a target spikeinit's own
    layers accept: ``xi > 0``, ``mu_u < 1`` and ``sigma_u`` in ``(0, MAX_TARGET]``."""
    sigma_u = F.sigma_from_xi(xi, mu_u)
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
    method: str,
    sigma_u: float,
    mu_u: float,
    xi: float | None,
    nu: float | None,
    stats: str,
    variance: str,
    alpha: float,
    readout: str,
    calibrate: bool,
    target_rate: float | None,
    tol: float,
    max_iter: int,
    max_samples: int | None,
    forward: Callable[[nn.Module, torch.Tensor], Any] | None,
    generator: torch.Generator | None,
    mean_split: str = "alpha",
    form: F.ResetForm = "covariance",
) -> InitReport:
    x = data
    native = True
    if x is not None and method in DATA_DEPENDENT and nu is None and not bool((x != 0).any()):
        raise ValueError("data contains no spikes at all (all zeros): nothing to measure")
    if x is not None and method in DATA_DEPENDENT and nu is None:
        _check_plausible_input(x)
    if variance == "auto":
        variance = "total" if x is not None and x.shape[0] == 1 else "temporal"
    rule_rate = nu
    if rule_rate is None and x is not None and method in DATA_DEPENDENT:
        first = layers[0][1]
        rule_rate = float(x.double().mean()) / first.params.dt  # the model input's rate
    targets = _Targets(
        sigma_u if xi is None else None, mu_u, xi, nu, stats, alpha, variance, mean_split, rule_rate
    )
    chain = _flat_sequence(model) if forward is None and native else None
    report = InitReport(
        method,
        stats if nu is None else "global nu",
        {
            "sigma_u": sigma_u,
            "mu_u": mu_u,
            "xi": xi,
            "nu": nu,
            "alpha": alpha,
            "mean_split": mean_split,
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
        entry = _init_layer(index, name, layer, inp, method, targets, readout, generator, form)
        if inp is not None:
            theta = layer.params.threshold
            sigma_target = theta * (
                targets.sigma_u if targets.sigma_u is not None else (1 - mu_u) / float(xi or 1)
            )
            weightless = not layer.weight_groups()  # e.g. an input LIF: nothing to set
            if weightless:
                entry.notes.append("no weights: sigma_U is set by its input, not initialised")
            if calibrate and not weightless and not (layer.is_readout and readout == "keep"):
                entry.calibration_steps = _calibrate(
                    layer, inp, sigma_target, mu_u * theta, target_rate, tol, max_iter, variance
                )
            entry.measured_mu_u, entry.measured_sigma_u, entry.measured_rate_hz = (
                free_membrane_stats(layer, inp, variance)
            )
            entry.sigma_u_theta = entry.measured_sigma_u / theta
            entry.mu_u_theta = entry.measured_mu_u / theta
            entry.variance = variance
            if chain is not None:
                with torch.no_grad():
                    h = layer(inp)
        report.layers.append(entry)
    return report


def _init_layer(
    index: int,
    name: str,
    layer: SpikingLayer,
    inp: torch.Tensor | None,
    method: str,
    targets: _Targets,
    readout: str,
    gen: torch.Generator | None,
    form: F.ResetForm = "covariance",
) -> LayerInit:
    groups = layer.weight_groups()
    entry = LayerInit(index, name, type(layer).__name__, [])
    entry.threshold = layer.params.threshold
    is_readout = layer.is_readout
    entry.is_readout = is_readout
    if is_readout and readout == "keep":
        entry.notes.append("readout kept as it was (readout='keep')")
        return entry
    if is_readout and readout == "normal":
        for g in groups:
            n = F._fan_in(g.weight)
            _set_normal(g.weight, 0.0, 1.0 / math.sqrt(n), gen)
            entry.groups.append(
                GroupInit(g.name, g.kind, n, "normal(0, 1/fan_in)", sigma_w=n**-0.5)
            )
        return entry
    if method not in DATA_DEPENDENT:
        beta = layer.params.beta_mem
        for g in groups:
            entry.groups.append(
                _apply_fixed_rule(g, method, layer.params.threshold, beta, gen, form)
            )
        if inp is not None and not is_readout and entry.groups:
            _, _, rate = _input_stats(inp, layer, targets)
            entry.groups[0].rate_hz = rate
        return entry
    assert inp is not None
    if layer.zero_bias_():
        entry.notes.append("bias set to 0: the fluctuation rule sets the mean through mu_W")
    if method != "fluctuation" and not is_readout:  # another data-dependent rule
        return _init_by_rule(entry, name, layer, inp, method, gen, targets.rule_rate)
    kinds = {g.kind for g in groups}
    if not kinds <= {"ff", "rec"}:  # E/I groups: Dale's law (raises unless a Dale layer)
        return init_dale_layer(entry, name, layer, inp, targets, gen)
    ff = [g for g in groups if g.kind == "ff"]
    rec = [g for g in groups if g.kind == "rec"]
    if rec and targets.alpha >= 1.0:
        raise ValueError(
            f"alpha={targets.alpha!r} gives the recurrent weights of layer {name!r} no share of "
            "the variance; for a recurrent layer alpha must be in (0, 1)"
        )
    alpha = targets.alpha if rec else 1.0
    n_total = sum(F._fan_in(g.weight) for g in groups)

    def mean_share(g: WeightGroup) -> float | None:  # None: like the variance (alpha)
        if targets.mean_split == "stork" and rec:
            return F.stork_mean_share(F._fan_in(g.weight), n_total)
        return None

    for g in ff:
        entry.groups.append(
            _fluctuation_group(g, inp, layer, targets, alpha / len(ff), gen, mean_share(g))
        )
    if rec:
        with torch.no_grad():
            for g in rec:
                g.weight.zero_()
        for _refine in range(2):
            with torch.no_grad():
                own, _ = layer.simulate(inp)
            if not bool(own.any()):
                entry.notes.append(
                    "the layer is silent with feed-forward input only; recurrent weights "
                    "use the feed-forward input's statistics as a proxy"
                )
                own = inp
            if not bool(own.any()):
                raise ValueError(
                    f"layer {name}: no spikes reach its recurrent weights, so their "
                    "statistics cannot be measured; raise sigma_u or mu_u"
                )
            rec_entries = [
                _fluctuation_group(
                    g, own, layer, targets, (1 - alpha) / len(rec), gen, mean_share(g)
                )
                for g in rec
            ]
        entry.groups.extend(rec_entries)
    _predict(entry, layer)
    return entry


def _init_by_rule(
    entry: LayerInit,
    name: str,
    layer: SpikingLayer,
    inp: torch.Tensor,
    method: str,
    gen: torch.Generator | None,
    rate_hz: float | None,
) -> LayerInit:
    """A data-dependent registry rule other than ``fluctuation`` (e.g. ``perez_nieves``):
    each feed-forward weight group is set by ``rule(w, ctx)`` from the layer's input,
    with ``ctx.target`` the target rate ``rate_hz`` (one for all layers: the model
    input's rate, or ``nu``), as spikes per step."""
    groups = layer.weight_groups()
    for g in groups:
        if g.kind != "ff":
            raise ValueError(
                f"method={method!r} sets feed-forward weights only; layer {name!r} has "
                f"{g.kind!r} weights ({g.name}); use method='fluctuation' for it"
            )
    params = layer.params
    target = None if rate_hz is None else torch.tensor([rate_hz * params.dt], dtype=torch.float64)
    ctx = RuleContext(
        threshold=params.threshold,
        beta=params.beta_mem,
        generator=gen,
        params=params,
        presyn=inp,
        target=target,
    )
    rate = float(inp.double().mean()) / params.dt
    for g in groups:
        registry.get(method).fn(g.weight, ctx)
        with torch.no_grad():
            sd = float(g.weight.std()) if g.weight.numel() > 1 else 0.0
            mu = float(g.weight.mean())
        entry.groups.append(
            GroupInit(
                g.name, g.kind, F._fan_in(g.weight), method, rate_hz=rate, mu_w=mu, sigma_w=sd
            )
        )
    return entry


def _predict(entry: LayerInit, layer: SpikingLayer) -> None:
    """Theory's mu_U and sigma_U, summed over the weight groups."""
    mu_total, var_total = 0.0, 0.0
    for g in entry.groups:
        if g.filtered_mean is not None and g.filtered_var is not None:
            mu, sd = theory.membrane_moments(
                g.fan_in,
                1.0,
                g.mu_w,
                g.sigma_w,
                layer.params,
                filtered_mean=max(g.filtered_mean, 0.0),
                filtered_var=g.filtered_var,
            )
        elif g.rate_hz:
            mu, sd = theory.membrane_moments(g.fan_in, g.rate_hz, g.mu_w, g.sigma_w, layer.params)
        else:
            return
        mu_total += mu
        var_total += sd * sd
    entry.predicted_mu_u = mu_total
    entry.predicted_sigma_u = math.sqrt(var_total)


# --------------------------------------------------------------------------- registry entry
def fluctuation_rule(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """The ``fluctuation`` rule on one ``[out, in]`` weight matrix (the registry's entry).

    ``w`` is set as :func:`initialize` sets a :class:`~spikeinit.nn.SpikingLinear`
    of that shape fed ``ctx.presyn`` ``[T, B, in]`` (measured filtered statistics,
    target ``sigma_U = theta``), with ``ctx.params`` and ``ctx.generator``.
    """
    if ctx.presyn is None or ctx.params is None:
        raise ValueError("the fluctuation rule is data-dependent: give ctx.presyn and ctx.params")
    if w.dim() != 2:
        raise ValueError(f"the fluctuation rule sets an [out, in] matrix, got {tuple(w.shape)}")
    layer = SpikingLinear(w.shape[1], w.shape[0], params=ctx.params)
    gen = ctx.generator
    initialize(nn.Sequential(layer), ctx.presyn.cpu(), method="fluctuation", generator=gen)
    with torch.no_grad():
        w.copy_(layer.weight)
    return w
