"""Theory: PSP kernel and integrals, membrane moments, firing probabilities, Micheli maps.

Everything here is derived in docs/science.md, section 'Shot-noise theory' and
section 'Deep activity propagation'. Units: seconds and Hz; membrane
quantities are in the neuron's own units (the threshold ``theta`` is
``params.threshold``).

**PSP kernel.** ``K[k]`` is the free membrane's response ``k`` steps after one unit
input spike at step 0. It is obtained by *simulating* the neuron's own linear
sub-threshold update (so it is right for any discretisation that
:class:`~spikeinit.params.LIFParams` can describe)::

    I[k] = beta_s I[k-1] + x[k]        U[k] = beta_m U[k-1] + g I[k]      x = unit spike at k = 0

with ``g = params.gain`` and ``beta_s = 0`` for a delta synapse.

**Shot noise (Campbell).** For N Poisson inputs at rate ``nu`` and i.i.d. weights
with mean ``mu_W`` and standard deviation ``sigma_W``::

    eps_bar = dt * sum_k K[k]            eps_hat = dt * sum_k K[k]^2
    mu_U    = N nu mu_W eps_bar          sigma_U^2 = N nu (sigma_W^2 + mu_W^2) eps_hat

References:
    Rossbroich, Gygax, Zenke (2022), *Fluctuation-driven initialization for spiking
    neural network training*, Neuromorph. Comput. Eng., arXiv:2206.10226.
    Micheli, Booij, van Gemert, Tomen (2024), *Deep activity propagation via weight
    initialization in spiking neural networks*, arXiv:2410.00580.
"""

from __future__ import annotations

import math
from typing import Literal, overload

import torch
from scipy import optimize, stats

from ._validate import nonneg_finite, real
from .params import MAX_KERNEL_STEPS, LIFParams

__all__ = [
    "filtered_input_stats",
    "firing_probability",
    "membrane_moments",
    "micheli_collapse_constant",
    "micheli_fixed_point_slope",
    "micheli_stability_bound",
    "micheli_variance_map",
    "psp_integrals",
    "psp_kernel",
]

IntegralMode = Literal["numerical", "analytical"]


def _check_params(params: object) -> LIFParams:
    if not isinstance(params, LIFParams):
        raise TypeError(f"params must be LIFParams, got {type(params).__name__}")
    return params


def _kernel_steps(params: LIFParams, duration: float | None) -> int:
    if duration is None:
        tau_max = params.tau_mem if params.tau_syn is None else max(params.tau_mem, params.tau_syn)
        duration = 10.0 * tau_max
    if (
        isinstance(duration, bool)
        or not isinstance(duration, (int, float))
        or not math.isfinite(duration)
        or duration <= 0
    ):
        raise ValueError(f"duration must be a finite number of seconds > 0, got {duration!r}")
    steps = duration / params.dt
    if steps > MAX_KERNEL_STEPS:
        raise ValueError(
            f"duration must be at most MAX_KERNEL_STEPS = {MAX_KERNEL_STEPS} steps of dt "
            f"(= {params.dt!r} s), got {duration!r} s ({steps:.3g} steps)"
        )
    return max(1, int(round(steps)))


def psp_kernel(params: LIFParams, duration: float | None = None) -> torch.Tensor:
    """The PSP kernel ``K[k]``: free membrane ``k`` steps after one unit input spike.

    Simulates the neuron's own linear update (see the module docstring) from zero
    state with a unit spike at ``k = 0``; ``K[0] = g`` (the input enters in the same
    step).

    Args:
        params: the postsynaptic neuron's :class:`LIFParams` (any synapse, ``dt`` or
            ``input_scale``).
        duration: kernel length in seconds; ``round(duration / dt)`` steps, at most
            :data:`~spikeinit.params.MAX_KERNEL_STEPS` (else ``ValueError``). Default
            ``10 * max(tau_mem, tau_syn)`` (``10 * tau_mem`` for a delta synapse).

    Returns:
        float64 tensor of shape ``[steps]``.
    """
    params = _check_params(params)
    steps = _kernel_steps(params, duration)
    bm, bs, g = params.beta_mem, params.beta_syn, params.gain
    values = []
    i_state = 0.0
    u_state = 0.0
    for k in range(steps):
        i_state = bs * i_state + (1.0 if k == 0 else 0.0)
        u_state = bm * u_state + g * i_state
        values.append(u_state)
    return torch.tensor(values, dtype=torch.float64)


def _reference_gain(params: LIFParams) -> float:
    return 1.0 if params.tau_syn is None else 1.0 - params.beta_mem


def psp_integrals(
    params: LIFParams, mode: IntegralMode = "numerical", duration: float | None = None
) -> tuple[float, float]:
    """``(eps_bar, eps_hat)`` in seconds: integrals of the PSP kernel and of its square.

    ``mode="numerical"`` (default): ``eps_bar = dt * sum K``, ``eps_hat = dt * sum K^2``
    with the simulated :func:`psp_kernel` (docs/science.md, section 'Reference
    values of the PSP integrals': 0.010507 / 0.0018419 s at
    ``dt = 1 ms`` and 0.011032 / 0.0020356 s at ``dt = 2 ms`` for tau 20/10 ms).

    ``mode="analytical"``: the continuous-time limits (Rossbroich et al. 2022),
    ``eps_bar = tau_syn``, ``eps_hat = tau_syn^2 / (2 (tau_syn + tau_mem))``; delta
    synapse: ``tau_mem`` and ``tau_mem / 2``. These hold for the reference input
    gain (``1 - beta_m`` for a current synapse, ``1`` for a delta synapse). For any
    other ``input_scale`` ``g`` the kernel is the reference kernel times
    ``r = g / g_ref``, so the limits are scaled by ``r`` and ``r^2`` respectively
    (e.g. snnTorch ``Synaptic`` with ``g = 1`` gives ``r = 1 / (1 - beta_m)``). The
    ``duration`` argument is ignored in analytical mode.
    """
    params = _check_params(params)
    if mode == "numerical":
        kernel = psp_kernel(params, duration)
        return params.dt * float(kernel.sum()), params.dt * float((kernel * kernel).sum())
    if mode == "analytical":
        r = params.gain / _reference_gain(params)
        if params.tau_syn is None:
            return r * params.tau_mem, r * r * params.tau_mem / 2.0
        ts, tm = params.tau_syn, params.tau_mem
        return r * ts, r * r * ts * ts / (2.0 * (ts + tm))
    raise ValueError(f"mode must be 'numerical' or 'analytical', got {mode!r}")


def membrane_moments(
    n: int,
    nu: float | None,
    mu_w: float,
    sigma_w: float,
    params: LIFParams,
    *,
    filtered_mean: float | None = None,
    filtered_var: float | None = None,
) -> tuple[float, float]:
    """Predicted free-membrane ``(mu_U, sigma_U)`` (membrane units, not units of theta).

    Campbell's theorem: ``mu_U = n nu mu_W eps_bar`` and
    ``sigma_U^2 = n nu (sigma_W^2 + mu_W^2) eps_hat`` (Rossbroich et al. 2022).
    ``sigma_U`` is the temporal standard deviation of one neuron, averaged (in
    variance) over neurons with i.i.d. weights.

    Measured per-input statistics of the filtered trains (see
    :func:`filtered_input_stats`) replace the Poisson values: ``filtered_mean``
    replaces ``nu * eps_bar`` and ``filtered_var`` replaces ``nu * eps_hat``. Then
    ``nu`` may be ``None``.
    """
    params = _check_params(params)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (number of inputs) must be an integer >= 1, got {n!r}")
    for name, value in (("sigma_w", sigma_w), ("mu_w", mu_w)):
        if isinstance(value, (int, float)) and not math.isfinite(value):
            raise ValueError(
                f"{name} (the weights' {'standard deviation' if name == 'sigma_w' else 'mean'}) "
                f"is {value!r}: the weights contain NaN or inf"
            )
    nonneg_finite("sigma_w", sigma_w)
    real("mu_w", mu_w)
    if filtered_mean is None or filtered_var is None:
        if nu is None:
            raise ValueError("nu (Hz) is required unless filtered_mean and filtered_var are given")
        nonneg_finite("nu", nu)
        eps_bar, eps_hat = psp_integrals(params)
    a = (
        nu * eps_hat  # type: ignore[operator]
        if filtered_var is None
        else nonneg_finite("filtered_var", filtered_var)
    )
    b = (
        nu * eps_bar  # type: ignore[operator]
        if filtered_mean is None
        else nonneg_finite("filtered_mean", filtered_mean)
    )
    mu_u = n * mu_w * b
    sigma_u = math.sqrt(n * (sigma_w * sigma_w + mu_w * mu_w) * a)
    return mu_u, sigma_u


@overload
def filtered_input_stats(
    spikes: torch.Tensor,
    params: LIFParams,
    duration: float | None = ...,
    *,
    reduce: Literal[True] = ...,
    discard: int = ...,
) -> tuple[float, float]: ...


@overload
def filtered_input_stats(
    spikes: torch.Tensor,
    params: LIFParams,
    duration: float | None = ...,
    *,
    reduce: Literal[False],
    discard: int = ...,
) -> tuple[torch.Tensor, torch.Tensor]: ...


def filtered_input_stats(
    spikes: torch.Tensor,
    params: LIFParams,
    duration: float | None = None,
    *,
    reduce: bool = True,
    discard: int = 0,
) -> tuple[float, float] | tuple[torch.Tensor, torch.Tensor]:
    """Measured statistics of presynaptic trains filtered by the PSP kernel.

    Each train ``s_i[t]`` (one per batch entry and feature) is convolved causally
    with :func:`psp_kernel`, ``f_i[t] = sum_k K[k] s_i[t-k]`` (from zero state, as
    the layer itself sees it), and the function returns

    * ``m``: the mean over trains of the time mean of ``f_i``; it replaces
      ``nu * eps_bar`` (for Poisson trains ``m = nu dt sum K = nu eps_bar``);
    * ``v``: the mean over trains of the temporal variance of ``f_i`` (population
      variance, ``ddof = 0``); it replaces ``nu * eps_hat`` (Bernoulli trains with
      ``p = nu dt`` give ``v = nu eps_hat (1 - p)``).

    This is the "measured filtered variance" of docs/science.md, section 'Beyond
    the Poisson assumption': exact for any stationary
    spike process, no Poisson assumption.

    **Transient.** By default (``discard=0``) all ``T`` steps are used, including
    the first steps where the filter is still filling up. That is exactly the
    window over which a layer started from zero state produces its membrane, so
    the statistics predict the free membrane measured over the same ``T`` steps.
    Pass ``discard=k`` to drop the first ``k`` steps (e.g. the kernel's length)
    and get stationary statistics.

    Args:
        spikes: ``[T, B, *features]`` tensor (time first), values usually in {0, 1}.
        params: the *postsynaptic* neuron's :class:`LIFParams`.
        duration: kernel length in seconds (see :func:`psp_kernel`).
        reduce: if False, return per-feature tensors of shape ``features`` (averaged
            over the batch only), float64, on ``spikes``' device.
        discard: number of initial steps excluded from the statistics.

    Returns:
        ``(m, v)`` as floats, or per-feature tensors if ``reduce=False``.
    """
    params = _check_params(params)
    if not isinstance(spikes, torch.Tensor):
        raise TypeError(f"spikes must be a torch.Tensor, got {type(spikes).__name__}")
    if spikes.dim() < 2:
        raise ValueError(
            f"spikes must have shape [T, B, ...] (at least 2 dims), got {tuple(spikes.shape)}"
        )
    steps = spikes.shape[0]
    if isinstance(discard, bool) or not isinstance(discard, int) or discard < 0:
        raise ValueError(f"discard must be an integer >= 0, got {discard!r}")
    if steps - discard < 2:
        raise ValueError(
            f"spikes must have at least 2 time steps after discard={discard}, got T = {steps}"
        )
    if spikes.numel() == 0:
        raise ValueError(f"spikes is empty (shape {tuple(spikes.shape)})")
    if not torch.isfinite(spikes).all():
        raise ValueError("spikes contains NaN or inf")
    features = tuple(spikes.shape[2:])
    dev = spikes.device
    dtype = torch.float64 if dev.type != "mps" else torch.float32
    kernel = psp_kernel(params, duration).to(device=dev, dtype=dtype)[:steps]
    flat = spikes.reshape(steps, -1)
    n_fft = 1 << (steps + kernel.shape[0] - 1 - 1).bit_length()
    k_hat = torch.fft.rfft(kernel, n=n_fft)
    # Chunk over trains to bound memory (about 64 MB of complex spectra per chunk).
    chunk = max(1, (1 << 22) // n_fft)
    sums = torch.empty(flat.shape[1], dtype=dtype, device=dev)
    vars_ = torch.empty_like(sums)
    for start in range(0, flat.shape[1], chunk):
        block = flat[:, start : start + chunk].to(dtype)
        filt = torch.fft.irfft(
            torch.fft.rfft(block, n=n_fft, dim=0) * k_hat[:, None], n=n_fft, dim=0
        )
        filt = filt[discard:steps]
        sums[start : start + chunk] = filt.mean(dim=0)
        vars_[start : start + chunk] = filt.var(dim=0, unbiased=False)
    if reduce:
        return float(sums.mean()), float(vars_.mean())
    batch = spikes.shape[1]
    return (
        sums.reshape(batch, *features).mean(dim=0),
        vars_.reshape(batch, *features).mean(dim=0),
    )


def firing_probability(mu_u: float, sigma_u: float, threshold: float = 1.0) -> float:
    """``P(U > theta) = 1 - Phi((theta - mu_U) / sigma_U)`` for Gaussian ``U``."""
    if not (math.isfinite(sigma_u) and sigma_u > 0):
        raise ValueError(f"sigma_u must be a finite number > 0, got {sigma_u!r}")
    if not math.isfinite(mu_u):
        raise ValueError(f"mu_u must be finite, got {mu_u!r}")
    return float(stats.norm.sf((threshold - mu_u) / sigma_u))


# -- Micheli et al. (2024): the variance map --------------------------------------------


def _q(x: float) -> float:
    return float(stats.norm.sf(x))


def micheli_variance_map(var_u: float, c: float, threshold: float = 1.0) -> float:
    """One layer of the t = 0 variance map: ``Var_{l+1} = c * Q(theta / sigma_l)``.

    ``c = n Var[w]`` and ``Q = 1 - Phi``; ``Var = 0`` maps to 0 (Micheli et al. 2024).
    """
    if var_u < 0 or not math.isfinite(var_u):
        raise ValueError(f"var_u must be a finite number >= 0, got {var_u!r}")
    if var_u == 0:
        return 0.0
    return c * _q(threshold / math.sqrt(var_u))


def micheli_collapse_constant(threshold: float = 1.0) -> float:
    """``c* = min over sigma of sigma^2 / Q(theta / sigma)``: below it the map collapses.

    For ``c < c*`` the map ``sigma^2 -> c Q(theta/sigma)`` has no fixed point other
    than 0, so activity dies with depth. ``c* = 6.03`` at ``theta = 1``; it scales
    as ``theta^2``.
    """
    if not (math.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be a finite number > 0, got {threshold!r}")
    # Work with x = theta / sigma: sigma^2 / Q = theta^2 / (x^2 Q(x)).
    res = optimize.minimize_scalar(
        lambda x: -math.log(x * x * _q(x)),
        bounds=(1e-3, 10.0),
        method="bounded",
        options={"xatol": 1e-10},
    )
    x = float(res.x)
    return threshold * threshold / (x * x * _q(x))


def micheli_fixed_point_slope(threshold: float = 1.0) -> float:
    """Slope of the map at its fixed point ``Var = 1`` with ``c = 1 / Q(theta)``.

    ``d/dv [c Q(theta / sqrt v)]`` at ``v = 1`` is ``theta phi(theta) / (2 Q(theta))``;
    the fixed point is stable when this is below 1.
    """
    if not (math.isfinite(threshold) and threshold > 0):
        raise ValueError(f"threshold must be a finite number > 0, got {threshold!r}")
    return threshold * float(stats.norm.pdf(threshold)) / (2.0 * _q(threshold))


def micheli_stability_bound() -> float:
    """The threshold below which Micheli's fixed point ``Var[U] = 1`` is stable (~1.19).

    Root of ``micheli_fixed_point_slope(theta) = 1`` (the slope increases with theta).
    """
    return float(
        optimize.brentq(lambda t: micheli_fixed_point_slope(t) - 1.0, 0.1, 5.0, xtol=1e-12)
    )


# -- firing-rate predictions for the fluctuation-driven regime ------------------------------
# (docs/science.md, section 'Firing-rate predictions'; checked by ``spikeinit theory``)
def lag1_correlation(params: LIFParams) -> float:
    """Lag-1 autocorrelation of the free shot-noise membrane: ``sum K[k] K[k+1] / sum K[k]^2``.

    ``K`` is :func:`psp_kernel`. For a stationary shot noise the autocovariance at
    lag ``j`` is proportional to ``sum_k K[k] K[k+j]`` (Campbell's theorem), so this
    is the correlation between ``U[t-1]`` and ``U[t]``.
    """
    k = psp_kernel(params)
    return float((k[:-1] * k[1:]).sum() / (k * k).sum())


def siegert_rate(
    mu: float, sigma: float, threshold: float, v_reset: float, tau_mem: float, shift: float = 0.0
) -> float:
    """Siegert rate (Hz) of a LIF neuron driven by white noise; no refractory time.

    The neuron is ``tau_mem dV = (mu - V) dt + sigma sqrt(tau_mem) dW`` with threshold
    ``theta`` and reset to ``v_reset``: ``mu`` is the free membrane's mean and ``sigma``
    the noise amplitude, so the free membrane's standard deviation is
    ``sigma / sqrt(2)``. ``shift`` moves both integration bounds (Fourcaud and
    Brunel's 2002 coloured-noise correction, see :func:`rate_predictions`)::

        1 / rate = tau_mem sqrt(pi) int_{(V_r - mu)/sigma + shift}^{(theta - mu)/sigma + shift}
                   exp(u^2) (1 + erf u) du

    Siegert (1951); the integrand is evaluated as ``erfcx(-u)`` to avoid overflow.
    Returns 0 when the upper bound exceeds 12 (the rate is then below 1e-60 Hz).
    """
    from scipy import integrate, special

    if not (sigma > 0 and tau_mem > 0):
        raise ValueError(
            f"siegert_rate: sigma and tau_mem must be > 0, got sigma={sigma!r}, tau_mem={tau_mem!r}"
        )
    lo = (v_reset - mu) / sigma + shift
    hi = (threshold - mu) / sigma + shift
    if hi > 12.0:  # exp(u^2) overflows; the rate is astronomically small
        return 0.0
    val, _ = integrate.quad(lambda u: float(special.erfcx(-u)), lo, hi, limit=200)
    return 1.0 / (tau_mem * math.sqrt(math.pi) * val)


def rate_predictions(
    mu: float,
    sigma: float,
    spread: float,
    rho: float,
    threshold: float,
    dt: float,
    tau_mem: float | None = None,
    tau_syn: float | None = None,
) -> dict[str, float]:
    """Firing-rate predictions (Hz) for a free membrane ``N(mu, sigma^2)`` per neuron.

    ``spread`` is the across-neuron standard deviation of the neurons' mean
    membranes, ``rho`` the lag-1 correlation (:func:`lag1_correlation`). Keys:

    * ``gauss``: ``P(U > theta) / dt`` (:func:`firing_probability`);
    * ``gauss_het``: the same with ``sigma_tot^2 = sigma^2 + spread^2``;
    * ``upcross``: ``P(U[t-1] < theta <= U[t]) / dt`` for a Gaussian process with
      lag-1 correlation ``rho``, averaged over neuron means ``m ~ N(mu, spread^2)``
      (40-point Gauss-Hermite quadrature); it ignores re-firing after the reset;
    * ``siegert`` (only with ``tau_mem`` and ``tau_syn``): :func:`siegert_rate` with
      ``V_r = 0``, noise amplitude ``sigma_w = sigma sqrt(2 (tau_mem + tau_syn) / tau_mem)``
      (the white noise whose synaptically filtered free membrane has std ``sigma``)
      and Fourcaud and Brunel's (2002) shift ``|zeta(1/2)| / sqrt(2) sqrt(tau_syn /
      tau_mem)``, averaged over the neuron means as above.

    Derivations: docs/science.md, section 'Firing-rate predictions'.
    """
    from scipy import special

    out = {"gauss": firing_probability(mu, sigma, threshold) / dt}
    tot = math.sqrt(sigma * sigma + spread * spread)
    out["gauss_het"] = firing_probability(mu, tot, threshold) / dt
    nodes, weights = special.roots_hermitenorm(40)
    weights = weights / weights.sum()
    z = (threshold - (mu + spread * nodes)) / sigma
    cov = [[1.0, rho], [rho, 1.0]]
    both_below = stats.multivariate_normal(mean=[0.0, 0.0], cov=cov).cdf(
        z[:, None].repeat(2, axis=1)
    )
    up = (stats.norm.cdf(z) - both_below).clip(0.0, 1.0)
    out["upcross"] = float((weights * up).sum()) / dt
    if tau_mem is not None and tau_syn is not None:
        # noise amplitude whose synaptically filtered free membrane has std sigma:
        # Var[V] = sig_w^2 tau_mem / (2 (tau_mem + tau_syn))
        sig_w = sigma * math.sqrt(2.0 * (tau_mem + tau_syn) / tau_mem)
        shift = 1.0326 * math.sqrt(tau_syn / tau_mem)  # |zeta(1/2)| / sqrt(2)
        means = mu + spread * nodes
        rates = [siegert_rate(m, sig_w, threshold, 0.0, tau_mem, shift) for m in means]
        out["siegert"] = float((weights * rates).sum())
    return out
