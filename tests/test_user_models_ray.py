"""A user's model file on Ray: embedded Ray gives the in-process metrics, a worker killed
mid-trial is retried, and a real ``ray start --head`` cluster with token authentication
(Ray >= 2.59) is joined with no extra environment. The cluster is started by the test on a
free local port, in its own process group, and only that group is stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from spikeinit.cli import main
from spikeinit.experiments import sweep
from tests.test_user_models import USER_FILE

ray = pytest.importorskip("ray")

ARGS = ["--model-kw", "hidden=16,num_steps=4", "--data-kw", "n=300", "--epochs", "2"]


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("SPIKEINIT_NO_PROGRESS", "1")


@pytest.fixture(scope="module")
def user_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("user") / "user_net.py"
    path.write_text(USER_FILE)
    return path


def _metrics(out: Path) -> dict[str, object]:
    trials = json.loads((out / "results.json").read_text())["trials"]
    return {r["name"]: sweep.comparable(r) for r in trials}


def _compare(user_file: Path, out: Path, *extra: str) -> list[str]:
    return ["compare", "--model", f"{user_file}:snntorch_net", "--data", f"{user_file}:digits",
            *ARGS, "--inits", "fluctuation,default", "--seeds", "1", "--out", str(out),
            *extra]  # fmt: skip


def test_embedded_ray_matches_inprocess_and_retries_a_killed_worker(
    user_file, tmp_path, monkeypatch
):
    assert main(_compare(user_file, tmp_path / "inprocess")) == 0
    reference = _metrics(tmp_path / "inprocess")
    monkeypatch.setenv("RAY_memory_monitor_refresh_ms", "0")  # a shared machine
    marker = tmp_path / "crashed"
    monkeypatch.setenv(sweep.FAULT_ENV, f"{marker}:1")  # one worker os._exit()s after epoch 1
    argv = _compare(user_file, tmp_path / "ray", "--engine", "ray", "--num-cpus", "2",
                    "--max-failures", "2")  # fmt: skip
    assert main(argv) == 0
    assert marker.exists()  # a worker really died, and its trial was run again
    trials = json.loads((tmp_path / "ray" / "results.json").read_text())["trials"]
    assert sorted(r["attempt"] for r in trials) == [1, 2]
    assert _metrics(tmp_path / "ray") == reference


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL, to the cluster's own process group (never `ray stop`)."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def test_sweep_joins_a_ray_start_head_cluster_with_token_auth(user_file, tmp_path):
    ray_bin = Path(sys.executable).parent / "ray"
    spikeinit_bin = Path(sys.executable).parent / "spikeinit"
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(HOME=str(home), RAY_memory_monitor_refresh_ms="0")
    # a token in ~/.ray (as an earlier embedded Ray leaves one): `ray start` turns auth on
    subprocess.run([str(ray_bin), "get-auth-token", "--generate"], env=env, check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    assert (home / ".ray" / "auth_token").exists()
    port = _free_port()
    ray_tmp = tempfile.mkdtemp(prefix="si-ray-", dir="/tmp")  # Ray's socket paths are short
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
         "--node-ip-address=127.0.0.1", "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={ray_tmp}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                sweep.check_address(f"127.0.0.1:{port}")
                break
            except ValueError:
                assert head.poll() is None, head.stdout.read().decode()[-2000:]
                time.sleep(1)
        out = tmp_path / "sweep"
        run = subprocess.run(
            [str(spikeinit_bin), "sweep", "--model", f"{user_file}:snntorch_net",
             "--data", f"{user_file}:digits", *ARGS[:4], "--epochs", "1",
             "--grid", "sigma_u=0.5,1", "--address", f"127.0.0.1:{port}", "--out", str(out)],
            env=env, capture_output=True, text=True, timeout=400,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        trials = json.loads((out / "results.json").read_text())["trials"]
        assert sorted(r["params"]["sigma_u"] for r in trials) == [0.5, 1.0]
        assert all(r["status"] == "ok" for r in trials)
        assert "RAY_AUTH_MODE" not in env  # nothing set by hand
    finally:
        _stop_group(head)
        shutil.rmtree(ray_tmp, ignore_errors=True)
