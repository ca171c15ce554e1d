"""Hostile inputs (issue 13): each is handled (a truthful result or a clear
ValueError/TypeError), never silently wrong or unbounded."""

from __future__ import annotations

import math

import pytest
import torch

from spikeinit import LIFParams, theory
from spikeinit.params import MAX_KERNEL_STEPS

# -- 1. unbounded memory ------------------------------------------------------------


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"tau_mem": 1e20, "dt": 1e-3}, "tau_mem"),  # beta_mem == 1.0 in float64
        ({"tau_mem": 10.0, "tau_syn": 10.0, "dt": 1e-9}, "tau_mem"),  # the CLI case
        ({"tau_syn": 1e3, "dt": 1e-3}, "tau_syn"),
        ({"tau_mem": 1e308, "dt": 1e-308, "tau_syn": None}, "tau_mem"),  # tau/dt overflows
    ],
)
def test_decay_too_close_to_one_is_refused(kw, field):
    with pytest.raises(ValueError, match=f"{field} must be at most"):
        LIFParams(**kw)


def test_longest_accepted_kernel_is_bounded():
    # the largest accepted time constant still gives a kernel within the bound
    p = LIFParams(tau_mem=100_000e-3 * 0.999, tau_syn=None, dt=1e-3)
    assert p.beta_mem < 1.0
    k = theory.psp_kernel(p)
    assert k.numel() <= MAX_KERNEL_STEPS and torch.isfinite(k).all()


def test_explicit_kernel_duration_is_bounded():
    p = LIFParams()
    with pytest.raises(ValueError, match="duration must be at most"):
        theory.psp_kernel(p, duration=1e6)
    with pytest.raises(ValueError, match="duration must be at most"):
        theory.psp_integrals(p, duration=1e300)


@pytest.mark.parametrize("beta", ["0.9", None, [0.9]])
def test_from_snntorch_beta_type(beta):
    with pytest.raises(TypeError, match="beta"):
        LIFParams.from_snntorch(beta=beta)  # type: ignore[arg-type]


def test_from_snntorch_beta_near_one():
    with pytest.raises(ValueError, match="tau_mem must be at most"):
        LIFParams.from_snntorch(beta=math.nextafter(1.0, 0.0))
