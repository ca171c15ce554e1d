"""The benchmark harness's own logic: the spike checks run before any timing, and the
break-even interpolation."""

from __future__ import annotations

import ast
import math

import pytest

from benchmarks import onm, sparse_input
from benchmarks.module_table import Snapshot, _type_checking_only


def test_break_even_interpolates_the_crossing() -> None:
    d = [0.01, 0.1, 0.2]
    # event-driven cheaper at 0.01 and 0.1, dearer at 0.2: the crossing is at 0.15
    assert sparse_input.break_even(d, [1.0, 1.0, 1.0], [0.5, 0.9, 1.1]) == pytest.approx(0.15)
    assert sparse_input.break_even(d, [1.0, 1.0, 1.0], [1.2, 1.3, 1.4]) is None
    assert math.isinf(sparse_input.break_even(d, [1.0, 1.0, 1.0], [0.1, 0.2, 0.3]))


def test_open_neuromorphic_spike_check_passes_for_same_maths() -> None:
    pytest.importorskip("snntorch")
    pytest.importorskip("norse")
    check = onm.check_same_spikes(64)
    assert check["snntorch"]["agreement"] == 1.0
    assert check["norse"]["agreement"] >= 0.999


def test_module_table_finds_cycles_and_skips_type_checking_imports() -> None:
    """Tarjan's components against a hand-made graph; annotation-only imports not counted."""
    snap = Snapshot("x", lines={"a": 1, "b": 1, "c": 1, "d": 1})
    snap.edges = {("a", "b"), ("c", "d")}
    snap.hidden_edges = {("b", "a")}
    assert snap.cycles() == [["a", "b"]]
    snap.hidden_edges = set()
    assert snap.cycles() == []
    tree = ast.parse(
        "if TYPE_CHECKING:\n    import x\nif typing.TYPE_CHECKING:\n    pass\nif y:\n    pass\n"
    )
    assert [_type_checking_only(n) for n in tree.body] == [True, True, False]


def test_epoch_profile_categories_and_missing_stork(tmp_path, monkeypatch, capsys):
    from benchmarks import epoch

    assert epoch._category("#data loading") == "data loading"
    assert epoch._category("Optimizer.step#SMORMS3.step") == "optimiser (step, zero_grad)"
    name = "autograd::engine::evaluate_function: _LIFSequenceBackward"
    assert epoch._category(name) == "kernel backward"
    name = "autograd::engine::evaluate_function: _ScanLinearBackward"
    assert epoch._category(name) == "input products backward"
    name = "autograd::engine::evaluate_function: NllLossBackward0"
    assert epoch._category(name) == "loss / regulariser / readout backward"
    monkeypatch.delenv("STORK_PYTHON", raising=False)
    assert epoch.stork_python(None) is None
    assert epoch.stork_python(str(tmp_path / "absent" / "python")) is None
    assert "does not exist" in capsys.readouterr().out


def test_epoch_kernels_times_the_four_fused_kernels_with_bits() -> None:
    from benchmarks import epoch_kernels

    res = epoch_kernels.time_kernels(calls=1, samples_per_class=60)
    assert res["readout_reads_bits"]
    assert res["shape"][0] == 100 and res["shape"][2] == 128
    assert 0.0 < res["spike_density"] < 0.5
    assert set(res["median_ms"]) == {
        "hidden forward", "readout forward", "readout backward", "hidden backward"
    }  # fmt: skip
    assert all(v > 0 for v in res["median_ms"].values())
