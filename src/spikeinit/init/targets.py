"""What :func:`spikeinit.initialize` aims at: one validated object instead of a keyword cascade.

:class:`InitTargets` holds every target and tuning knob of an initialisation
(the free membrane's ``sigma_U`` and ``mu_U`` in units of the threshold, or
``xi``; the input statistics to use; the recurrent split; the output layers'
rule; the calibration). It is validated once, when it is made, and flows down
unchanged to the rules. ``si.initialize(model, x, sigma_u=0.5)`` builds one
from its keywords; ``si.initialize(model, x, targets=InitTargets(sigma_u=0.5))``
passes it whole.

:class:`RuleTargets` is what a rule's layer hook reads for spikeinit's own
layers: the same targets with the choices that depend on the data made
(``variance="auto"`` resolved, the target rate of the rate-based rules).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from .outputs import check_rule as check_output_rule

__all__ = [
    "MAX_TARGET",
    "MEAN_SPLITS",
    "STATS",
    "VARIANCES",
    "InitTargets",
    "ResetForm",
    "RuleTargets",
]

STATS = ("filtered", "rate")
VARIANCES = ("auto", "temporal", "total")
MEAN_SPLITS = ("alpha", "stork")
FORMS = ("covariance", "public")
#: targets beyond this many thresholds describe no useful regime (and overflow float32 weights)
MAX_TARGET = 1e3

#: the forms of ``micheli_reset`` (:func:`spikeinit.init.rules.micheli.micheli_reset_normal_`)
ResetForm = Literal["covariance", "public"]


@dataclass(frozen=True)
class InitTargets:
    """The targets of :func:`spikeinit.initialize` (its keywords of the same names).

    Attributes:
        sigma_u, mu_u: the free membrane's temporal std and mean, in units of the
            threshold theta. Or ``xi = (1 - mu_u) / sigma_u``. ``sigma_u=None``: 1
            theta, except for a snnTorch / Norse / SpikingJelly model whose input
            is static in time (0.5 theta; docs/science.md, section 'Static input').
        xi: the distance to threshold in units of sigma_U (replaces ``sigma_u``).
        nu: one global input rate in Hz for every layer (stork's rule).
        stats: ``"filtered"`` (measured filtered statistics) or ``"rate"``
            (measured rate, Poisson formula).
        variance: ``"temporal"``, ``"total"`` (over time and samples) or ``"auto"``.
        alpha: feed-forward share of the variance in recurrent layers, in (0, 1].
        mean_split: ``"alpha"`` or ``"stork"``: how a recurrent layer's mean is split.
        readout: the output layers' rule (:data:`spikeinit.init.outputs.OUTPUT_RULES`),
            a target ``sigma_U / theta`` or a ``{layer name: rule}`` dict.
        calibrate: refine each layer by measurement (``tol`` relative error,
            ``max_iter`` rounds).
        target_rate: with ``calibrate``, the output rate (Hz) to hit instead of sigma_U.
        form: ``method="micheli_reset"``'s form, ``"covariance"`` or ``"public"``.

    Raises ``ValueError`` (``TypeError`` for a wrong type) naming the field and
    what is allowed.
    """

    sigma_u: float | None = None
    mu_u: float = 0.0
    xi: float | None = None
    nu: float | None = None
    stats: str = "filtered"
    variance: str = "auto"
    alpha: float = 0.9
    mean_split: str = "alpha"
    readout: str | float | Mapping[str, str | float] = "auto"
    calibrate: bool = False
    target_rate: float | None = None
    tol: float = 0.02
    max_iter: int = 20
    form: ResetForm = "covariance"

    def __post_init__(self) -> None:
        if self.stats not in STATS:
            raise ValueError(f"stats must be one of {list(STATS)}, got {self.stats!r}")
        if self.variance not in VARIANCES:
            raise ValueError(f"variance must be one of {list(VARIANCES)}, got {self.variance!r}")
        check_output_rule(self.readout)
        if not (0.0 < self.alpha <= 1.0) or not math.isfinite(self.alpha):
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha!r}")
        if self.mean_split not in MEAN_SPLITS:
            raise ValueError(
                f"mean_split must be one of {list(MEAN_SPLITS)}, got {self.mean_split!r}"
            )
        nu = self.nu
        if nu is not None and not (math.isfinite(nu) and nu > 0):
            raise ValueError(f"nu must be a finite rate > 0 Hz, got {nu!r}")
        sigma_u = self.sigma_u
        if self.xi is None and sigma_u is not None and not _in_range(sigma_u):
            raise ValueError(f"sigma_u must be in (0, {MAX_TARGET:g}] (theta), got {sigma_u!r}")
        if not (math.isfinite(self.mu_u) and abs(self.mu_u) <= MAX_TARGET):
            raise ValueError(
                f"mu_u must be in [-{MAX_TARGET:g}, {MAX_TARGET:g}] (theta), got {self.mu_u!r}"
            )
        if self.xi is not None and not (math.isfinite(self.xi) and self.xi != 0):
            raise ValueError(f"xi must be a finite number other than 0, got {self.xi!r}")
        if not (0 < self.tol < 1):
            raise ValueError(f"tol must be in (0, 1), got {self.tol!r}")
        rate = self.target_rate
        if rate is not None and not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"target_rate must be a finite rate > 0 Hz, got {rate!r}")
        if rate is not None and not self.calibrate:
            raise ValueError("target_rate is a calibration target: pass calibrate=True with it")
        n = self.max_iter
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"max_iter must be an integer >= 0, got {n!r}")
        if self.form not in FORMS:
            raise ValueError(f"form must be 'covariance' or 'public', got {self.form!r}")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The fields, which are also :func:`spikeinit.initialize`'s keywords."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def given(cls, keywords: Mapping[str, Any]) -> list[str]:
        """The names in ``keywords`` whose value differs from the field's default."""
        defaults = cls()
        return [k for k in cls.names() if keywords[k] != getattr(defaults, k)]

    @property
    def sigma_target(self) -> float:
        """``sigma_U / theta`` aimed at: ``sigma_u``, or ``(1 - mu_u) / xi``."""
        if self.xi is not None:
            return (1 - self.mu_u) / float(self.xi)
        return 1.0 if self.sigma_u is None else self.sigma_u


def _in_range(sigma_u: object) -> bool:
    return (
        isinstance(sigma_u, (int, float))
        and math.isfinite(sigma_u)
        and 0 < sigma_u <= MAX_TARGET
    )


@dataclass(frozen=True)
class RuleTargets:
    """What a rule's layer hook reads for spikeinit's own layers (made by ``initialize``).

    Attributes:
        sigma_u: ``sigma_U / theta`` (``None`` when ``xi`` is given).
        mu_u, xi, nu, stats, alpha, mean_split: as in :class:`InitTargets`.
        variance: ``"temporal"`` or ``"total"`` (``"auto"`` resolved from the data).
        rule_rate: the target rate (Hz) of the rate-based data-dependent rules
            (``perez_nieves``): ``nu``, else the model input's rate.
    """

    sigma_u: float | None
    mu_u: float
    xi: float | None
    nu: float | None
    stats: str
    alpha: float
    variance: str = "temporal"
    mean_split: str = "alpha"
    rule_rate: float | None = None
