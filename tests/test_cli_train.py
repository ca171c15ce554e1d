"""`spikeinit train`, `compare` and `diagnose` end to end on tiny embedded data."""

import json

import pytest

from spikeinit.cli import main
from spikeinit.init import micheli_reset_variance


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


def test_shd_preset_end_to_end_on_shd_format_files(tmp_path, monkeypatch):
    """`spikeinit train --dataset shd` (the SHD command of docs/results.md: recurrent_conv_shd
    preset) from HDF5 files in SHD's format through training to evaluation."""
    import numpy as np

    h5py = pytest.importorskip("h5py")
    import importlib

    from spikeinit.experiments.presets import preset, readout_rule

    rng = np.random.default_rng(0)
    paths = {}
    for split, n in (("train", 20), ("test", 6)):
        path = tmp_path / f"shd_{split}.h5"
        with h5py.File(path, "w") as f:
            times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
            units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
            labels = rng.integers(0, 20, n)
            for i in range(n):  # class-dependent channel band, 0.7 s of spikes
                times[i] = np.sort(rng.uniform(0, 0.7, 300)).astype(np.float32)
                units[i] = ((rng.integers(0, 60, 300) + 35 * labels[i]) % 700).astype(np.uint16)
            f.create_dataset("labels", data=labels.astype(np.uint8))
        paths[split] = path
    shd_module = importlib.import_module("spikeinit.data.shd")  # the name is also a function
    monkeypatch.setattr(shd_module, "fetch_shd_file", lambda split, *a, **k: paths[split])

    spec = preset("shd")
    assert (spec.model, spec.epochs, spec.batch_size, spec.optimizer) == (
        "recurrent_conv_shd",
        200,
        400,
        "smorms3",
    )
    assert readout_rule(spec) == "normal"
    out = tmp_path / "run"
    assert main(["train", "--dataset", "shd", "--epochs", "1", "--batch-size", "8",
                 "--out", str(out)]) == 0  # fmt: skip
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["model"] == "recurrent_conv_shd"
    assert 0.0 <= res["metrics"]["test_accuracy"] <= 1.0
    assert res["history"][0]["epoch_time_s"] > 0


@pytest.mark.parametrize(
    "optimizer,message",
    [
        ("smorms3", "lr must be <= 1 for optimizer 'smorms3'"),
        ("adam", "training diverged at epoch 1"),
    ],
)
def test_absurd_lr_exits_2_with_one_line(tmp_path, capsys, optimizer, message):
    # issue 13: `--lr 1e30` with SMORMS3 trained to chance and exited 0; with Adam the
    # run must stop as diverged (non-finite, or parameters exploded)
    argv = ["train", *TINY, "--epochs", "1", "--lr", "1e30", "--optimizer", optimizer]
    code = main([*argv, "--out", str(tmp_path / "x")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x" / "results.json").exists()


@pytest.mark.parametrize("form", ["covariance", "public"])
def test_train_and_compare_take_micheli_reset_form(tmp_path, form):
    """--form reaches si.initialize: the hidden layer's sigma_W is the reset-aware rule's
    for the model's own beta and theta (form written out in test_initialize.py)."""
    out = tmp_path / "t"
    argv = ["train", *TINY, "--epochs", "1", "--init", "micheli_reset", "--form", form]
    assert main([*argv, "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["form"] == form
    hidden = res["init"]["layers"][0]
    group = hidden["groups"][0]
    beta = 0.9048374180359595  # the randman preset: exp(-dt / tau_mem), dt 2 ms, tau 20 ms
    expected = micheli_reset_variance(group["fan_in"], beta, hidden["threshold"], form) ** 0.5
    assert group["sigma_w"] == pytest.approx(expected, rel=0.1)
    cmp_out = tmp_path / "c"
    cargv = ["compare", *TINY, "--epochs", "1", "--seeds", "1", "--inits", "micheli_reset"]
    assert main([*cargv, "--form", form, "--out", str(cmp_out)]) == 0
    cres = json.loads((cmp_out / "results.json").read_text())
    assert cres["config"]["form"] == form
    assert f"--form {form}" in (cmp_out / "report.md").read_text()
