"""Issue 28, round two: every "unclear" class ends in one clear line (CLI: exit code 2,
nothing written) or a ValueError / TypeError naming the parameter (API), and the
silently ignored options are refused or honoured. Each test failed before the fix."""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import spikeinit as si
from spikeinit.cli import main

SRC = str(Path(si.__file__).resolve().parents[1])  # the spikeinit under test
TINY = ["--dataset", "randman", "--samples-per-class", "20", "--batch-size", "50",
        "--hidden", "16", "--epochs", "1"]  # fmt: skip


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("SPIKEINIT_NO_PROGRESS", "1")


def _one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "error" in lines[0]
    return lines[0]


def _refused(argv, capsys, *needles, out: Path | None = None) -> str:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    assert code == 2
    line = _one_line(capsys.readouterr().err)
    for needle in needles:
        assert needle in line, line
    if out is not None:
        assert not out.exists() or not any(p.name != ".lock" for p in out.iterdir())
    return line


# -- raw tracebacks -----------------------------------------------------------------------


def test_file_size_limit_during_a_run_is_one_line_and_leaves_no_part(tmp_path):
    out = tmp_path / "run"

    def limit():  # 10 kB: metrics.jsonl fits, last.pt does not (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, resource.RLIM_INFINITY))

    proc = subprocess.run(
        [sys.executable, "-m", "spikeinit.cli", "train", *TINY, "--out", str(out)],
        capture_output=True, text=True, timeout=240, preexec_fn=limit,
        env={**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.returncode == 2
    line = _one_line(proc.stderr)
    assert "File too large" in line and "last.pt" in line
    left = sorted(p.name for p in out.iterdir())
    assert not [n for n in left if n.endswith(".tmp")]  # no temporary left behind
    assert "last.pt" not in left and "results.json" not in left  # nothing half-written


@pytest.mark.parametrize("device", ["meta", "mps"])
def test_unusable_device_exits_2(tmp_path, capsys, device):
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has mps")
    _refused(["train", *TINY, "--device", device, "--out", str(tmp_path / "o")], capsys,
             f"--device {device}", out=tmp_path / "o")  # fmt: skip


def test_adam_lr_that_overflows_the_step_is_diverged(tmp_path, capsys):
    _refused(["train", *TINY, "--optimizer", "adam", "--lr", "1e38", "--out", str(tmp_path)],
             capsys, "optimiser step overflowed", "lr = 1e+38")  # fmt: skip


def test_loss_that_explodes_is_caught_by_the_divergence_check(tmp_path, capsys):
    # before: exit 0, training loss 1.6e7 while every weight stayed finite
    _refused(["train", *TINY, "--optimizer", "adam", "--lr", "1e6", "--out", str(tmp_path)],
             capsys, "the loss exploded")  # fmt: skip
    assert not (tmp_path / "results.json").exists()


def test_out_symlink_loop_exits_2(tmp_path, capsys):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    for out in (tmp_path / "a", tmp_path / "a" / "sub"):
        _refused(["train", *TINY, "--out", str(out)], capsys, "symbolic link", "loop")


def test_run_file_that_is_a_directory_exits_2_before_any_work(tmp_path, capsys):
    (tmp_path / "metrics.jsonl").mkdir()
    _refused(["train", *TINY, "--out", str(tmp_path)], capsys, "'metrics.jsonl'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sw") / "sw"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPIKEINIT_NO_PROGRESS", "1")
        argv = ["sweep", *TINY, "--engine", "inprocess", "--grid", "sigma_u=0.5", "--out", str(out)]
        assert main(argv) == 0
    return out, argv


@pytest.mark.parametrize("content", [[1, 2], {"spec": {}, "metrics": None, "status": "ok"}])
def test_hand_edited_trial_json_on_resume_exits_2(finished_sweep, capsys, content):
    out, argv = finished_sweep
    [trial_json] = out.glob("trials/*/trial.json")
    saved = trial_json.read_text()
    before = (out / "results.json").read_bytes()
    try:
        trial_json.write_text(json.dumps(content))
        _refused([*argv, "--resume"], capsys, str(trial_json), "damaged")
        assert (out / "results.json").read_bytes() == before
    finally:
        trial_json.write_text(saved)


def test_grid_value_too_long_for_a_file_name_is_recorded_not_a_traceback(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["sweep", *TINY, "--engine", "inprocess", "--grid", "hidden=16," + "1" * 300,
            "--max-failures", "0", "--out", str(out)]  # fmt: skip
    assert main(argv) == 1  # before: OSError [Errno 36] File name too long, no results.json
    ok, trial = json.loads((out / "results.json").read_text())["trials"]
    assert ok["status"] == "ok" and trial["status"] == "failed"
    assert all(len(part) <= 255 for part in trial["name"].split("/"))
    assert (out / trial["name"] / "attempts").exists()


# -- raw exception types from the Python API ----------------------------------------------


@pytest.mark.parametrize(
    "make,name",
    [
        (lambda: si.LIFParams.from_spikingjelly(tau=1e20), "tau"),
        (lambda: si.LIFParams.from_spikingjelly(tau=math.inf), "tau"),
        (lambda: si.LIFParams.from_norse(tau_mem_inv=1e-300), "tau_mem_inv"),
        (lambda: si.LIFParams.from_norse(tau_syn_inv=1e-300), "tau_syn_inv"),
        (lambda: si.LIFParams.from_snntorch(beta=0.2), "beta"),
        (lambda: si.LIFParams.from_snntorch(beta=0.9, alpha=0.1), "alpha"),
    ],
)
def test_framework_conversions_name_the_parameter_given(make, name):
    with pytest.raises(ValueError, match=rf"^{name} must be in [\[(]"):
        make()


def test_beta_range_is_where_tau_mem_exceeds_one_step():
    # the range given in the message is exactly the one LIFParams accepts
    lo = math.exp(-1.0)
    si.LIFParams.from_snntorch(beta=math.nextafter(lo, 1.0))
    with pytest.raises(ValueError, match="beta"):
        si.LIFParams.from_snntorch(beta=lo)


def test_propagation_beta_names_beta(tmp_path, capsys):
    _refused(["propagation", "--beta", "0.2", "--depth", "2", "--width", "10",
              "--out", str(tmp_path / "p")], capsys, "beta must be in")  # fmt: skip


def test_randman_small_alpha_has_the_capped_cutoff():
    from spikeinit.data.randman import MAX_CUTOFF, PREC, randman_cutoff

    assert randman_cutoff(1e-3) == MAX_CUTOFF  # prec ** -1000 overflowed a float
    for alpha in (0.5, 1.0, 2.0, 3.0):  # unchanged where the float formula holds
        assert randman_cutoff(alpha) == min(math.ceil(PREC ** (-1.0 / alpha)), MAX_CUTOFF)


@pytest.mark.parametrize("field", ["labels", "spikes/times"])
def test_shd_with_scalar_datasets_is_a_value_error(tmp_path, field):
    h5py = pytest.importorskip("h5py")
    import numpy as np

    from spikeinit.data.shd import read_shd

    path = tmp_path / "shd.h5"
    with h5py.File(path, "w") as f:
        n = 2
        t = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
        u = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i in range(n):
            t[i] = np.array([0.1, 0.2], np.float32)
            u[i] = np.array([1, 2], np.uint16)
        f.create_dataset("labels", data=np.array([0, 1], np.uint16))
        del f[field]
        f.create_dataset(field, data=3)
    with pytest.raises(ValueError, match=f"'{field}'"):
        read_shd(path)


def test_dvs_cache_with_a_label_out_of_range_is_refused_at_load(tmp_path):
    from spikeinit.data.dvs import _load_split

    root = tmp_path / "dvs"
    root.mkdir()
    cache = root / "binned_train_dt0.002_T500_s32.pt"
    labels = torch.tensor([3, 57, 1])
    torch.save({"keys": torch.zeros(0, dtype=torch.int64),
                "offsets": torch.zeros(4, dtype=torch.int64), "labels": labels}, cache)  # fmt: skip
    with pytest.raises(ValueError, match=r"label 57 \(sample 1\)") as info:
        _load_split(True, root, 2e-3, 500, 32)
    assert str(cache) in str(info.value)
    assert cache.exists()  # refused, not deleted


class _Two(nn.Module):
    """Two snnTorch Leaky layers, time-first (snnTorch tutorial 5's loop)."""

    def __init__(self, lin=None, pre=None):
        super().__init__()
        snn = pytest.importorskip("snntorch")
        self.fc = lin if lin is not None else nn.Linear(20, 100)
        self.pre = pre if pre is not None else nn.Identity()
        self.lif = snn.Leaky(beta=0.9)
        self.fc2 = nn.Linear(100, 5)
        self.lif2 = snn.Leaky(beta=0.9)

    def forward(self, x):
        m1, m2, out = self.lif.init_leaky(), self.lif2.init_leaky(), []
        for t in range(x.shape[0]):
            s1, m1 = self.lif(self.pre(self.fc(x[t])), m1)
            s2, m2 = self.lif2(self.fc2(s1), m2)
            out.append(s2)
        return torch.stack(out)


def _x():
    g = torch.Generator().manual_seed(0)
    return (torch.rand(100, 32, 20, generator=g) < 0.2).float()


@pytest.mark.parametrize("bad", ["abc", 3, None, [nn.Linear(2, 2)]])
def test_non_module_model_is_a_type_error(bad):
    for call in (si.initialize, si.diagnose):
        with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
            call(bad, _x())


def test_model_on_the_meta_device_is_a_value_error():
    net = _Two().to("meta")
    with pytest.raises(ValueError, match="meta device"):
        si.initialize(net, _x())
    with pytest.raises(ValueError, match="meta device"):
        si.diagnose(net, _x())


@pytest.mark.parametrize("name", ["alpha", "mu_u", "sigma_u", "tol"])
def test_non_numeric_keyword_is_a_type_error_naming_it(name):
    with pytest.raises(TypeError, match=f"^{name} must be a real number"):
        si.initialize(_Two(), _x(), **{name: "0.5"})


# -- foreign init: targets missed without a warning ---------------------------------------


def _init_warns(net, module: str, what: str):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = si.initialize(net, _x(), seed=0)
    ours = [str(w.message) for w in caught if "spikeinit.initialize" in str(w.message)]
    assert ours and f"'{module}'" in ours[0] and what in ours[0], ours
    assert "neuron 'lif'" in ours[0]
    lif = report.layers[0]
    assert any(f"'{module}'" in n for n in lif.notes)
    return report


@pytest.mark.parametrize("kind", ["weight_norm", "spectral_norm"])
def test_parametrized_weight_is_named_with_the_right_reason(kind):
    from torch.nn.utils import parametrizations

    lin = getattr(parametrizations, kind)(nn.Linear(20, 100))
    report = _init_warns(_Two(lin=lin), "fc", "parametrization")
    [fc] = [m for m in report.modules if m.name == "fc"]
    assert not fc.initialised and "parametrization" in fc.reason  # not "behind another module"


@pytest.mark.parametrize(
    "norm",
    [lambda: nn.LayerNorm(100), lambda: nn.GroupNorm(4, 100),
     lambda: nn.BatchNorm1d(100, affine=False),
     lambda: nn.LayerNorm(100, elementwise_affine=False)],
)  # fmt: skip
def test_normalisation_before_the_neuron_is_warned_about(norm):
    report = _init_warns(_Two(pre=norm()), "pre", "normalises")
    assert report.layers[0].sigma_u_theta > 1.25 * report.layers[0].target_sigma_u_theta


def test_plain_model_gives_no_such_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        si.initialize(_Two(), _x(), seed=0)
    assert not [w for w in caught if "spikeinit.initialize" in str(w.message)]


# -- misleading one-liners, options silently ignored --------------------------------------


def test_huge_seed_names_seed(tmp_path, capsys):
    _refused(["train", *TINY, "--seed", str(10**23), "--out", str(tmp_path / "o")], capsys,
             "--seed", out=tmp_path / "o")  # fmt: skip


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["train", *TINY, "--standardize"], "--standardize"),
        (["train", "--dataset", "randman", "--model", "deep_conv", "--hidden", "7"], "--hidden"),
        (["sweep", *TINY, "--engine", "inprocess", "--grid", "sigma_u=1", "--address",
          "127.0.0.1:1"], "--address"),  # fmt: skip
        (["compare", *TINY, "--max-failures", "-1"], "--max-failures"),
        (["sweep", *TINY, "--grid", "sigma_u=1", "--max-failures", "-1"], "--max-failures"),
    ],
)
def test_options_that_would_be_ignored_are_refused(tmp_path, capsys, argv, needle):
    out = tmp_path / "o"
    _refused([*argv, "--out", str(out)], capsys, needle, out=out)


def test_diagnose_checkpoint_with_model_is_refused(finished_sweep, tmp_path, capsys):
    out, _ = finished_sweep
    [trial] = out.glob("trials/*/")
    _refused(["diagnose", str(trial), "--model", "fc", "--out", str(tmp_path / "d")], capsys,
             "--model", out=tmp_path / "d")  # fmt: skip


def _sweep_with_file(tmp_path, capsys, toml: str, *cli: str):
    cfg = tmp_path / "s.toml"
    cfg.write_text(toml)
    out = tmp_path / "sw"
    argv = ["sweep", *TINY, "--engine", "inprocess", "--config", str(cfg), "--out", str(out)]
    return argv, [*argv, *cli], out


def test_toml_fixed_seed_is_refused(tmp_path, capsys):
    _, argv, out = _sweep_with_file(tmp_path, capsys, "[grid]\nsigma_u = [1]\n[fixed]\nseed = 3\n")
    _refused(argv, capsys, "[fixed] seed", out=out)


def test_command_line_wins_over_the_toml_file(tmp_path, capsys):
    toml = "seed = 4\n[grid]\nsigma_u = [1]\n[fixed]\ndataset = 'digits'\n"
    # TINY gives --dataset randman; the file says digits
    _, argv, out = _sweep_with_file(tmp_path, capsys, toml, "--seed", "0")
    assert main(argv) == 0
    [trial] = json.loads((out / "results.json").read_text())["trials"]
    assert trial["spec"]["seed"] == 0 and trial["spec"]["dataset"] == "randman"


def test_toml_values_hold_where_the_command_line_is_silent(tmp_path, capsys):
    argv, _, out = _sweep_with_file(tmp_path, capsys, "seed = 4\n[grid]\nsigma_u = [1]\n")
    assert main(argv) == 0
    [trial] = json.loads((out / "results.json").read_text())["trials"]
    assert trial["spec"]["seed"] == 4


# -- other ---------------------------------------------------------------------------------


def test_compare_with_a_diverged_run_writes_results(tmp_path, capsys):
    out = tmp_path / "c"
    argv = ["compare", *TINY, "--optimizer", "adam", "--lr", "1e6", "--seeds", "1",
            "--inits", "kaiming", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    res = json.loads((out / "results.json").read_text())
    assert [r["status"] for r in res["runs"]] == ["diverged"]
    row = res["summary"]["table"]["kaiming"]
    assert row["test_accuracy_mean"] is None and row["not_finished"] == {"diverged": 1}
    assert "1 diverged" in (out / "report.md").read_text()


def test_a_failure_of_every_trial_is_the_set_up_s_one_line(tmp_path, capsys):
    # the same error in every trial is not a grid point's: exit 2 and no table
    out = tmp_path / "s"
    argv = ["sweep", *TINY, "--hidden", "100000000", "--engine", "inprocess",
            "--grid", "lr=0.1,0.2", "--max-failures", "0", "--out", str(out)]  # fmt: skip
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "memory" in _one_line(err)
    assert not (out / "results.json").exists()


def test_inprocess_sweep_records_a_failing_point_and_goes_on(tmp_path, capsys):
    out = tmp_path / "s"
    argv = ["sweep", *TINY, "--engine", "inprocess", "--grid", "hidden=16,100000000",
            "--max-failures", "1", "--out", str(out)]  # fmt: skip
    assert main(argv) == 1  # as with Ray: the table is written, the failure reported
    res = json.loads((out / "results.json").read_text())
    status = {r["params"]["hidden"][0]: r["status"] for r in res["trials"]}
    assert status == {16: "ok", 100000000: "failed"}
    failed = next(r for r in res["trials"] if r["status"] == "failed")
    assert "memory" in failed["error"]
    attempts = (out / failed["name"] / "attempts").read_text()
    assert attempts == "2"  # tried 1 + --max-failures times


# -- found by the adversarial pass (benchmarks/adversarial_pass.py) ------------------------


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--lr", "inf"], "--lr must be > 0 and finite"),
        (["--sigma-u", "nan"], "--sigma-u must be > 0 and finite"),
        (["--steps", str(10**30)], "--steps"),  # before: OverflowError traceback
        (["--epochs", str(10**30)], "--epochs"),  # before: accepted, a hang
    ],
)
def test_unbounded_numbers_are_refused(tmp_path, capsys, extra, needle):
    _refused(["train", *TINY, *extra, "--out", str(tmp_path / "o")], capsys, needle,
             out=tmp_path / "o")  # fmt: skip


def test_diagnose_with_an_empty_checkpoint_path_is_refused(tmp_path, capsys):
    # before: '' read as "no checkpoint" and a fresh model was diagnosed, exit 0
    _refused(["diagnose", "", "--out", str(tmp_path / "d")], capsys, "checkpoint",
             out=tmp_path / "d")  # fmt: skip


@pytest.mark.parametrize(
    "make,name",
    [
        (lambda: si.LIFParams.from_norse(v_th=0), "v_th"),
        (lambda: si.LIFParams.from_spikingjelly(v_threshold=math.nan), "v_threshold"),
        (lambda: si.LIFParams.from_snntorch(beta=0.9, threshold=-1), "threshold"),
        (lambda: si.LIFParams.from_norse(dt="σ"), "dt"),
    ],
)
def test_framework_thresholds_and_dt_are_named(make, name):
    with pytest.raises((ValueError, TypeError), match=f"^{name} must be"):
        make()


@pytest.mark.parametrize("bad", ["int", "wrong width", "1-D"])
def test_data_that_does_not_fit_the_model_names_data(bad):
    x = _x()
    data = {"int": x.long(), "wrong width": torch.rand(100, 32, 7), "1-D": x[:, 0, 0]}[bad]
    for call in (si.initialize, si.diagnose):
        with pytest.raises(ValueError, match="^data does not fit the model"):
            call(_Two(), data)


def test_huge_xi_names_the_targets():
    own = si.models.build("fc", (20,), 5, params=si.LIFParams(dt=2e-3), hidden=(16,),
                          duration=0.2)  # fmt: skip
    with pytest.raises(ValueError, match=r"xi=1e\+30.*raise sigma_u \(or lower xi\)"):
        si.initialize(own, _x()[:60], xi=1e30)


def test_api_compare_names_its_keyword_not_the_flag(tmp_path):
    user = tmp_path / "user.py"
    user.write_text("def build():\n    raise RuntimeError('never')\n"
                    "def data():\n    raise RuntimeError('never')\n")  # fmt: skip
    with pytest.raises(ValueError, match="max_failures") as info:
        si.compare(f"{user}:build", f"{user}:data", out=str(tmp_path / "o"), max_failures=-1)
    assert "--max-failures" not in str(info.value)
    with pytest.raises(TypeError, match="^engine must be a name"):
        si.compare(f"{user}:build", f"{user}:data", out=str(tmp_path / "o"), engine=3)
