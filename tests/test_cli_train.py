"""`spikeinit train`, `compare` and `diagnose` end to end on tiny embedded data."""

import json

import pytest

from spikeinit.cli import main


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("SPIKEINIT_NO_PROGRESS", "1")


TINY = ["--dataset", "randman", "--samples-per-class", "20", "--batch-size", "50", "--hidden", "32"]


def test_train_then_diagnose_checkpoint(tmp_path, capsys):
    out = tmp_path / "rm"
    assert main(["train", *TINY, "--epochs", "2", "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["command"] == "train" and res["config"]["dataset"] == "randman"
    assert set(res["environment"]) >= {"spikeinit", "torch", "device"}
    m = res["metrics"]
    assert 0.0 <= m["test_accuracy"] <= 1.0 and m["epochs"] == 2
    assert len(res["history"]) == 2 and (out / "best.pt").exists()
    assert "test accuracy" in (out / "report.md").read_text()
    # resume a finished run: nothing more to train, same metrics
    assert main(["train", *TINY, "--epochs", "2", "--out", str(out), "--resume"]) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["metrics"]["test_accuracy"] == m["test_accuracy"]

    dout = tmp_path / "diag"
    assert main(["diagnose", str(out), "--out", str(dout), "--samples", "16"]) == 0
    layers = json.loads((dout / "results.json").read_text())["layers"]
    assert [ly["state"] for ly in layers][-1] == "readout"
    assert (dout / "diagnosis.png").exists()
    assert "fluctuation-driven" in capsys.readouterr().out


def test_compare_writes_table_curves_and_runs(tmp_path):
    out = tmp_path / "cmp"
    argv = ["compare", *TINY, "--epochs", "2", "--inits", "fluctuation,default", "--seeds", "1"]
    assert main([*argv, "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert [(r["init"], r["seed"]) for r in res["runs"]] == [("fluctuation", 0), ("default", 0)]
    assert set(res["summary"]["table"]) == {"fluctuation", "default"}
    report = (out / "report.md").read_text()
    assert "| fluctuation |" in report and "epochs to 90 %" in report
    assert (out / "learning_curves.png").stat().st_size > 5000


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--init", "he2"], "invalid choice"),
        (["train", "--epochs", "0"], "epochs"),
        (["train", "--lr", "-1", "--epochs", "1"], "--lr must be > 0"),
        (["compare", "--inits", "nope"], "unknown 'nope'"),
        (["diagnose", "/nonexistent/run"], "does not exist"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, argv, message):
    try:
        code = main([*argv, "--out", str(tmp_path / "x")])
    except SystemExit as exc:  # argparse rejects the value before the command runs
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1
