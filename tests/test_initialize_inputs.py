"""si.initialize / si.diagnose on hostile input: clear errors, truthful results, nothing lost."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import spikeinit as si

pytestmark = pytest.mark.usefixtures("one_thread")

P = si.LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=1e-3)


def model(recurrent: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        si.nn.SpikingLinear(40, 30, params=P, recurrent=recurrent),
        si.nn.Readout(30, 5, params=P),
    )


def spikes(steps: int = 60, batch: int = 12, p: float = 0.03, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, 40, generator=g) < p).float()


def state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.state_dict().items()}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_batch_first_loader_is_read_from_its_labels() -> None:
    """A TensorDataset loader yields [B, T, ...]: the same weights as the time-first tensor."""
    x = spikes()
    y = torch.arange(x.shape[1]) % 5
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x.transpose(0, 1), y), batch_size=6
    )
    a, b = model(), model()
    ra = si.initialize(a, x, seed=1)
    rb = si.initialize(b, loader, seed=1)
    assert same(state(a), state(b))
    assert ra.layers[0].measured_sigma_u == pytest.approx(rb.layers[0].measured_sigma_u)
    square = torch.utils.data.DataLoader(  # T == B: the labels cannot tell
        torch.utils.data.TensorDataset(x[:12].transpose(0, 1), y), batch_size=12
    )
    with pytest.raises(ValueError, match="batch_first"):
        si.initialize(model(), square)
    c = model()
    si.initialize(c, square, seed=1, batch_first=True)
    d = model()
    si.initialize(d, x[:12], seed=1)
    assert same(state(c), state(d))


def test_readout_is_never_rate_calibrated_and_unreachable_rates_raise() -> None:
    x = spikes()
    net = model()
    report = si.initialize(net, x, seed=0, calibrate=True, target_rate=10.0)
    # the readout is calibrated on sigma_U, as without target_rate (not scaled 35,000 times)
    readout = report.layers[1]
    assert readout.is_readout
    assert readout.measured_sigma_u == pytest.approx(P.threshold, rel=0.02)
    before = state(net)
    with pytest.raises(ValueError, match="unreachable"):
        si.initialize(net, x, seed=0, calibrate=True, target_rate=2000.0)  # > 1/dt = 1000 Hz
    assert same(before, state(net))
    with pytest.raises(ValueError, match="calibrate=True"):
        si.initialize(net, x, target_rate=10.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_samples": 0}, ValueError, "max_samples"),
        ({"max_samples": -5}, ValueError, "max_samples"),
        ({"max_iter": -1}, ValueError, "max_iter"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"generator": "abc"}, TypeError, "generator"),
        ({"batch_first": "yes"}, TypeError, "batch_first"),
        ({"sigma_u": float("nan")}, ValueError, "sigma_u"),
        ({"tol": 0.0}, ValueError, "tol"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, error, match) -> None:
    net = model()
    before = state(net)
    with pytest.raises(error, match=match):
        si.initialize(net, spikes(), **kwargs)
    assert same(before, state(net))


def test_alpha_one_on_a_recurrent_layer_is_named() -> None:
    with pytest.raises(ValueError, match=r"alpha=1\.0.*recurrent"):
        si.initialize(model(recurrent=True), spikes(), alpha=1.0)


def test_shared_layers_and_tied_weights_are_refused() -> None:
    layer = si.nn.SpikingLinear(40, 40, params=P)
    with pytest.raises(ValueError, match="used again"):
        si.initialize(nn.Sequential(layer, layer), spikes())
    a, b = si.nn.SpikingLinear(40, 40, params=P), si.nn.SpikingLinear(40, 40, params=P)
    b.weight = a.weight
    with pytest.raises(ValueError, match="tied weights"):
        si.initialize(nn.Sequential(a, b), spikes())


def test_implausibly_sparse_spikes_are_refused() -> None:
    """SHD times in ms read as s: almost no spike reaches the network."""
    x = torch.zeros(60, 12, 40)
    x[5, 0, 3] = 1.0  # one spike in twelve samples
    net = model()
    before = state(net)
    with pytest.raises(ValueError, match="time unit"):
        si.initialize(net, x)
    assert same(before, state(net))


finite = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sigma_u=finite,
    mu_u=finite,
    alpha=finite,
    tol=finite,
    max_iter=st.one_of(st.integers(-3, 3), st.floats(allow_nan=True)),
    max_samples=st.one_of(st.none(), st.integers(-3, 20)),
    calibrate=st.booleans(),
)
def test_initialize_either_tells_the_truth_or_raises(
    sigma_u, mu_u, alpha, tol, max_iter, max_samples, calibrate
) -> None:
    net = model()
    x = spikes(steps=40, batch=8)
    try:
        report = si.initialize(
            net,
            x,
            sigma_u=sigma_u,
            mu_u=mu_u,
            alpha=alpha,
            tol=tol,
            max_iter=max_iter,
            max_samples=max_samples,
            calibrate=calibrate,
            seed=0,
        )
    except (ValueError, TypeError):
        return
    for p in net.parameters():
        assert torch.isfinite(p).all()
    layer = report.layers[0]
    assert layer.measured_sigma_u is not None and math.isfinite(layer.measured_sigma_u)
    # the report is the truth: diagnose measures the same free membrane
    diag = si.diagnose(net, x[:, : (max_samples or x.shape[1])])
    assert diag.layers[0].free_mem_std == pytest.approx(layer.measured_sigma_u, rel=1e-4)


@settings(max_examples=25, deadline=None)
@given(
    saturation=finite,
    max_samples=st.one_of(st.none(), st.integers(-3, 10)),
)
def test_diagnose_either_tells_the_truth_or_raises(saturation, max_samples) -> None:
    try:
        diag = si.diagnose(
            model(), spikes(steps=30, batch=6), saturation=saturation, max_samples=max_samples
        )
    except (ValueError, TypeError):
        return
    for d in diag.layers:
        assert 0.0 <= d.silent_fraction <= 1.0 and math.isfinite(d.free_mem_std)
