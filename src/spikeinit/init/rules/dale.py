"""Dale's law (stork's exponential Dale initialiser): the maths and the layer hook.

Called by :func:`spikeinit.initialize` for layers with ``"exc"`` / ``"inh"`` weight
groups. Each postsynaptic population (E and I) is initialised separately with
:func:`spikeinit.init.dale_exponential_` (Rossbroich, Gygax & Zenke 2022; stork's
exponential Dale initialiser), balanced in the mean so that ``mu_U = 0``:

* population E: feed-forward ``w_xe``, inhibition ``w_ie`` and, with recurrent
  excitation, ``w_ee`` (stork's variant: ``alpha`` sets only the ratio of
  feed-forward to recurrent *excitatory* variance; the inhibitory variance comes
  on top and ``lambda_ff`` is solved for the total);
* population I: ``w_xi``, ``w_ii`` and ``w_ei`` likewise.

**Statistics.** With the default ``stats="filtered"`` every afferent group uses
the *measured* mean and temporal variance of its presynaptic trains filtered by
the matching synapse (``tau_exc`` for the input and E spikes, ``tau_inh`` for I
spikes), which replace ``nu eps_bar`` and ``nu eps_hat``. The layer's own E and I
spikes are unknown before its weights are set, so the first pass uses the input
trains filtered by each kernel as a proxy; then the layer is run, its E and I
spikes are measured, and the lambdas are recomputed (``REFINE`` = 1 round).
The exponential draws are made once (unit mean); every later step only
multiplies a whole group by a positive factor, so the weights stay non-negative
and exponentially distributed (std = mean per group), and the result is
deterministic.

The exponential weights with their measured E/I balance are tuned further by
:mod:`.dale_balance` (on by default). The layer hook is reached through the
fluctuation rule (:func:`.fluctuation.set_layer`) for a layer with ``"exc"`` /
``"inh"`` weight groups (:class:`~spikeinit.nn.DaleLinear`).

**The balance, measured** (:mod:`.dale_balance`), at stork's SHD sizes
(``python -m benchmarks.dale_balance --feedforward``: 128 E + 32 I, Poisson
input at 15.8 Hz, batch 4, 700 inputs with T = 200 and 350, 300 inputs with
T = 150 and 250, 6 seeds each): see the table in docs/science.md. Without
recurrent excitation the I population is
within 0.02 theta and 5 % (before the root search its mean was -0.08 to -0.40
theta; tests/test_dale.py::test_inhibitory_population_balanced); with it, both
populations are within 0.05 theta and 10 % on the init batch in 23 of 24
layers, the 24th warned (before: I mean -0.15 to -0.60 theta;
tests/test_dale.py::test_recurrent_dale_both_populations_balanced), with a
median of 12-15 simulations (about 2 s at 700 inputs on an idle core). The
recurrent network is chaotic, so on a fresh batch of the same statistics
the means scatter by a few hundredths of theta (up to 0.09 with a batch of 4).

``stats="rate"`` uses measured rates in the Poisson formula and ``nu=...`` one
global rate everywhere (stork). ``mu_u != 0`` is not supported (the rule is
balanced by construction).

Reference:
    [A] Rossbroich, Gygax, Zenke (2022), *Fluctuation-driven initialization for
        spiking neural network training*, Neuromorph. Comput. Eng.,
        arXiv:2206.10226 (code: fmi-basel/stork).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ... import theory
from ..._validate import finite
from ...nn.dale import DaleLinear
from ...params import LIFParams
from ...theory import psp_integrals
from ..report import GroupInit, LayerInit
from ..targets import RuleTargets
from ._tensor import _check_generator, _check_tensor, _fan_in, _positive
from .dale_balance import _INH_GROUPS, BALANCE_TOL, balance_dale_

__all__ = ["DaleLambdas", "calibrate_dale_layer", "dale_exponential_", "init_dale_layer"]


# -- the tensor-level maths [A] ------------------------------------------------------------
@dataclass(frozen=True)
class DaleLambdas:
    """Rates of the exponential weight distributions (mean weight = 1 / lambda).

    ``shares`` are the predicted fractions of the membrane variance from the
    feed-forward excitatory, recurrent excitatory and inhibitory inputs.
    """

    lambda_ff: float
    lambda_inh: float
    lambda_rec: float | None
    delta_ei: float
    delta_rec: float | None
    share_ff: float
    share_rec: float
    share_inh: float


def _group_stats(
    label: str,
    params: LIFParams,
    nu: float | None,
    filtered: tuple[float, float] | None,
) -> tuple[float, float]:
    """``(B, A)`` = (nu eps_bar, nu eps_hat) or the measured (m, v) for one afferent group."""
    if not isinstance(params, LIFParams):
        raise TypeError(f"params for {label} must be LIFParams, got {type(params).__name__}")
    if filtered is not None:
        m, v = filtered
        if not (finite(f"filtered_{label} mean", m) > 0 and finite(f"filtered_{label} var", v) > 0):
            raise ValueError(f"filtered_{label} must be (mean > 0, var > 0), got {filtered!r}")
        return float(m), float(v)
    if nu is None:
        raise ValueError(
            f"nu (Hz) is required for the {label} input unless filtered_{label} is given"
        )
    rate = finite("nu", nu)
    if rate <= 0:
        raise ValueError(f"nu (input rate for {label}, Hz) must be > 0, got {nu!r}")
    eb, eh = psp_integrals(params)
    return rate * eb, rate * eh


def dale_exponential_(
    w_exc: torch.Tensor,
    w_inh: torch.Tensor,
    *,
    params_exc: LIFParams,
    params_inh: LIFParams,
    nu: float | None,
    sigma_u: float | None = None,
    xi: float | None = None,
    w_rec_exc: torch.Tensor | None = None,
    alpha: float = 0.9,
    nu_inh: float | None = None,
    nu_rec: float | None = None,
    filtered_exc: tuple[float, float] | None = None,
    filtered_inh: tuple[float, float] | None = None,
    filtered_rec: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> DaleLambdas:
    """Dale's-law exponential init, balanced in the mean [A]; fills the tensors in place.

    All weights are non-negative, ``w ~ Exp(lambda)`` (``E[w] = 1/lambda``,
    ``E[w^2] = 2/lambda^2``); inhibition is *subtracted* in the neuron, so
    ``w_inh`` is positive and enters with a minus sign. ``params_exc`` and
    ``params_inh`` are the postsynaptic neuron seen through its excitatory
    (``tau_exc``) and inhibitory (``tau_inh``) synapse; they give
    ``eps_bar_*, eps_hat_*``. Write ``B_g = nu_g eps_bar_g`` and ``A_g = nu_g eps_hat_g``
    (or measured ``(m, v)`` via ``filtered_*``), the target ``sigma = sigma_u theta``
    (``= theta / xi``), ``N_ff, N_rec, N_inh`` the fan-ins.

    Without recurrent excitation (docs/science.md, section "Dale's law"; stork)::

        delta_EI   = N_inh B_inh / (N_ff B_ff)
        lambda_ff  = sqrt(2 (N_ff A_ff + N_inh A_inh / delta_EI^2)) / sigma
                   = xi sqrt2 sqrt(delta_EI^2 N_ff A_ff + N_inh A_inh) / (delta_EI theta)
        lambda_inh = delta_EI lambda_ff

    With recurrent excitation ``w_rec_exc``, stork's variant: **stork does not split
    the total variance** between feed-forward and recurrent input. Its ``alpha`` only
    sets the ratio of feed-forward to recurrent *excitatory* variance,
    ``alpha : (1 - alpha)``; the inhibitory variance comes on top, and
    ``lambda_ff`` is solved so that the *total* variance hits the target::

        delta_REC  = sqrt(alpha N_rec A_rec / ((1 - alpha) N_ff A_ff))
        lambda_rec = delta_REC lambda_ff
        delta_EI   = delta_REC N_inh B_inh / (delta_REC N_ff B_ff + N_rec B_rec)
        lambda_ff  = sqrt(2 (N_ff A_ff + N_rec A_rec / delta_REC^2
                             + N_inh A_inh / delta_EI^2)) / sigma

    (with equal rates this is the ``delta_REC = sqrt(alpha N_rec / ((1 -
    alpha) N_ff))`` and ``delta_EI = delta_REC N_inh eps_bar_inh / (eps_bar_exc
    (delta_REC N_ff + N_rec))``). With stork's Dale sizes (700 ff, 128 E, 32 I,
    dt 2 ms, tau_mem 20 ms, tau_exc 10 ms, tau_inh 20 ms) the variance shares are
    inhibition 95 %, feed-forward excitation 4.4 %, recurrent excitation 0.5 %.
    The mean membrane is 0 (balanced); ``mu_u != 0`` is not supported.

    Returns:
        :class:`DaleLambdas` with the lambdas, deltas and predicted variance shares.
    """
    w_exc = _check_tensor(w_exc, "w_exc")
    w_inh = _check_tensor(w_inh, "w_inh")
    _check_generator(generator)
    if not isinstance(params_exc, LIFParams) or not isinstance(params_inh, LIFParams):
        raise TypeError("params_exc and params_inh must be LIFParams")
    theta = params_exc.threshold
    if xi is not None:
        if sigma_u is not None:
            raise ValueError("give either sigma_u or xi, not both")
        sig = theta / _positive("xi", xi)
    else:
        sig = theta * (1.0 if sigma_u is None else _positive("sigma_u", sigma_u))
    n_ff, n_inh = _fan_in(w_exc), _fan_in(w_inh)
    b_ff, a_ff = _group_stats("exc", params_exc, nu, filtered_exc)
    b_inh, a_inh = _group_stats("inh", params_inh, nu if nu_inh is None else nu_inh, filtered_inh)
    if w_rec_exc is None:
        delta_rec = None
        n_rec, b_rec, a_rec = 0, 0.0, 0.0
        delta_ei = n_inh * b_inh / (n_ff * b_ff)
        var_ff, var_rec = n_ff * a_ff, 0.0
    else:
        w_rec_exc = _check_tensor(w_rec_exc, "w_rec_exc")
        al = finite("alpha", alpha)
        if not 0 < al < 1:
            raise ValueError(f"alpha must be in (0, 1) with w_rec_exc, got {alpha!r}")
        n_rec = _fan_in(w_rec_exc)
        b_rec, a_rec = _group_stats(
            "rec", params_exc, nu if nu_rec is None else nu_rec, filtered_rec
        )
        delta_rec = math.sqrt(al * n_rec * a_rec / ((1.0 - al) * n_ff * a_ff))
        delta_ei = delta_rec * n_inh * b_inh / (delta_rec * n_ff * b_ff + n_rec * b_rec)
        var_ff, var_rec = n_ff * a_ff, n_rec * a_rec / delta_rec**2
    var_inh = n_inh * a_inh / delta_ei**2
    total = var_ff + var_rec + var_inh  # times 2 / lambda_ff^2
    lambda_ff = math.sqrt(2.0 * total) / sig
    lambda_inh = delta_ei * lambda_ff
    lambda_rec = None if delta_rec is None else delta_rec * lambda_ff
    big = torch.finfo(w_exc.dtype).max / 8.0
    for lam_name, lam in (("lambda_ff", lambda_ff), ("lambda_inh", lambda_inh),
                          ("lambda_rec", lambda_rec)):  # fmt: skip
        if lam is not None and not (math.isfinite(lam) and lam > 0 and 40.0 / lam < big):
            raise ValueError(
                f"{lam_name} = {lam:.3g}: the exponential weights do not fit in {w_exc.dtype} "
                "(sigma_u or the input statistics are extreme)"
            )
    with torch.no_grad():
        w_exc.exponential_(lambda_ff, generator=generator)
        w_inh.exponential_(lambda_inh, generator=generator)
        if w_rec_exc is not None:
            assert lambda_rec is not None
            w_rec_exc.exponential_(lambda_rec, generator=generator)
    return DaleLambdas(
        lambda_ff=lambda_ff,
        lambda_inh=lambda_inh,
        lambda_rec=lambda_rec,
        delta_ei=delta_ei,
        delta_rec=delta_rec,
        share_ff=var_ff / total,
        share_rec=var_rec / total,
        share_inh=var_inh / total,
    )


# -- on a Dale layer (spikeinit.nn.DaleLinear) -------------------------------------------
REFINE = 1


BALANCE = 6


def _stats(
    spikes: torch.Tensor, params: LIFParams, targets: RuleTargets
) -> tuple[tuple[float, float] | None, float]:
    """``(filtered (m, v) or None, rate Hz)`` of ``spikes`` seen through ``params``' synapse."""
    rate = float(spikes.mean()) / params.dt
    if targets.nu is None and targets.stats == "filtered":
        m, v = theory.filtered_input_stats(spikes, params)
        return ((m, v) if m > 0 and v > 0 else None), rate
    return None, rate


def calibrate_dale_layer(
    layer: object,
    x: torch.Tensor,
    sigma_target: float,
    tol: float,
    max_iter: int,
    variance: str = "temporal",
) -> int:
    """``calibrate=True`` for Dale layers: :func:`balance_dale_` until within ``tol``.

    The generic calibration (rescaling each group around its mean) could push
    weights negative and ignores the E/I balance; this keeps them non-negative and
    exponential, and stops when the E population's ``|sigma_U - target|`` and
    ``|mu_U|`` are both within ``tol * target`` (or after ``max_iter`` rounds,
    keeping the best measured state). Returns the number of rounds used.
    """
    if not isinstance(layer, DaleLinear):
        raise ValueError(
            f"calibrate: {type(layer).__name__} has 'exc'/'inh' weight groups but is not a "
            "Dale layer (spikeinit.nn.DaleLinear)"
        )
    return balance_dale_(layer, x, sigma_target, rounds=max_iter, tol=tol, variance=variance)[0]


def init_dale_layer(
    entry: LayerInit,
    name: str,
    layer: object,
    inp: torch.Tensor,
    targets: RuleTargets,
    gen: torch.Generator | None,
    refine: int | None = None,
    balance: int | None = None,
) -> LayerInit:
    """Initialise a :class:`DaleLinear` in place from its input ``inp`` and fill ``entry``.

    ``refine`` rounds of the analytic rule with re-measured E/I statistics, then
    ``balance`` rounds of :func:`balance_dale_` (module docstring).
    """
    layer = _dale_layer(name, layer, targets)
    refine = REFINE if refine is None else refine
    balance = BALANCE if balance is None else balance
    pe, pi = layer.params_exc, layer.params_inh
    ff_stats, ff_rate = _stats(inp, pe, targets)
    if targets.nu is None and ff_rate <= 0:
        raise ValueError(f"layer {name}: its input has no spikes; nothing to measure")
    # first pass: the input trains stand in for the layer's own E and I spikes
    exc_stats, exc_rate = ff_stats, ff_rate
    inh_stats, inh_rate = _stats(inp, pi, targets)
    notes: list[str] = []
    rec = layer.w_ee is not None and layer.w_ei is not None
    pops_w = {
        "exc": (layer.w_xe, layer.w_ie, layer.w_ee if rec else None),
        "inh": (layer.w_xi, layer.w_ii, layer.w_ei if rec else None),
    }
    # one set of unit-mean exponential draws; every later step only rescales whole
    # groups by positive factors (deterministic, non-negative, exponential shape kept)
    units = {
        pop: [None if w is None else _unit_exponential(w, gen) for w in ws]
        for pop, ws in pops_w.items()
    }
    theta = layer.params.threshold
    sig = theta * float((targets.sigma_u or 1.0) if targets.xi is None else 1.0 / targets.xi)
    lam: dict[str, DaleLambdas] = {}
    for round_ in range(refine + 1):
        nu = targets.nu if targets.nu is not None else ff_rate
        nu_i = targets.nu if targets.nu is not None else inh_rate
        nu_e = targets.nu if targets.nu is not None else exc_rate
        rates = (nu, nu_i, nu_e if rec else None)
        filtered = (ff_stats, inh_stats, exc_stats if rec else None)
        lam = {
            pop: _set_population(ws, units[pop], pe, pi, targets, rates, filtered)
            for pop, ws in pops_w.items()
        }
        if round_ == refine:
            break
        with torch.no_grad():
            pops = layer.simulate_populations(inp)
        s_e, s_i = pops["exc"][0], pops["inh"][0]
        if bool(s_e.any()):
            exc_stats, exc_rate = _stats(s_e, pe, targets)
        elif round_ == 0:
            notes.append("E population silent after the first pass; input stats used as proxy")
        if bool(s_i.any()):
            inh_stats, inh_rate = _stats(s_i, pi, targets)
        elif round_ == 0:
            notes.append("I population silent after the first pass; input stats used as proxy")
    final = _balance(layer, inp, sig, balance, targets.variance, notes)
    rule = "dale_exponential(" + ("global nu" if targets.nu is not None else targets.stats) + ")"
    if balance > 0:
        rule += "+balance"
    stats = {"exc": (ff_stats, ff_rate), "inh": (inh_stats, inh_rate), "rec": (exc_stats, exc_rate)}
    _report_groups(entry, layer, rule, lam, stats, final)
    entry.notes.extend(notes)
    entry.notes.append(
        "Dale layer: output and measured statistics are the E population's; analytic "
        f"variance shares (E pop.) ff {lam['exc'].share_ff:.3f}, rec {lam['exc'].share_rec:.3f}, "
        f"inh {lam['exc'].share_inh:.3f}"
    )
    entry.predicted_mu_u = 0.0
    entry.predicted_sigma_u = sig
    return entry



def _report_groups(
    entry: LayerInit,
    layer: DaleLinear,
    rule: str,
    lam: dict[str, DaleLambdas],
    stats: dict[str, tuple[tuple[float, float] | None, float]],
    final: dict[str, float],
) -> None:
    """One report group per weight group: its population, its input's statistics, its
    analytic variance share and its final mean weight (= its std: exponential)."""
    for g in layer.weight_groups():
        pop = "exc" if g.name in _INH_GROUPS["exc"] else "inh"
        d = lam[pop]
        src = {"w_xe": "exc", "w_xi": "exc", "w_ie": "inh", "w_ii": "inh"}.get(g.name, "rec")
        share = {"exc": d.share_ff, "inh": d.share_inh, "rec": d.share_rec}[src]
        st, rate = stats[src]
        mean_w = final[g.name]  # exponential: mean = std = 1 / lambda
        entry.groups.append(
            GroupInit(
                f"{g.name} ({pop} pop.)",
                g.kind,
                int(g.weight.shape[1]),
                rule,
                st[0] if st else None,
                st[1] if st else None,
                rate,
                mean_w,
                mean_w,
                share,
            )
        )


def _dale_layer(name: str, layer: object, targets: RuleTargets) -> DaleLinear:
    """``layer`` as a :class:`DaleLinear` with targets the Dale rule meets, else ``ValueError``."""
    if not isinstance(layer, DaleLinear):
        raise ValueError(
            f"layer {name} ({type(layer).__name__}) has 'exc'/'inh' weight groups; the "
            "fluctuation rule for E/I groups needs a Dale layer (spikeinit.nn.DaleLinear)"
        )
    if targets.mu_u != 0.0:
        raise ValueError(
            f"layer {name}: the Dale rule balances excitation and inhibition (mu_U = 0); "
            f"mu_u={targets.mu_u!r} is not supported"
        )
    return layer


def _unit_exponential(w: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    """A unit-mean exponential draw of ``w``'s shape (on the CPU, from ``gen``)."""
    return torch.empty_like(w, device="cpu").exponential_(1.0, generator=gen)


def _set_population(
    weights: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None],
    units: list[torch.Tensor | None],
    pe: LIFParams,
    pi: LIFParams,
    targets: RuleTargets,
    rates: tuple[float, float, float | None],
    filtered: tuple[
        tuple[float, float] | None, tuple[float, float] | None, tuple[float, float] | None
    ],
) -> DaleLambdas:
    """One population's groups (feed-forward, inhibitory, recurrent excitatory) := their
    unit draws divided by the lambdas of :func:`dale_exponential_` for these statistics."""
    w_ff, w_inh, w_rec = weights
    d = dale_exponential_(
        torch.empty_like(w_ff),
        torch.empty_like(w_inh),
        params_exc=pe,
        params_inh=pi,
        nu=rates[0],
        nu_inh=rates[1],
        nu_rec=rates[2],
        sigma_u=targets.sigma_u if targets.xi is None else None,
        xi=targets.xi,
        w_rec_exc=None if w_rec is None else torch.empty_like(w_rec),
        alpha=targets.alpha,
        filtered_exc=filtered[0],
        filtered_inh=filtered[1],
        filtered_rec=filtered[2],
    )
    with torch.no_grad():
        for w, u, lg in zip(
            weights, units, (d.lambda_ff, d.lambda_inh, d.lambda_rec), strict=True
        ):
            if w is not None and u is not None and lg is not None:
                w.copy_((u / lg).to(w))
    return d


def _balance(
    layer: DaleLinear,
    inp: torch.Tensor,
    sig: float,
    rounds: int,
    variance: str,
    notes: list[str],
) -> dict[str, float]:
    """``rounds`` rounds of :func:`balance_dale_` on the analytic weights (notes appended);
    returns each group's final mean weight."""
    analytic = {g.name: float(g.weight.detach().mean()) for g in layer.weight_groups()}
    if rounds > 0:
        _, bal_notes = balance_dale_(
            layer, inp, sig, rounds=rounds, tol=BALANCE_TOL, variance=variance
        )
        notes.extend(bal_notes)
    final = {g.name: float(g.weight.detach().mean()) for g in layer.weight_groups()}
    if rounds > 0:
        factors = ", ".join(f"{k} x{final[k] / analytic[k]:.3f}" for k in final if analytic[k] > 0)
        notes.append(
            "Dale rule: measured balance of both populations (zero mean, sigma_U on target, "
            f"E/I correlations included); factors on the analytic weights: {factors}"
        )
    return final
