"""Renamed modules keep their old import paths, with a DeprecationWarning (issue 16)."""

from __future__ import annotations

import importlib
import sys

import pytest


def _fresh_import(name: str):
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def test_experiments_training_is_presets():
    from spikeinit.experiments import presets

    with pytest.warns(DeprecationWarning, match="renamed spikeinit.experiments.presets") as rec:
        old = _fresh_import("spikeinit.experiments.training")
    assert any("to be removed in spikeinit 0.2" in str(w.message) for w in rec)  # dated
    for name in ("preset", "run", "RunSpec", "PRESETS", "INIT_NAMES", "resolve_init", "spec_dict"):
        assert getattr(old, name) is getattr(presets, name)
    with pytest.raises(AttributeError):
        old.no_such_name  # noqa: B018


def test_experiments_zoo_training_moved_to_benchmarks():
    bench = pytest.importorskip("benchmarks.zoo_training")
    with pytest.warns(DeprecationWarning, match="moved to benchmarks/zoo_training.py") as rec:
        old = _fresh_import("spikeinit.experiments.zoo_training")
    assert any("to be removed in spikeinit 0.2" in str(w.message) for w in rec)
    assert old.run is bench.run and old.main is bench.main


def test_lif_step_old_names():
    # "rule" now means an initialisation rule; the LIF step's old names stay importable
    from spikeinit._kernels import rule as step

    assert step.StepRule is step.LIFStep and step.step_rule is step.lif_step
