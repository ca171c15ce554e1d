"""Tensor-level initialisers in the style of :mod:`torch.nn.init`.

Every ``*_`` function fills its tensor in place under ``torch.no_grad()`` and
returns it. The fan-in comes from the weight's shape, ``shape[1] * prod(shape[2:])``,
so linear ``[out, in]`` and convolution ``[out, in, *kernel]`` weights both work.
Every random draw takes an optional ``torch.Generator``.

References:
    [A] Rossbroich, Gygax, Zenke (2022), *Fluctuation-driven initialization for
        spiking neural network training*, Neuromorph. Comput. Eng.,
        arXiv:2206.10226 (code: fmi-basel/stork).
    [B] Micheli, Booij, van Gemert, Tomen (2024), *Deep activity propagation via
        weight initialization in spiking neural networks*, arXiv:2410.00580.
    [C] He, Zhang, Ren, Sun (2015), *Delving deep into rectifiers*, arXiv:1502.01852.
    [D] Glorot, Bengio (2010), *Understanding the difficulty of training deep
        feedforward neural networks*, AISTATS.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Literal

import torch
from scipy import stats

from .._validate import finite
from ..params import LIFParams
from ..theory import psp_integrals

__all__ = [
    "DaleLambdas",
    "dale_exponential_",
    "default_uniform_",
    "fluctuation_moments",
    "fluctuation_normal_",
    "glorot_normal_",
    "kaiming_normal_",
    "micheli_finite_width_normal_",
    "micheli_normal_",
    "micheli_reset_normal_",
    "micheli_reset_variance",
    "micheli_variance",
    "recurrent_shares",
    "stork_mean_share",
]


# -- helpers ------------------------------------------------------------------------------


def _check_tensor(w: object, name: str = "w") -> torch.Tensor:
    if not isinstance(w, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(w).__name__}")
    if w.dim() < 2:
        raise ValueError(
            f"{name} must have at least 2 dims ([out, in, *kernel]) to define a fan-in, "
            f"got shape {tuple(w.shape)}"
        )
    if not w.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (float16/32/64, bfloat16), got dtype {w.dtype}"
        )
    if w.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(w.shape)})")
    return w


def _fan_in(w: torch.Tensor) -> int:
    return int(w.shape[1] * math.prod(w.shape[2:]))


def _fan_out(w: torch.Tensor) -> int:
    return int(w.shape[0] * math.prod(w.shape[2:]))


def _positive(name: str, value: object) -> float:
    v = finite(name, value)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def _check_generator(gen: object) -> torch.Generator | None:
    if gen is not None and not isinstance(gen, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(gen).__name__}")
    return gen


def _normal_(w: torch.Tensor, mean: float, std: float, gen: torch.Generator | None) -> torch.Tensor:
    gen = _check_generator(gen)
    # about 6 standard deviations must stay representable in the tensor's dtype
    big = torch.finfo(w.dtype).max / 8.0
    if not (math.isfinite(std) and math.isfinite(mean)) or abs(mean) + 6.0 * std > big:
        raise ValueError(
            f"the weight distribution N({mean:.3g}, {std:.3g}^2) does not fit in {w.dtype} "
            "(the targets or the threshold are too large)"
        )
    with torch.no_grad():
        return w.normal_(mean, std, generator=gen)


# -- fluctuation-driven initialisation [A] ----------------------------------------------


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


# -- Dale's law [A] -------------------------------------------------------------------------


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


# -- Micheli et al. (2024) [B] ------------------------------------------------------------


def _threshold(threshold: object) -> float:
    return _positive("threshold", threshold)


def micheli_variance(fan_in: int, threshold: float = 1.0) -> float:
    """``Var[w] = 1 / (n (1 - Phi(theta)))`` [B]."""
    if isinstance(fan_in, bool) or not isinstance(fan_in, int) or fan_in < 1:
        raise ValueError(f"fan_in must be an integer >= 1, got {fan_in!r}")
    return 1.0 / (fan_in * _firing_probability(_threshold(threshold), fan_in))


def _firing_probability(theta: float, fan_in: int) -> float:
    """``1 - Phi(theta)``, refused where ``1 / (n (1 - Phi(theta)))`` is not a finite float."""
    q = float(stats.norm.sf(theta))
    if q * fan_in <= 1e3 / sys.float_info.max:
        raise ValueError(
            f"threshold={theta:g} is too large: the firing probability 1 - Phi(theta) = {q:.3g} "
            "gives an infinite weight variance (Micheli's rule needs theta of a few units)"
        )
    return q


def micheli_normal_(
    w: torch.Tensor, threshold: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Micheli et al. [B]: ``w ~ N(0, 1 / (n (1 - Phi(theta))))``, ``n`` the fan-in.

    Keeps ``Var[U] = 1`` from layer to layer at the first time step, for binary
    spikes ``s = H(U - theta)`` with ``U ~ N(0, 1)`` (``E[s^2] = 1 - Phi(theta)``).
    ``n Var[w]`` is 3.241, 6.303 and 43.96 at theta = 0.5, 1 and 2. This sits just
    above the collapse constant ``c* = 6.03`` (theta = 1) of the variance map
    (:func:`spikeinit.theory.micheli_collapse_constant`).
    """
    w = _check_tensor(w)
    return _normal_(w, 0.0, math.sqrt(micheli_variance(_fan_in(w), threshold)), generator)


ResetForm = Literal["covariance", "public"]


def micheli_reset_variance(
    fan_in: int, beta: float, threshold: float = 1.0, form: ResetForm = "covariance"
) -> float:
    """Reset-aware ``Var[w]`` of Micheli et al. [B]; see :func:`micheli_reset_normal_`."""
    if isinstance(fan_in, bool) or not isinstance(fan_in, int) or fan_in < 1:
        raise ValueError(f"fan_in must be an integer >= 1, got {fan_in!r}")
    b = finite("beta", beta)
    if not 0 <= b < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")
    theta = _threshold(threshold)
    if form not in ("covariance", "public"):
        raise ValueError(f"form must be 'covariance' or 'public', got {form!r}")
    p = _firing_probability(theta, fan_in)
    phi = float(stats.norm.pdf(theta))
    if form == "covariance":
        cross = phi
    elif form == "public":
        cross = phi / p
    else:
        raise ValueError(f"form must be 'covariance' or 'public', got {form!r}")
    num = 1.0 - b * b - theta * theta * p * (1.0 - p) + 2.0 * b * theta * cross
    den = fan_in * p
    if not (num > 0 and den > 0 and math.isfinite(num / den)):
        raise ValueError(
            f"reset-aware Micheli variance is not positive for beta={beta!r}, "
            f"threshold={threshold!r}, form={form!r}: numerator "
            f"1 - beta^2 - theta^2 p(1-p) + 2 beta theta E = {num:.3g}, denominator n p = {den:.3g}"
        )
    return num / den


def micheli_reset_normal_(
    w: torch.Tensor,
    beta: float,
    threshold: float = 1.0,
    form: ResetForm = "covariance",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Reset-aware Micheli init [B] for snnTorch ``Leaky`` with subtract reset.

    From stationarity of ``U[t] = beta U[t-1] + W s[t] - theta S[t-1]`` with
    ``Var[U] = 1``, ``p = 1 - Phi(theta)``::

        Var[w] = (1 - beta^2 - theta^2 p (1 - p) + 2 beta theta E) / (n p)

    ``form="public"`` is the public code's ``E = phi(theta) / p`` (the conditional
    mean ``E[U | U > theta]``); ``form="covariance"`` uses ``E = phi(theta) =
    Cov(U, S)``, which is what ``Var[beta U - theta S]`` actually contains. At
    beta = 0.5, theta = 1: ``n Var[w]`` = 13.50 (public), 5.41 (covariance), and
    6.30 for the plain :func:`micheli_normal_`.

    **Which form holds (our simulation,** snnTorch-style Leaky, beta 0.5, theta 1,
    subtract reset, width 1000, batch 64). A single layer fed i.i.d. Bernoulli(p)
    spikes, the derivation's own assumption, settles at ``Var[U] = 1.18``
    (covariance), 2.92 (public), 1.37 (plain). In a 20-layer network fed i.i.d.
    N(0, 1) current, the first initialised layer settles at 0.90 (covariance),
    2.19 (public), 1.04 (plain). The covariance form is therefore the default.
    Neither keeps deep networks at 1: both ignore the non-zero mean
    ``E[U] = -theta p / (1 - beta)`` and the temporal correlation of the input; the
    covariance form has ``n Var[w] = 5.41 < c* = 6.03``, so activity collapses with
    depth (Var ~ 0.05 at layer 10), while the public form saturates (Var ~ 9.4,
    rate ~ 0.30 by layer 10). The plain formula (6.30) decays slowly (Var 0.69 at
    layer 10, 0.40 at layer 20).
    """
    w = _check_tensor(w)
    var = micheli_reset_variance(_fan_in(w), beta, threshold, form)
    return _normal_(w, 0.0, math.sqrt(var), generator)


FiniteMargin = Literal["mean", "resample"]


def micheli_finite_width_normal_(
    w: torch.Tensor,
    threshold: float = 1.0,
    n_bootstrap: int = 1000,
    generator: torch.Generator | None = None,
    p_floor: float | None = None,
    margin: FiniteMargin = "mean",
) -> torch.Tensor:
    """Finite-width Micheli init [B]: ``Var[w] = 1 / (n p_hat)``.

    ``p_hat`` replaces the tail probability ``1 - Phi(theta)`` by a bootstrap
    estimate from ``n`` (the fan-in) standard-normal samples ``z``: resample ``z``
    ``R = n_bootstrap`` times, let ``f_r`` be the tail fraction ``mean(z > theta)``
    of resample ``r``, ``m`` and ``s`` the mean and (population) standard
    deviation of the ``f_r``, and::

        margin="mean"     (default, the public code's rule):  p_hat = m - 1.96 s / sqrt(R)
        margin="resample" (spikeinit's earlier variant):      p_hat = m - 1.96 s

    ``"mean"`` subtracts the 95 % margin of the bootstrap *mean*, which shrinks
    with ``R``, so ``p_hat`` is essentially the empirical tail fraction of the
    ``n`` draws: ``n Var[w]`` averages 6.37 at ``n = 1000`` and 6.79 at
    ``n = 100`` (theta = 1; ``1 / (p - 1.96 sqrt(p (1 - p) / n) / sqrt(R))`` at the
    true ``p`` is 6.33 and 6.39; the plain rule 6.30). ``"resample"`` subtracts
    the margin of one resample, a 95 % lower bound on the tail fraction:
    7.40 and 13.3. docs/science.md, section 'Variants in the public code', has
    the derivation of these numbers and the simulated rates of both forms.

    ``p_hat`` is random and can reach 0 (small ``n``, large ``theta``); it is
    clamped to ``p_floor`` (default ``0.5 / n``, half a sample), which keeps the
    variance finite. Draws use ``generator``.
    """
    w = _check_tensor(w)
    var = micheli_finite_width_variance(
        _fan_in(w), threshold, n_bootstrap, generator, p_floor=p_floor, margin=margin
    )
    return _normal_(w, 0.0, math.sqrt(var), generator)


def micheli_finite_width_variance(
    fan_in: int,
    threshold: float = 1.0,
    n_bootstrap: int = 1000,
    generator: torch.Generator | None = None,
    p_floor: float | None = None,
    margin: FiniteMargin = "mean",
) -> float:
    """One random draw of the finite-width ``Var[w] = 1 / (n p_hat)`` [B]; see
    :func:`micheli_finite_width_normal_` (same arguments, ``fan_in`` = ``n``)."""
    if isinstance(fan_in, bool) or not isinstance(fan_in, int) or fan_in < 1:
        raise ValueError(f"fan_in must be an integer >= 1, got {fan_in!r}")
    _check_generator(generator)
    theta = _threshold(threshold)
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 2:
        raise ValueError(f"n_bootstrap must be an integer >= 2, got {n_bootstrap!r}")
    if margin not in ("mean", "resample"):
        raise ValueError(f"margin must be 'mean' (the public code's) or 'resample', got {margin!r}")
    n = fan_in
    floor = 0.5 / n if p_floor is None else _positive("p_floor", p_floor)
    if floor >= 1:
        raise ValueError(f"p_floor must be < 1, got {p_floor!r}")
    z = torch.randn(n, generator=generator, dtype=torch.float64)
    idx = torch.randint(0, n, (n_bootstrap, n), generator=generator)
    frac = (z[idx] > theta).double().mean(dim=1)
    spread = float(frac.std(unbiased=False))
    if margin == "mean":
        spread /= math.sqrt(n_bootstrap)
    p = max(float(frac.mean()) - 1.96 * spread, floor)
    return 1.0 / (n * p)


# -- baselines ------------------------------------------------------------------------------


def kaiming_normal_(w: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """He/Kaiming normal [C]: ``w ~ N(0, 2 / n)``, ``n`` the fan-in."""
    w = _check_tensor(w)
    return _normal_(w, 0.0, math.sqrt(2.0 / _fan_in(w)), generator)


def glorot_normal_(w: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Glorot/Xavier normal [D]: ``w ~ N(0, 2 / (n_in + n_out))``."""
    w = _check_tensor(w)
    return _normal_(w, 0.0, math.sqrt(2.0 / (_fan_in(w) + _fan_out(w))), generator)


def default_uniform_(w: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """PyTorch's default for linear/conv layers: ``U(-1/sqrt(n), 1/sqrt(n))``, Var ``1/(3n)``."""
    w = _check_tensor(w)
    _check_generator(generator)
    bound = 1.0 / math.sqrt(_fan_in(w))
    with torch.no_grad():
        return w.uniform_(-bound, bound, generator=generator)
