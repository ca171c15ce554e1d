"""Initialisers. Tensor-level, in place, ``torch.nn.init`` style: :mod:`.functional`
and :mod:`.propagation_rules` (our rules beyond Micheli et al. 2024), each living
with its layer hook in :mod:`.rules` (one module per family); model level:
:func:`initialize` (:mod:`.model`), aiming at an :class:`InitTargets`, whose
report is an :class:`InitReport`."""

from .functional import (
    DaleLambdas,
    dale_exponential_,
    default_uniform_,
    fluctuation_moments,
    fluctuation_normal_,
    glorot_normal_,
    kaiming_normal_,
    micheli_finite_width_normal_,
    micheli_finite_width_variance,
    micheli_normal_,
    micheli_reset_normal_,
    micheli_reset_variance,
    micheli_variance,
    recurrent_shares,
    stork_mean_share,
)
from .model import initialize
from .propagation_rules import (
    balanced_gain,
    balanced_normal_,
    calibrate_profile_,
    decorrelate_rows_,
)
from .report import InitReport
from .targets import InitTargets

__all__ = [
    "DaleLambdas",
    "InitReport",
    "InitTargets",
    "balanced_gain",
    "balanced_normal_",
    "calibrate_profile_",
    "decorrelate_rows_",
    "dale_exponential_",
    "default_uniform_",
    "fluctuation_moments",
    "fluctuation_normal_",
    "glorot_normal_",
    "initialize",
    "kaiming_normal_",
    "micheli_finite_width_normal_",
    "micheli_finite_width_variance",
    "micheli_normal_",
    "micheli_reset_normal_",
    "micheli_reset_variance",
    "micheli_variance",
    "recurrent_shares",
    "stork_mean_share",
]
