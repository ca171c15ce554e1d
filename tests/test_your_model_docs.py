"""docs/your-model.md runs as written: its my_net.py (snnTorch tutorial 5's network on
scikit-learn digits), its commands (compare, sweep, diagnose of a fresh and of a trained
model) and its Python block (si.compare, si.sweep), each writing its report."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from spikeinit.cli import main

PAGE = Path(__file__).resolve().parents[1] / "docs" / "your-model.md"
BLOCKS = dict(
    re.findall(
        r"<!-- run by tests/test_your_model_docs.py: (\S+) -->\n```\w+\n(.*?)```",
        PAGE.read_text(),
        flags=re.S,
    )
)


def _commands(text: str) -> list[list[str]]:
    joined = text.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip()]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    pytest.importorskip("snntorch")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPIKEINIT_NO_PROGRESS", "1")
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "my_net.py").write_text(BLOCKS["my_net.py"])
    yield tmp_path
    sys.modules.pop("my_net", None)


def test_the_page_has_its_three_blocks():
    assert set(BLOCKS) == {"my_net.py", "commands", "python"}
    # the network is the tutorial's: cited, with its Leaky neurons and records
    assert "tutorial_5_FCN.ipynb" in PAGE.read_text()
    assert "snn.Leaky(beta=beta)" in BLOCKS["my_net.py"]


def test_the_commands_run_and_write_their_reports(workdir):
    commands = _commands(BLOCKS["commands"])
    assert [c[1] for c in commands] == ["compare", "sweep", "diagnose", "diagnose"]
    for command in commands:
        assert main(command[1:]) == 0, command
        out = workdir / command[command.index("--out") + 1]
        assert (out / "report.md").exists() and (out / "results.json").exists()
    compared = json.loads((workdir / "runs/my_cmp/results.json").read_text())
    inits = {r["params"]["init"] for r in compared["trials"]}
    assert inits == {"fluctuation", "default", "kaiming"}
    assert {r["dataset"]["loss"] for r in compared["trials"]} == {"step_ce"}
    trained = json.loads((workdir / "runs/my_diag_trained/results.json").read_text())
    assert "checkpoint" in trained["config"]["source"]


def test_the_python_block_runs(workdir, capsys):
    exec(compile(BLOCKS["python"], "docs/your-model.md [python]", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    mine = [line.split() for line in printed if line.endswith(" step_ce")]  # the loop's lines
    assert [words[0] for words in mine] == ["fluctuation", "default"]
    assert (workdir / "runs/py_cmp/report.md").exists()
    assert (workdir / "runs/py_sweep/report.md").exists()
