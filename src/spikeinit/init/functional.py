"""Tensor-level initialisers in the style of :mod:`torch.nn.init`, in one namespace.

Every ``*_`` function fills its tensor in place under ``torch.no_grad()`` and
returns it. The fan-in comes from the weight's shape, ``shape[1] * prod(shape[2:])``,
so linear ``[out, in]`` and convolution ``[out, in, *kernel]`` weights both work.
Every random draw takes an optional ``torch.Generator``.

Each function lives with its rule's layer hook in :mod:`spikeinit.init.rules`
(one module per family); this module gathers them:

* fluctuation-driven initialisation (Rossbroich, Gygax & Zenke 2022):
  :mod:`spikeinit.init.rules.fluctuation`;
* Dale's law (the same paper, stork's exponential initialiser):
  :mod:`spikeinit.init.rules.dale`;
* Micheli et al. (2024) and its variants: :mod:`spikeinit.init.rules.micheli`;
* He/Kaiming, Glorot/Xavier and PyTorch's default:
  :mod:`spikeinit.init.rules.baselines`.
"""

from __future__ import annotations

from .rules._tensor import (
    _check_generator,
    _check_tensor,
    _fan_in,
    _fan_out,
    _normal_,
    _positive,
)
from .rules.baselines import default_uniform_, glorot_normal_, kaiming_normal_
from .rules.context import ResetForm
from .rules.dale import DaleLambdas, dale_exponential_
from .rules.fluctuation import (
    fluctuation_moments,
    fluctuation_normal_,
    recurrent_shares,
    sigma_from_xi,
    stork_mean_share,
)
from .rules.micheli import (
    FiniteMargin,
    micheli_finite_width_normal_,
    micheli_finite_width_variance,
    micheli_normal_,
    micheli_reset_normal_,
    micheli_reset_variance,
    micheli_variance,
)

__all__ = [
    "DaleLambdas",
    "FiniteMargin",
    "ResetForm",
    "_check_generator",
    "_check_tensor",
    "_fan_in",
    "_fan_out",
    "_normal_",
    "_positive",
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
    "sigma_from_xi",
    "stork_mean_share",
]
