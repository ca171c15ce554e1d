"""snnTorch models through spikeinit's adapters: mapping, initialisation, Micheli, diagnosis."""

from __future__ import annotations

import pytest
import torch
from torch import nn

snn = pytest.importorskip("snntorch")

import spikeinit as si  # noqa: E402
from spikeinit.adapters import find_layers, time_loop  # noqa: E402
from spikeinit.neuron import lif_sequence  # noqa: E402

T, B, N_IN = 100, 16, 200


pytestmark = pytest.mark.usefixtures("one_thread")


def poisson(seed: int = 0, steps: int = T, batch: int = B, n: int = N_IN, p: float = 0.02):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, n, generator=g) < p).float()


class Tutorial(nn.Module):
    """The snnTorch tutorial style: the forward loops over time."""

    def __init__(self, beta: float = 0.9) -> None:
        super().__init__()
        self.fc1 = nn.Linear(N_IN, 128)
        self.lif1 = snn.Leaky(beta=beta)
        self.fc2 = nn.Linear(128, 64)
        self.lif2 = snn.Synaptic(alpha=0.8, beta=beta)
        self.fc3 = nn.Linear(64, 32)
        self.lif3 = snn.RLeaky(beta=beta, linear_features=32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1 = self.lif1.init_leaky()
        syn2, mem2 = self.lif2.init_synaptic()
        spk3, mem3 = self.lif3.init_rleaky()
        out = []
        for t in range(x.shape[0]):
            spk1, mem1 = self.lif1(self.fc1(x[t]), mem1)
            spk2, syn2, mem2 = self.lif2(self.fc2(spk1), syn2, mem2)
            spk3, mem3 = self.lif3(self.fc3(spk2), spk3, mem3)
            out.append(spk3)
        return torch.stack(out)


def test_find_layers_tutorial_style() -> None:
    net = Tutorial()
    layers = find_layers(net, poisson())
    assert [n for n, _ in layers] == ["lif1", "lif2", "lif3"]
    assert all(layer.mode == "step" for _, layer in layers)
    assert layers[0][1].weight_groups()[0].weight is net.fc1.weight
    kinds = [g.kind for g in layers[2][1].weight_groups()]
    assert kinds == ["ff", "rec"]
    assert layers[2][1].weight_groups()[1].weight is net.lif3.recurrent.weight
    assert layers[1][1].params.tau_syn is not None and layers[1][1].params.input_scale == 1.0


@pytest.mark.parametrize("alpha", [None, 0.8])
def test_free_membrane_is_the_reference_kernel(alpha: float | None) -> None:
    """snnTorch's sub-threshold response equals psp_kernel(params) (mapping is exact)."""
    neuron = snn.Leaky(beta=0.9) if alpha is None else snn.Synaptic(alpha=alpha, beta=0.9)
    net = nn.Sequential(nn.Linear(1, 1, bias=False), neuron)
    layer = find_layers(net)[0][1]
    impulse = torch.zeros(60, 1, 1)
    impulse[0] = 1.0
    _, mem = layer.run_current(impulse, free=True)
    kernel = si.theory.psp_kernel(layer.params)[:60]
    torch.testing.assert_close(mem.flatten().double(), kernel, rtol=1e-5, atol=1e-6)


def test_zero_reset_spikes_equal_the_reference_kernel() -> None:
    """With reset to zero the maths is identical: same spikes as lif_sequence."""
    net = nn.Sequential(nn.Linear(N_IN, 50), snn.Leaky(beta=0.8, reset_mechanism="zero"))
    layer = find_layers(net)[0][1]
    current = torch.randn(T, B, 50) * 0.6
    spikes, mem = layer.run_current(current)
    ref_s, ref_m = lif_sequence(current, layer.params, return_mem=True)
    assert torch.equal(spikes, ref_s)
    torch.testing.assert_close(mem, ref_m)


def test_fluctuation_init_hits_sigma_u() -> None:
    x = poisson()
    torch.manual_seed(0)
    net = Tutorial()
    default = si.diagnose(net, x)
    report = si.initialize(net, x, method="fluctuation", seed=0)
    measured = [layer.measured_sigma_u for layer in report.layers]
    # each layer at its target: sigma_u = 1 (hidden), the output layer's (decode-aware)
    aims = [la.target_sigma_u_theta * la.threshold for la in report.layers]
    assert aims[:-1] == [1.0] * (len(aims) - 1) and report.layers[-1].output is not None
    assert all(abs(s / a - 1.0) < 0.10 for s, a in zip(measured, aims, strict=True)), measured
    assert any("not decayed" in n for n in report.layers[0].notes)
    cal = si.initialize(net, x, method="fluctuation", seed=0, calibrate=True)
    calibrated = [layer.measured_sigma_u for layer in cal.layers]
    assert all(abs(s / a - 1.0) <= 0.02 + 1e-9 for s, a in zip(calibrated, aims, strict=True))
    diag = si.diagnose(net, x)
    # diagnose measures each layer as the rule did (an output layer over samples and time)
    assert [d.variance for d in diag.layers] == [la.variance for la in cal.layers]
    assert [round(d.sigma_u_theta * d.threshold, 6) for d in diag.layers] == [
        round(s, 6) for s in calibrated
    ]
    print(
        "snntorch sigma_U  default init:",
        [round(d.free_mem_std, 3) for d in default.layers],
        " fluctuation:",
        [round(s, 3) for s in measured],
        " calibrated:",
        [round(s, 3) for s in calibrated],
    )


def test_sequential_init_hidden_is_looped_over_time() -> None:
    """snnTorch tutorial 7's nn.Sequential of init_hidden neurons needs no forward=: with
    ``time_dim=0`` it is looped over ``x[t]``. ``[T, B, N]`` also runs as one step of a
    batch of T (a Linear takes any leading dims), so without ``time_dim`` it is refused."""

    def net() -> nn.Sequential:
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Linear(N_IN, 64),
            snn.Leaky(beta=0.9, init_hidden=True),
            nn.Linear(64, 32),
            snn.Leaky(beta=0.9, init_hidden=True),
        )

    x = poisson(steps=30)
    plain, looped = net(), net()
    with pytest.raises(ValueError, match="time_dim=0"):
        si.initialize(plain, x, method="fluctuation", seed=1)
    report = si.initialize(plain, x, method="fluctuation", seed=1, time_dim=0)
    explicit = si.initialize(looped, x, method="fluctuation", forward=time_loop, seed=1)
    assert all(
        abs(layer.sigma_u_theta / layer.target_sigma_u_theta - 1.0) < 0.02
        for layer in report.layers
    )
    for a, b in zip(plain.parameters(), looped.parameters(), strict=True):
        assert torch.equal(a, b)
    assert [lay.sigma_u_theta for lay in report.layers] == [
        lay.sigma_u_theta for lay in explicit.layers
    ]


def test_unsupported_neuron_is_named() -> None:
    net = nn.Sequential(nn.Linear(4, 4), snn.SLSTM(4, 4))
    with pytest.raises(ValueError, match=r"SLSTM.*supported: snntorch: Leaky"):
        si.initialize(net, poisson(n=4), method="micheli")


def _micheli_nets(reset: str, depth: int = 10, width: int = 100, convention: str = "snntorch"):
    snn_net = nn.Sequential()
    for _ in range(depth):
        snn_net.append(nn.Linear(width, width, bias=False))
        snn_net.append(snn.Leaky(beta=0.5, threshold=1.0, reset_mechanism=reset, init_hidden=True))
    params = si.LIFParams.from_snntorch(0.5, 1.0, reset, convention=convention)  # type: ignore[arg-type]
    ours = nn.Sequential(*[si.nn.SpikingLinear(width, width, params=params) for _ in range(depth)])
    return snn_net, ours


def _rate_curves(model: nn.Module, x: torch.Tensor, forward=None) -> torch.Tensor:
    diag = si.diagnose(model, x, forward=forward)
    return torch.tensor([d.rate_per_step for d in diag.layers])  # [depth, T]


@pytest.mark.parametrize(
    "reset,convention", [("zero", "snntorch"), ("subtract", "snntorch"), ("subtract", "spikeinit")]
)
def test_micheli_matches_our_layers(reset: str, convention: str) -> None:
    """Micheli et al.'s MLP (beta 0.5, theta 1, 10 x 100) in snnTorch and in spikeinit."""
    x = poisson(seed=3, steps=10, batch=16, n=100, p=0.3)
    snn_net, ours = _micheli_nets(reset, convention=convention)
    si.initialize(snn_net, x, method="micheli", forward=time_loop, seed=0)
    si.initialize(ours, x, method="micheli", seed=0)
    snn_w = [m.weight for m in snn_net if isinstance(m, nn.Linear)]
    for w_snn, layer in zip(snn_w, ours, strict=True):
        assert torch.equal(w_snn, layer.weight)  # same rule, same generator: same weights
    r_snn = _rate_curves(snn_net, x, time_loop)
    r_ours = _rate_curves(ours, x)
    diff = (r_snn - r_ours).abs()
    print(
        f"micheli reset={reset}: max |rate diff| per step {float(diff.max()):.4f}, "
        f"last-layer rate snntorch {float(r_snn[-1].mean()):.4f} "
        f"ours {float(r_ours[-1].mean()):.4f}"
    )
    if convention == "snntorch":
        assert float(diff.max()) == 0.0  # identical maths: identical spikes
    else:
        # Not the same maths: snnTorch subtracts theta after the decay, LIFParams' reference
        # subtract reset before it (theta beta), so snnTorch removes more charge per spike and
        # fires less, in every layer; both keep the activity alive to layer 10.
        assert bool((r_snn.mean(1) < r_ours.mean(1)).all())
        assert float(r_ours[-1].mean()) > 0.05
    assert float(r_snn[-1].mean()) > 0.05  # activity reaches layer 10
