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
