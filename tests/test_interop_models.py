"""``si.initialize`` / ``si.diagnose`` on real snnTorch, Norse and SpikingJelly networks
(tests/interop_models.py: each transcribed from the framework's own tutorials, examples,
docs or model zoo, source cited there), with no extra argument.

References are independent of spikeinit: the number of spiking layers is counted with
forward hooks on the frameworks' own neuron base classes during the source's own forward
(``called_neurons``); weight modules are found by type (``weight_module_names``).
"""

from __future__ import annotations

import pytest
import torch
from interop_models import (
    MODELS,
    InteropCase,
    called_neurons,
    neuron_types_used,
    required_neuron_types,
    reset_case,
    run_reference,
    weight_module_names,
)

import spikeinit as si
from spikeinit.init.foreign import STATIC_SIGMA_U
from spikeinit.init.outputs import OUTPUT_SIGMA_U, READOUT_SIGMA_U

# one torch thread per test (conftest.one_thread): per-step loops of tiny ops
pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.usefixtures("one_thread")]


CASES = [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.slow else []) for c in MODELS]




def _own_weights(model: torch.nn.Module, name: str) -> dict[str, torch.Tensor]:
    mod = model.get_submodule(name)
    return {
        k: v.detach().clone()
        for k, v in mod.named_parameters(recurse=False)
        if k in ("weight", "input_weights", "recurrent_weights", "V")
    }


def _spiking_layers(diag, case: InteropCase):
    """Diagnosed spiking layers: not readouts, and not the case's weightless encoders."""
    return [d for d in diag.layers if d.state != "readout" and d.name not in case.encoders]


# ----------------------------------------------------------------------------- sources


@pytest.mark.parametrize("case", CASES)
def test_forward_runs(case: InteropCase):
    """Each transcribed model runs on its data the way its source runs it, every neuron
    module it defines (except readouts / encoders) is called, and spikes come out."""
    model = case.build()
    x = case.make_data()
    with torch.no_grad():
        out = run_reference(case, model, x)
    first = out[0] if isinstance(out, tuple) else out
    assert torch.isfinite(first).all()
    names = called_neurons(case, model, x)
    assert len(names) >= 1
    for r in case.readouts + case.encoders + case.no_neuron_weights:
        model.get_submodule(r)  # the names given in the registry exist
    # weight modules exist and the registry's exclusions are among them
    weights = weight_module_names(model)
    assert set(case.no_neuron_weights) <= set(weights)


def test_registry_is_large_and_cites_sources():
    assert len(MODELS) >= 28
    assert len({c.name for c in MODELS}) == len(MODELS)
    assert {c.framework for c in MODELS} == {"snntorch", "norse", "spikingjelly"}
    for c in MODELS:
        assert "/" in c.source and c.convention in ("sequence", "step")


def test_every_framework_neuron_type_is_covered():
    used = neuron_types_used()
    missing = {t.__name__ for t in required_neuron_types() - used}
    assert not missing, f"no model uses {sorted(missing)}"


# ----------------------------------------------------------------------------- spikeinit

_RUNS: dict[tuple[str, bool], dict] = {}


def _initialised(case: InteropCase, calibrate: bool = False) -> dict:
    """Build, snapshot the weights, ``si.initialize(model, x)`` (no extra argument but the
    case's ``time_dim``, where its data is ambiguous), then ``si.diagnose(model, x)``; once
    per case and mode, shared by the tests below."""
    key = (case.name, calibrate)
    if key not in _RUNS:
        if case.slow:  # keep at most one large initialised model alive
            for k in [k for k in _RUNS if _RUNS[k]["slow"]]:
                del _RUNS[k]
        _RUNS[key] = {"slow": case.slow}
        try:
            model = case.build()
            x = case.make_data()
            expected = called_neurons(case, model, x)
            reset_case(case, model)
            before = {n: _own_weights(model, n) for n in weight_module_names(model)}
            kw = {"calibrate": True} if calibrate else {}
            report = si.initialize(model, x, time_dim=case.time_dim, **case.init_kwargs, **kw)
            reset_case(case, model)
            diag = si.diagnose(model, x, time_dim=case.time_dim)
            reset_case(case, model)
        except Exception as err:  # reported by every test of this case, computed once
            _RUNS[key]["error"] = err
        else:
            _RUNS[key].update(
                model=model, report=report, diag=diag, before=before, expected=expected
            )
    if "error" in _RUNS[key]:
        raise _RUNS[key]["error"]
    return _RUNS[key]


def _aims(run: dict) -> dict[str, float]:
    """Each neuron's target sigma_U / theta: 1 for hidden layers, the decode-aware target
    for the output layer(s) the traced forward found."""
    return {la.name: la.target_sigma_u_theta for la in run["report"].layers}


@pytest.mark.parametrize("case", CASES)
def test_initialize_then_diagnose_hits_target(case: InteropCase):
    run = _initialised(case)
    aims = _aims(run)
    spiking = _spiking_layers(run["diag"], case)
    assert all(
        aims[d.name] in (1.0, STATIC_SIGMA_U, OUTPUT_SIGMA_U, READOUT_SIGMA_U) for d in spiking
    ), aims
    bad = {
        d.name: (round(d.sigma_u_theta, 3), aims[d.name])
        for d in spiking
        if abs(d.sigma_u_theta / aims[d.name] - 1.0) > 0.10
    }
    assert not bad, f"sigma_U/theta off target (+- 10 %): {bad}"
    readouts = [d for d in run["diag"].layers if d.state == "readout"]
    assert sorted(d.name for d in readouts) == sorted(case.readouts)


@pytest.mark.parametrize("case", CASES)
def test_every_weight_feeding_a_neuron_is_set_and_reported(case: InteropCase):
    run = _initialised(case)
    model, report = run["model"], run["report"]
    entries = {e.name: e for e in report.modules}
    for name, old in run["before"].items():
        if name in case.no_neuron_weights:
            continue
        new = _own_weights(model, name)
        changed = any(not torch.equal(old[k], new[k]) for k in old)
        assert changed, f"{name} ({type(model.get_submodule(name)).__name__}) was not changed"
        assert name in entries, f"{name} missing from report.modules"
        assert entries[name].initialised, f"{name}: {entries[name].reason}"
        assert entries[name].rule


@pytest.mark.parametrize("case", CASES)
def test_one_diagnosed_layer_per_spiking_neuron(case: InteropCase):
    run = _initialised(case)
    found = [d.name for d in _spiking_layers(run["diag"], case)]
    assert len(found) == len(run["expected"]), (
        f"diagnose found {found}, the model calls {run['expected']}"
    )


# every framework, BatchNorm, pooling, recurrence and IF calibrated in the default run;
# the rest with -m slow (calibration costs a second initialisation per model)
CALIBRATED_BY_DEFAULT = {
    "snntorch_tutorial5_fc",
    "snntorch_tutorial6_class_batch128",
    "norse_readme_conv_sequentialstate",
    "sj_conv_fashion_mnist_csnn_ifnode",
    "sj_rsnn_feedback_linear_recurrent_container",
    "norse_speech_commands_lsnn",
}
CALIBRATED = [
    pytest.param(
        c,
        id=c.name,
        marks=[] if c.name in CALIBRATED_BY_DEFAULT and not c.slow else [pytest.mark.slow],
    )
    for c in MODELS
]


def test_calibrated_by_default_names_exist():
    assert CALIBRATED_BY_DEFAULT <= {c.name for c in MODELS if not c.slow}


@pytest.mark.parametrize("case", CALIBRATED)
def test_initialize_calibrated_within_two_percent(case: InteropCase):
    run = _initialised(case, calibrate=True)
    aims = _aims(run)
    bad = {
        d.name: (round(d.sigma_u_theta, 4), aims[d.name])
        for d in _spiking_layers(run["diag"], case)
        if abs(d.sigma_u_theta / aims[d.name] - 1.0) > 0.02
    }
    assert not bad, f"calibrated sigma_U/theta off target (+- 2 %): {bad}"
