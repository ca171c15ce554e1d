"""NIR export and round trip into snnTorch."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

nir = pytest.importorskip("nir")

import spikeinit as si  # noqa: E402
from spikeinit.nir_export import export_nir  # noqa: E402

DT = 1e-4  # snnTorch's NIR importer integrates at dt = 1e-4 s


def _model(seed: int = 0) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    cur = si.LIFParams(tau_mem=2e-3, tau_syn=1e-3, dt=DT, reset="zero")
    delta = si.LIFParams(tau_mem=1.5e-3, tau_syn=None, dt=DT, reset="zero")
    model = torch.nn.Sequential(
        si.nn.SpikingLinear(20, 40, params=cur), si.nn.SpikingLinear(40, 10, params=delta)
    )
    with torch.no_grad():
        model[0].weight.normal_(0.0, 2.0)
        model[1].weight.normal_(0.0, 0.6)
    return model


def test_export_writes_and_reads(tmp_path) -> None:
    model = torch.nn.Sequential(*_model(), si.nn.Readout(10, 3, params=si.LIFParams(dt=DT)))
    path = tmp_path / "net.nir"
    graph = export_nir(model, path)
    back = nir.read(str(path))
    assert set(back.nodes) == set(graph.nodes)
    assert isinstance(graph.nodes["neuron0"], nir.CubaLIF)
    assert isinstance(graph.nodes["neuron1"], nir.LIF)
    assert isinstance(graph.nodes["neuron2"], nir.CubaLI)
    p = model[1].params
    # Euler-equivalent tau vs spikeinit's tau: relative difference ~ dt / (2 tau)
    tau_nir = float(graph.nodes["neuron1"].tau[0])
    x = p.dt / p.tau_mem
    assert tau_nir / p.tau_mem - 1 == pytest.approx(x / (1 - math.exp(-x)) - 1, rel=1e-4)
    assert tau_nir / p.tau_mem - 1 < x / 2 + 1e-3


def test_round_trip_snntorch_same_spikes() -> None:
    pytest.importorskip("snntorch")
    from snntorch.import_nir import import_from_nir

    from spikeinit.adapters import time_loop

    model = _model()
    graph = export_nir(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = import_from_nir(graph)
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(200, 8, 20, generator=g) < 0.1).float()
    with torch.no_grad():
        ours = model(x)
        theirs = time_loop(net, x)
    mismatch = float((ours != theirs).float().mean())
    print(
        f"NIR round trip (snnTorch): spike mismatch {mismatch:.2e}, "
        f"rate {float(ours.mean()):.4f} vs {float(theirs.mean()):.4f}"
    )
    assert ours.sum() > 0
    assert mismatch <= 1e-3  # float32 rounding (weights scaled by the gain) may flip a rare spike


def test_subtract_reset_warns_and_recurrent_refused() -> None:
    p = si.LIFParams(dt=DT, tau_mem=2e-3, tau_syn=None, reset="subtract")
    with pytest.warns(UserWarning, match="subtract"):
        export_nir(torch.nn.Sequential(si.nn.SpikingLinear(3, 2, params=p)))
    with pytest.raises(ValueError, match="recurrent"):
        export_nir(torch.nn.Sequential(si.nn.SpikingLinear(3, 2, params=p, recurrent=True)))


@pytest.mark.parametrize("convention", ["snntorch", "stork"])
def test_other_update_orders_warn_and_are_kept_in_the_metadata(convention) -> None:
    p = si.LIFParams(dt=DT, tau_mem=2e-3, tau_syn=None, convention=convention)
    with pytest.warns(UserWarning, match=f"{convention!r} convention"):
        graph = export_nir(torch.nn.Sequential(si.nn.SpikingLinear(3, 2, params=p)))
    metas = [getattr(node, "metadata", {}) or {} for node in graph.nodes.values()]
    assert any(m.get("convention") == convention for m in metas)
