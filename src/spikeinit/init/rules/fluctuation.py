"""Fluctuation-driven initialisation (Rossbroich, Gygax & Zenke 2022): the maths and the layer hook.

Weights are drawn from ``N(mu_W, sigma_W^2)`` so that the free membrane
potential (threshold and reset off) has mean ``mu_U theta`` and temporal std
``sigma_U theta``::

    mu_W      = share * mu_U theta / (N m)
    sigma_W^2 = share * (sigma_U theta)^2 / (N v) - mu_W^2

Campbell's theorem gives ``m = nu eps_bar`` and ``v = nu eps_hat`` for Poisson
input at rate ``nu`` (:func:`fluctuation_moments`, :func:`fluctuation_normal_`).
On a model (:func:`init_layer`), with the default ``stats="filtered"``, ``m``
and ``v`` are the *measured* mean and temporal variance of each presynaptic
train filtered by this layer's PSP kernel
(:func:`spikeinit.theory.filtered_input_stats`): exact for any stationary input,
not only Poisson trains (docs/science.md, section 'Beyond the Poisson
assumption'). ``stats="rate"`` uses the measured rate ``nu`` in the Poisson
formula, and ``nu=...`` one global rate for every layer, as stork does.

**Recurrent layers.** The feed-forward group supplies a share ``alpha`` of the
target variance and the recurrent group ``1 - alpha``
(:func:`recurrent_shares`). The recurrent input is the layer's own output, so
it is measured from a run with the feed-forward weights set and the recurrent
weights at zero, then refined once with both. The target mean is split by
``alpha`` too (``mean_split="alpha"``), or, with ``mean_split="stork"``, as
stork does: each group supplies ``N_g / N_total`` of it
(:func:`stork_mean_share`; docs/science.md, section 'Recurrent layers').

**Dale layers** (``"exc"`` / ``"inh"`` weight groups) are set by the Dale rule
of :mod:`.dale`. **snnTorch / Norse / SpikingJelly models** take this rule as
the measured rule of :mod:`spikeinit.init.foreign` (:data:`FLUCTUATION`).

Reference:
    [A] Rossbroich, Gygax, Zenke (2022), *Fluctuation-driven initialization for
        spiking neural network training*, Neuromorph. Comput. Eng.,
        arXiv:2206.10226 (code: fmi-basel/stork).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ... import theory
from ..._validate import finite
from ...measure import check_plausible_input, collect_data, pooled_filtered_stats
from ...nn.base import SpikingLayer, WeightGroup
from ...nn.layers import SpikingLinear
from ...params import LIFParams
from ...theory import psp_integrals
from ..report import GroupInit, LayerInit
from ..targets import RuleTargets
from . import dale
from ._tensor import _check_tensor, _fan_in, _normal_, _positive, _set_normal
from .base import LayerJob, LayerRule, Rule
from .context import RuleContext

__all__ = [
    "FLUCTUATION",
    "fluctuation_moments",
    "fluctuation_normal_",
    "fluctuation_rule",
    "init_layer",
    "recurrent_shares",
    "sigma_from_xi",
    "stork_mean_share",
]


# -- the tensor-level maths [A] ------------------------------------------------------------
def _input_stats(
    nu: float | None,
    params: LIFParams | None,
    filtered_mean: float | None,
    filtered_var: float | None,
    need_mean: bool,
) -> tuple[float | None, float]:
    """``(B, A)``: ``nu eps_bar`` and ``nu eps_hat``, or the measured values replacing them."""
    a: float | None = None
    b: float | None = None
    if filtered_var is not None:
        a = finite("filtered_var", filtered_var)
        if a <= 0:
            raise ValueError(
                "filtered_var must be > 0 (the filtered input trains must fluctuate), "
                f"got {filtered_var!r}"
            )
    if filtered_mean is not None:
        b = finite("filtered_mean", filtered_mean)
        if b < 0:
            raise ValueError(f"filtered_mean must be >= 0, got {filtered_mean!r}")
    if a is None or (need_mean and b is None):
        if nu is None:
            raise ValueError(
                "nu (input rate, Hz) is required unless filtered_var "
                "(and, for mu_u != 0, filtered_mean) is given"
            )
        rate = finite("nu", nu)
        if rate <= 0:
            raise ValueError(f"nu (input rate, Hz) must be > 0, got {nu!r}")
        if not isinstance(params, LIFParams):
            raise ValueError(
                "params (the postsynaptic LIFParams) is required with nu, "
                f"got {type(params).__name__}"
            )
        eps_bar, eps_hat = psp_integrals(params)
        a = rate * eps_hat if a is None else a
        b = rate * eps_bar if b is None else b
    return b, a


def sigma_from_xi(xi: float, mu_u: float) -> float:
    """``sigma_u = (1 - mu_u) / xi``: ``ValueError`` unless ``xi > 0`` and ``mu_u < 1`` (the
    mean below threshold), the targets xi describes (Rossbroich et al. 2022)."""
    if xi <= 0:
        raise ValueError(f"xi = (1 - mu_u) / sigma_u must be > 0, got xi={xi!r}")
    if mu_u >= 1:
        raise ValueError(
            f"with xi given, mu_u must be < 1 (the mean must sit below threshold), "
            f"got mu_u={mu_u!r}"
        )
    return (1.0 - mu_u) / xi


def fluctuation_moments(
    fan_in: int,
    *,
    sigma_u: float | None = None,
    mu_u: float = 0.0,
    xi: float | None = None,
    threshold: float = 1.0,
    nu: float | None = None,
    params: LIFParams | None = None,
    filtered_mean: float | None = None,
    filtered_var: float | None = None,
    share: float = 1.0,
    mean_share: float | None = None,
) -> tuple[float, float]:
    """Weight mean and standard deviation ``(mu_W, sigma_W)`` for target membrane moments.

    Fluctuation-driven initialisation [A]. Targets are in units of the threshold
    ``theta``: the free membrane should have mean ``mu_u * theta`` and temporal
    standard deviation ``sigma_u * theta``; equivalently ``xi = (1 - mu_u) / sigma_u``
    (give ``sigma_u`` or ``xi``, not both; default ``sigma_u = 1``). Campbell's
    theorem for ``N = fan_in`` Poisson inputs at rate ``nu`` gives::

        mu_W      = mean_share * mu_u theta / (N nu eps_bar)
        sigma_W^2 = share * (sigma_u theta)^2 / (N nu eps_hat) - mu_W^2

    where ``share`` is the fraction of the target variance that this weight group
    supplies (see :func:`recurrent_shares`) and ``mean_share`` the fraction of the
    target mean (default: ``share``, spikeinit's split; stork's split is
    ``mean_share = N / N_total``, see :func:`stork_mean_share` and docs/science.md,
    section 'Recurrent layers'), and ``eps_bar, eps_hat`` come
    from :func:`spikeinit.theory.psp_integrals` (``params``). Measured filtered
    statistics (:func:`spikeinit.theory.filtered_input_stats`) replace the Poisson
    values: ``filtered_mean`` replaces ``nu eps_bar`` and ``filtered_var`` replaces
    ``nu eps_hat`` (exact for any stationary input process).

    Raises:
        ValueError: bad arguments, or unreachable targets (``sigma_W^2 <= 0``).
    """
    if isinstance(fan_in, bool) or not isinstance(fan_in, int) or fan_in < 1:
        raise ValueError(f"fan_in must be an integer >= 1, got {fan_in!r}")
    theta = _positive("threshold", threshold)
    mu = finite("mu_u", mu_u)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    if mean_share is None:
        mean_share = share
    elif (
        isinstance(mean_share, bool)
        or not isinstance(mean_share, (int, float))
        or not 0 < mean_share <= 1
    ):
        raise ValueError(f"mean_share must be in (0, 1], got {mean_share!r}")
    if xi is not None:
        if sigma_u is not None:
            raise ValueError("give either sigma_u or xi, not both")
        sig = sigma_from_xi(finite("xi", xi), mu)
    else:
        sig = 1.0 if sigma_u is None else _positive("sigma_u", sigma_u)
    b, a = _input_stats(nu, params, filtered_mean, filtered_var, need_mean=mu != 0.0)
    if mu != 0.0:
        if b is None or b <= 0:
            raise ValueError(
                f"mu_u={mu_u!r} needs a positive filtered_mean (nu * eps_bar), got {b!r}"
            )
        mu_w = mean_share * mu * theta / (fan_in * b)
    else:
        mu_w = 0.0
    try:
        var_w = share * (sig * theta) ** 2 / (fan_in * a) - mu_w * mu_w
    except OverflowError:
        raise ValueError(
            f"sigma_u={sig:g} with threshold={theta:g} gives a weight variance that overflows "
            "a float; use a target of a few thresholds (sigma_u ~ 1)"
        ) from None
    if math.isinf(var_w):
        raise ValueError(
            f"sigma_u={sig:g}, mu_u={mu:g} with threshold={theta:g} and this input give an "
            "infinite weight variance; use smaller targets or check the input statistics"
        )
    if not var_w > 0:
        xi_val = (1.0 - mu) / sig
        raise ValueError(
            f"unreachable targets: mu_u={mu:g}, sigma_u={sig:g} (xi={xi_val:g}) give "
            f"sigma_W^2 = {var_w:.3g} <= 0 with fan_in={fan_in}. The mean alone already "
            f"produces more variance than the target; use a larger sigma_u (> "
            f"{abs(mu) * math.sqrt(a / (share * fan_in)) / (b or 1.0):.3g}) or a smaller |mu_u|"
        )
    return mu_w, math.sqrt(var_w)


def fluctuation_normal_(
    w: torch.Tensor,
    nu: float | None = None,
    params: LIFParams | None = None,
    sigma_u: float | None = None,
    mu_u: float = 0.0,
    *,
    xi: float | None = None,
    filtered_mean: float | None = None,
    filtered_var: float | None = None,
    share: float = 1.0,
    mean_share: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fluctuation-driven normal init [A]: ``w ~ N(mu_W, sigma_W^2)``.

    ``mu_W, sigma_W`` from :func:`fluctuation_moments` with ``N = fan_in`` and the
    threshold ``theta = params.threshold`` (1 if ``params`` is None)::

        mu_W = mu_u theta / (N nu eps_bar)
        sigma_W^2 = (sigma_u theta)^2 / (N nu eps_hat) - mu_W^2

    The centred default (``mu_u = 0``, stork's centred normal initialiser) is
    ``sigma_W = sigma_u theta / sqrt(N nu eps_hat)``. Example: N = 700, nu = 15.8 Hz,
    dt = 2 ms, tau 20/10 ms, sigma_u = 1 gives sigma_W = 0.211 (N = 128: 0.493).
    """
    w = _check_tensor(w)
    theta = params.threshold if isinstance(params, LIFParams) else 1.0
    mu_w, sd_w = fluctuation_moments(
        _fan_in(w),
        sigma_u=sigma_u,
        mu_u=mu_u,
        xi=xi,
        threshold=theta,
        nu=nu,
        params=params,
        filtered_mean=filtered_mean,
        filtered_var=filtered_var,
        share=share,
        mean_share=mean_share,
    )
    return _normal_(w, mu_w, sd_w, generator)


def recurrent_shares(alpha: float = 0.9, *, n_ff: int = 1, n_rec: int = 1) -> tuple[float, float]:
    """Variance shares ``(share_ff, share_rec)`` per weight group for a recurrent layer [A].

    A fraction ``alpha`` of the target variance comes from feed-forward input and
    ``1 - alpha`` from recurrent input; ``n_ff`` feed-forward and ``n_rec`` recurrent
    afferent groups share their kind's portion equally::

        sigma_W_ff^2  = alpha     sigma_U^2 / (N_ff  nu_ff  eps_hat)   (per group: / n_ff)
        sigma_W_rec^2 = (1-alpha) sigma_U^2 / (N_rec nu_rec eps_hat)   (per group: / n_rec)

    With no recurrent afferent (``n_rec = 0``) alpha is 1. Pass each share as
    ``share=`` to :func:`fluctuation_normal_`.
    """
    if isinstance(n_ff, bool) or not isinstance(n_ff, int) or n_ff < 1:
        raise ValueError(f"n_ff must be an integer >= 1, got {n_ff!r}")
    if isinstance(n_rec, bool) or not isinstance(n_rec, int) or n_rec < 0:
        raise ValueError(f"n_rec must be an integer >= 0, got {n_rec!r}")
    if n_rec == 0:
        return 1.0 / n_ff, 0.0
    a = finite("alpha", alpha)
    if not 0 < a < 1:
        raise ValueError(f"alpha must be in (0, 1) with a recurrent afferent, got {alpha!r}")
    return a / n_ff, (1.0 - a) / n_rec


def stork_mean_share(fan_in: int, fan_in_total: int) -> float:
    """stork's share of the target mean for one afferent group: ``N / N_total`` [A].

    stork (``FluctuationDrivenNormalInitializer``) gives every afferent group of a
    population, feed-forward and recurrent alike, the same weight mean
    ``mu_W = mu_u theta / (N_total nu eps_bar)`` with ``N_total`` the summed fan-in;
    with one rate ``nu`` this is ``mean_share = N / N_total`` in
    :func:`fluctuation_moments`. spikeinit's default splits the mean like the
    variance, by ``alpha`` (``mean_share = share``). At stork's SHD sizes (700
    feed-forward and 128 recurrent inputs, ``alpha = 0.9``) spikeinit's feed-forward
    mean is 0.9 / (700 / 828) = 1.065 times stork's and its recurrent mean
    0.1 / (128 / 828) = 0.65 times (docs/science.md, section 'Recurrent layers').
    """
    for name, n in (("fan_in", fan_in), ("fan_in_total", fan_in_total)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
    if fan_in > fan_in_total:
        raise ValueError(
            f"fan_in ({fan_in}) cannot exceed fan_in_total ({fan_in_total}), the summed fan-in"
        )
    return fan_in / fan_in_total


# -- on one of spikeinit's own layers ---------------------------------------------------
def measured_input_stats(
    spikes: torch.Tensor, layer: SpikingLayer, targets: RuleTargets
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


def _fluctuation_group(
    group: WeightGroup,
    presyn: torch.Tensor,
    layer: SpikingLayer,
    targets: RuleTargets,
    share: float,
    gen: torch.Generator | None,
    mean_share: float | None = None,
) -> GroupInit:
    m, v, rate = measured_input_stats(presyn, layer, targets)
    fan_in = _fan_in(group.weight)
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
    mu_w, sigma_w = fluctuation_moments(fan_in, **kw)
    _set_normal(group.weight, mu_w, sigma_w, gen)
    return GroupInit(group.name, group.kind, fan_in, rule, m, v, rate, mu_w, sigma_w, share)


def init_layer(rule: Rule, job: LayerJob) -> LayerInit:
    """The layer hook of ``fluctuation``: :func:`set_layer`."""
    return set_layer(job)


def set_layer(job: LayerJob) -> LayerInit:
    """Set a layer's feed-forward and recurrent weight groups (module docstring), or its
    Dale populations (:func:`.dale.init_dale_layer`); fills and returns ``job.entry``."""
    name, layer, inp, targets, gen, entry = (
        job.name, job.layer, job.presyn, job.targets, job.generator, job.entry
    )  # fmt: skip
    assert inp is not None
    groups = layer.weight_groups()
    kinds = {g.kind for g in groups}
    if not kinds <= {"ff", "rec"}:  # E/I groups: Dale's law (raises unless a Dale layer)
        return dale.init_dale_layer(entry, name, layer, inp, targets, gen)
    ff = [g for g in groups if g.kind == "ff"]
    rec = [g for g in groups if g.kind == "rec"]
    if rec and targets.alpha >= 1.0:
        raise ValueError(
            f"alpha={targets.alpha!r} gives the recurrent weights of layer {name!r} no share of "
            "the variance; for a recurrent layer alpha must be in (0, 1)"
        )
    alpha = targets.alpha if rec else 1.0
    n_total = sum(_fan_in(g.weight) for g in groups)

    def mean_share(g: WeightGroup) -> float | None:  # None: like the variance (alpha)
        if targets.mean_split == "stork" and rec:
            return stork_mean_share(_fan_in(g.weight), n_total)
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


# -- the registry's entry (spikeinit.catalog.INIT_RULES) -----------------------------------
def fluctuation_rule(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """The ``fluctuation`` rule on one ``[out, in]`` weight matrix (the tensor-level entry).

    ``w`` is set as :func:`spikeinit.initialize` sets a
    :class:`~spikeinit.nn.SpikingLinear` of that shape fed ``ctx.presyn``
    ``[T, B, in]`` (at most 512 samples; measured filtered statistics, target
    ``sigma_U = theta``), with ``ctx.params`` and ``ctx.generator``.
    """
    if ctx.presyn is None or ctx.params is None:
        raise ValueError("the fluctuation rule is data-dependent: give ctx.presyn and ctx.params")
    if w.dim() != 2:
        raise ValueError(f"the fluctuation rule sets an [out, in] matrix, got {tuple(w.shape)}")
    # the layer whose free membrane is measured (its construction draws torch's default
    # weights from the global generator, as it always has: the result stays bit-identical)
    layer = SpikingLinear(w.shape[1], w.shape[0], params=ctx.params)
    x = collect_data(ctx.presyn.cpu(), 512)
    if not bool((x != 0).any()):
        raise ValueError("data contains no spikes at all (all zeros): nothing to measure")
    check_plausible_input(x)
    targets = RuleTargets(
        sigma_u=1.0,
        mu_u=0.0,
        xi=None,
        nu=None,
        stats="filtered",
        alpha=0.9,
        variance="total" if x.shape[0] == 1 else "temporal",
    )
    entry = LayerInit(1, "0", type(layer).__name__, [])
    layer.zero_bias_()
    set_layer(LayerJob("0", layer, x, targets, ctx.generator, ctx.form, entry))
    with torch.no_grad():
        w.copy_(layer.weight)
    return w


#: the registry's ``fluctuation`` entry: the tensor rule, its layer hook, and the measured
#: rule of :mod:`spikeinit.init.foreign` for snnTorch / Norse / SpikingJelly models
FLUCTUATION = LayerRule(fluctuation_rule, init_layer, foreign="measured")
