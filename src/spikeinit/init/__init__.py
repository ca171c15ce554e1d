"""Initialisers. Tensor-level, in place, ``torch.nn.init`` style: :mod:`.functional`."""

from .functional import (
    DaleLambdas,
    dale_exponential_,
    default_uniform_,
    fluctuation_moments,
    fluctuation_normal_,
    glorot_normal_,
    kaiming_normal_,
    micheli_finite_width_normal_,
    micheli_normal_,
    micheli_reset_normal_,
    micheli_reset_variance,
    micheli_variance,
    recurrent_shares,
)

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
]
