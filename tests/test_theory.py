"""Theory checks against independent references (docs/science.md tables, closed forms, scipy)."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import integrate, stats

import spikeinit.theory as th
from spikeinit.params import LIFParams


def _p(dt: float = 2e-3, tau_syn: float | None = 10e-3, **kw: object) -> LIFParams:
    return LIFParams(tau_mem=20e-3, tau_syn=tau_syn, dt=dt, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "dt, eps_bar, eps_hat",
    [(1e-3, 0.010507, 0.0018419), (2e-3, 0.011032, 0.0020356)],
)
def test_psp_integrals_reference_table(dt: float, eps_bar: float, eps_hat: float) -> None:
    got_bar, got_hat = th.psp_integrals(_p(dt))
    assert got_bar == pytest.approx(eps_bar, rel=5e-3)
    assert got_hat == pytest.approx(eps_hat, rel=5e-3)
    # The table is quoted to 5 significant digits; we are far tighter than 0.5%.
    assert got_bar == pytest.approx(eps_bar, rel=1e-4)
    assert got_hat == pytest.approx(eps_hat, rel=1e-4)


def test_psp_integrals_analytical_values() -> None:
    assert th.psp_integrals(_p(), "analytical") == pytest.approx((0.010, 0.0016667), rel=1e-4)
    assert th.psp_integrals(_p(tau_syn=None), "analytical") == pytest.approx((0.020, 0.010))


@pytest.mark.parametrize("tau_syn", [10e-3, None, 20e-3])
def test_numerical_integrals_converge_to_continuous_limit(tau_syn: float | None) -> None:
    p = _p(dt=1e-5, tau_syn=tau_syn)
    num = th.psp_integrals(p)
    ana = th.psp_integrals(p, "analytical")
    assert num == pytest.approx(ana, rel=1e-2)


def test_continuous_kernel_integrals_by_quadrature() -> None:
    # Independent check of the closed forms: integrate the continuous alpha-like kernel.
    tm, ts = 20e-3, 10e-3

    # tau_m dU/dt = -U + I with I(t) = exp(-t/ts): U(t) = ts/(ts-tm) (e^{-t/ts} - e^{-t/tm})
    def eps(t: float) -> float:
        return ts / (ts - tm) * (math.exp(-t / ts) - math.exp(-t / tm))

    bar = integrate.quad(eps, 0, 1.0)[0]
    hat = integrate.quad(lambda t: eps(t) ** 2, 0, 1.0)[0]
    assert th.psp_integrals(_p(), "analytical") == pytest.approx((bar, hat), rel=1e-6)


def test_analytical_scales_with_input_gain() -> None:
    # snnTorch-style Synaptic neuron: gain 1 instead of 1 - beta_m.
    p = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-5, input_scale=1.0)
    r = 1.0 / (1.0 - p.beta_mem)
    ana = th.psp_integrals(p, "analytical")
    assert ana == pytest.approx((r * 0.010, r * r * 0.0016667), rel=1e-4)
    assert th.psp_integrals(p) == pytest.approx(ana, rel=1e-2)


@pytest.mark.parametrize("dt, tau_syn", [(1e-3, 10e-3), (2e-3, 5e-3), (0.5e-3, 30e-3)])
def test_kernel_matches_exponential_difference(dt: float, tau_syn: float) -> None:
    p = _p(dt=dt, tau_syn=tau_syn)
    kern = th.psp_kernel(p)
    k = torch.arange(kern.shape[0], dtype=torch.float64)
    bm, bs, g = p.beta_mem, p.beta_syn, p.gain
    closed = g * (bm ** (k + 1) - bs ** (k + 1)) / (bm - bs)
    assert kern.dtype == torch.float64
    assert torch.allclose(kern, closed, rtol=1e-10, atol=1e-15)
    assert kern.shape[0] == round(10 * max(20e-3, tau_syn) / dt)


def test_kernel_delta_and_equal_taus() -> None:
    p = _p(dt=1e-3, tau_syn=None, input_scale=0.3)
    kern = th.psp_kernel(p, duration=0.05)
    k = torch.arange(50, dtype=torch.float64)
    assert torch.allclose(kern, 0.3 * p.beta_mem**k)
    q = _p(dt=1e-3, tau_syn=20e-3)
    kern = th.psp_kernel(q)
    k = torch.arange(kern.shape[0], dtype=torch.float64)
    assert torch.allclose(kern, q.gain * (k + 1) * q.beta_mem**k, rtol=1e-10)


def test_kernel_matches_layer_simulation() -> None:
    # The fused LIF kernel with no reset, fed one unit spike, must trace psp_kernel.
    from spikeinit.neuron import lif_sequence

    for p in (_p(), _p(tau_syn=None), LIFParams.from_snntorch(beta=0.9, dt=1e-3)):
        p = p.replace(reset="none")
        kern = th.psp_kernel(p)
        x = torch.zeros(kern.shape[0], 1, 1, dtype=torch.float64)
        x[0] = 1.0
        _, mem = lif_sequence(x, p, return_mem=True)
        assert torch.allclose(mem[:, 0, 0], kern, rtol=1e-12)


def test_psp_errors() -> None:
    with pytest.raises(ValueError, match="duration"):
        th.psp_kernel(_p(), duration=-1.0)
    with pytest.raises(ValueError, match="mode"):
        th.psp_integrals(_p(), mode="exact")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="params must be LIFParams"):
        th.psp_kernel(None)  # type: ignore[arg-type]


def test_membrane_moments_campbell() -> None:
    p = _p()
    eb, eh = th.psp_integrals(p)
    mu, sd = th.membrane_moments(700, 15.8, 0.01, 0.2, p)
    assert mu == pytest.approx(700 * 15.8 * 0.01 * eb)
    assert sd == pytest.approx(math.sqrt(700 * 15.8 * (0.04 + 1e-4) * eh))
    mu2, sd2 = th.membrane_moments(700, None, 0.01, 0.2, p, filtered_mean=0.3, filtered_var=0.05)
    assert mu2 == pytest.approx(700 * 0.01 * 0.3)
    assert sd2 == pytest.approx(math.sqrt(700 * 0.0401 * 0.05))
    with pytest.raises(ValueError, match="nu"):
        th.membrane_moments(700, None, 0.0, 0.2, p)
    with pytest.raises(ValueError, match="nu"):
        th.membrane_moments(700, -1.0, 0.0, 0.2, p)
    with pytest.raises(ValueError, match="n "):
        th.membrane_moments(0, 1.0, 0.0, 0.2, p)
    with pytest.raises(ValueError, match="sigma_w"):
        th.membrane_moments(10, 1.0, 0.0, float("nan"), p)


@pytest.mark.parametrize("tau_syn", [10e-3, None])
def test_filtered_stats_bernoulli_vs_poisson_theory(tau_syn: float | None) -> None:
    p = _p(tau_syn=tau_syn)
    nu, steps = 15.8, 2000
    prob = nu * p.dt
    gen = torch.Generator().manual_seed(1)
    spikes = (torch.rand(steps, 4, 500, generator=gen) < prob).float()
    kern = th.psp_kernel(p)
    eb, eh = th.psp_integrals(p)
    discard = kern.shape[0]
    m, v = th.filtered_input_stats(spikes, p, discard=discard)
    n_eff = steps - discard
    assert m == pytest.approx(nu * eb, rel=0.01)
    # Bernoulli factor (1 - p), minus the variance of the finite-window time mean.
    expect_v = prob * (1 - prob) * float((kern**2).sum() - kern.sum() ** 2 / n_eff)
    assert v == pytest.approx(expect_v, rel=0.02)
    assert v == pytest.approx(nu * eh * (1 - prob), rel=0.05)
    # per-feature form averages back to the same numbers
    mf, vf = th.filtered_input_stats(spikes, p, discard=discard, reduce=False)
    assert mf.shape == (500,) and vf.shape == (500,)
    assert float(mf.mean()) == pytest.approx(m) and float(vf.mean()) == pytest.approx(v)


def test_filtered_stats_matches_direct_convolution() -> None:
    p = _p(dt=1e-3)
    gen = torch.Generator().manual_seed(3)
    spikes = (torch.rand(300, 2, 3, 5, generator=gen) < 0.05).double()
    kern = th.psp_kernel(p)
    flat = spikes.reshape(300, -1)
    direct = torch.zeros_like(flat)
    for t in range(300):
        for k in range(min(t + 1, kern.shape[0])):
            direct[t] += kern[k] * flat[t - k]
    m, v = th.filtered_input_stats(spikes, p, reduce=False)
    assert m.shape == (3, 5)
    ref_m = direct.mean(0).reshape(2, 3, 5).mean(0)
    ref_v = direct.var(0, unbiased=False).reshape(2, 3, 5).mean(0)
    assert torch.allclose(m, ref_m, atol=1e-10) and torch.allclose(v, ref_v, atol=1e-10)


def test_filtered_stats_errors() -> None:
    p = _p()
    with pytest.raises(ValueError, match="at least 2 dims"):
        th.filtered_input_stats(torch.zeros(10), p)
    with pytest.raises(ValueError, match="discard"):
        th.filtered_input_stats(torch.zeros(10, 2, 3), p, discard=-1)
    with pytest.raises(ValueError, match="at least 2 time steps"):
        th.filtered_input_stats(torch.zeros(10, 2, 3), p, discard=9)
    with pytest.raises(ValueError, match="NaN"):
        th.filtered_input_stats(torch.full((10, 2, 3), float("nan")), p)


@pytest.mark.parametrize("mu, sd, theta", [(0.0, 1.0, 1.0), (0.3, 0.5, 1.0), (-1.0, 2.0, 0.5)])
def test_firing_probability_vs_scipy(mu: float, sd: float, theta: float) -> None:
    assert th.firing_probability(mu, sd, theta) == pytest.approx(
        1 - stats.norm.cdf(theta, loc=mu, scale=sd), rel=1e-12
    )
    with pytest.raises(ValueError, match="sigma_u"):
        th.firing_probability(0.0, 0.0)


def test_micheli_constants() -> None:
    assert th.micheli_collapse_constant(1.0) == pytest.approx(6.03, abs=0.01)
    # brute-force check of the minimum
    sig = torch.linspace(0.2, 5.0, 200001, dtype=torch.float64)
    brute = float((sig**2 / torch.special.ndtr(-1.0 / sig)).min())
    assert th.micheli_collapse_constant(1.0) == pytest.approx(brute, rel=1e-6)
    assert th.micheli_collapse_constant(2.0) == pytest.approx(4 * brute, rel=1e-6)
    bound = th.micheli_stability_bound()
    assert bound == pytest.approx(1.19, abs=0.005)
    # numerical derivative of the map at its fixed point, on both sides of the bound
    for theta, stable in ((bound - 0.05, True), (bound + 0.05, False)):
        c = 1.0 / stats.norm.sf(theta)
        h = 1e-6
        slope = (
            th.micheli_variance_map(1 + h, c, theta) - th.micheli_variance_map(1 - h, c, theta)
        ) / (2 * h)
        assert slope == pytest.approx(th.micheli_fixed_point_slope(theta), rel=1e-5)
        assert (abs(slope) < 1) == stable
    assert th.micheli_variance_map(1.0, 1 / stats.norm.sf(1.0), 1.0) == pytest.approx(1.0)
    assert th.micheli_variance_map(0.0, 6.3) == 0.0
    with pytest.raises(ValueError, match="threshold"):
        th.micheli_collapse_constant(0.0)
    with pytest.raises(ValueError, match="var_u"):
        th.micheli_variance_map(-1.0, 6.3)


def test_micheli_map_collapses_below_c_star() -> None:
    c_star = th.micheli_collapse_constant(1.0)
    for c, alive in ((c_star * 0.98, False), (c_star * 1.02, True)):
        v = 1.0
        for _ in range(3000):
            v = th.micheli_variance_map(v, c, 1.0)
        assert (v > 0.1) == alive
