"""Hostile command lines (issue 13): one line on stderr, exit code 2, no traceback,
no lost work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spikeinit.cli import main

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _one_line_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "error" in lines[0] and "Traceback" not in err
    return lines[0]


def _spikeinit(*argv: str, timeout: float = 120, cwd: Path | None = None):
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "spikeinit.cli", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )


def test_theory_with_decay_rounding_to_one_exits_2(tmp_path):
    # before issue 13 this grew a Python list without bound (killed at 22 GB)
    proc = _spikeinit(
        "theory", "--dt", "1e-9", "--tau-mem", "10", "--tau-syn", "10",
        "--out", str(tmp_path / "t"), timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "tau_mem must be at most" in _one_line_error(proc.stderr)
    assert not (tmp_path / "t" / "results.json").exists()


def test_main_reports_the_same_in_process(tmp_path, capsys):
    code = main(["theory", "--dt", "1e-9", "--tau-mem", "10", "--tau-syn", "10",
                 "--out", str(tmp_path)])  # fmt: skip
    assert code == 2
    _one_line_error(capsys.readouterr().err)


# -- 7. resume on other data / fewer epochs -------------------------------------------

TINY = ["--dataset", "randman", "--samples-per-class", "20", "--batch-size", "50", "--hidden", "32"]


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("SPIKEINIT_NO_PROGRESS", "1")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPIKEINIT_NO_PROGRESS", "1")
        out = tmp_path_factory.mktemp("run") / "rm"
        assert main(["train", *TINY, "--epochs", "2", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(
    "change,message",
    [
        (["--samples-per-class", "50"], "samples_per_class: 20 -> 50"),
        (["--hidden", "16"], "hidden: [32] -> [16]"),
        (["--init", "kaiming"], "init: 'fluctuation' -> 'kaiming'"),
        (["--epochs", "1"], "already completed 2 epochs, more than epochs=1"),
    ],
)
def test_resume_with_other_data_or_fewer_epochs_refuses(finished_run, change, message, capsys):
    before = {p.name: p.read_bytes() for p in finished_run.iterdir() if p.is_file()}
    argv = ["train", *TINY, "--epochs", "2", *change, "--out", str(finished_run), "--resume"]
    assert main(argv) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "cannot resume" in line and message in line, line
    after = {p.name: p.read_bytes() for p in finished_run.iterdir() if p.is_file()}
    assert after == before  # nothing in the run directory was touched


def test_diagnose_with_an_incompatible_checkpoint_exits_2(finished_run, tmp_path, capsys):
    import json
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(finished_run, run)
    res = json.loads((run / "results.json").read_text())
    res["config"]["hidden"] = [16]  # the checkpoint holds a 32-wide hidden layer
    (run / "results.json").write_text(json.dumps(res))
    assert main(["diagnose", str(run), "--out", str(tmp_path / "d"), "--samples", "8"]) == 2
    assert "weights do not fit this model" in _one_line_error(capsys.readouterr().err)


def test_resume_into_another_model_exits_2(tmp_path):
    import torch

    import spikeinit as si
    from spikeinit.train import TrainConfig, fit

    x, y = torch.rand(5, 20, 4), torch.randint(0, 2, (20,))
    cfg = TrainConfig(epochs=1, batch_size=10, progress=False)
    small = torch.nn.Sequential(si.nn.SpikingLinear(4, 3), si.nn.Readout(3, 2))
    fit(small, (x, y), config=cfg, out_dir=tmp_path)
    big = torch.nn.Sequential(si.nn.SpikingLinear(4, 5), si.nn.Readout(5, 2))
    with pytest.raises(ValueError, match="cannot resume: the checkpoint's weights do not fit"):
        fit(big, (x, y), config=TrainConfig(epochs=2, batch_size=10, progress=False),
            out_dir=tmp_path, resume=True)  # fmt: skip


# -- 8. two runs into one --out; --out checked before any work ------------------------


def test_two_concurrent_trains_into_one_out(tmp_path):
    import json

    from spikeinit.train import load_checkpoint

    out = tmp_path / "shared"
    argv = [sys.executable, "-m", "spikeinit.cli", "train", *TINY, "--epochs", "4",
            "--out", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "SPIKEINIT_NO_PROGRESS": "1"}
    procs = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "in use by another spikeinit run" in _one_line_error(refused)
    # the winner's files are whole: 4 epochs once each, results and checkpoint agree
    lines = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3, 4]
    res = json.loads((out / "results.json").read_text())
    assert res["metrics"]["epochs"] == 4 and len(res["history"]) == 4
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["epoch"] == 4 and ckpt["history"] == res["history"]
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


def test_lock_is_reentrant_in_one_process_and_released(tmp_path):
    from spikeinit._rundir import RunDirLocked, lock_run_dir

    with lock_run_dir(tmp_path), lock_run_dir(tmp_path):
        # another process cannot take it meanwhile
        # load _rundir.py alone (no torch import: fast)
        script = (
            "import importlib.util as u\n"
            f"s = u.spec_from_file_location('rd', {SRC + '/spikeinit/_rundir.py'!r})\n"
            "m = u.module_from_spec(s); s.loader.exec_module(m)\n"
            f"with m.lock_run_dir({str(tmp_path)!r}): pass"
        )
        code = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert code.returncode != 0 and RunDirLocked.__name__ in code.stderr
    with lock_run_dir(tmp_path):  # released: taken again
        pass


@pytest.mark.parametrize("kind", ["file", "below_file", "read_only"])
def test_out_that_cannot_be_written_exits_2_before_any_work(tmp_path, capsys, kind):
    target = tmp_path / "out"
    if kind == "file":
        target.write_text("not a directory")
    elif kind == "below_file":
        (tmp_path / "f").write_text("x")
        target = tmp_path / "f" / "run"
    else:
        if os.geteuid() == 0:
            pytest.skip("root can write into read-only directories")
        target.mkdir()
        target.chmod(0o500)
    assert main(["train", *TINY, "--epochs", "1", "--out", str(target)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "--out" in line


def test_resume_removes_stale_temporaries(tmp_path):
    import torch

    import spikeinit as si
    from spikeinit.train import TrainConfig, fit

    x, y = torch.rand(5, 20, 4), torch.randint(0, 2, (20,))
    model = torch.nn.Sequential(si.nn.SpikingLinear(4, 3), si.nn.Readout(3, 2))
    fit(model, (x, y), config=TrainConfig(epochs=1, batch_size=10, progress=False),
        out_dir=tmp_path)  # fmt: skip
    stale = [tmp_path / ".last.pt.k1l2.tmp", tmp_path / ".metrics.jsonl.x9.tmp"]
    for p in stale:
        p.write_bytes(b"half a write")
    keep = tmp_path / "notes.tmp"  # not ours: left alone
    keep.write_text("mine")
    fit(model, (x, y), config=TrainConfig(epochs=2, batch_size=10, progress=False),
        out_dir=tmp_path, resume=True)  # fmt: skip
    assert not any(p.exists() for p in stale) and keep.exists()


def test_dataset_unavailable_offline_exits_2(tmp_path, monkeypatch, capsys):
    import importlib

    shd_mod = importlib.import_module("spikeinit.data.shd")
    monkeypatch.setattr(shd_mod, "SHD_BASE_URL", "http://unreachable.invalid/")
    monkeypatch.setenv("SPIKEINIT_DATA", str(tmp_path / "empty-cache"))
    argv = ["train", "--dataset", "shd", "--epochs", "1", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "could not download" in line and "Manual step" in line


@pytest.mark.parametrize("hidden", ["", ",", "0", "32,-4", "a"])
def test_bad_hidden_exits_2(tmp_path, capsys, hidden):
    argv = ["train", "--hidden", hidden, "--epochs", "1", "--out", str(tmp_path / "h")]
    assert main(argv) == 2
    assert "--hidden must be" in _one_line_error(capsys.readouterr().err)


def test_allocation_failure_from_user_sizes_exits_2(tmp_path):
    import resource

    def limit() -> None:  # never let the child take real memory
        resource.setrlimit(resource.RLIMIT_AS, (12 * 2**30, 12 * 2**30))

    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "spikeinit.cli", "theory", "--neurons", "100000", "--batch",
         "10000", "--steps", "1000000", "--out", str(tmp_path / "big")],
        capture_output=True, text=True, env=env, timeout=300, preexec_fn=limit,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "not enough memory for the sizes asked for" in _one_line_error(proc.stderr)


def test_learning_rate_beyond_float32_exits_2(tmp_path, capsys):
    # torch's Adam raised "value cannot be converted to type float without overflow"
    argv = ["train", *TINY, "--epochs", "1", "--lr", "1e300", "--optimizer", "adam",
            "--out", str(tmp_path / "lr")]  # fmt: skip
    assert main(argv) == 2
    assert "lr=1e+300 is beyond the range" in _one_line_error(capsys.readouterr().err)
