"""Library rules beyond Micheli et al.: spikeinit.init.propagation_rules."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import spikeinit as si
from spikeinit.init import balanced_gain, calibrate_profile_, decorrelate_rows_


def test_balanced_gain_keeps_unit_variance_for_bernoulli_inputs():
    # with zero-sum rows of squared norm c, Var[sum_i w_i s_i] = c p (1 - p) for
    # i.i.d. Bernoulli(p) inputs: check that c makes it 1 by sampling
    p = float(stats.norm.sf(1.0))
    c = balanced_gain(1.0)
    assert c == pytest.approx(1.0 / (p * (1.0 - p)))
    w = si.init.balanced_normal_(torch.empty(200, 400), 1.0, torch.Generator().manual_seed(0))
    s = (torch.rand(4000, 400, generator=torch.Generator().manual_seed(1)) < p).double()
    u = s @ w.double().t()  # [samples, neurons]
    assert float(u.var(dim=0).mean()) == pytest.approx(1.0, rel=0.05)
    # no quenched mean input: the neurons' means differ only by sampling noise (SE
    # 1 / sqrt(4000)), where i.i.d. Micheli weights spread them by sqrt(c p^2) ~ 0.4
    assert float(u.mean(dim=0).abs().max()) < 5 / math.sqrt(4000)
    w_iid = si.init.micheli_normal_(torch.empty(200, 400), 1.0, torch.Generator().manual_seed(0))
    assert float((s @ w_iid.double().t()).mean(dim=0).std()) > 0.3


def test_decorrelate_rows_cancels_the_quenched_input_and_keeps_norms():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(30, 50, generator=gen)
    rates = torch.rand(50, generator=gen)  # unequal presynaptic rates
    presyn = (torch.rand(40, 16, 50, generator=gen) < rates).float()
    norms = w.norm(dim=1)
    decorrelate_rows_(w, presyn)
    r = presyn.double().mean(dim=(0, 1))
    # sum_i w_ji (r_i - mean r) = 0 for every row, norms unchanged
    quenched = w.double() @ (r - r.mean())
    assert torch.allclose(quenched, torch.zeros(30, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(w.norm(dim=1), norms, rtol=1e-5)


def test_calibrate_profile_balances_over_and_undershoot():
    params = si.LIFParams.from_snntorch(beta=0.5, threshold=1.0, reset_mechanism="subtract")
    gen = torch.Generator().manual_seed(0)
    p = float(stats.norm.sf(1.0))
    presyn = (torch.rand(10, 64, 200, generator=gen) < p).float()
    w = si.init.micheli_normal_(torch.empty(200, 200), 1.0, generator=gen)
    target = torch.full((10,), p, dtype=torch.float64)
    a = calibrate_profile_(w, presyn, params, target)
    assert a > 0
    rates = si.lif_sequence(presyn @ w.t(), params).double().mean(dim=(1, 2))
    d = rates.clamp_min(1e-6).log() - target.log()
    # the worst over- and under-shoot are balanced (to the bisection's resolution)
    assert abs(float(d.max() + d.min())) < 0.1
    assert float(d.max()) >= 0 >= float(d.min())


def test_bad_shapes_name_the_argument():
    with pytest.raises(ValueError, match="balanced_normal_"):
        si.init.balanced_normal_(torch.empty(5))
    with pytest.raises(ValueError, match="presyn"):
        decorrelate_rows_(torch.empty(3, 4), torch.zeros(2, 2, 5))
    with pytest.raises(ValueError, match="target"):
        params = si.LIFParams.from_snntorch(beta=0.5)
        calibrate_profile_(torch.ones(3, 4), torch.zeros(5, 2, 4), params, torch.ones(4))
    assert math.isfinite(balanced_gain(2.0))
