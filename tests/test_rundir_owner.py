"""--out that holds another command's run, and train --resume without last.pt (issue #28):
refused with exit 2 and one line, and every file left as it was. The runs here are
stand-ins (the files a command leaves), so each refusal is checked in milliseconds."""

import json

import pytest

from spikeinit import _rundir
from spikeinit.cli import main

TINY = ["--dataset", "randman", "--samples-per-class", "20", "--batch-size", "50", "--hidden", "8"]
ARGV = {
    "train": ["train", *TINY, "--epochs", "1"],
    "compare": ["compare", *TINY, "--epochs", "1", "--seeds", "1", "--inits", "default"],
    "sweep": ["sweep", *TINY, "--epochs", "1", "--grid", "lr=0.01", "--engine", "inprocess"],
    "diagnose": ["diagnose", "--model", "fc", "--samples", "8"],
}


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("SPIKEINIT_NO_PROGRESS", "1")


def _run_dir(path, command, *extra):
    """A directory as ``spikeinit <command>`` leaves it: results.json, report.md, ``extra``."""
    path.mkdir()
    (path / "results.json").write_text(json.dumps({"command": command, "config": {}}) + "\n")
    (path / "report.md").write_text(f"# spikeinit {command}\n")
    for name in extra:
        (path / name).write_text(f"{name} of the {command} run\n")
    return path


def _files(path):
    return {p.name: p.read_bytes() for p in path.iterdir() if p.name != ".lock"}


def _refused(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(w in err for w in words), err


@pytest.mark.parametrize(
    "command,owner", [(c, o) for c in sorted(ARGV) for o in sorted(ARGV) if c != o]
)
def test_out_holding_another_commands_run_is_refused(tmp_path, capsys, command, owner):
    run = _run_dir(tmp_path / "run", owner, "best.pt", "metrics.jsonl")
    before = _files(run)
    _refused(capsys, [*ARGV[command], "--out", str(run)], f"`spikeinit {owner}` run", "--out")
    assert _files(run) == before


def test_diagnose_into_the_train_run_it_reads_is_refused(tmp_path, capsys):
    run = _run_dir(tmp_path / "rm", "train", "best.pt", "last.pt", "metrics.jsonl")
    before = _files(run)
    _refused(capsys, ["diagnose", str(run), "--out", str(run)], "`spikeinit train` run")
    assert _files(run) == before


def test_unfinished_sweep_and_foreign_results_are_refused(tmp_path, capsys):
    sweep = tmp_path / "sw"
    (sweep / "trials" / "lr=0.01-abc").mkdir(parents=True)  # a sweep without results.json yet
    _refused(capsys, [*ARGV["train"], "--out", str(sweep)], "`spikeinit sweep` run")
    assert not (sweep / "results.json").exists() and not (sweep / "last.pt").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "results.json").write_text('{"accuracy": 0.9}\n')
    _refused(capsys, [*ARGV["diagnose"], "--out", str(other)], "no spikeinit command wrote")
    assert (other / "results.json").read_text() == '{"accuracy": 0.9}\n'


@pytest.mark.parametrize("left", [("best.pt", "metrics.jsonl"), ("metrics.jsonl",)])
def test_train_resume_without_last_pt_is_refused(tmp_path, capsys, left):
    run = _run_dir(tmp_path / "rm", "train", *left)
    before = _files(run)
    _refused(capsys, [*ARGV["train"], "--resume", "--out", str(run)], "no last.pt", "--resume")
    assert _files(run) == before


def test_owner_of_a_directory():
    assert _rundir.run_owner("/nonexistent/dir") is None
    _rundir.check_out_owner("/nonexistent/dir", "train")


def test_owner_of_own_run_is_accepted(tmp_path):
    run = _run_dir(tmp_path / "rm", "train", "last.pt")
    assert _rundir.run_owner(run) == "train"
    _rundir.check_out_owner(run, "train")
    with pytest.raises(ValueError, match="`spikeinit train` run, which `spikeinit sweep` would"):
        _rundir.check_out_owner(run, "sweep")
