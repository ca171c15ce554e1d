"""Every zoo model: forward and backward on its real input shape; sigma_U after initialize."""

from __future__ import annotations

import pytest
import torch

import spikeinit as si

SHAPES = {
    "fc": (700,),
    "recurrent": (700,),
    "recurrent_conv_shd": (700,),
    "dale_shd": (700,),
    "deep_conv": (1, 28, 28),
    "dvs_conv": (2, 32, 32),
    "micheli_mlp": (784,),
    "micheli_cnn": (1, 28, 28),
}
RATE_HZ = {"dvs_conv": 9.2}


def test_every_model_is_covered() -> None:
    assert set(si.models.names()) <= set(SHAPES)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_forward_backward(name: str) -> None:
    torch.manual_seed(0)
    shape = SHAPES[name]
    model = si.models.build(name, shape, 10)
    x = (torch.rand(20, 2, *shape) < 0.05).float()
    out = model(x)
    assert out.shape == (20, 2, 10)
    out.float().sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize(
    "name",
    [
        "fc",
        "recurrent",
        "dale_shd",
        "micheli_mlp",
        "micheli_cnn",
        "recurrent_conv_shd",
        "deep_conv",
        "dvs_conv",
    ],
)
@pytest.mark.parametrize("calibrate", [False, True])
def test_sigma_u_per_layer(name: str, calibrate: bool) -> None:
    torch.manual_seed(1)
    shape = SHAPES[name]
    model = si.models.build(name, shape, 10)
    rate = RATE_HZ.get(name, 15.8)
    x = (torch.rand(200, 4 if len(shape) == 1 else 2, *shape) < rate * 2e-3).float()
    rep = si.initialize(model, x, seed=0, calibrate=calibrate)
    tol = 0.02 if calibrate else 0.10
    for entry in rep.layers:
        if entry.type == "Readout":  # slow non-spiking integrator: reported, not checked
            continue
        if not entry.groups:  # a weightless input LIF (micheli_*): driven by the data
            assert entry.calibration_steps == 0 and entry.notes
            continue
        assert entry.measured_sigma_u is not None
        assert abs(entry.measured_sigma_u - 1.0) <= tol * 1.0 + 1e-6, f"{name}\n{rep}"


@pytest.mark.parametrize("name", ["micheli_mlp", "micheli_cnn"])
def test_micheli_models_keep_pytorch_default_bias(name: str) -> None:
    """As in Micheli's public code: every Linear/Conv has nn.Linear's default bias
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the Micheli rule leaves it alone."""
    torch.manual_seed(0)
    model = si.models.build(name, SHAPES[name], 10)
    weighted = [m for m in model.modules() if isinstance(m, si.nn.SpikingLayer)]
    weighted = [m for m in weighted if m.weight_groups()]
    assert weighted
    before = []
    for layer in weighted:
        b = layer.conv.bias if hasattr(layer, "conv") else layer.bias
        assert b is not None
        b = b.detach()
        bound = 1.0 / layer.fan_in**0.5
        assert float(b.abs().max()) <= bound and float(b.abs().max()) > 0.5 * bound
        before.append(b.detach().clone())
    si.initialize(model, method="micheli", seed=0)
    after = [(m.conv.bias if hasattr(m, "conv") else m.bias).detach() for m in weighted]
    assert all(torch.equal(a, b) for a, b in zip(after, before, strict=True))
    plain = si.models.build(name, SHAPES[name], 10, bias=False)
    assert all(
        (m.conv.bias if hasattr(m, "conv") else m.bias) is None
        for m in plain.modules()
        if isinstance(m, si.nn.SpikingLayer) and m.weight_groups()
    )
