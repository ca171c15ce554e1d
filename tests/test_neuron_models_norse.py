"""Norse's refractory, exponential, adaptive-exponential and integrate-and-fire neurons, and
its box readout (issue 25): spikeinit's layer runs Norse's own update spike for spike, its
free membrane is Norse's own forward with the threshold parameter at 1e30 (docs/science.md,
'Other neuron models: what sigma_U means'), and one call lands sigma_U on target. The refused
classes name a precise reason (CobaLIFCell's input never reaches its membrane: checked
here on Norse's own code).
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

nt = pytest.importorskip("norse.torch")

import spikeinit as si  # noqa: E402
from spikeinit.adapters import find_layers  # noqa: E402
from spikeinit.adapters.norse import free_parameters, membrane  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

T, B, N = 40, 4, 6

FEED_FORWARD = ["LIFRefracCell", "IAF", "IAFCell", "LIFEx", "LIFExCell", "LIFAdEx",
                "LIFAdExCell", "LIFAdExRefracCell", "LIBoxCell"]  # fmt: skip
RECURRENT = ["LIFRefracRecurrent", "LIFRefracRecurrentCell", "LIFExRecurrent",
             "LIFExRecurrentCell", "LIFAdExRecurrent", "LIFAdExRecurrentCell",
             "LIFAdExRefracRecurrent", "LIFAdExRefracRecurrentCell"]  # fmt: skip


def _build(name: str) -> nn.Module:
    torch.manual_seed(0)
    cls = getattr(nt, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(N, N) if "Recurrent" in name else cls()


def _own_forward(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Norse's own forward over ``x``: the outputs and the membrane after each step (a
    sequence module is run on each prefix: its forward returns the last state only)."""
    outs, mems = [], []
    with torch.no_grad():
        if "Cell" in type(module).__name__:
            state = None
            for t in range(x.shape[0]):
                out, state = module(x[t], state)
                outs.append(out)
                mems.append(membrane(state))
        else:
            for t in range(x.shape[0]):
                out, state = module(x[: t + 1])
                outs.append(out[-1])
                mems.append(membrane(state))
    return torch.stack(outs), torch.stack(mems)


def _free(module: nn.Module) -> nn.Module:
    free = copy.deepcopy(module)
    free.p = free_parameters(free.p)
    return free


def _layer(module: nn.Module, x: torch.Tensor):
    model = module if "Recurrent" in type(module).__name__ else nn.Sequential(module)
    time_dim = 0 if "Cell" in type(module).__name__ else "auto"
    [(_, layer)] = find_layers(model, x, time_dim=time_dim)
    return layer


@pytest.mark.parametrize("name", FEED_FORWARD + RECURRENT)
def test_spikes_and_free_membrane_are_norses_own(name: str) -> None:
    module = _build(name)
    g = torch.Generator().manual_seed(1)
    # strong enough that every spiking class fires (and refractoriness / adaptation act)
    x = torch.rand(T, B, N, generator=g) * (3.0 if "Recurrent" in name else 1.5) * 100
    x = x * (1.0 if "IAF" not in name else 0.01)
    layer = _layer(module, x)
    spikes, _ = layer.simulate(x)
    own_out, _ = _own_forward(module, x)
    if layer.is_readout:
        assert not spikes.any()
    else:
        assert spikes.sum() > 0, name
        assert torch.equal(spikes, own_out), name  # spike for spike
    if "Recurrent" in name:
        # spikeinit's free membrane takes the recurrent input from the actual spikes;
        # Norse's free copy has none: compare them with the recurrent weights at zero
        with torch.no_grad():
            module.recurrent_weights.zero_()
        layer = _layer(module, x)
    free_mem = layer.run_current(layer.input_current(x), free=True)[1]
    _, own_free_mem = _own_forward(_free(module), x)
    torch.testing.assert_close(free_mem, own_free_mem, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("refractory", "plain"),
    [("LIFRefracCell", "LIFCell"), ("LIFRefracRecurrentCell", "LIFRecurrentCell")],
)
def test_refractory_free_membrane_is_the_lif_one(refractory: str, plain: str) -> None:
    """The definition: with the threshold off the refractory countdown never starts."""
    g = torch.Generator().manual_seed(2)
    x = torch.rand(T, B, N, generator=g) * 50
    a, b = _build(refractory), _build(plain)
    if "Recurrent" in plain:  # the same weights; no recurrent input (it follows the spikes)
        with torch.no_grad():
            a.recurrent_weights.zero_()
        b.load_state_dict(a.state_dict())
    la, lb = _layer(a, x), _layer(b, x)
    fa = la.run_current(la.input_current(x), free=True)[1]
    fb = lb.run_current(lb.input_current(x), free=True)[1]
    torch.testing.assert_close(fa, fb)
    assert la.params.tau_mem == pytest.approx(lb.params.tau_mem)
    # and with spikes, the refractory neuron fires less (its countdown holds v)
    assert la.simulate(x)[0].sum() < lb.simulate(x)[0].sum()


@pytest.mark.parametrize("name", ["LIFRefracCell", "LIFExCell", "LIFAdExCell", "IAFCell"])
def test_one_call_lands_hidden_layer_on_target(name: str) -> None:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = nt.SequentialState(
            nn.Linear(40, 32), getattr(nt, name)(), nn.Linear(32, 10), nt.LICell()
        )
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(100, 8, 40, generator=g) < 0.1).float()
    si.initialize(model, x, time_dim=0, seed=0)
    diag = si.diagnose(model, x, time_dim=0)
    hidden = [d for d in diag.layers if d.state != "readout"]
    assert len(hidden) == 1
    assert hidden[0].sigma_u_theta == pytest.approx(1.0, rel=0.10)


def test_coba_lif_cell_drops_its_input_in_norses_own_code() -> None:
    """The reason CobaLIFCell is refused, checked on Norse's own step: the membrane does
    not depend on the input (the input's conductance jump is overwritten)."""
    cell = nt.CobaLIFCell(N, N)
    x = torch.rand(T, B, N) * 10
    _, vx = _own_forward(cell, x)
    _, v0 = _own_forward(cell, torch.zeros_like(x))
    torch.testing.assert_close(vx, v0)
    model = nn.Sequential(nn.Linear(N, N), cell)
    with pytest.raises(ValueError) as err:
        si.initialize(model, x, time_dim=0)
    msg = str(err.value)
    assert "'1' (norse CobaLIFCell)" in msg and "input never reaches the membrane" in msg


@pytest.mark.parametrize("name", ["IzhikevichCell", "IzhikevichRecurrentCell"])
def test_izhikevich_is_refused_with_its_reason(name: str) -> None:
    cell = nt.IzhikevichCell(nt.functional.izhikevich.tonic_spiking) if name == "IzhikevichCell" \
        else nt.IzhikevichRecurrentCell(N, N, nt.functional.izhikevich.tonic_spiking)  # fmt: skip
    model = nn.Sequential(nn.Linear(N, N), cell) if name == "IzhikevichCell" else cell
    with pytest.raises(ValueError, match=r"quadratic term .* runs to infinity"):
        si.initialize(model, torch.rand(T, B, N), time_dim=0)
