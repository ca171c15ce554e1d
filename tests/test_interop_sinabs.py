"""``si.initialize`` / ``si.diagnose`` on real sinabs networks (tests/interop_models_sinabs.py,
each transcribed from sinabs' docs, tutorials or tests, source cited there), with no extra
argument, as tests/test_interop_models.py does for snnTorch, Norse and SpikingJelly.

References are independent of spikeinit: the spiking layers are counted with forward
hooks on sinabs' own base class ``StatefulLayer`` (``does_spike``) during the model's own
forward; weight modules are found by type.
"""

from __future__ import annotations

import time

import pytest
import torch

pytest.importorskip("sinabs.layers", reason="sinabs is not installed (the 'interop' extra)")

from interop_models import InteropCase, weight_module_names  # noqa: E402
from interop_models_sinabs import MODELS_SINABS, called_sinabs_neurons  # noqa: E402

import spikeinit as si  # noqa: E402
from spikeinit.init.foreign import STATIC_SIGMA_U  # noqa: E402
from spikeinit.init.outputs import OUTPUT_SIGMA_U  # noqa: E402

# one torch thread per test (conftest.one_thread): per-step loops of tiny ops
pytestmark = [pytest.mark.filterwarnings("ignore"), pytest.mark.usefixtures("one_thread")]

CASES = [pytest.param(c, id=c.name) for c in MODELS_SINABS]
#: calibrated (a second initialisation each) in the default run; the rest with -m slow
CALIBRATED_BY_DEFAULT = {
    "sinabs_quickstart_lif_fc",
    "sinabs_nmnist_iafsqueeze_sumpool",
    "sinabs_alif_recurrent",
}



def _reset(model: torch.nn.Module) -> None:
    import sinabs

    sinabs.reset_states(model)


def _weights(model: torch.nn.Module, name: str) -> torch.Tensor:
    return model.get_submodule(name).weight.detach().clone()


_RUNS: dict[tuple[str, bool], dict] = {}


def _initialised(case: InteropCase, calibrate: bool = False) -> dict:
    key = (case.name, calibrate)
    if key not in _RUNS:
        _RUNS[key] = {}
        try:
            model = case.build()
            x = case.make_data()
            expected = called_sinabs_neurons(case, model, x)
            before = {n: _weights(model, n) for n in weight_module_names(model)}
            start = time.perf_counter()
            report = si.initialize(model, x, **({"calibrate": True} if calibrate else {}))
            seconds = time.perf_counter() - start
            _reset(model)
            diag = si.diagnose(model, x)
            _reset(model)
        except Exception as err:
            _RUNS[key]["error"] = err
        else:
            _RUNS[key].update(
                model=model,
                x=x,
                report=report,
                diag=diag,
                before=before,
                expected=expected,
                seconds=seconds,
            )
    if "error" in _RUNS[key]:
        raise _RUNS[key]["error"]
    return _RUNS[key]


def _spiking(diag):
    return [d for d in diag.layers if d.state != "readout"]


def test_registry_has_five_sinabs_models_with_sources():
    assert len(MODELS_SINABS) >= 5
    assert len({c.name for c in MODELS_SINABS}) == len(MODELS_SINABS)
    for c in MODELS_SINABS:
        assert c.framework == "sinabs" and "synsense/sinabs" in c.source


def test_the_models_use_every_kind_of_sinabs_layer():
    import sinabs.layers as sl

    used = {type(m) for c in MODELS_SINABS for m in c.build().modules()}
    for cls in (
        sl.IAFSqueeze,
        sl.LIF,
        sl.LIFSqueeze,
        sl.LIFRecurrent,
        sl.ALIF,
        sl.ALIFRecurrent,
        sl.ExpLeak,
        sl.SumPool2d,
    ):
        assert cls in used, cls.__name__


@pytest.mark.parametrize("case", CASES)
def test_initialize_then_diagnose_hits_target(case: InteropCase):
    run = _initialised(case)
    aims = {la.name: la.target_sigma_u_theta for la in run["report"].layers}
    spiking = _spiking(run["diag"])
    assert all(aims[d.name] in (1.0, STATIC_SIGMA_U, OUTPUT_SIGMA_U) for d in spiking), aims
    bad = {
        d.name: (round(d.sigma_u_theta, 3), aims[d.name])
        for d in spiking
        if abs(d.sigma_u_theta / aims[d.name] - 1.0) > 0.10
    }
    assert not bad, f"sigma_U/theta off target (+- 10 %): {bad}"
    readouts = [d.name for d in run["diag"].layers if d.state == "readout"]
    assert sorted(readouts) == sorted(case.readouts)
    worst = max(abs(d.sigma_u_theta / aims[d.name] - 1.0) for d in spiking)
    print(
        f"{case.name}: {len(spiking)} spiking layers, worst {100 * worst:.1f} % off target, "
        f"init {run['seconds']:.2f} s"
    )


@pytest.mark.parametrize("case", CASES)
def test_one_diagnosed_layer_per_spiking_neuron(case: InteropCase):
    run = _initialised(case)
    found = [d.name for d in _spiking(run["diag"])]
    assert found == run["expected"], f"diagnose found {found}, the model calls {run['expected']}"


@pytest.mark.parametrize("case", CASES)
def test_every_weight_feeding_a_neuron_is_set_and_reported(case: InteropCase):
    run = _initialised(case)
    model, report = run["model"], run["report"]
    entries = {e.name: e for e in report.modules}
    for name, old in run["before"].items():
        if name in case.no_neuron_weights:
            assert torch.equal(old, _weights(model, name)), f"{name} changed"
            continue
        assert not torch.equal(old, _weights(model, name)), f"{name} was not changed"
        assert entries[name].initialised, f"{name}: {entries[name].reason}"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            c, id=c.name, marks=[] if c.name in CALIBRATED_BY_DEFAULT else [pytest.mark.slow]
        )
        for c in MODELS_SINABS
    ],
)
def test_initialize_calibrated_within_two_percent(case: InteropCase):
    run = _initialised(case, calibrate=True)
    aims = {la.name: la.target_sigma_u_theta for la in run["report"].layers}
    bad = {
        d.name: (round(d.sigma_u_theta, 4), aims[d.name])
        for d in _spiking(run["diag"])
        if abs(d.sigma_u_theta / aims[d.name] - 1.0) > 0.02
    }
    assert not bad, f"calibrated sigma_U/theta off target (+- 2 %): {bad}"
    worst = max(abs(d.sigma_u_theta / aims[d.name] - 1.0) for d in _spiking(run["diag"]))
    print(f"{case.name} calibrated: worst {100 * worst:.2f} % off, init {run['seconds']:.2f} s")


def test_sinabs_itself_measures_the_target_after_initialize():
    """Independent of spikeinit's measurement: the hidden LIF layer's input after
    ``si.initialize`` is run through a sinabs LIF with the threshold at 1e30 (and no
    lower bound), and the temporal std of that membrane, in units of theta, is 1."""
    import sinabs.layers as sl

    case = next(c for c in MODELS_SINABS if c.name == "sinabs_quickstart_lif_fc")
    model, x = case.build(), case.make_data()
    si.initialize(model, x)
    _reset(model)
    with torch.no_grad():
        drive = model[0](x)  # what the first LIF receives, [B, T, 64]
        free = sl.LIF(tau_mem=10.0, spike_threshold=1e30, record_states=True)
        free(drive)
    v = free.recordings["v_mem"]
    sigma = float(v.var(dim=1, unbiased=False).mean().sqrt())
    theta = float(model[1].spike_threshold)
    assert abs(sigma / theta - 1.0) < 0.02, sigma / theta
