"""Knobs that do nothing (init/knob_check.py): sign / binarised / standardised weights.

Before, the measured rule scaled such weights by a factor that changed nothing and
reported sigma_U = 6-8 theta (2.15 in snnTorch's BSNN) with no warning. Now the
response to a doubled weight is measured, the module is named in a UserWarning and in
the report, its weights are left bit for bit as they were, and a learnable scale of the
same module is set instead where there is one. The reference for "on target" is
si.diagnose (the framework's own neuron run with the threshold off).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from interop_models import mnist_images
from torch import nn

import spikeinit as si

snn = pytest.importorskip("snntorch")

pytestmark = pytest.mark.usefixtures("one_thread")


class SignLinear(nn.Linear):
    """``F.linear(x, W.sign())``: the weight's scale never reaches the output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight.sign(), self.bias)


class ScaledSignLinear(nn.Linear):
    """XNOR-Net style: ``alpha * F.linear(x, W.sign())`` with a learnable ``alpha``."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__(n_in, n_out, bias=False)
        self.alpha = nn.Parameter(torch.ones(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha * F.linear(x, self.weight.sign())


class MaskedLinear(nn.Linear):
    """``F.linear(x, W * mask)``: transformed, but linear in ``W`` (a pruning mask)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__(n_in, n_out)
        self.register_buffer("mask", (torch.rand(n_out, n_in) < 0.5).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class TwoLayer(nn.Module):
    def __init__(self, first: nn.Module) -> None:
        super().__init__()
        self.fc1, self.lif1 = first, snn.Leaky(beta=0.9)
        self.fc2, self.lif2 = nn.Linear(64, 10), snn.Leaky(beta=0.9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m1, m2, out = self.lif1.init_leaky(), self.lif2.init_leaky(), []
        for t in range(x.shape[0]):
            s1, m1 = self.lif1(self.fc1(x[t]), m1)
            s2, m2 = self.lif2(self.fc2(s1), m2)
            out.append(s2)
        return torch.stack(out)


def _spikes() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(25, 8, 100, generator=g) < 0.2).float()


def _aims(report) -> dict[str, float]:
    return {la.name: la.target_sigma_u_theta for la in report.layers}


def test_sign_weights_are_named_left_alone_and_reported() -> None:
    torch.manual_seed(0)
    net = TwoLayer(SignLinear(100, 64))
    x = _spikes()
    before = {k: v.clone() for k, v in net.fc1.state_dict().items()}
    with pytest.warns(UserWarning, match="'fc1'.*changes nothing"):
        report = si.initialize(net, x)
    # never scaled by a useless factor: bit for bit as they were (bias too)
    assert all(torch.equal(before[k], v) for k, v in net.fc1.state_dict().items())
    lif1 = next(la for la in report.layers if la.name == "lif1")
    assert any("fc1" in n and "changes nothing" in n for n in lif1.notes)
    entry = next(m for m in report.modules if m.name == "fc1")
    assert not entry.initialised and "changes nothing" in str(entry.reason)
    # the layer after it is still set, measured on what the sign layer really sends
    diag = {d.name: d for d in si.diagnose(net, x).layers}
    assert abs(diag["lif2"].sigma_u_theta / _aims(report)["lif2"] - 1) < 0.10
    assert diag["lif1"].sigma_u_theta > 2  # what the +-1 weights give, reported as such


def test_a_learnable_scale_is_set_where_the_weights_do_nothing() -> None:
    torch.manual_seed(0)
    net = TwoLayer(ScaledSignLinear(100, 64))
    x = _spikes()
    w0 = net.fc1.weight.detach().clone()
    with pytest.warns(UserWarning, match="'fc1'"):
        report = si.initialize(net, x)
    assert torch.equal(w0, net.fc1.weight)
    assert not torch.equal(net.fc1.alpha, torch.ones(64))
    aims = _aims(report)
    diag = si.diagnose(net, x)
    for d in diag.layers:
        assert abs(d.sigma_u_theta / aims[d.name] - 1) < 0.10, (d.name, d.sigma_u_theta)
    entry = next(m for m in report.modules if m.name == "fc1")
    assert entry.initialised and "learnable scale" in str(entry.rule)


def test_a_transformed_but_linear_weight_is_still_set(recwarn) -> None:
    """A masked weight reaches the current through a product: the trial shows it scales,
    so it is set as usual and nothing is said about it."""
    torch.manual_seed(0)
    net = TwoLayer(MaskedLinear(100, 64))
    x = _spikes()
    report = si.initialize(net, x)
    assert not [w for w in recwarn.list if "changes nothing" in str(w.message)]
    aims = _aims(report)
    for d in si.diagnose(net, x).layers:
        assert abs(d.sigma_u_theta / aims[d.name] - 1) < 0.10, (d.name, d.sigma_u_theta)


# snnTorch examples/tutorial_BSNN.ipynb ("Binarized Spiking Neural Networks"), jeshraghian/
# snntorch: Binarize (sign, straight-through estimator), BinaryConv2d / BinaryLinear,
# BSNN with BatchNorm after each binary conv, MaxPool, Leaky(beta, threshold) with the
# notebook's tuned config, Dropout before the last Leaky; num_steps=10, the same image
# each step. Data: MNIST in [-1, 1] (Normalize((0.5,), (0.5,))) for FashionMNIST.
class Binarize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight):  # type: ignore[override]
        return weight.sign().clamp(min=-1)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        return grad.clone()


class BinaryConv2d(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, Binarize.apply(self.weight))


class BinaryLinear(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, Binarize.apply(self.weight), self.bias)


BSNN_CONFIG = {"threshold1": 2.3599835635698114, "threshold2": 7.985043705972782,
               "threshold3": 3.849629060468402, "beta": 0.44154740154430405,
               "num_steps": 10, "dropout": 0.3276864426153669}  # fmt: skip


class BSNN(nn.Module):
    def __init__(self, config: dict) -> None:
        super().__init__()
        self.num_steps = config["num_steps"]
        self.bin_conv_1 = BinaryConv2d(1, 16, kernel_size=3, padding="same", bias=False)
        self.batch_norm_1 = nn.BatchNorm2d(16)
        self.max_pool_1 = nn.MaxPool2d(kernel_size=2)
        self.lif1 = snn.Leaky(beta=config["beta"], threshold=config["threshold1"])
        self.bin_conv_2 = BinaryConv2d(16, 32, kernel_size=3, padding="same", bias=False)
        self.batch_norm_2 = nn.BatchNorm2d(32)
        self.max_pool_2 = nn.MaxPool2d(kernel_size=2)
        self.lif2 = snn.Leaky(beta=config["beta"], threshold=config["threshold2"])
        self.flatten = nn.Flatten()
        self.bin_fully_connected_1 = BinaryLinear(32 * 5 * 5, 10)
        self.dropout = nn.Dropout(config["dropout"])
        self.lif3 = snn.Leaky(beta=config["beta"], threshold=config["threshold3"])

    def forward(self, inpt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mem1, mem2, mem3 = self.lif1.init_leaky(), self.lif2.init_leaky(), self.lif3.init_leaky()
        spike3_rec, mem3_rec = [], []
        for _step in range(self.num_steps):
            current1 = self.max_pool_1(self.batch_norm_1(self.bin_conv_1(inpt)))
            spike1, mem1 = self.lif1(current1, mem1)
            current2 = self.max_pool_2(self.batch_norm_2(self.bin_conv_2(spike1)))
            spike2, mem2 = self.lif2(current2, mem2)
            current3 = self.dropout(self.bin_fully_connected_1(self.flatten(spike2)))
            spike3, mem3 = self.lif3(current3, mem3)
            spike3_rec.append(spike3)
            mem3_rec.append(mem3)
        return torch.stack(spike3_rec, dim=0), torch.stack(mem3_rec, dim=0)


def test_bsnn_tutorial_binary_linear_is_named_and_batchnorm_layers_are_set() -> None:
    """The notebook's binary convolutions call ``F.conv2d(input, w)`` without their
    ``padding="same"``: 28 -> 26 -> 13 -> 11 -> 5, hence its 32*5*5."""
    torch.manual_seed(0)
    net = BSNN(BSNN_CONFIG)
    x = mnist_images(16) * 2 - 1
    before = {k: v.clone() for k, v in net.bin_fully_connected_1.state_dict().items()}
    with pytest.warns(UserWarning, match="'bin_fully_connected_1'"):
        report = si.initialize(net, x)
    after = net.bin_fully_connected_1.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    aims = _aims(report)
    diag = {d.name: d for d in si.diagnose(net, x).layers}
    # BatchNorm after each binary conv is the knob that does scale: on target
    for name in ("lif1", "lif2"):
        assert abs(diag[name].sigma_u_theta / aims[name] - 1) < 0.10, (name, diag[name])
    lif3 = next(la for la in report.layers if la.name == "lif3")
    assert any("bin_fully_connected_1" in n and "changes nothing" in n for n in lif3.notes)
