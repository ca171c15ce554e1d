"""Rate-preserving variance propagation, after Perez-Nieves & Goodman (2023).

Perez-Nieves, N. and Goodman, D. F. M. (2023). *Spiking network initialisation
and firing rate collapse.* arXiv:2305.08879. Their abstract describes a general
initialisation strategy that combines the variance propagation of ANN
initialisation with an estimate of the expected firing rate and of the membrane
distribution under a threshold, obtained from diffusion and shot-noise
approximations, and it names firing-rate collapse with depth as the problem to
avoid. **Only the abstracts of the paper and of Perez-Nieves' thesis (Imperial
College, 2023) could be read for this implementation, not the paper's
equations**; what follows is that strategy built from classical formulas, not a
transcription of the paper (docs/science.md, section 'Rate-preserving variance
propagation (Perez-Nieves & Goodman)').

**The rule.** Zero-mean weights ``w ~ N(0, sigma_W^2)``. Each presynaptic train,
filtered by the layer's PSP kernel, has time mean ``m`` and temporal variance
``v`` (measured, :func:`spikeinit.theory.filtered_input_stats`; Campbell's
theorem gives ``m = nu eps_bar`` and ``v = nu eps_hat`` for Poisson trains). The
free membrane of a neuron then has temporal variance ``sigma^2 = N sigma_W^2 v``
and its time mean varies across neurons with variance ``s^2 = N sigma_W^2 m^2``
(variance propagation, ``Var[z] = N Var[w] E[x^2]`` as in He et al. 2015). The
weight scale is chosen so that the *predicted output rate equals a target rate*,
by default the layer's own input rate: each layer then passes its rate on, and
the rate cannot collapse (or explode) with depth. Two rate estimates:

* ``approx="threshold"`` (threshold integration): the probability per step that
  the free membrane exceeds the threshold, ``P(U > theta)`` with ``U ~ N(0,
  sigma^2 + s^2)``. In closed form::

      sigma_W = theta / (Phi^-1(1 - nu_out dt) sqrt(N (v + m^2)))

  (needs ``nu_out dt < 1/2``: a zero-mean membrane is above threshold less than
  half of the time). This is the rate estimate of Micheli et al. (2024) with the
  measured second moment of the filtered input in place of the spike probability.
* ``approx="diffusion"``: the stationary rate of a LIF neuron driven by Gaussian
  white noise with the same free-membrane mean and variance and reset to 0
  (Siegert 1951), with Fourcaud & Brunel's (2002) correction for synaptic
  filtering, averaged over the neurons' means
  (:func:`spikeinit.theory.rate_predictions`, key ``"siegert"``); ``sigma_W`` by
  a 1-D root search. It accounts for the threshold and the reset in continuous
  time, so it is meant for ``dt << tau_mem``; at coarse steps (e.g. ``beta =
  0.5``) the threshold estimate is the relevant one.

``approx="auto"`` (default) picks between them by the free membrane's lag-1
correlation (:func:`choose_approx`).

**On a model** (:func:`spikeinit.initialize`, :data:`PEREZ_NIEVES`): each
feed-forward weight group of spikeinit's own layers, from the layer's measured
input, with the model input's rate (or ``nu``) as the target rate of every
layer. A readout does not fire, so it has no rate to preserve: it gets the
fluctuation rule (:func:`init_layer`). snnTorch / Norse / SpikingJelly models do
not take this rule.
"""

from __future__ import annotations

import math

import torch
from scipy import optimize, stats

from ... import theory
from ...params import LIFParams
from ..report import LayerInit
from . import fluctuation
from ._tensor import _check_generator, _check_tensor, _fan_in, _normal_
from .base import LayerJob, LayerRule, Rule, tensor_on_feedforward_groups
from .context import RuleContext

__all__ = [
    "APPROXIMATIONS",
    "PEREZ_NIEVES",
    "choose_approx",
    "init_layer",
    "perez_nieves_normal_",
    "perez_nieves_rule",
    "perez_nieves_std",
]

#: the rate estimates :func:`perez_nieves_std` accepts ("auto": :func:`choose_approx`)
APPROXIMATIONS = ("auto", "threshold", "diffusion")
#: ``approx="auto"`` uses the threshold estimate up to this lag-1 correlation of the free membrane
AUTO_RHO = 0.5


def choose_approx(params: LIFParams) -> str:
    """``"threshold"`` if successive steps of the free membrane are weakly correlated
    (:func:`spikeinit.theory.lag1_correlation` ``<= AUTO_RHO``), else ``"diffusion"``.

    With weakly correlated steps each step's threshold crossing is close to an
    independent event, and ``P(U > theta)`` per step is the spike probability (the
    delta-synapse, ``beta = 0.5`` neuron of Micheli's set-up: ``rho = 0.5``). With
    strongly correlated steps the free membrane stays above threshold for several
    steps after one crossing while the real one is reset: the threshold estimate
    then overstates the rate (tenfold at tau_mem = 20 ms, tau_syn = 10 ms, dt = 2 ms),
    and the diffusion estimate, which includes the reset, is the right one.
    """
    return "threshold" if theory.lag1_correlation(params) <= AUTO_RHO else "diffusion"


def _diffusion_rate(sigma_w: float, fan_in: int, m: float, v: float, params: LIFParams) -> float:
    """Predicted rate (Hz) with diffusion approximation at weight std ``sigma_w``."""
    sigma = math.sqrt(fan_in * v) * sigma_w
    spread = math.sqrt(fan_in) * m * sigma_w
    tau_syn = params.tau_syn if params.tau_syn is not None else 1e-9 * params.tau_mem
    pred = theory.rate_predictions(
        0.0, sigma, spread, 0.0, params.threshold, params.dt, params.tau_mem, tau_syn
    )
    return pred["siegert"]


def perez_nieves_std(
    fan_in: int,
    *,
    filtered_mean: float,
    filtered_var: float,
    target_rate: float,
    params: LIFParams,
    approx: str = "auto",
) -> float:
    """Weight std ``sigma_W`` whose predicted output rate is ``target_rate`` (Hz).

    Zero-mean weights; ``filtered_mean`` ``m`` and ``filtered_var`` ``v`` are the
    statistics of the presynaptic trains filtered by the layer's PSP kernel
    (:func:`spikeinit.theory.filtered_input_stats`). ``approx="threshold"``::

        sigma_W = theta / (Phi^-1(1 - target_rate dt) sqrt(N (v + m^2)))

    ``approx="diffusion"``: the root in ``sigma_W`` of Siegert's rate (with
    Fourcaud & Brunel's synaptic correction, reset to 0) averaged over the
    neurons' means, equal to ``target_rate``. Strategy of Perez-Nieves & Goodman
    (2023), built from classical formulas (module docstring; docs/science.md,
    section 'Rate-preserving variance propagation (Perez-Nieves & Goodman)').

    Raises:
        ValueError: bad arguments, ``target_rate dt >= 1`` (more than one spike
            per step), ``target_rate dt >= 1/2`` with ``approx="threshold"``, or a
            rate the diffusion estimate cannot reach.
    """
    if isinstance(fan_in, bool) or not isinstance(fan_in, int) or fan_in < 1:
        raise ValueError(f"fan_in must be an integer >= 1, got {fan_in!r}")
    if not isinstance(params, LIFParams):
        raise TypeError(f"params must be a LIFParams, got {type(params).__name__}")
    if approx not in APPROXIMATIONS:
        raise ValueError(f"approx must be one of {list(APPROXIMATIONS)}, got {approx!r}")
    m, v, rate = float(filtered_mean), float(filtered_var), float(target_rate)
    if not (math.isfinite(m) and m >= 0):
        raise ValueError(f"filtered_mean must be a finite number >= 0, got {filtered_mean!r}")
    if not (math.isfinite(v) and v > 0):
        raise ValueError(
            f"filtered_var must be a finite number > 0 (the input must fluctuate), "
            f"got {filtered_var!r}"
        )
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"target_rate must be a finite rate > 0 Hz, got {target_rate!r}")
    if rate * params.dt >= 1:
        raise ValueError(
            f"target_rate={rate:g} Hz is {rate * params.dt:g} spikes per step at "
            f"dt={params.dt:g} s; a neuron spikes at most once per step, so target_rate "
            f"must be below 1/dt = {1 / params.dt:g} Hz"
        )
    theta = params.threshold
    if approx == "auto":
        approx = choose_approx(params)
    if approx == "threshold":
        p = rate * params.dt
        if p >= 0.5:
            raise ValueError(
                f"target_rate={rate:g} Hz is {p:g} spikes per step; a zero-mean membrane is "
                "above threshold less than half of the time, so approx='threshold' needs "
                "target_rate * dt < 0.5"
            )
        z = float(stats.norm.isf(p))
        return theta / (z * math.sqrt(fan_in * (v + m * m)))

    def gap(log_sw: float) -> float:
        return math.log(max(_diffusion_rate(math.exp(log_sw), fan_in, m, v, params), 1e-300)) - (
            math.log(rate)
        )

    # sigma_W at which the free membrane's total std is theta: start the bracket there
    centre = math.log(theta / math.sqrt(fan_in * (v + m * m)))
    lo, hi = centre - 1.0, centre + 1.0
    for _ in range(40):
        if gap(lo) < 0:
            break
        lo -= 1.0
    else:  # pragma: no cover - the rate falls to 0 as sigma_W -> 0
        raise ValueError(f"target_rate={rate:g} Hz is below what the diffusion estimate gives")
    for _ in range(40):
        if gap(hi) > 0:
            break
        hi += 1.0
    else:
        raise ValueError(
            f"target_rate={rate:g} Hz cannot be reached with zero-mean weights under the "
            "diffusion estimate (it saturates); use a lower target_rate"
        )
    return math.exp(optimize.brentq(gap, lo, hi, xtol=1e-10))


def perez_nieves_normal_(
    w: torch.Tensor,
    presyn: torch.Tensor,
    params: LIFParams,
    *,
    target_rate: float | None = None,
    approx: str = "auto",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Rate-preserving variance propagation: ``w ~ N(0, sigma_W^2)`` in place, returns ``w``.

    ``presyn`` ``[T, B, ...]`` is the layer's presynaptic activity and ``params``
    the layer's :class:`LIFParams`. ``sigma_W`` from :func:`perez_nieves_std` with
    the measured filtered statistics of ``presyn`` (``filtered_mean`` the root
    mean square of the inputs' means, ``filtered_var`` the mean of their temporal
    variances: inputs of unequal rates spread the neurons' means by
    ``N sigma_W^2 E[m_i^2]``) and, by default, ``target_rate``
    = the measured rate of ``presyn`` (the layer passes its input rate on). After
    Perez-Nieves & Goodman (2023), arXiv:2305.08879 (docs/science.md, section
    'Rate-preserving variance propagation (Perez-Nieves & Goodman)').
    """
    w = _check_tensor(w)
    gen = _check_generator(generator)
    if not isinstance(presyn, torch.Tensor):
        raise TypeError(f"presyn must be a torch.Tensor, got {type(presyn).__name__}")
    if not isinstance(params, LIFParams):
        raise TypeError(f"params must be a LIFParams, got {type(params).__name__}")
    m_i, v_i = theory.filtered_input_stats(presyn, params, reduce=False)
    assert isinstance(m_i, torch.Tensor) and isinstance(v_i, torch.Tensor)
    # spread of the neurons' means: sum_i w_i^2 m_i^2 -> N sigma_W^2 E[m_i^2]
    m, v = float(m_i.pow(2).mean().sqrt()), float(v_i.mean())
    if target_rate is None:
        target_rate = float(presyn.double().mean()) / params.dt
        if target_rate <= 0:
            raise ValueError("presyn has no spikes: give target_rate or data with spikes")
    sd = perez_nieves_std(
        _fan_in(w),
        filtered_mean=m,
        filtered_var=v,
        target_rate=target_rate,
        params=params,
        approx=approx,
    )
    return _normal_(w, 0.0, sd, gen)


def perez_nieves_rule(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """The registry's ``perez_nieves`` entry: :func:`perez_nieves_normal_` on ``ctx.presyn``.

    The target rate is the mean of ``ctx.target`` (spikes per step, e.g. the first
    layer's rate profile in the propagation experiment) if given, else the rate of
    ``ctx.presyn``; ``approx="auto"`` (:func:`choose_approx`).
    """
    if ctx.presyn is None or ctx.params is None:
        raise ValueError("the perez_nieves rule is data-dependent: give ctx.presyn and ctx.params")
    target = None
    if ctx.target is not None:
        target = float(ctx.target.double().mean()) / ctx.params.dt
    return perez_nieves_normal_(
        w, ctx.presyn, ctx.params, target_rate=target, generator=ctx.generator
    )


def init_layer(rule: Rule, job: LayerJob) -> LayerInit:
    """The layer hook: a readout by the fluctuation rule (it has no rate to keep), every
    other layer by :func:`perez_nieves_rule` on its feed-forward weight groups."""
    if job.layer.is_readout:
        return fluctuation.init_layer(rule, job)
    return tensor_on_feedforward_groups(rule, job)


#: the registry's ``perez_nieves`` entry: the tensor rule and its layer hook
PEREZ_NIEVES = LayerRule(perez_nieves_rule, init_layer, foreign="refused")
