"""The free-membrane mean of the fluctuation rule at mu_U = 0: unbiased over weight draws,
and its draw-to-draw scatter is the finite-size average of the per-neuron means
(docs/science.md, section "What sigma_U measures")."""

from __future__ import annotations

import statistics

import pytest
import torch

import spikeinit as si

pytestmark = pytest.mark.usefixtures("one_thread")

P = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)
N_IN, N_OUT, STEPS, BATCH, DRAWS = 300, 200, 400, 16, 12


def test_mean_at_mu_zero_is_the_realised_weight_mean() -> None:
    """A measured mean of -0.13 theta at mu_U = 0, sigma_U = 0.5 on a 300-input layer was
    (i) the membrane with reset, which sits ~0.08 theta below the free membrane, and
    (ii) one weight draw whose realised mean of W is below 0. The free mean of every draw
    equals k mean(W), with k the free mean per unit of weight added to every synapse (an
    independent run), and over draws it averages to 0 and scatters by the spread of the
    neurons' own means / sqrt(N_out), as expected for N_out independent neurons."""
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(STEPS, BATCH, N_IN, generator=g) < 15.8 * 2e-3).float()
    free, predicted_sd, reset_offset = [], [], []
    for seed in range(DRAWS):
        layer = si.nn.SpikingLinear(N_IN, N_OUT, params=P)
        si.initialize(torch.nn.Sequential(layer), x, sigma_u=0.5, mu_u=0.0, seed=seed)
        w = layer.weight.detach().clone()
        with torch.no_grad():
            _, u_free = layer.simulate(x, free=True)
            _, u_reset = layer.simulate(x)
            layer.weight.fill_(1.0)
            k = float(layer.simulate(x, free=True)[1].mean())  # per unit of weight
            layer.weight.copy_(w)
        mean = float(u_free.mean())
        assert mean == pytest.approx(k * float(w.mean()), abs=0.01)
        free.append(mean)
        per_neuron = u_free.mean(dim=(0, 1))  # each neuron's time- and batch-averaged mean
        predicted_sd.append(float(per_neuron.std()) / N_OUT**0.5)
        reset_offset.append(float(u_reset.mean()) - mean)
    sd_pred = statistics.mean(predicted_sd)
    assert 0.02 < sd_pred < 0.05  # 0.97 sigma_U / sqrt(200) = 0.034 in theory
    assert abs(statistics.mean(free)) <= 3 * sd_pred / DRAWS**0.5  # unbiased
    assert 0.5 * sd_pred < statistics.stdev(free) < 2.0 * sd_pred
    assert max(reset_offset) < -0.04  # the reset lowers the membrane (spikes at ~4 Hz)
