"""The propagation experiment: Micheli et al.'s claims and our beyond-the-paper init."""

from __future__ import annotations

import json

import pytest
import torch
from scipy import stats

from spikeinit.cli import main
from spikeinit.experiments import propagation as prop
from spikeinit.init import balanced_normal_

P = float(stats.norm.sf(1.0))  # 1 - Phi(theta) at theta = 1


def test_micheli_keeps_rate_at_width_1000_depth_100_while_kaiming_and_default_die():
    # done-when 1, at reduced cost: one time step, batch 16 (t = 0 is what the paper claims)
    mich = prop.simulate("micheli", 1000, 100, steps=1, batch=16, seed=0)
    t0_last = mich["layers"][-1]["rate"][0]
    assert abs(t0_last - P) / P < 0.30, t0_last
    assert mich["summary"]["first_silent_depth"] is None
    for init in ("kaiming", "default"):
        run = prop.simulate(init, 1000, 20, steps=3, batch=16, seed=0)
        assert run["summary"]["first_silent_depth"] is not None
        assert run["summary"]["first_silent_depth"] <= 20
        assert sum(run["layers"][19]["rate"]) == 0.0


def test_micheli_collapses_at_width_100_and_theory_constants():
    run = prop.simulate("micheli", 100, 100, steps=1, batch=32, seed=0)
    assert run["layers"][0]["rate"][0] == pytest.approx(P, rel=0.15)
    assert run["layers"][-1]["rate"][0] < 0.1 * P  # spikes lost by about layer 100
    # infinite-width theory map at the same c stays at Var = 1
    assert run["theory_var_t0"][-1] == pytest.approx(1.0, abs=0.05)


def test_balanced_normal_rows():
    w = torch.empty(50, 200)
    balanced_normal_(w, threshold=1.0, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(w.sum(dim=1), torch.zeros(50), atol=1e-4)
    c = 1.0 / (P * (1 - P))
    assert torch.allclose(w.pow(2).sum(dim=1), torch.full((50,), c), rtol=1e-4)


def test_balanced_cal_in_band_at_width_100_depth_40():
    # fast version of done-when 3 (the full depth-100 check is marked slow below)
    run = prop.simulate("balanced_cal", 100, 40, steps=10, batch=64, seed=0)
    assert run["summary"]["within_band"], (run["summary"]["ratio_min"], run["summary"]["ratio_max"])
    plain = prop.simulate("micheli", 100, 40, steps=10, batch=64, seed=0)
    assert not plain["summary"]["within_band"]


@pytest.mark.slow
def test_balanced_cal_keeps_every_step_in_band_at_width_100_depth_100():
    # done-when 3: every layer's rate at every step within [0.5, 2] x layer 1's rate, T = 10
    run = prop.simulate("balanced_cal", 100, 100, steps=10, batch=64, seed=0)
    s = run["summary"]
    assert s["within_band"], (s["ratio_min"], s["ratio_max"])
    # while plain Micheli at the same width does not
    plain = prop.simulate("micheli", 100, 100, steps=10, batch=64, seed=0)
    assert not plain["summary"]["within_band"]


def test_cli_writes_documented_results(tmp_path, capsys):
    out = tmp_path / "prop"
    rc = main(
        [
            "propagation",
            "--depth",
            "6",
            "--width",
            "40,60",
            "--steps",
            "3",
            "--batch",
            "8",
            "--inits",
            "micheli,kaiming",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    data = json.loads((out / "results.json").read_text())
    assert data["command"] == "propagation"
    assert set(data["environment"]) >= {"spikeinit", "torch", "device"}
    assert data["config"]["depth"] == 6 and data["config"]["widths"] == [40, 60]
    assert len(data["runs"]) == 4
    for run in data["runs"]:
        assert [ly["depth"] for ly in run["layers"]] == list(range(1, 7))
        for ly in run["layers"]:
            assert len(ly["rate"]) == 3 and len(ly["var_u"]) == 3
            assert all(0.0 <= r <= 1.0 for r in ly["rate"])
    report = (out / "report.md").read_text()
    assert "0.1587" in report and "6.303" in report and "6.034" in report
    mich = next(r for r in data["runs"] if r["init"] == "micheli" and r["width"] == 40)
    assert f"{mich['layers'][5]['rate'][0]:.3g}" in report
    for fig in data["figures"]:
        assert (out / fig).stat().st_size > 1000
    captured = capsys.readouterr()
    assert "micheli" in captured.out


# -- Micheli et al.'s own set-up (their public code): snnTorch Leaky neurons, a static
# image fed every step into a 784-wide input LIF layer, nn.Linear with its default bias --
def _micheli_style_net_rates(
    x: torch.Tensor, weights: list[tuple[torch.Tensor, torch.Tensor | None]], beta: float
) -> list[list[float]]:
    """Per-layer, per-step rates of a network written the way the public code writes it:
    snnTorch ``Leaky`` layers (subtract reset) and ``nn.Linear`` layers, stepped in time."""
    snn = pytest.importorskip("snntorch")
    lifs = [snn.Leaky(beta=beta, threshold=1.0, reset_mechanism="subtract")]
    linears = []
    for w, b in weights:
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
        with torch.no_grad():
            lin.weight.copy_(w)
            if b is not None:
                lin.bias.copy_(b)
        linears.append(lin)
        lifs.append(snn.Leaky(beta=beta, threshold=1.0, reset_mechanism="subtract"))
    mems = [lif.init_leaky() for lif in lifs]
    rates: list[list[float]] = [[] for _ in lifs]
    with torch.no_grad():
        for t in range(x.shape[0]):
            cur = x[t]
            for i, lif in enumerate(lifs):
                spk, mems[i] = lif(cur, mems[i])
                rates[i].append(float(spk.double().mean()))
                if i < len(linears):
                    cur = linears[i](spk)
    return rates


@pytest.mark.parametrize("init", ["micheli", "kaiming"])
def test_default_setup_is_spike_for_spike_a_snntorch_network(init):
    run = prop.simulate(init, 60, 8, steps=6, batch=16, seed=3, return_weights=True)
    assert run["x"].shape == (6, 16, prop.INPUT_WIDTH)
    assert torch.equal(run["x"][0], run["x"][5])  # static image
    assert run["weights"][0][0].shape == (60, prop.INPUT_WIDTH)
    assert all(b is not None for _, b in run["weights"])  # default bias
    bound = 1 / prop.INPUT_WIDTH**0.5
    assert float(run["weights"][0][1].abs().max()) <= bound
    ref = _micheli_style_net_rates(run["x"], run["weights"], beta=0.5)
    got = [ly["rate"] for ly in run["layers"]]
    assert got == ref
    assert any(r > 0 for r in got[-1]) or init == "kaiming"


def test_reference_neuron_differs_from_snntorch_only_after_a_spike():
    kw = dict(steps=10, batch=32, seed=0)
    snn_run = prop.simulate("micheli", 200, 10, **kw)
    ref_run = prop.simulate("micheli", 200, 10, neuron="reference", **kw)
    # t = 0 (no spike yet): identical everywhere
    assert [ly["rate"][0] for ly in snn_run["layers"]] == [
        ly["rate"][0] for ly in ref_run["layers"]
    ]
    # the decayed reset removes less charge: the reference neuron fires more later on
    assert sum(snn_run["layers"][-1]["rate"][5:]) < sum(ref_run["layers"][-1]["rate"][5:])
    # with the zero reset, the two conventions are the same neuron
    z1 = prop.simulate("micheli", 200, 10, reset="zero", **kw)
    z2 = prop.simulate("micheli", 200, 10, reset="zero", neuron="reference", **kw)
    assert [ly["rate"] for ly in z1["layers"]] == [ly["rate"] for ly in z2["layers"]]


def test_micheli_setup_claims_at_reduced_cost():
    """Width 1000 keeps t = 0 near 1 - Phi(1) to layer 30; Kaiming is silent by layer 5."""
    mich = prop.simulate("micheli", 1000, 30, steps=1, batch=16, seed=0)
    assert mich["layers"][0]["rate"][0] == pytest.approx(P, rel=0.1)
    assert mich["layers"][-1]["rate"][0] == pytest.approx(P, rel=0.2)
    kai = prop.simulate("kaiming", 1000, 6, steps=1, batch=16, seed=0)
    assert kai["layers"][4]["rate"][0] == 0.0 and kai["layers"][5]["rate"][0] == 0.0


def test_bias_none_and_gaussian_input_options():
    run = prop.simulate(
        "micheli", 50, 3, steps=2, batch=4, input_kind="gaussian", bias="none", return_weights=True
    )
    assert run["x"].shape == (2, 4, 50) and not torch.equal(run["x"][0], run["x"][1])
    assert all(b is None for _, b in run["weights"])
    with pytest.raises(ValueError, match="neuron"):
        prop.simulate("micheli", 10, 2, neuron="stork")
    with pytest.raises(ValueError, match="bias"):
        prop.simulate("micheli", 10, 2, bias="zero")
    with pytest.raises(ValueError, match="form"):
        prop.simulate("micheli_reset", 10, 2, form="other")  # type: ignore[arg-type]


def test_reset_form_reaches_the_experiment(tmp_path):
    runs = {
        form: prop.simulate("micheli_reset", 100, 2, steps=1, batch=2, form=form)
        for form in ("covariance", "public")
    }
    # c = n Var[w] per row, measured on the drawn matrix (fan-in 784, then 100)
    c_cov = runs["covariance"]["gain_per_layer"][0]
    c_pub = runs["public"]["gain_per_layer"][0]
    assert c_cov == pytest.approx(5.41, rel=0.05) and c_pub == pytest.approx(13.50, rel=0.05)
    out = tmp_path / "p"
    argv = ["propagation", "--depth", "3", "--width", "20", "--steps", "2", "--batch", "4"]
    rc = main([*argv, "--inits", "micheli_reset", "--form", "public", "--out", str(out)])
    assert rc == 0
    data = json.loads((out / "results.json").read_text())
    assert data["config"]["form"] == "public" and data["config"]["neuron"] == "snntorch"
    assert data["config"]["input"] == "static" and data["config"]["bias"] == "default"
    assert data["runs"][0]["gain_per_layer"][0] == pytest.approx(13.50, rel=0.15)
