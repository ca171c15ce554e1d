"""Firing-rate theory in spikeinit.theory against closed forms and simulation."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import spikeinit as si
from spikeinit import theory


def test_lag1_correlation_of_a_delta_synapse_is_the_membrane_decay():
    # K[k] = g beta^k, so sum K[k] K[k+1] / sum K[k]^2 = beta (up to the kernel's cut-off)
    p = si.LIFParams(tau_mem=20e-3, tau_syn=None, dt=1e-3)
    beta = math.exp(-1e-3 / 20e-3)
    assert theory.lag1_correlation(p) == pytest.approx(beta, abs=1e-6)


def test_lag1_correlation_matches_simulated_shot_noise():
    p = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)
    gen = torch.Generator().manual_seed(0)
    x = torch.poisson(torch.full((20000, 1), 3.0), generator=gen)  # shot noise input
    k = theory.psp_kernel(p).double()
    u = torch.nn.functional.conv1d(
        x.t()[None].double(), k.flip(0)[None, None], padding=len(k) - 1
    )[0, 0, : x.shape[0]][500:]
    u = u - u.mean()
    rho = float((u[:-1] * u[1:]).mean() / (u * u).mean())
    assert theory.lag1_correlation(p) == pytest.approx(rho, abs=0.01)


def test_upcross_with_independent_steps_is_below_times_above():
    mu, sigma, theta = 0.2, 0.7, 1.0
    z = (theta - mu) / sigma
    out = theory.rate_predictions(mu, sigma, 0.0, 0.0, theta, dt=1e-3)
    assert out["upcross"] * 1e-3 == pytest.approx(stats.norm.cdf(z) * stats.norm.sf(z), rel=1e-4)
    assert out["gauss"] == pytest.approx(theory.firing_probability(mu, sigma, theta) / 1e-3)
    assert "siegert" not in out  # needs the time constants


def test_siegert_rate_matches_a_simulated_white_noise_lif():
    # Siegert's sigma is the noise amplitude of tau dV = (mu - V) dt + sigma sqrt(tau) dW
    # (free-membrane std sigma / sqrt 2). Euler-Maruyama with dt / tau = 1e-3, reset to 0;
    # the discrete threshold check misses a few crossings, so the simulation is a little low.
    mu, sigma, theta, tau, dt = 0.6, 0.4 * math.sqrt(2.0), 1.0, 20e-3, 2e-5
    gen = torch.Generator().manual_seed(0)
    n, steps = 1000, 25000
    v = torch.zeros(n, dtype=torch.float64)
    spikes = 0
    noise = sigma * math.sqrt(dt / tau)
    for _ in range(steps):
        v += (mu - v) * dt / tau + noise * torch.randn(n, generator=gen, dtype=torch.float64)
        fired = v >= theta
        spikes += int(fired.sum())
        v[fired] = 0.0
    simulated = spikes / (n * steps * dt)
    predicted = theory.siegert_rate(mu, sigma, theta, 0.0, tau)
    assert predicted == pytest.approx(simulated, rel=0.1)
    assert predicted > simulated  # missed crossings only lower the simulated rate


def test_siegert_rate_rejects_bad_noise():
    with pytest.raises(ValueError, match="sigma"):
        theory.siegert_rate(0.5, 0.0, 1.0, 0.0, 0.02)
