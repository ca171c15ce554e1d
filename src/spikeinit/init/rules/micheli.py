"""Micheli et al. (2024): variance propagation through binary spikes, and its variants.

Tensor-level rules (``torch.nn.init`` style) and the registry's ``micheli``,
``micheli_reset`` and ``micheli_finite`` entries. They are data-independent:
:func:`spikeinit.initialize` applies them to every weight group with its own
fan-in (:func:`spikeinit.init.rules.base.tensor_on_each_group`), and to the
weights of snnTorch / Norse / SpikingJelly models tensor by tensor.

Reference:
    [B] Micheli, Booij, van Gemert, Tomen (2024), *Deep activity propagation via
        weight initialization in spiking neural networks*, arXiv:2410.00580.
"""

from __future__ import annotations

import math
import sys
from typing import Literal

import torch
from scipy import stats

from ..._validate import finite
from ._tensor import _check_generator, _check_tensor, _fan_in, _normal_, _positive
from .context import ResetForm, RuleContext

__all__ = [
    "micheli",
    "micheli_finite",
    "micheli_finite_width_normal_",
    "micheli_finite_width_variance",
    "micheli_normal_",
    "micheli_reset",
    "micheli_reset_normal_",
    "micheli_reset_variance",
    "micheli_variance",
]


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



# -- the registry's entries (spikeinit.catalog.INIT_RULES) -------------------------------
def micheli(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`micheli_normal_`."""
    return micheli_normal_(w, threshold=ctx.threshold, generator=ctx.generator)


def micheli_reset(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`micheli_reset_normal_` with the layer's ``beta`` and ``ctx.form``."""
    return micheli_reset_normal_(
        w, beta=ctx.beta, threshold=ctx.threshold, form=ctx.form, generator=ctx.generator
    )


def micheli_finite(w: torch.Tensor, ctx: RuleContext) -> torch.Tensor:
    """:func:`micheli_finite_width_normal_`."""
    return micheli_finite_width_normal_(w, threshold=ctx.threshold, generator=ctx.generator)
