"""Hostile command lines (issue 13): one line on stderr, exit code 2, no traceback,
no lost work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
