"""`spikeinit theory`: fluctuation-driven theory against simulation."""

from __future__ import annotations

import json
import math

import pytest

from spikeinit import theory
from spikeinit.cli import main
from spikeinit.experiments import theory_check as tc
from spikeinit.params import LIFParams


def test_sigma_u_within_5_percent_on_reduced_grid():
    rows = tc.simulate_grid(
        [0.5, 1.5],
        [-0.5, 0.25],
        neurons=64,
        batch=2,
        steps=600,
        burn_in=100,
        seed=0,
        show_progress=False,
    )
    assert len(rows) == 4
    for r in rows:
        assert abs(r["sigma_rel_err"]) < 0.05, r
        # the continuous-time eps_hat misses the discrete kernel by about 10 % in variance
        assert abs(r["sigma_rel_err_analytical"]) > 0.05
        # the mean is right within sampling error of the frozen weights
        assert abs(r["mu_abs_err"]) < 4 * r["mu_se"]
        assert r["meas_rate_hz"] > 0


def test_siegert_prediction_matches_the_simulated_rate():
    # the recommended rate model: within 20 % of the measured rate with threshold and reset
    # (docs/theory.md: -3 % to -13 % on the full grid)
    rows = tc.simulate_grid(
        [1.0], [0.0], neurons=64, batch=2, steps=1000, burn_in=100, seed=0, show_progress=False
    )
    measured, predicted = rows[0]["meas_rate_hz"], rows[0]["pred_rate_hz"]["siegert"]
    assert predicted == pytest.approx(measured, rel=0.2)


def test_siegert_deterministic_limit():
    # mu >> theta, tiny noise: 1 / (tau ln(mu / (mu - theta)))
    rate = theory.siegert_rate(2.0, 1e-3, 1.0, 0.0, 0.02)
    assert rate == pytest.approx(1.0 / (0.02 * math.log(2.0)), rel=0.01)


def test_eps_table_reference_values():
    def integrals(dt: float, mode: str) -> tuple[float, float]:
        p = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=dt)
        return theory.psp_integrals(p, mode=mode)  # type: ignore[arg-type]

    eps_bar_num, eps_hat_num = integrals(2e-3, "numerical")
    assert eps_bar_num == pytest.approx(0.011032, abs=2e-6)
    assert eps_hat_num == pytest.approx(0.0020356, abs=2e-7)
    assert integrals(1e-3, "analytical")[1] == pytest.approx(0.0016667, abs=1e-7)


def test_cli_writes_results_and_report(tmp_path):
    out = tmp_path / "th"
    rc = main(
        [
            "theory",
            "--sigmas",
            "1",
            "--mus",
            "0,0.25",
            "--neurons",
            "32",
            "--batch",
            "2",
            "--steps",
            "300",
            "--burn-in",
            "50",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    data = json.loads((out / "results.json").read_text())
    assert data["command"] == "theory"
    assert set(data["environment"]) >= {"spikeinit", "torch", "device"}
    assert len(data["grid"]) == 2
    for key in ("pred_sigma_u", "meas_sigma_u", "pred_mu_u", "meas_mu_u", "pred_rate_hz"):
        assert key in data["grid"][0]
    report = (out / "report.md").read_text()
    assert "0.011032" in report and "0.0020356" in report
    assert f"{100 * data['summary']['max_sigma_rel_err']:.2f} %" in report
    assert (out / "theory_check.png").stat().st_size > 1000
