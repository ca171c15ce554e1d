"""si.initialize against simulation: targets hit layer by layer, errors are clear."""

import json
import math

import pytest
import torch

import spikeinit as si
from spikeinit.init.model import free_membrane_stats

P = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)


def poisson(steps, batch, n, rate_hz=15.8, dt=2e-3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, n, generator=g) < rate_hz * dt).float()


def deep_model(width=256, depth=5, n_in=700, seed=0):
    torch.manual_seed(seed)
    layers = [si.nn.SpikingLinear(n_in, width, params=P)]
    layers += [si.nn.SpikingLinear(width, width, params=P) for _ in range(depth - 1)]
    return torch.nn.Sequential(*layers)


@pytest.fixture(scope="module")
def shd_like():
    return poisson(500, 16, 700)


def test_depth_default_rule_hits_sigma_u_without_iteration(shd_like):
    """SCIENCE.md 'Beyond the Poisson assumption': 5 x 256, T = 500, target 1."""
    model = deep_model()
    report = si.initialize(model, shd_like, seed=1)
    sig = [layer.measured_sigma_u for layer in report.layers]
    assert all(abs(s - 1.0) <= 0.05 for s in sig), sig
    assert all(layer.calibration_steps == 0 for layer in report.layers)
    # the prediction from measured filtered statistics is what was targeted
    assert all(abs(layer.predicted_sigma_u - 1.0) < 1e-6 for layer in report.layers)
    # and the spikes keep flowing at a steady rate (no climb with depth)
    rates = [layer.measured_rate_hz for layer in report.layers]
    assert max(rates) < 2 * min(rates) and min(rates) > 5


def test_depth_calibrated_within_two_percent(shd_like):
    model = deep_model()
    report = si.initialize(model, shd_like, seed=1, calibrate=True)
    for layer in report.layers:
        assert abs(layer.measured_sigma_u - 1.0) <= 0.02
    # the report's measurement is what an independent measurement gives
    h = shd_like
    for module in model:
        _, sd, _ = free_membrane_stats(module, h)
        assert abs(sd - 1.0) <= 0.02
        h = module(h)


def test_global_nu_drifts_with_depth_but_filtered_does_not(shd_like):
    """stork's single global nu under-estimates deep-layer input: sigma_U climbs."""
    glob = si.initialize(deep_model(), shd_like, seed=1, nu=15.8)
    rate = si.initialize(deep_model(), shd_like, seed=1, stats="rate")
    g5, r5 = glob.layers[-1].measured_sigma_u, rate.layers[-1].measured_sigma_u
    assert g5 > 1.5, g5  # SCIENCE.md: 2.48 at layer 5
    assert 1.1 < r5 < g5, (r5, g5)  # SCIENCE.md: 1.27 at layer 5
    assert glob.stats == "global nu" and rate.stats == "rate"


def test_mean_target_and_dataloader_input():
    x = poisson(400, 16, 300, seed=3)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x.transpose(0, 1), torch.zeros(16)),
        batch_size=4,
        collate_fn=lambda b: (torch.stack([s[0] for s in b], 1), torch.stack([s[1] for s in b])),
    )
    model = torch.nn.Sequential(si.nn.SpikingLinear(300, 200, params=P))
    report = si.initialize(model, loader, sigma_u=0.5, mu_u=0.5, seed=0)
    layer = report.layers[0]
    assert abs(layer.measured_mu_u - 0.5) < 0.05
    assert abs(layer.measured_sigma_u - 0.5) / 0.5 < 0.05
    assert layer.groups[0].mu_w > 0


@pytest.mark.parametrize("layer_kind", ["linear", "conv"])
def test_fluctuation_zeroes_a_native_bias(layer_kind):
    """A biased native layer (micheli_mlp's Linear bias, a Conv bias): the fluctuation rule
    sets the mean through mu_W, so the bias is zeroed (with a note) and the layer ends as
    the same layer built without a bias; the micheli rule keeps the bias."""

    def build(bias):
        torch.manual_seed(0)
        if layer_kind == "linear":
            return si.nn.SpikingLinear(300, 100, params=P, bias=bias)
        return si.nn.SpikingConv2d(4, 16, 3, params=P, padding=1, bias=bias)

    x = poisson(300, 8, 300, seed=4)
    if layer_kind == "conv":
        x = poisson(300, 8, 4 * 6 * 6, seed=4).reshape(300, 8, 4, 6, 6)
    layer, plain = build(True), build(False)
    (bias,) = layer.bias_parameters()
    with torch.no_grad():
        bias.fill_(5.0)  # alone, this bias would put the mean far above threshold
    report = si.initialize(torch.nn.Sequential(layer), x, sigma_u=0.5, mu_u=0.0, seed=0)
    plain_report = si.initialize(torch.nn.Sequential(plain), x, sigma_u=0.5, mu_u=0.0, seed=0)
    assert float(bias.detach().abs().max()) == 0.0
    assert any("bias set to 0" in n for n in report.layers[0].notes)
    torch.testing.assert_close(layer.weight, plain.weight)
    torch.testing.assert_close(layer.simulate(x, free=True)[1], plain.simulate(x, free=True)[1])
    assert report.layers[0].measured_mu_u == pytest.approx(plain_report.layers[0].measured_mu_u)
    with torch.no_grad():
        bias.fill_(0.25)
    si.initialize(torch.nn.Sequential(layer), x, method="micheli", seed=0)
    assert float(bias.detach().min()) == 0.25


def test_recurrent_layer_alpha_split_and_readout():
    x = poisson(400, 16, 200, seed=4)
    model = torch.nn.Sequential(
        si.nn.SpikingLinear(200, 128, params=P, recurrent=True), si.nn.Readout(128, 5, params=P)
    )
    report = si.initialize(model, x, seed=0, alpha=0.9)
    rec_layer = report.layers[0]
    ff, rec = rec_layer.groups
    assert (ff.kind, rec.kind) == ("ff", "rec") and (ff.share, rec.share) == (
        0.9,
        pytest.approx(0.1),
    )
    assert abs(rec_layer.measured_sigma_u - 1.0) < 0.1
    assert abs(report.layers[1].measured_sigma_u - 1.0) < 0.1  # readout: same rule
    cal = si.initialize(model, x, seed=0, calibrate=True)
    assert all(abs(layer.measured_sigma_u - 1.0) <= 0.02 for layer in cal.layers)


def test_mean_split_stork_gives_every_afferent_the_same_mean():
    """mean_split="stork" with one global rate: feed-forward and recurrent weights both get
    mu_W = mu_u theta / (N_total nu eps_bar) (stork's rule); the default splits it by alpha."""
    x = poisson(300, 8, 200, seed=6)
    eb, _ = si.theory.psp_integrals(P)
    expected = 0.5 / ((200 + 64) * 15.8 * eb)
    means = {}
    for split in ("stork", "alpha"):
        model = torch.nn.Sequential(si.nn.SpikingLinear(200, 64, params=P, recurrent=True))
        rep = si.initialize(model, x, seed=0, mu_u=0.5, xi=2.0, nu=15.8, mean_split=split)
        means[split] = [g.mu_w for g in rep.layers[0].groups]
        assert rep.targets["mean_split"] == split
        w_ff, w_rec = (g.weight.detach() for g in model[0].weight_groups())
        assert float(w_ff.mean()) == pytest.approx(means[split][0], abs=4 * float(w_ff.std()) / 113)
    assert means["stork"] == pytest.approx([expected, expected], rel=1e-9)
    assert means["alpha"] == pytest.approx(
        [0.9 * expected * 264 / 200, 0.1 * expected * 264 / 64], rel=1e-9
    )
    with pytest.raises(ValueError, match="mean_split"):
        si.initialize(model, x, mean_split="even")


def test_conv_layers_use_conv_fan_in():
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(300, 4, 8, 32, generator=g) < 0.04).float()
    # all positions of a channel share its weights: enough channels to average over
    model = torch.nn.Sequential(
        si.nn.SpikingConv1d(8, 64, 5, params=P, padding=2),
        si.nn.SpikingConv1d(64, 64, 5, params=P, padding=2),
    )
    report = si.initialize(model, x, seed=0)
    assert [layer.groups[0].fan_in for layer in report.layers] == [40, 320]
    for layer in report.layers:
        assert abs(layer.measured_sigma_u - 1.0) < 0.1


@pytest.mark.parametrize("method,n_var", [("micheli", 6.303), ("kaiming", 2.0), ("default", 1 / 3)])
def test_data_independent_methods_set_the_documented_variance(method, n_var):
    model = torch.nn.Sequential(si.nn.SpikingLinear(1000, 400, params=P))
    report = si.initialize(model, None, method=method, seed=0)
    w = model[0].weight
    assert w.var().item() * 1000 == pytest.approx(n_var, rel=0.03)
    assert report.layers[0].groups[0].rule == method


def _reset_aware_gain(beta: float, theta: float, cross: str) -> float:
    """n Var[w] of the reset-aware rule, written out from its formula:
    (1 - beta^2 - theta^2 p (1 - p) + 2 beta theta E) / p with p = Q(theta) and
    E = phi(theta) / p (the public code's) or phi(theta) (covariance form)."""
    p = 0.5 * math.erfc(theta / math.sqrt(2))
    phi = math.exp(-theta * theta / 2) / math.sqrt(2 * math.pi)
    e = phi / p if cross == "public" else phi
    return (1 - beta**2 - theta**2 * p * (1 - p) + 2 * beta * theta * e) / p


@pytest.mark.parametrize("form,expected", [("covariance", 5.41), ("public", 13.50)])
def test_micheli_reset_form_reaches_native_and_snntorch_models(form, expected):
    assert _reset_aware_gain(0.5, 1.0, form) == pytest.approx(expected, abs=0.01)
    p = si.LIFParams.from_snntorch(beta=0.5, threshold=1.0)
    model = torch.nn.Sequential(si.nn.SpikingLinear(1000, 400, params=p))
    report = si.initialize(model, None, method="micheli_reset", form=form, seed=0)
    assert model[0].weight.var().item() * 1000 == pytest.approx(expected, rel=0.03)
    assert report.layers[0].groups[0].rule == "micheli_reset"
    snn = pytest.importorskip("snntorch")
    net = torch.nn.Sequential(
        torch.nn.Linear(1000, 400), snn.Leaky(beta=0.5, init_hidden=True, output=False)
    )
    x = torch.rand(4, 2, 1000)  # [T, B, N]; also one step of a batch of 4, so time_dim=0
    si.initialize(net, x, method="micheli_reset", form=form, seed=0, time_dim=0)
    assert net[0].weight.var().item() * 1000 == pytest.approx(expected, rel=0.03)
    with pytest.raises(ValueError, match="form"):
        si.initialize(model, None, method="micheli_reset", form="other", seed=0)


def test_report_is_json_safe_and_printable(shd_like):
    model = torch.nn.Sequential(si.nn.SpikingLinear(700, 32, params=P))
    report = si.initialize(model, shd_like[:100, :4], seed=0)
    d = json.loads(json.dumps(report.to_dict()))
    assert d["layers"][0]["groups"][0]["filtered_var"] > 0
    assert "sigma_W" in str(report)


def test_same_seed_same_weights(shd_like):
    a, b = deep_model(depth=2), deep_model(depth=2, seed=7)
    si.initialize(a, shd_like[:100], seed=3)
    si.initialize(b, shd_like[:100], seed=3)
    assert torch.equal(a[1].weight, b[1].weight)


# ----------------------------------------------------------------------------- errors
def _small():
    return torch.nn.Sequential(si.nn.SpikingLinear(50, 20, params=P))


def test_error_unknown_method_lists_known():
    with pytest.raises(ValueError, match=r"method must be one of \[.*'fluctuation'.*'micheli'"):
        si.initialize(_small(), poisson(10, 2, 50), method="he")


def test_error_empty_and_spikeless_and_nan_data():
    with pytest.raises(ValueError, match="empty"):
        si.initialize(_small(), torch.zeros(10, 0, 50))
    with pytest.raises(ValueError, match="no spikes"):
        si.initialize(_small(), torch.zeros(10, 2, 50))
    bad = poisson(10, 2, 50)
    bad[3, 0, 1] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        si.initialize(_small(), bad)
    with pytest.raises(ValueError, match="empty"):
        si.initialize(_small(), torch.utils.data.DataLoader([]))


def test_error_shape_mismatch_and_bad_targets():
    with pytest.raises(ValueError, match=r"\[T, B, 50\]"):
        si.initialize(_small(), poisson(10, 2, 49))
    with pytest.raises(ValueError, match="nu"):
        si.initialize(_small(), poisson(10, 2, 50), nu=-3.0)
    with pytest.raises(ValueError, match="nu"):
        si.initialize(_small(), poisson(10, 2, 50), nu=math.nan)
    with pytest.raises(ValueError, match="needs data"):
        si.initialize(_small(), None)
    with pytest.raises(ValueError, match=r"unreachable.*mu_u.*sigma_u.*xi"):
        si.initialize(_small(), poisson(200, 4, 50), mu_u=0.5, sigma_u=0.001)
    with pytest.raises(ValueError, match="alpha"):
        si.initialize(_small(), poisson(10, 2, 50), alpha=1.5)
    with pytest.raises(ValueError, match="no spikeinit spiking layers"):
        si.initialize(torch.nn.Sequential(torch.nn.Linear(3, 3)), poisson(10, 2, 3))
