"""The interop table's own logic (benchmarks/interop_table.py): per-model summary of a
diagnosis and the Markdown rows, on hand-made diagnoses (no model is run)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from benchmarks import interop_table


def _layer(name, state, sigma=None, free=None, theta=1.0):
    return SimpleNamespace(
        name=name, state=state, sigma_u_theta=sigma, free_mem_std=free, threshold=theta
    )


def test_summary_takes_range_over_spiking_layers_only():
    diag = SimpleNamespace(
        layers=[
            _layer("a", "fluctuation-driven", 0.9),
            _layer("b", "silent", 1.2),
            _layer("out", "readout", 7.0),
        ]
    )
    s = interop_table.summarise(diag)
    assert (s["n_layers"], s["n_readouts"]) == (2, 1)
    assert s["sigma_u_theta_min"] == pytest.approx(0.9)
    assert s["sigma_u_theta_max"] == pytest.approx(1.2)
    assert s["states"] == {"fluctuation-driven": 1, "silent": 1}


def test_summary_falls_back_to_free_std_over_theta():
    diag = SimpleNamespace(layers=[_layer("a", "silent", None, free=0.5, theta=2.0)])
    assert interop_table.summarise(diag)["sigma_u_theta_min"] == pytest.approx(0.25)


def test_markdown_row_shows_errors_and_times():
    row = {
        "model": "m",
        "source": "owner/repo path",
        "before": {"error": "ValueError: no neuron"},
        "after": {"init_s": 1.5, "sigma_u_theta_min": 0.95, "sigma_u_theta_max": 1.05,
                  "states": {"fluctuation-driven": 2}},
        "after_calibrate": {"error": "RuntimeError: x", "init_s": None},
    }  # fmt: skip
    md = interop_table.markdown([row]).splitlines()
    assert len(md) == 3
    cells = [c.strip() for c in md[2].strip("|").split("|")]
    assert cells[:3] == ["m", "owner/repo path", "error: ValueError"]
    assert cells[4] == "0.95-1.05" and cells[5] == "fluctuation-driven 2"
    assert cells[6] == "error: RuntimeError" and cells[7] == "1.50" and cells[8] == "-"
