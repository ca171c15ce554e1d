"""Initialisers. Tensor-level, in place, ``torch.nn.init`` style: :mod:`.functional`
and :mod:`.propagation_rules` (our rules beyond Micheli et al. 2024)."""

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
from .propagation_rules import (
    balanced_gain,
    balanced_normal_,
    calibrate_profile_,
    decorrelate_rows_,
)

__all__ = [
    "DaleLambdas",
    "balanced_gain",
    "balanced_normal_",
    "calibrate_profile_",
    "decorrelate_rows_",
    "dale_exponential_",
    "default_uniform_",
    "fluctuation_moments",
    "fluctuation_normal_",
    "glorot_normal_",
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
