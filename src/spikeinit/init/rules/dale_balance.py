"""The measured E/I balance of a Dale layer (:class:`~spikeinit.nn.DaleLinear`).

The exponential weights of :mod:`.dale` are rescaled, group by group, by
measurement.

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

The spikes change with the weights, so this step is exact only for fixed spikes.

**Without recurrent excitation** (no ``w_ee``) the E weights do not affect the
I spikes, so the E step is exact. **The I population** (:func:`balance_inh_`)
cannot use the closed-form step: its own spikes feed back through I->I, so
scaling ``w_ii`` changes the I rate and with it ``m_ii`` (a full step
overshoots, a damped one stalled at -0.1 to -0.6 theta). Its mean is instead a
measured, monotone function of the factor ``a`` on ``w_ii`` (more
self-inhibition, lower mean, every other group fixed), so a 1-D root search in
``log a`` (bracketing, then Brent's method, each point one re-simulation of the
layer) zeroes it; then all I groups get a common factor ``sigma / sigma_I`` and
the root search is repeated (``I_SWEEPS`` = 4 alternations at most, stopping
within ``I_MU_TOL`` = 0.02 theta and ``I_SD_TOL`` = 5 %). Each round balances I
first and then takes the E step.

**With recurrent excitation** each population's spikes drive the other (E->I,
I->E) and itself (E->E, I->I), and alternating the two 1-D steps did not
converge (E off by up to 0.5 theta after 12 rounds). Both populations are
therefore solved together (:func:`balance_joint_`): four log scales (a common
one per population and an extra one on its inhibitory group), and the
closed-form step above, computed from one re-simulation, as the residual
``g(p)`` that vanishes exactly at the balanced state. The fixed point
``g(p) = 0`` is found by Anderson acceleration of the damped iteration
``p <- p + g(p) / 2`` (Anderson 1965; Walker & Ni 2011), which uses the last
three steps as secant information instead of a finite-difference Jacobian (one
simulation per step; the plain damped iteration oscillates). It stops within
``BALANCE_TOL`` on both populations or after ``JOINT_SIMS`` = 60 simulations,
keeps the best measured state, and warns (``RuntimeWarning``) if that state
misses the target by more than 0.05 theta in a mean or 10 % in a std.
docs/science.md, section "Dale's law".
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch
from scipy import optimize

from ...neuron import lif_sequence, recurrent_presyn
from ...nn.dale import DaleLinear, nonneg

__all__ = ["balance_dale_", "balance_inh_", "balance_joint_"]

ISSUE_MU, ISSUE_SD = 0.05, 0.10  # beyond these (units of sigma) the balance warns

BALANCE_TOL = 0.03


I_SWEEPS = 4


I_MU_TOL = 0.02  # mean of the I population, in units of sigma


I_SD_TOL = 0.05  # std of the I population, relative


JOINT_SIMS = 60  # recurrent layers: simulations at most in the joint balance


JOINT_BETA = 0.5  # damping of the fixed-point step (Anderson mixing parameter)


JOINT_MEMORY = 3  # Anderson acceleration: past steps used


JOINT_MAX_STEP = 0.5  # largest change of one log scale per step


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


def _pop_error(u: dict[str, torch.Tensor], sigma: float, variance: str) -> tuple[float, float]:
    """``(mu, sd)`` of one population's free membrane from its group contributions."""
    _, means, cov = _moments(u, variance)
    return float(means.sum()), float(cov.sum()) ** 0.5


def balance_inh_(
    layer: DaleLinear,
    x: torch.Tensor,
    sigma: float,
    variance: str = "temporal",
    sweeps: int = I_SWEEPS,
) -> tuple[float, float]:
    """Balance the I population by root search with re-simulation: mean 0, std ``sigma``.

    ``mu_I(a)``, the I population's mean free membrane with ``w_ii`` scaled by
    ``a``, is measured by re-running the layer (the I spikes, hence ``m_ii``,
    depend on ``a`` through I->I); it falls monotonically with ``a``. A bracket in
    ``log a`` (steps of 0.25, at most 16) and Brent's method
    (:func:`scipy.optimize.brentq`, ``xtol`` 1e-3) give ``mu_I = 0``; then every I
    group (``w_xi``, ``w_ei``, ``w_ii``) is multiplied by ``sigma / sigma_I`` and
    the search repeats, ``sweeps`` times at most or until ``|mu_I| <=``
    ``I_MU_TOL sigma`` and ``|sigma_I - sigma| <= I_SD_TOL sigma``. The factors are
    positive, so the weights stay non-negative and exponential. Returns the
    final measured ``(mu_I, sigma_I)``; the E population is not touched (its
    membrane changes through the new I spikes: balance it afterwards).
    """
    w_ii = layer.w_ii

    def measure() -> tuple[float, float]:
        u, _ = _group_membranes(layer, x)
        return _pop_error(u["inh"], sigma, variance)

    mu, sd = measure()
    for _ in range(sweeps):
        if abs(mu) <= I_MU_TOL * sigma and abs(sd - sigma) <= I_SD_TOL * sigma:
            break
        if abs(mu) > I_MU_TOL * sigma:
            base = w_ii.detach().clone()

            def mean_at(log_a: float, base: torch.Tensor = base) -> float:
                with torch.no_grad():
                    w_ii.copy_(base * math.exp(log_a))
                return measure()[0]

            lo, f_lo = 0.0, mu
            step = -0.25 if mu < 0 else 0.25  # mean too low: less self-inhibition
            hi, f_hi = lo, f_lo
            for _k in range(16):
                hi, f_hi = hi + step, mean_at(hi + step)
                if (f_hi > 0) != (f_lo > 0):
                    break
                lo, f_lo = hi, f_hi
            else:
                with torch.no_grad():
                    w_ii.copy_(base)
                return measure()
            root = optimize.brentq(mean_at, min(lo, hi), max(lo, hi), xtol=1e-3)
            mean_at(root)
        mu, sd = measure()
        if sd <= 0.0:
            break
        if abs(sd - sigma) > I_SD_TOL * sigma:
            groups = [g for g in _INH_GROUPS["inh"] if getattr(layer, g) is not None]
            _apply(layer, {g: sigma / sd for g in groups})
            mu, sd = measure()
    return mu, sd


_JOINT_GROUPS = {  # (population, is its inhibitory group) for each weight group
    "w_xe": (0, False), "w_ee": (0, False), "w_ie": (0, True),
    "w_xi": (1, False), "w_ei": (1, False), "w_ii": (1, True),
}  # fmt: skip


def _closed_form_log(
    u: dict[str, dict[str, torch.Tensor]], sigma: float, variance: str
) -> np.ndarray | None:
    """Frozen-spike closed-form step in log scales ``(log s_E, log a_E, log s_I, log a_I)``.

    For each population, :func:`_solve_balance` gives the common factor ``s`` of
    its groups and the extra factor ``a`` of its inhibitory group that would zero
    its mean and set its std to ``sigma`` if the spikes did not change. All four
    are 0 exactly when both populations are on target. ``None`` if a population
    has no inhibitory or no excitatory contribution.
    """
    out = np.zeros(4)
    for k, (pop, ff, inh) in enumerate((("exc", "w_xe", "w_ie"), ("inh", "w_xi", "w_ii"))):
        sol = _solve_balance(*_moments(u[pop], variance), inh, sigma)
        if sol is None:
            return None
        out[2 * k] = math.log(sol[0][ff])
        out[2 * k + 1] = math.log(sol[0][inh]) - math.log(sol[0][ff])
    return out


def balance_joint_(
    layer: DaleLinear,
    x: torch.Tensor,
    sigma: float,
    tol: float = BALANCE_TOL,
    tol_inh: float | None = None,
    max_sims: int = JOINT_SIMS,
    variance: str = "temporal",
) -> dict[str, float]:
    """Balance both populations of a recurrent Dale layer together, by re-simulation.

    Unknowns: four log scales ``p = (log s_E, log a_E, log s_I, log a_I)``;
    population E's groups (``w_xe``, ``w_ee``, ``w_ie``) are multiplied by
    ``s_E`` and ``w_ie`` also by ``a_E``; likewise ``w_xi``, ``w_ei``, ``w_ii`` by
    ``s_I`` and ``w_ii`` by ``a_I``. Each evaluation runs the layer
    (:func:`_group_membranes`) and gives both populations' free-membrane mean and
    std and the frozen-spike closed-form step ``g(p)`` (:func:`_closed_form_log`),
    which is zero exactly at the balanced state. The fixed point ``g(p) = 0`` is
    found by Anderson acceleration (Walker & Ni 2011) of the damped iteration
    ``p <- p + beta g(p)`` (``beta`` = ``JOINT_BETA``, memory ``JOINT_MEMORY``,
    each step at most ``JOINT_MAX_STEP`` per scale): with ``dG``, ``dP`` the
    differences of the last iterates,
    ``gamma = argmin |g - dG gamma|`` and ``p <- p + beta g - (dP + beta dG) gamma``.
    The plain damped iteration oscillates (E->I and I->E move each other's
    spikes); the secant information in the history removes that. Error of a
    state: ``max(|mu_E|, |sd_E - sigma|) / (tol sigma)`` and
    ``max(|mu_I|, |sd_I - sigma| / 2) / (tol_inh sigma)``; it stops at error <= 1
    or after ``max_sims`` simulations, and the best measured state is kept.
    If that state is more than 0.05 sigma off in a mean or 10 % in a std
    (issue 15's criterion), a ``RuntimeWarning`` says so (never silent). The
    factors are positive: weights stay non-negative and exponential.
    docs/science.md, section "Dale's law". Returns the final measured
    ``{"mu_exc", "sd_exc", "mu_inh", "sd_inh"}`` (units of theta), ``"sims"``,
    ``"seconds"`` and ``"converged"`` (1.0 or 0.0).
    """
    t0 = time.perf_counter()
    tol_i = max(tol, BALANCE_TOL) if tol_inh is None else tol_inh
    base = {g.name: g.weight.detach().clone() for g in layer.weight_groups()}

    def set_scales(p: np.ndarray) -> None:
        with torch.no_grad():
            for g in layer.weight_groups():
                pop, inh = _JOINT_GROUPS[g.name]
                g.weight.copy_(
                    base[g.name] * math.exp(p[2 * pop] + (p[2 * pop + 1] if inh else 0.0))
                )

    best: tuple[float, np.ndarray, tuple[float, float, float, float]] | None = None
    sims = 0

    def evaluate(p: np.ndarray) -> np.ndarray | None:
        nonlocal best, sims
        set_scales(p)
        u, _ = _group_membranes(layer, x)
        sims += 1
        mu_e, sd_e = _pop_error(u["exc"], sigma, variance)
        mu_i, sd_i = _pop_error(u["inh"], sigma, variance)
        err = max(
            max(abs(mu_e), abs(sd_e - sigma)) / (tol * sigma),
            max(abs(mu_i), abs(sd_i - sigma) / 2) / (tol_i * sigma),
        )
        if best is None or err < best[0]:
            best = (err, p.copy(), (mu_e, sd_e, mu_i, sd_i))
        return _closed_form_log(u, sigma, variance)

    p = np.zeros(4)
    hist_p: list[np.ndarray] = []
    hist_g: list[np.ndarray] = []
    while sims < max_sims:
        g = evaluate(p)
        assert best is not None
        if best[0] <= 1.0 or g is None:
            break
        hist_p = (hist_p + [p.copy()])[-(JOINT_MEMORY + 1) :]
        hist_g = (hist_g + [g])[-(JOINT_MEMORY + 1) :]
        step = JOINT_BETA * g
        if len(hist_p) > 1:
            d_g = np.diff(np.array(hist_g), axis=0).T
            d_p = np.diff(np.array(hist_p), axis=0).T
            gamma = np.linalg.lstsq(d_g, g, rcond=None)[0]
            step = step - (d_p + JOINT_BETA * d_g) @ gamma
        largest = float(np.abs(step).max())
        if not math.isfinite(largest):
            break
        if largest > JOINT_MAX_STEP:
            step *= JOINT_MAX_STEP / largest
        p = p + step
    assert best is not None
    set_scales(best[1])
    mu_e, sd_e, mu_i, sd_i = best[2]
    out = {
        "mu_exc": mu_e, "sd_exc": sd_e, "mu_inh": mu_i, "sd_inh": sd_i,
        "sims": float(sims), "seconds": time.perf_counter() - t0,
        "converged": float(best[0] <= 1.0),
    }  # fmt: skip
    off = [
        f"{pop} mean {m / sigma:+.3f} sigma, std {s / sigma:.3f} sigma"
        for pop, m, s in (("E", mu_e, sd_e), ("I", mu_i, sd_i))
        if abs(m) > ISSUE_MU * sigma or abs(s - sigma) > ISSUE_SD * sigma
    ]
    if off:
        warnings.warn(
            f"Dale balance of a recurrent layer: target (mean 0, std {sigma:g}) not reached "
            f"within {sims} simulations ({'; '.join(off)}); the best measured state is kept. "
            "A larger or longer init batch makes the measurement less noisy.",
            RuntimeWarning,
            stacklevel=2,
        )
    return out


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

    **With recurrent excitation** both populations are balanced together by
    :func:`balance_joint_` (Anderson-accelerated fixed point of this step, each
    evaluation one re-simulation; at most ``max(JOINT_SIMS, 3 rounds)``
    simulations, a ``RuntimeWarning`` if the best state misses the target).

    **Without** it, each round measures the current weights. The error is
    ``max(|sd - sigma|, |mu|) / sigma`` for E and ``max(|mu|, |sd - sigma| / 2) / sigma``
    for I (within ``tol`` = 0.03: ``|mu_I| <= 0.03 sigma`` and ``sigma_I``
    within 6 %). It stops if both are within ``tol``; otherwise, if the I
    population is off, it is balanced by the measured root search of
    :func:`balance_inh_` (its spikes feed back through I->I, so the closed-form
    step does not apply to it), and then the full closed-form step is applied to
    the E population, which is exact here (the E weights do not change the I
    spikes; error ~1e-6). After ``rounds`` steps (or at ``tol``) the best measured
    state is kept. Returns ``(rounds or simulations used, notes)``.
    """
    notes: list[str] = []
    stop = BALANCE_TOL if tol is None else tol
    if layer.w_ee is not None:
        res = balance_joint_(
            layer, x, sigma, tol=stop, max_sims=max(JOINT_SIMS, 3 * rounds), variance=variance
        )
        notes.append(
            "measured balance (recurrent, joint E/I, Anderson-accelerated): "
            f"{res['sims']:.0f} simulations, {res['seconds']:.1f} s; E mean "
            f"{res['mu_exc'] / sigma:+.3f}, std {res['sd_exc'] / sigma:.3f}; I mean "
            f"{res['mu_inh'] / sigma:+.3f}, std {res['sd_inh'] / sigma:.3f} (units of sigma)"
            + ("" if res["converged"] else f"; not within tol {stop:g}")
        )
        return int(res["sims"]), notes
    best: tuple[float, list[torch.Tensor]] | None = None
    err = math.inf
    for round_ in range(rounds + 1):
        u, _ = _group_membranes(layer, x)
        mu, sd = _pop_error(u["exc"], sigma, variance)
        mu_i, sd_i = _pop_error(u["inh"], sigma, variance)
        err_i = max(abs(mu_i), abs(sd_i - sigma) / 2) / sigma
        err = max(abs(sd - sigma) / sigma, abs(mu) / sigma, err_i)
        if best is None or err < best[0]:
            best = (err, [g.weight.detach().clone() for g in layer.weight_groups()])
        if (tol is not None and err <= tol) or round_ == rounds:
            break
        if _solve_balance(*_moments(u["inh"], variance), "w_ii", sigma) is None:
            notes.append(
                f"measured balance, round {round_ + 1}: I population not balanced "
                "(silent I population or constant membrane)"
            )
        elif err_i > stop:
            balance_inh_(layer, x, sigma, variance)
            u, _ = _group_membranes(layer, x)
        sol = _solve_balance(*_moments(u["exc"], variance), "w_ie", sigma)
        if sol is None:
            notes.append(
                f"measured balance, round {round_ + 1}: E population not balanced "
                "(silent I population or constant membrane)"
            )
            break
        _apply(layer, sol[0])
        err = math.inf
    assert best is not None
    if best[0] < err:  # the last measured state is not the best one: go back to the best
        with torch.no_grad():
            for g, w in zip(layer.weight_groups(), best[1], strict=True):
                g.weight.copy_(w)
    return round_, notes

