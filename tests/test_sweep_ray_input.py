"""Ray set-ups that used to hang or join the wrong cluster (issue #28): an --address where
something other than Ray listens, a trial asking for more CPUs than Ray has, and the
embedded Ray joining a cluster left behind. None of these tests starts Ray, except the
one marked slow."""

import socket
import threading
import time

import pytest

from spikeinit.cli import main
from spikeinit.experiments import sweep

ray = pytest.importorskip("ray")

TINY = ["--dataset", "randman", "--samples-per-class", "20", "--hidden", "8", "--epochs", "1"]


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("SPIKEINIT_NO_PROGRESS", "1")


@pytest.fixture(params=[b"", b"HTTP/1.1 400 Bad Request\r\n\r\n"], ids=["silent", "http1"])
def not_ray(request):
    """``127.0.0.1:<port>`` of a TCP server that accepts and then says nothing (or HTTP/1)."""
    server = socket.create_server(("127.0.0.1", 0))
    conns = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conns.append(conn)
            if request.param:
                conn.sendall(request.param)

    threading.Thread(target=serve, daemon=True).start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for c in conns:
        c.close()


def _refused(tmp_path, capsys, argv, *words):
    t0 = time.perf_counter()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(w in err for w in words), err
    assert not (tmp_path / "out").exists()
    return time.perf_counter() - t0


def test_address_where_something_else_listens_fails_fast(tmp_path, capsys, not_ray):
    argv = [
        "sweep",
        *TINY,
        "--grid",
        "lr=0.01",
        "--address",
        not_ray,
        "--out",
        str(tmp_path / "out"),
    ]
    took = _refused(tmp_path, capsys, argv, f"--address {not_ray}", "not a Ray cluster")
    assert took < 30


@pytest.mark.parametrize("command", ["sweep", "compare"])
def test_trial_asking_more_cpus_than_embedded_ray_has_is_refused(tmp_path, capsys, command):
    extra = ["--grid", "lr=0.01"] if command == "sweep" else ["--seeds", "1", "--inits", "default"]
    argv = [command, *TINY, *extra, "--engine", "ray", "--num-cpus", "2", "--threads", "3",
            "--out", str(tmp_path / "out")]  # fmt: skip
    took = _refused(tmp_path, capsys, argv, "--threads 3 asks for 3 CPUs", "has 2 (--num-cpus 2)")
    assert took < 30


def test_embedded_ray_always_starts_its_own_instance(tmp_path, monkeypatch):
    """Without --address, ray.init gets address="local": never a cluster named by a stale
    ray_current_cluster file."""
    seen = {}

    class Stop(Exception):
        pass

    def fake_init(**kw):
        seen.update(kw)
        raise Stop

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", fake_init)
    with pytest.raises(Stop):
        sweep.run_ray([], tmp_path, num_cpus=2)
    assert seen["address"] == "local" and seen["num_cpus"] == 2


def test_joined_cluster_without_a_node_big_enough_is_refused(monkeypatch):
    nodes = [
        {"Alive": True, "Resources": {"CPU": 2.0}},
        {"Alive": True, "Resources": {"CPU": 4.0, "GPU": 1.0}},
        {"Alive": False, "Resources": {"CPU": 64.0}},
    ]
    monkeypatch.setattr(ray, "nodes", lambda: nodes)
    sweep._check_cluster_fits(4.0, 1.0, "h:6379")
    with pytest.raises(ValueError, match="asks for 8 CPUs per trial.*cluster at h:6379 has 4"):
        sweep._check_cluster_fits(8.0, 0.0, "h:6379")
    with pytest.raises(ValueError, match="--device cuda asks for 2 GPUs"):
        sweep._check_cluster_fits(1.0, 2.0, "h:6379")


@pytest.mark.slow
def test_a_real_ray_gcs_passes_the_address_check():
    import logging

    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False,
             logging_level=logging.WARNING)  # fmt: skip
    try:
        sweep.check_address(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()
