"""`spikeinit sweep` on Ray Tune: same metrics in-process and in Ray, worker death,
resume, bad input. Tiny Randman (20 samples per class, 16 hidden, 2 epochs)."""

import json
import os

import pytest

from spikeinit.cli import main
from spikeinit.experiments import sweep

TINY = {"samples_per_class": 20, "hidden": (16,), "epochs": 2, "batch_size": 50}
GRID = {"sigma_u": [0.5, 2.0], "mu_u": [0.0, 0.5]}


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("SPIKEINIT_NO_PROGRESS", "1")


def _trials():
    return sweep.make_trials(GRID, dict(TINY, dataset="randman"), seeds=1)


def _same(a, b):
    assert [r["name"] for r in a] == [r["name"] for r in b]
    for x, y in zip(a, b, strict=True):
        assert sweep.comparable(x) == sweep.comparable(y), x["name"]


@pytest.fixture(scope="module")
def ray_session():
    """One embedded Ray for every test of this module (Ray starts slowly)."""
    ray = pytest.importorskip("ray")
    mp = pytest.MonkeyPatch()
    # the machine is shared: keep Ray's memory monitor from killing our tiny workers
    # because of other processes' memory (only the fault hook may kill a worker here)
    mp.setenv("RAY_memory_monitor_refresh_ms", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
    mp.undo()


@pytest.fixture(scope="module")
def inprocess(tmp_path_factory):
    """The 2 x 2 grid run in this process: the reference of the Ray tests."""
    out = tmp_path_factory.mktemp("inprocess")
    records = sweep.execute(_trials(), out, engine="inprocess")
    # a real landscape: the four cells train to different losses
    assert len({r["metrics"]["test_loss"] for r in records}) == 4
    assert all(r["status"] == "ok" and len(r["history"]) == 2 for r in records)
    return records


def test_local_ray_matches_inprocess(ray_session, inprocess, tmp_path):
    records = sweep.execute(_trials(), tmp_path, engine="ray", max_concurrent=2)
    _same(records, inprocess)
    assert all(r["initial_state"] in sweep.STATES for r in records)


def test_worker_killed_mid_trial_is_retried_from_its_checkpoint(
    ray_session, inprocess, tmp_path, monkeypatch
):
    marker = tmp_path / "crashed"
    monkeypatch.setenv(sweep.FAULT_ENV, f"{marker}:1")  # one worker os._exit()s after epoch 1
    records = sweep.execute(
        _trials(), tmp_path / "out", engine="ray", max_concurrent=2, max_failures=2
    )
    assert marker.exists()  # a worker process really died
    crashed = [r for r in records if r["attempt"] == 2]
    assert len(crashed) == 1 and crashed[0]["name"].split("/")[-1] in marker.read_text()
    _same(records, inprocess)


def test_resume_continues_an_interrupted_trial_from_its_checkpoint(
    ray_session, inprocess, tmp_path, monkeypatch
):
    marker = tmp_path / "crashed"
    trials = _trials()[:2]
    monkeypatch.setenv(sweep.FAULT_ENV, f"{marker}:1")
    first = sweep.execute(trials, tmp_path / "out", engine="ray", max_failures=0)
    monkeypatch.delenv(sweep.FAULT_ENV)
    name = marker.read_text().split()[0]
    # no retries: that trial is recorded as failed, the other one finishes
    assert [r["status"] for r in first] == [
        "failed" if r["name"].endswith(name) else "ok" for r in first
    ]
    [trial_dir] = (tmp_path / "out" / "trials").glob(name)
    assert (trial_dir / "last.pt").exists() and not (trial_dir / "trial.json").exists()
    records = sweep.execute(trials, tmp_path / "out", engine="inprocess", resume=True)
    _same(records, inprocess[:2])
    assert sum(r["resumed_finished"] for r in records) == 1  # the other one was done
    resumed = next(r for r in records if r["name"].endswith(name))
    assert resumed["attempt"] == 2 and not resumed["resumed_finished"]


def _cli(tmp_path, *extra):
    return [
        "sweep", "--dataset", "randman", "--samples-per-class", "20", "--hidden", "16",
        "--batch-size", "50", "--epochs", "1", "--out", str(tmp_path / "sw"), *extra,
    ]  # fmt: skip


def test_cli_resume_skips_finished_trials(tmp_path, capsys):
    argv = _cli(tmp_path, "--grid", "sigma_u=0.5,2", "--engine", "inprocess")
    assert main(argv) == 0
    first = json.loads((tmp_path / "sw" / "results.json").read_text())
    assert first["command"] == "sweep" and len(first["trials"]) == 2
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "sw" / "trials").glob("*/last.pt")}
    assert main([*argv, "--resume"]) == 0
    again = json.loads((tmp_path / "sw" / "results.json").read_text())
    assert all(r["resumed_finished"] for r in again["trials"])
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing retrained
    _same(again["trials"], first["trials"])
    report = (tmp_path / "sw" / "report.md").read_text()
    assert "**Best:**" in report and "| sigma_u |" in report


def test_cli_heatmap_and_toml(tmp_path):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text("[grid]\nmu_u = [0.0, 0.5]\nsigma_u = [0.5, 1.0]\n[fixed]\nlr = 0.005\n")
    assert main(_cli(tmp_path, "--config", str(cfg), "--engine", "inprocess")) == 0
    res = json.loads((tmp_path / "sw" / "results.json").read_text())
    cells = res["summary"]["heatmap"]["cells"]
    assert res["summary"]["heatmap"]["x"] == "mu_u" and len(cells) == 4
    for c in cells:  # each cell is the mean of its trials' test accuracy
        mine = [
            t["metrics"]["test_accuracy"]
            for t in res["trials"]
            if t["params"]["mu_u"] == c["mu_u"] and t["params"]["sigma_u"] == c["sigma_u"]
        ]
        assert c["test_accuracy_mean"] == pytest.approx(sum(mine) / len(mine))
    assert (tmp_path / "sw" / "heatmap.png").stat().st_size > 5000


def test_xi_sets_mu_from_sigma():
    [t] = sweep.make_trials({"xi": [2.0]}, {"sigma_u": 0.25}, seeds=1)
    assert t.spec.mu_u == pytest.approx(1 - 2.0 * 0.25) and t.spec.sigma_u == 0.25
    [t] = sweep.make_trials({"xi": [2.0]}, {"mu_u": -1.0}, seeds=1)
    assert t.spec.sigma_u == pytest.approx((1 - -1.0) / 2.0)


def test_trial_state_from_diagnosis():
    d = {"layers": [{"state": "fluctuation-driven"}, {"state": "silent"}, {"state": "readout"}]}
    assert sweep.trial_state(d) == "silent"
    assert sweep.trial_state({"layers": [{"state": "saturated"}]}) == "saturated"


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--grid", "sigmau=1,2"], "unknown sweep parameter 'sigmau'"),
        ([], "empty grid"),
        (["--grid", "sigma_u"], "expected NAME=V1,V2"),
        (["--grid", "sigma_u="], "comma-separated list"),
        (["--grid", "sigma_u=1,,2"], "comma-separated list"),
        (["--grid", "sigma_u=abc"], "sigma_u: expected a number, got 'abc'"),
        (["--grid", "seed=1.5"], "seed: expected an integer"),
        (["--grid", "init=nope"], "init: unknown 'nope'"),
        (["--grid", "sigma_u=-1"], "sigma_u must be a finite number > 0"),
        (["--grid", "sigma_u=1", "--address", "127.0.0.1:9"], "no Ray cluster answers"),
        (["--grid", "sigma_u=1", "--address", "nohost"], "--address must be HOST:PORT"),
        (["--grid", "sigma_u=1", "--config", "/nonexistent.toml"], "no such file"),
        (["--grid", "sigma_u=1", "--random", "5"], "--random 5 exceeds"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, extra, message):
    code = main(_cli(tmp_path, *extra))
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "sw").exists()


def test_bad_toml_value_type(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[grid]\nsigma_u = ["a", 1]\n')
    assert main(_cli(tmp_path, "--config", str(cfg))) == 2
    assert "sigma_u: expected a number" in capsys.readouterr().err
    cfg.write_text("[grid\n")
    assert main(_cli(tmp_path, "--config", str(cfg))) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert not (tmp_path / "sw").exists()


def test_fault_hook_is_off_without_the_variable():
    assert os.environ.get(sweep.FAULT_ENV) is None
    assert sweep._crash_hook(None, None) is None  # type: ignore[arg-type]


def test_silent_and_unreachable_cells_are_recorded_not_fatal(tmp_path):
    """mu_U = -0.5, sigma_U = 0.25 leaves the hidden layer silent (the readout then has
    nothing to initialise from); mu_U = -1, sigma_U = 0.25 has no real weights. Both
    become records of the sweep, marked in the summary, instead of stopping it."""
    trials = sweep.make_trials({"mu_u": [-0.5, -1.0]}, dict(TINY, sigma_u=0.25))
    records = sweep.execute(trials, tmp_path, engine="inprocess")
    silent, unreachable = records
    assert silent["status"] == "init_failed" and silent["initial_state"] == "silent"
    hidden = silent["initial_diagnosis"][0]
    assert hidden["rate"] == 0.0 and hidden["silent_fraction"] == 1.0
    assert unreachable["status"] == "unreachable" and "sigma_W^2" in unreachable["error"]
    summary = sweep.summarize(records, {"mu_u": [-0.5, -1.0]}, None)
    assert [r["params"]["mu_u"] for r in summary["silent_or_saturated"]] == [-0.5]
    assert summary["best"] is None


def test_random_search_draws_distinct_grid_points_reproducibly():
    grid = {"sigma_u": [0.25, 0.5, 1.0, 2.0], "lr": [1e-3, 5e-3, 1e-2]}
    a = sweep.make_trials(grid, {}, random_n=5, base_seed=3)
    b = sweep.make_trials(grid, {}, random_n=5, base_seed=3)
    points = [(t.params["sigma_u"], t.params["lr"]) for t in a]
    assert points == [(t.params["sigma_u"], t.params["lr"]) for t in b]
    assert len(set(points)) == 5
    assert all(s in grid["sigma_u"] and lr in grid["lr"] for s, lr in points)
    assert all(t.spec.sigma_u == t.params["sigma_u"] and t.spec.lr == t.params["lr"] for t in a)


def test_diagnosing_the_initial_network_does_not_change_training(tmp_path):
    """Sweep trials diagnose the initialised model before training; `train` and the old
    `compare` did not. The runs must stay identical."""
    from spikeinit.experiments.presets import preset, run

    spec = preset("randman", epochs=1, batch_size=50, hidden=(16,),
                  dataset_kw={"samples_per_class": 20})  # fmt: skip
    plain = run(spec, tmp_path / "a", progress=False)
    diag = run(spec, tmp_path / "b", progress=False, diagnose_init=True)
    assert "initial_diagnosis" in diag and "initial_diagnosis" not in plain
    assert sweep.comparable(plain) == sweep.comparable(diag)
