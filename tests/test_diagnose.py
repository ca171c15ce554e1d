"""si.diagnose: each figure against a direct computation or the theory."""

import json
import math

import pytest
import torch

import spikeinit as si

P = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)


def poisson(steps, batch, n, rate_hz=15.8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, n, generator=g) < rate_hz * P.dt).float()


@pytest.fixture(scope="module")
def x():
    return poisson(500, 8, 700)


def test_default_init_is_diagnosed_silent(x):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        si.nn.SpikingLinear(700, 64, params=P), si.nn.SpikingLinear(64, 64, params=P)
    )
    d = si.diagnose(model, x)
    assert [layer.state for layer in d.layers] == ["silent", "silent"]
    assert d.layers[0].silent_fraction == 1.0 and d.layers[0].rate == 0.0
    assert "silent" in str(d)


def test_figures_match_direct_computation(x):
    torch.manual_seed(0)
    layer = si.nn.SpikingLinear(700, 128, params=P)
    model = torch.nn.Sequential(layer)
    si.init.fluctuation_normal_(
        layer.weight, nu=15.8, params=P, sigma_u=1.0, generator=torch.Generator().manual_seed(1)
    )
    d = si.diagnose(model, x).layers[0]
    spikes, mem = layer.simulate(x)
    cur = layer.input_current(x)
    _, free = si.lif_sequence(cur, P.replace(reset="none"), return_mem=True)
    assert d.rate == pytest.approx(spikes.mean().item() / P.dt)
    assert d.rate_per_step == pytest.approx(spikes.mean(dim=(1, 2)).tolist())
    per_neuron = spikes.sum(dim=(0, 1))
    assert d.silent_fraction == pytest.approx((per_neuron == 0).float().mean().item())
    assert d.mem_std == pytest.approx(mem.std().item(), rel=1e-5)
    assert d.free_mem_std == pytest.approx(
        free.var(0, unbiased=False).mean().sqrt().item(), rel=1e-5
    )
    assert d.free_mean_spread == pytest.approx(free.mean(0).std(1).mean().item(), rel=1e-5)
    assert d.state == "fluctuation-driven"


def test_theory_matches_simulation_and_spread(x):
    """Predicted sigma_U (Campbell, measured rate) vs measured free sigma_U, and the
    population spread of per-neuron means vs sqrt(nu eps_bar^2 / eps_hat) sigma_U."""
    torch.manual_seed(0)
    layer = si.nn.SpikingLinear(700, 256, params=P)
    si.init.fluctuation_normal_(
        layer.weight, nu=15.8, params=P, sigma_u=1.0, generator=torch.Generator().manual_seed(2)
    )
    d = si.diagnose(torch.nn.Sequential(layer), x).layers[0]
    assert d.free_mem_std == pytest.approx(d.predicted_sigma_u_filtered, rel=0.05)
    # Poisson prediction ignores the Bernoulli factor (1 - nu dt) ~ 3 %: within 6 %
    assert d.free_mem_std == pytest.approx(d.predicted_sigma_u, rel=0.06)
    eps_bar, eps_hat = si.theory.psp_integrals(P)
    spread = math.sqrt(15.8 * eps_bar**2 / eps_hat) * d.free_mem_std
    assert d.free_mean_spread == pytest.approx(spread, rel=0.15)


def test_to_dict_json_and_plot(tmp_path, x):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        si.nn.SpikingLinear(700, 32, params=P), si.nn.Readout(32, 4, params=P)
    )
    si.initialize(model, x, seed=0)
    d = si.diagnose(model, x)
    payload = json.loads(json.dumps(d.to_dict()))
    assert len(payload["layers"]) == 2 and payload["layers"][1]["state"] == "readout"
    png = d.plot(tmp_path / "diag.png")
    assert png.stat().st_size > 10_000


def test_custom_forward_model(x):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = si.nn.SpikingLinear(700, 32, params=P)
            self.b = si.nn.SpikingLinear(32, 16, params=P)

        def forward(self, inp):
            return self.b(self.a(inp))

    net = Net()
    report = si.initialize(net, x, seed=0)
    assert len(report.layers) == 2 and abs(report.layers[1].measured_sigma_u - 1) < 0.1
    assert len(si.diagnose(net, x).layers) == 2


def test_diagnose_errors(x):
    with pytest.raises(ValueError, match="saturation"):
        si.diagnose(torch.nn.Sequential(si.nn.SpikingLinear(700, 4, params=P)), x, saturation=0)
    with pytest.raises(ValueError, match="no spikeinit spiking layers"):
        si.diagnose(torch.nn.Linear(3, 3), x)
