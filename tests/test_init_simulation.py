"""Simulation versus theory: the initialisers hit their targets in real LIF dynamics."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

import spikeinit.init as init
import spikeinit.theory as th
from spikeinit.neuron import lif_sequence
from spikeinit.params import LIFParams

N_IN, NU, DT, STEPS = 700, 15.8, 2e-3, 1500

PARAMS = {
    "current": LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=DT, reset="none"),
    "delta": LIFParams(tau_mem=20e-3, tau_syn=None, dt=DT, reset="none"),
    "snntorch": LIFParams.from_snntorch(beta=0.9, dt=DT, reset_mechanism="none"),
}


def _free_mem(spikes: torch.Tensor, w: torch.Tensor, params: LIFParams) -> torch.Tensor:
    """Free membrane (no threshold, no reset) of neurons with weights ``w`` [M, N]."""
    cur = spikes @ w.t()
    _, mem = lif_sequence(cur, params.replace(reset="none"), return_mem=True)
    return mem  # type: ignore[return-value]


@pytest.fixture(scope="module")
def poisson_spikes() -> torch.Tensor:
    gen = torch.Generator().manual_seed(11)
    return (torch.rand(STEPS, 1, N_IN, generator=gen) < NU * DT).double()


@pytest.mark.parametrize("kind", list(PARAMS))
@pytest.mark.parametrize("sigma_u", [0.5, 1.0, 2.0])
def test_free_membrane_std_hits_target(
    poisson_spikes: torch.Tensor, kind: str, sigma_u: float
) -> None:
    p = PARAMS[kind]
    gen = torch.Generator().manual_seed(5)
    # (a) measured filtered statistics: exact for the Bernoulli trains
    m, v = th.filtered_input_stats(poisson_spikes, p)
    w = init.fluctuation_normal_(
        torch.empty(1000, N_IN, dtype=torch.float64),
        sigma_u=sigma_u,
        filtered_mean=m,
        filtered_var=v,
        params=p,
        generator=gen,
    )
    mem = _free_mem(poisson_spikes, w, p)[:, 0]
    sd = float(mem.std(dim=0, unbiased=False).mean())
    assert sd == pytest.approx(sigma_u, rel=0.05)
    # (b) Poisson formula with nu: lower by the Bernoulli factor sqrt(1 - nu dt) and the
    # finite-window loss of the time mean, sqrt(1 - (sum K)^2 / (T sum K^2))
    init.fluctuation_normal_(w, NU, p, sigma_u=sigma_u, generator=gen)
    mem = _free_mem(poisson_spikes, w, p)[:, 0]
    sd = float(mem.std(dim=0, unbiased=False).mean())
    kern = th.psp_kernel(p)
    window = 1 - float(kern.sum() ** 2 / (STEPS * (kern**2).sum()))
    assert sd == pytest.approx(sigma_u * math.sqrt((1 - NU * DT) * window), rel=0.03)
    assert sd == pytest.approx(sigma_u, rel=0.05)


@pytest.mark.parametrize("kind", list(PARAMS))
@pytest.mark.parametrize("mu_u", [0.0, 0.5])
def test_free_membrane_mean_hits_target(
    poisson_spikes: torch.Tensor, kind: str, mu_u: float
) -> None:
    p = PARAMS[kind]
    gen = torch.Generator().manual_seed(6)
    m, v = th.filtered_input_stats(poisson_spikes, p)
    w = init.fluctuation_normal_(
        torch.empty(16000, N_IN, dtype=torch.float64),
        mu_u=mu_u,
        sigma_u=1.0,
        filtered_mean=m,
        filtered_var=v,
        params=p,
        generator=gen,
    )
    # The free membrane is linear in w, so the population mean of U is the free membrane
    # of the column-mean weights: 16000 neurons for the price of one.
    mean = float(_free_mem(poisson_spikes, w.mean(0, keepdim=True), p).mean())
    assert mean == pytest.approx(mu_u, abs=0.05)
    # direct check on 1000 neurons: mean and temporal std (the spread of the per-neuron means
    # is about 0.97 sigma_U / sqrt(1000) = 0.03 here)
    mem = _free_mem(poisson_spikes, w[:1000], p)[:, 0]
    assert float(mem.mean()) == pytest.approx(mu_u, abs=0.1)
    assert float(mem.std(dim=0, unbiased=False).mean()) == pytest.approx(1.0, rel=0.05)
    # the per-neuron means spread by about sqrt(nu eps_bar^2 / eps_hat) sigma_U (docs/science.md)
    eb, eh = th.psp_integrals(p)
    spread = float(mem.mean(dim=0).std())
    assert spread == pytest.approx(math.sqrt(NU * eb**2 / eh), rel=0.15)


def _exact_count_trains(
    steps: int, n: int, batch: int, rate: float, gen: torch.Generator
) -> torch.Tensor:
    """Bernoulli-like trains, each with exactly round(rate * steps) spikes at random steps.

    A Poisson process conditioned on its count has uniformly placed events; fixing the
    count removes the sampling noise of each train's empirical rate, which otherwise
    dominates the population mean of a Dale layer (its weights all have mean > 0).
    """
    k = int(round(rate * steps))
    order = torch.rand(steps, batch * n, generator=gen).argsort(dim=0)
    out = (order < k).double()
    return out.reshape(steps, batch, n)


def test_dale_simulation_mean_zero_std_on_target() -> None:
    pe = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=DT, reset="none")
    pi = LIFParams(tau_mem=20e-3, tau_syn=20e-3, dt=DT, reset="none")
    gen = torch.Generator().manual_seed(3)
    m_post = 500
    we = torch.empty(m_post, 700, dtype=torch.float64)
    wr = torch.empty(m_post, 128, dtype=torch.float64)
    wi = torch.empty(m_post, 32, dtype=torch.float64)
    lam = init.dale_exponential_(
        we, wi, params_exc=pe, params_inh=pi, nu=NU, w_rec_exc=wr, generator=gen
    )
    assert lam.share_inh == pytest.approx(0.95, abs=0.01)
    spikes = _exact_count_trains(STEPS, 700 + 128 + 32, 4, NU * DT, gen)
    exc, inh = spikes[..., :828], spikes[..., 828:]
    u = _free_mem(exc, torch.cat([we, wr], dim=1), pe) - _free_mem(inh, wi, pi)
    sd = float(u.std(dim=0, unbiased=False).mean())
    # theory: balanced mean 0, sigma_U 1 (times the Bernoulli factor sqrt(1 - nu dt)). Measured
    # about 0.95: the mean of per-neuron stds sits ~2 % below the rms (32 exponential inhibitory
    # weights make the per-neuron variance spread by ~40 %), and the finite window costs ~1 %.
    assert sd == pytest.approx(math.sqrt(1 - NU * DT), rel=0.07)
    # population mean, from the column-mean weights of many more neurons (linearity)
    big_e = torch.empty(20000, 828, dtype=torch.float64)
    big_i = torch.empty(20000, 32, dtype=torch.float64)
    init.dale_exponential_(
        big_e[:, :700],
        big_i,
        params_exc=pe,
        params_inh=pi,
        nu=NU,
        w_rec_exc=big_e[:, 700:],
        generator=gen,
    )
    mean_u = _free_mem(exc, big_e.mean(0, keepdim=True), pe) - _free_mem(
        inh, big_i.mean(0, keepdim=True), pi
    )
    assert float(mean_u.mean()) == pytest.approx(0.0, abs=0.05)


def _snntorch_leaky_layers(
    x: torch.Tensor, weights: list[torch.Tensor], beta: float, theta: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """snnTorch ``Leaky`` (subtract reset, not decayed), layers stepped in the same step.

    ``x`` [T, B, n] current into layer 1. Returns Var[U] and rate, each [T, layers].
    """
    steps, batch, n = x.shape
    depth = len(weights) + 1
    mem = [torch.zeros(batch, n) for _ in range(depth)]
    spk = [torch.zeros(batch, n) for _ in range(depth)]
    var = torch.zeros(steps, depth)
    rate = torch.zeros(steps, depth)
    for t in range(steps):
        for layer in range(depth):
            cur = x[t] if layer == 0 else spk[layer - 1] @ weights[layer - 1].t()
            mem[layer] = beta * mem[layer] + cur - theta * spk[layer]
            spk[layer] = (mem[layer] > theta).float()
            var[t, layer] = mem[layer].var()
            rate[t, layer] = spk[layer].mean()
    return var, rate


def test_micheli_propagation_t0() -> None:
    gen = torch.Generator().manual_seed(0)
    width, depth, theta = 1000, 20, 1.0
    weights = [
        init.micheli_normal_(torch.empty(width, width), threshold=theta, generator=gen)
        for _ in range(depth - 1)
    ]
    x = torch.randn(2, 100, width, generator=gen)
    var, rate = _snntorch_leaky_layers(x, weights, beta=0.5, theta=theta)
    q = stats.norm.sf(theta)
    assert torch.all((var[0] - 1).abs() < 0.15), var[0]
    assert torch.all((rate[0] / q - 1).abs() < 0.25), rate[0]
    # the same through spikeinit's own kernel (snnTorch mapping, first step)
    p = LIFParams.from_snntorch(beta=0.5, threshold=theta, reset_mechanism="subtract")
    cur = x[:1]
    for w in weights:
        spikes = lif_sequence(cur, p)
        cur = spikes @ w.t()
    assert float(cur.var()) == pytest.approx(float(var[0, -1]), rel=1e-5)
    # Kaiming (n Var = 2 < c* = 6.03) loses its spikes within a few layers
    kaiming = [init.kaiming_normal_(torch.empty(width, width), generator=gen) for _ in range(9)]
    _, rate_k = _snntorch_leaky_layers(x[:1], kaiming, beta=0.5, theta=theta)
    assert float(rate_k[0, -1]) < 1e-3


@pytest.mark.parametrize("width", [500])
def test_micheli_reset_form_closer_to_unit_variance(width: int) -> None:
    """A layer fed i.i.d. Bernoulli(p) spikes (the derivation's assumption).

    The covariance form keeps the steady-state Var[U] nearer 1 than the public form.
    """
    beta, theta = 0.5, 1.0
    q = stats.norm.sf(theta)
    results = {}
    for form in ("covariance", "public"):
        gen = torch.Generator().manual_seed(4)
        w = init.micheli_reset_normal_(
            torch.empty(width, width), beta=beta, threshold=theta, form=form, generator=gen
        )
        x = (torch.rand(120, 32, width, generator=gen) < q).float() @ w.t()
        var, _ = _snntorch_leaky_layers(x, [], beta=beta, theta=theta)
        results[form] = float(var[40:, 0].mean())
    assert abs(math.log(results["covariance"])) < 0.3  # about 1.2
    assert results["public"] > 2.0  # about 2.9
    assert abs(math.log(results["covariance"])) < abs(math.log(results["public"]))


@pytest.mark.slow
def test_micheli_reset_forms_deep_network() -> None:
    """Deep steady state: covariance collapses (5.41 < c*), public saturates (Var ~ 9)."""
    beta, theta, width, depth = 0.5, 1.0, 1000, 20
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(30, 64, width, generator=gen)
    out = {}
    for form in ("covariance", "public"):
        ws = [
            init.micheli_reset_normal_(torch.empty(width, width), beta, theta, form, generator=gen)
            for _ in range(depth - 1)
        ]
        var, rate = _snntorch_leaky_layers(x, ws, beta, theta)
        out[form] = (var[15:].mean(0), rate[15:].mean(0))
    assert float(out["covariance"][1][-1]) < 0.01
    assert float(out["public"][0][-1]) > 5.0
