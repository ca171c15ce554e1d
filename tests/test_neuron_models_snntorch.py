"""snnTorch's sequence neurons ``StateLeaky`` and ``LeakyParallel`` (issue 25): spikeinit's
layer gives snnTorch's own spikes and membrane, ``StateLeaky``'s free membrane is Leaky's
kernel with ``beta = exp(-1/tau)`` (checked against spikeinit's theory), and one call lands
sigma_U on target. The LSTM-style ``SLSTM`` / ``SConv2dLSTM`` are refused with their reason,
which is checked on snnTorch's own code (the membrane is bounded by the LSTM's tanh).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

snn = pytest.importorskip("snntorch")

import spikeinit as si  # noqa: E402
from spikeinit.adapters import find_layers  # noqa: E402

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore")]

T, B, N = 40, 4, 6


def test_state_leaky_is_its_own_forward_and_leakys_kernel() -> None:
    neuron = snn.StateLeaky(beta=0.8, channels=N, output=True)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(T, B, N, generator=g) * 0.8
    [(_, layer)] = find_layers(nn.Sequential(neuron), x)
    assert layer.mode == "seq" and not layer.is_readout
    spikes, mem = layer.simulate(x)
    own_spk, own_mem = neuron(x)
    assert spikes.sum() > 0
    assert torch.equal(spikes, own_spk)
    torch.testing.assert_close(layer.free_membrane(x), own_mem)
    impulse = torch.zeros(T, 1, N)
    impulse[0] = 1.0
    kernel = si.theory.psp_kernel(layer.params)
    n = min(len(kernel), T)
    torch.testing.assert_close(
        layer.free_membrane(impulse)[:n, 0, 0].double(), kernel[:n], rtol=1e-4, atol=1e-6
    )


def test_state_leaky_without_output_is_a_readout() -> None:
    neuron = snn.StateLeaky(beta=0.8, channels=N, output=False)
    x = torch.rand(T, B, N)
    [(_, layer)] = find_layers(nn.Sequential(neuron), x)
    assert layer.is_readout
    spikes, mem = layer.simulate(x)
    assert not spikes.any()
    torch.testing.assert_close(mem, neuron(x))


def test_leaky_parallel_is_its_own_rnn() -> None:
    torch.manual_seed(0)
    neuron = snn.LeakyParallel(N, 5, beta=0.9)
    g = torch.Generator().manual_seed(2)
    x = torch.rand(T, B, N, generator=g) * 3
    [(_, layer)] = find_layers(nn.Sequential(neuron), x)
    assert [g.kind for g in layer.weight_groups()] == ["ff"]
    assert layer.weight_groups()[0].weight is neuron.rnn.weight_ih_l0
    spikes, mem = layer.simulate(x)
    with torch.no_grad():
        own_spk = neuron(x)
        own_mem = neuron.rnn(x)[0]
    assert spikes.sum() > 0
    assert torch.equal(spikes, own_spk)
    torch.testing.assert_close(mem, own_mem)


class Last(nn.Module):
    """StateLeaky(output=True) returns (spikes, membrane): the spikes go on."""

    def forward(self, out: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return out[0]


@pytest.mark.parametrize("kind", ["StateLeaky", "LeakyParallel"])
def test_one_call_lands_on_target(kind: str) -> None:
    torch.manual_seed(0)
    if kind == "StateLeaky":
        model = nn.Sequential(
            nn.Linear(40, 32), snn.StateLeaky(beta=0.9, channels=32, output=True), Last(),
            nn.Linear(32, 10), snn.StateLeaky(beta=0.9, channels=10, output=True),
        )  # fmt: skip
    else:
        model = nn.Sequential(snn.LeakyParallel(40, 32, beta=0.9), snn.LeakyParallel(32, 10))
    x = (torch.rand(60, 8, 40, generator=torch.Generator().manual_seed(3)) < 0.2).float()
    report = si.initialize(model, x, seed=0)
    diag = si.diagnose(model, x)
    target = {la.name: la.target_sigma_u_theta for la in report.layers}
    assert len(diag.layers) == 2
    for d in diag.layers:
        assert d.sigma_u_theta == pytest.approx(target[d.name], rel=0.10), d.name


@pytest.mark.parametrize("kind", ["SLSTM", "SConv2dLSTM"])
def test_lstm_style_cells_are_refused_with_their_reason(kind: str) -> None:
    if kind == "SLSTM":
        cell = snn.SLSTM(N, 8, init_hidden=True)
        model, x = nn.Sequential(nn.Linear(N, N), cell), torch.randn(T, B, N) * 5
    else:
        cell = snn.SConv2dLSTM(2, 4, 3, init_hidden=True)
        model, x = nn.Sequential(nn.Conv2d(2, 2, 1), cell), torch.randn(T, B, 2, 6, 6) * 5
    # the reason, on snnTorch's own code: the membrane is the LSTM's o * tanh(c), in (-1, 1)
    from snntorch import utils

    utils.reset(model)
    with torch.no_grad():
        for t in range(T):
            model(x[t])
            assert cell.mem.abs().max() < 1.0
    with pytest.raises(ValueError) as err:
        si.initialize(model, x, time_dim=0)
    msg = str(err.value)
    assert f"'1' (snntorch {kind})" in msg
    assert "LSTM-style" in msg and "bounded in (-1, 1)" in msg and "kaiming_normal_" in msg


def test_conv_recurrent_rleaky_with_unbatched_steps_is_refused_by_name() -> None:
    """Issue 25: an unbatched input to an RLeaky with a convolutional recurrent connection
    gave a raw torch error; now a ValueError that says what to do, the model unchanged,
    and the batched input it asks for lands on target."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1),
        snn.RLeaky(beta=0.9, conv2d_channels=8, kernel_size=3, init_hidden=True),
    )
    x = (torch.rand(30, 2, 12, 12, generator=torch.Generator().manual_seed(4)) < 0.2).float()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"'?1'?.*RLeaky.*unbatched.*x.unsqueeze\(1\)"):
        si.initialize(model, x, time_dim=0)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    report = si.initialize(model, x.unsqueeze(1), time_dim=0)
    diag = si.diagnose(model, x.unsqueeze(1), time_dim=0)
    target = report.layers[0].target_sigma_u_theta
    assert diag.layers[0].sigma_u_theta == pytest.approx(target, rel=0.10)
