"""Model-level initialisation of Dale's-law layers (:class:`~spikeinit.nn.DaleLinear`).

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

**Measured balance** (:func:`balance_dale_`, on by default, ``BALANCE`` = 6
rounds at most, stopping at ``BALANCE_TOL`` = 3 %). The shot-noise formula
assumes independent afferents, but all weights are positive and the I
population is driven by the same input, so E and I inputs are correlated and
inhibition carries ~95 % of the variance: the formula alone gave a free
``sigma_U`` of 0.6-0.85 and a mean of 0.2-0.4 theta. The free membrane of a
population is linear in each group's weights given the presynaptic spikes,
``U = sum_g U_g`` (``U_ie`` enters negative). From one run of the layer,
``m_g = mean U_g`` and ``C_gh = mean_{b,j} Cov_t(U_g, U_h)`` (cross terms
included); then the inhibitory group is scaled by ``s a`` and the excitatory
groups by ``s`` with::

    a = -(m_ff + m_rec) / m_inh             -> mean  m_ff + m_rec + a m_inh = 0
    s = sigma / sqrt(c^T C c), c = (1,1,a)  -> std   sigma (common factor: mean stays 0)

The spikes change with the weights, so this is iterated (I population damped,
then E; see :func:`balance_dale_`). Without recurrent excitation the E step is
exact (the E weights do not affect the I spikes). With it, the network's chaos
leaves a few percent of jitter, and the best measured state is kept.
``calibrate=True`` runs the same procedure to ``tol`` (2 %) on both
``|sigma_U - target|`` and ``|mu_U|`` (:func:`calibrate_dale_layer`).
Measured at stork's SHD sizes (700 Poisson inputs at 15.8 Hz, T = 200, batch 4,
128 E + 32 I): E population sigma_U = 1.000 and mean 0.000 without recurrent
excitation; with it sigma_U 0.998-1.030, |mean| <= 0.034 theta (default) and
within 2 % with calibration. The I population's own balance is looser (mean
-0.0 to -0.45 theta, sigma 0.8-1.2): its rate drifts upward under repeated
balancing through I->I, so it gets only ``I_ROUNDS`` = 2 damped steps.

``stats="rate"`` uses measured rates in the Poisson formula and ``nu=...`` one
global rate everywhere (stork). ``mu_u != 0`` is not supported (the rule is
balanced by construction).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from .. import theory
from ..neuron import lif_sequence, recurrent_presyn
from ..nn.dale import DaleLinear, nonneg
from ..params import LIFParams
from . import functional as F
from .report import GroupInit, LayerInit

if TYPE_CHECKING:
    from .model import _Targets

REFINE = 1
BALANCE = 6
BALANCE_TOL = 0.03
I_DAMP = 0.5
I_ROUNDS = 2
E_DAMP = 0.5  # E step with recurrent excitation (E->E feedback)


def _stats(
    spikes: torch.Tensor, params: LIFParams, targets: _Targets
) -> tuple[tuple[float, float] | None, float]:
    """``(filtered (m, v) or None, rate Hz)`` of ``spikes`` seen through ``params``' synapse."""
    rate = float(spikes.mean()) / params.dt
    if targets.nu is None and targets.stats == "filtered":
        m, v = theory.filtered_input_stats(spikes, params)
        return ((m, v) if m > 0 and v > 0 else None), rate
    return None, rate


_INH_GROUPS = {"exc": ("w_xe", "w_ee", "w_ie"), "inh": ("w_xi", "w_ei", "w_ii")}


def _group_membranes(
    layer: DaleLinear, x: torch.Tensor
) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
    """Each weight group's signed contribution to its population's free membrane.

    Runs the layer once (its actual E and I spikes), then filters every group's
    current alone through its synapse and the membrane (threshold and reset off):
    ``{"exc": {"w_xe": U_xe, "w_ee": U_ee, "w_ie": -U_ie}, "inh": {...}}``, each
    ``[T, B, n_pop]``. The free membrane is linear in the weights, so the
    population's free membrane is the sum of its groups' contributions.
    Also returns the E and I spikes.
    """
    pe = layer.params_exc.replace(reset="none")
    pi = layer.params_inh.replace(reset="none")
    with torch.no_grad():
        current = layer.input_current(x)
        spikes, _ = layer._loop(current)
        ne = layer.n_exc
        s_e, s_i = spikes[..., :ne], spikes[..., ne:]
        prev_e = recurrent_presyn(s_e, layer.params)
        prev_i = recurrent_presyn(s_i, layer.params)
        steps, batch = prev_e.shape[:2]

        def through(pre: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
            flat = pre.reshape(steps * batch, -1) @ nonneg(w).t()
            return flat.reshape(steps, batch, -1)

        out: dict[str, dict[str, torch.Tensor]] = {}
        for pop, sl, (ff_name, rec_name, inh_name) in (
            ("exc", slice(0, ne), _INH_GROUPS["exc"]),
            ("inh", slice(ne, None), _INH_GROUPS["inh"]),
        ):
            groups = {ff_name: current[..., sl]}
            w_rec = getattr(layer, rec_name)
            if w_rec is not None:
                groups[rec_name] = through(prev_e, w_rec)
            inh = through(prev_i, getattr(layer, inh_name))
            u: dict[str, torch.Tensor] = {}
            for g, cur in groups.items():
                u[g] = lif_sequence(cur, pe, return_mem=True)[1]  # type: ignore[index]
            u[inh_name] = -lif_sequence(inh, pi, return_mem=True)[1]  # type: ignore[index]
            out[pop] = u
    return out, {"exc": s_e, "inh": s_i}


def _moments(
    u: dict[str, torch.Tensor], variance: str = "temporal"
) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """Group names, mean contributions ``m_g`` and covariance matrix ``C_gh``.

    ``m_g = mean_{t,b,j} U_g`` and ``C_gh = mean_{b,j} Cov_t(U_g, U_h)`` (temporal;
    ``variance="total"`` pools time and samples per neuron), so that for the sum
    ``U = sum_g c_g U_g`` the population mean is ``sum_g c_g m_g`` and the squared
    RMS temporal std (sigma_U^2 of :func:`spikeinit.init.free_membrane_stats`)
    is ``c^T C c``.
    """
    names = list(u)
    dims: tuple[int, ...] = (0,) if variance == "temporal" else (0, 1)
    centred = []
    means = []
    for g in names:
        v = u[g].double()
        means.append(v.mean())
        centred.append(v - v.mean(dim=dims, keepdim=True))
    k = len(names)
    cov = torch.zeros(k, k, dtype=torch.float64)
    for a in range(k):
        for b in range(a, k):
            cov[a, b] = cov[b, a] = (centred[a] * centred[b]).mean()
    return names, torch.stack(means), cov


def _solve_balance(
    names: list[str], means: torch.Tensor, cov: torch.Tensor, inh_name: str, sigma: float
) -> tuple[dict[str, float], float, float] | None:
    """Factors ``{group: f_g}`` that zero the mean and set the std to ``sigma``.

    The inhibitory group is scaled by ``a = -sum_exc m_g / m_inh`` (zero mean),
    then every group by ``s = sigma / sqrt(c^T C c)`` with ``c = (1, ..., a)``.
    Returns ``(factors, mean before, std before)``; ``None`` if the inhibitory
    contribution is zero (silent I population) or the membrane is constant.
    """
    i = names.index(inh_name)
    m_inh = float(means[i])
    m_exc = float(means.sum()) - m_inh
    if m_inh >= 0.0 or m_exc <= 0.0:
        return None
    a = -m_exc / m_inh
    c = torch.ones(len(names), dtype=torch.float64)
    c[i] = a
    var = float(c @ cov @ c)
    if var <= 0.0:
        return None
    s = sigma / var**0.5
    factors = {g: s * (a if g == inh_name else 1.0) for g in names}
    ones = torch.ones_like(c)
    return factors, float(means.sum()), float(ones @ cov @ ones) ** 0.5


def _apply(layer: DaleLinear, factors: dict[str, float]) -> None:
    with torch.no_grad():
        for g in layer.weight_groups():
            if g.name in factors:
                g.weight.mul_(factors[g.name])


def balance_dale_(
    layer: DaleLinear,
    x: torch.Tensor,
    sigma: float,
    rounds: int = 3,
    tol: float | None = None,
    variance: str = "temporal",
) -> tuple[int, list[str]]:
    """Measured balance of a :class:`DaleLinear`: zero mean, std ``sigma`` per population.

    A measurement runs the layer on ``x`` and gets, for each population, every
    group's contribution ``U_g`` to the free membrane (:func:`_group_membranes`);
    ``U = sum_g U_g`` exactly, including the E/I input correlations that the
    shot-noise formula ignores. Given the spikes, scaling group ``g`` by ``f_g > 0``
    scales ``U_g`` by ``f_g``, so with ``m_g`` and ``C_gh`` from :func:`_moments`
    the inhibitory group gets ``f_inh = s a`` and the excitatory groups ``s``::

        a = -(m_ff + m_rec) / m_inh                 (mean: m_ff + m_rec + a m_inh = 0)
        s = sigma / sqrt(c^T C c),  c = (1, 1, a)   (std: a common factor keeps mu = 0)

    The factors are positive, so the weights stay non-negative and each group
    keeps its exponential shape (only its lambda changes).

    Each round measures the current weights; the E population's error is
    ``max(|sd - sigma|, |mu|) / sigma``. It stops if that is within ``tol``;
    otherwise it balances the I population (only if its mean is off by more than
    ``0.1 sigma`` or its std by more than 10 %) with half the step in log scale
    (``f -> f^I_DAMP``, 0.5): the I rate responds to the I factors through I->I and
    the full step overshoots. Then it re-measures and applies the full step to the
    E population. Without recurrent excitation the E weights do not change the I
    spikes, so that step is exact (error ~1e-6). With recurrent excitation the E
    spikes change and, through E->E and E->I, so do the inputs: the network is
    chaotic (a 0.1 % change of one group reshuffles almost every spike), which
    leaves a jitter of a few percent in sigma_U and a few hundredths of theta in
    the mean (less with more data). So after ``rounds`` steps (or at ``tol``) the
    best measured state is kept: the result is never worse than any measured one.
    Returns ``(rounds used, notes)``.
    """
    notes: list[str] = []
    best: tuple[float, list[torch.Tensor]] | None = None
    for round_ in range(rounds + 1):
        u, _ = _group_membranes(layer, x)
        names, means, cov = _moments(u["exc"], variance)
        mu, sd = float(means.sum()), float(cov.sum()) ** 0.5
        err = max(abs(sd - sigma), abs(mu)) / sigma
        if best is None or err < best[0]:
            best = (err, [g.weight.detach().clone() for g in layer.weight_groups()])
        if (tol is not None and err <= tol) or round_ == rounds:
            break
        names_i, means_i, cov_i = _moments(u["inh"], variance)
        sol = _solve_balance(names_i, means_i, cov_i, "w_ii", sigma)
        if sol is None:
            notes.append(
                f"measured balance, round {round_ + 1}: I population not balanced "
                "(silent I population or constant membrane)"
            )
        elif round_ < I_ROUNDS and (abs(sol[1]) > 0.1 * sigma or abs(sol[2] - sigma) > 0.1 * sigma):
            _apply(layer, {g: f**I_DAMP for g, f in sol[0].items()})
            err = math.inf  # the measured state is gone
            u, _ = _group_membranes(layer, x)
            names, means, cov = _moments(u["exc"], variance)
        sol = _solve_balance(names, means, cov, "w_ie", sigma)
        if sol is None:
            notes.append(
                f"measured balance, round {round_ + 1}: E population not balanced "
                "(silent I population or constant membrane)"
            )
            break
        damp = E_DAMP if layer.w_ee is not None else 1.0
        _apply(layer, {g: f**damp for g, f in sol[0].items()})
    assert best is not None
    if best[0] < err:  # the last measured state is not the best one: go back to the best
        with torch.no_grad():
            for g, w in zip(layer.weight_groups(), best[1], strict=True):
                g.weight.copy_(w)
    return round_, notes


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
    targets: _Targets,
    gen: torch.Generator | None,
    refine: int | None = None,
    balance: int | None = None,
) -> LayerInit:
    """Initialise a :class:`DaleLinear` in place from its input ``inp`` and fill ``entry``.

    ``refine`` rounds of the analytic rule with re-measured E/I statistics, then
    ``balance`` rounds of :func:`balance_dale_` (module docstring).
    """

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
        pop: [
            None
            if w is None
            else torch.empty_like(w, device="cpu").exponential_(1.0, generator=gen)
            for w in ws
        ]
        for pop, ws in pops_w.items()
    }
    theta = layer.params.threshold
    sig = theta * float((targets.sigma_u or 1.0) if targets.xi is None else 1.0 / targets.xi)
    lam: dict[str, F.DaleLambdas] = {}
    for round_ in range(refine + 1):
        nu = targets.nu if targets.nu is not None else ff_rate
        nu_i = targets.nu if targets.nu is not None else inh_rate
        nu_e = targets.nu if targets.nu is not None else exc_rate
        for pop, (w_ff, w_inh, w_rec) in pops_w.items():
            d = F.dale_exponential_(
                torch.empty_like(w_ff),
                torch.empty_like(w_inh),
                params_exc=pe,
                params_inh=pi,
                nu=nu,
                nu_inh=nu_i,
                nu_rec=nu_e if rec else None,
                sigma_u=targets.sigma_u if targets.xi is None else None,
                xi=targets.xi,
                w_rec_exc=None if w_rec is None else torch.empty_like(w_rec),
                alpha=targets.alpha,
                filtered_exc=ff_stats,
                filtered_inh=inh_stats,
                filtered_rec=exc_stats if rec else None,
            )
            lam[pop] = d
            with torch.no_grad():
                for w, u, lg in zip(
                    (w_ff, w_inh, w_rec),
                    units[pop],
                    (d.lambda_ff, d.lambda_inh, d.lambda_rec),
                    strict=True,
                ):
                    if w is not None and u is not None and lg is not None:
                        w.copy_((u / lg).to(w))
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
    analytic = {g.name: float(g.weight.detach().mean()) for g in layer.weight_groups()}
    if balance > 0:
        _, bal_notes = balance_dale_(
            layer, inp, sig, rounds=balance, tol=BALANCE_TOL, variance=targets.variance
        )
        notes.extend(bal_notes)
    final = {g.name: float(g.weight.detach().mean()) for g in layer.weight_groups()}
    if balance > 0:
        factors = ", ".join(f"{k} x{final[k] / analytic[k]:.3f}" for k in final if analytic[k] > 0)
        notes.append(
            f"Dale rule: {balance} rounds of measured balance (zero mean, sigma_U on target, "
            f"E/I correlations included); factors on the analytic weights: {factors}"
        )
    rule = "dale_exponential(" + ("global nu" if targets.nu is not None else targets.stats) + ")"
    if balance > 0:
        rule += "+balance"
    stats = {"exc": (ff_stats, ff_rate), "inh": (inh_stats, inh_rate), "rec": (exc_stats, exc_rate)}
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
    entry.notes.extend(notes)
    entry.notes.append(
        "Dale layer: output and measured statistics are the E population's; analytic "
        f"variance shares (E pop.) ff {lam['exc'].share_ff:.3f}, rec {lam['exc'].share_rec:.3f}, "
        f"inh {lam['exc'].share_inh:.3f}"
    )
    entry.predicted_mu_u = 0.0
    entry.predicted_sigma_u = sig
    return entry
