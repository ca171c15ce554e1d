"""Sizes that cannot fit in memory are refused up front, with the figures (issue #28):
`spikeinit train --hidden 100000000` used to run to 20 GB."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spikeinit import _memory
from spikeinit.experiments import presets

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_available_bytes_is_a_positive_figure():
    free = _memory.available_bytes()
    assert free is None or free > 0


def test_check_fits_names_the_need_and_what_is_available():
    _memory.check_fits({"parameters": 10**6}, available=10**9)
    with pytest.raises(ValueError, match=r"at least 3\.0 GB .*parameters 1\.0 GB.*2\.0 GB") as exc:
        _memory.check_fits({"parameters": 10**9, "state": 2 * 10**9}, available=10**9)
    assert "than the 1.0 GB available" in str(exc.value)


def test_wide_model_is_refused_before_it_is_built(monkeypatch):
    monkeypatch.setattr(_memory, "available_bytes", lambda: 50 * 10**6)  # 50 MB
    spec = presets.preset("randman", hidden=(1_000_000,), dataset_kw={"samples_per_class": 20})
    with pytest.raises(ValueError, match=r"parameters and gradients 240\.\d MB") as exc:
        presets.build_model(spec)
    assert "N=1000000" in str(exc.value) and "50.0 MB available" in str(exc.value)
    small = presets.preset("randman", hidden=(16,), dataset_kw={"samples_per_class": 20})
    model, _ = presets.build_model(small)  # a small model still fits
    assert sum(p.numel() for p in model.parameters()) < 10_000


def test_cli_huge_hidden_exits_2_with_the_figure(tmp_path):
    def limit() -> None:  # never let the child take real memory (the old code allocated)
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (12 * 2**30, 12 * 2**30))

    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "SPIKEINIT_NO_PROGRESS": "1"}
    out = tmp_path / "big"
    proc = subprocess.run(
        [sys.executable, "-m", "spikeinit.cli", "train", "--hidden", "100000000",
         "--samples-per-class", "20", "--epochs", "1", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=120, preexec_fn=limit,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "need at least" in lines[0] and "available" in lines[0], lines
    assert "N=100000000" in lines[0]
    assert not out.exists()


def test_the_check_leaves_the_weights_as_they_were():
    """The meta-device build draws nothing from torch's generator."""
    import torch

    from spikeinit import models

    spec = presets.preset("randman", hidden=(16,), dataset_kw={"samples_per_class": 20})
    model, ds = presets.build_model(spec)
    torch.manual_seed(spec.seed)
    params = presets.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=ds.dt)
    plain = models.build("fc", ds.input_shape, ds.n_classes, params=params,
                         duration=ds.duration, hidden=(16,))  # fmt: skip
    for a, b in zip(model.state_dict().values(), plain.state_dict().values(), strict=True):
        assert torch.equal(a, b)
