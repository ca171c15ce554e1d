"""init/foreign.py: the measured rule on BatchNorm, residual shortcuts, IF neurons, atomicity."""

from __future__ import annotations

import pytest
import torch
from torch import nn

sj = pytest.importorskip("spikingjelly.activation_based")

from spikingjelly.activation_based import functional, layer, neuron  # noqa: E402

import spikeinit as si  # noqa: E402
from spikeinit.init.foreign import moments, solve_scale  # noqa: E402
from spikeinit.init.outputs import OUTPUT_SIGMA_U  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def test_solve_scale_is_the_root_of_the_quadratic() -> None:
    """a c^2 + 2 b c + d = s^2, checked against a direct evaluation of the variance."""
    g = torch.Generator().manual_seed(0)
    a_sig = torch.randn(50, 8, 6, generator=g)
    b_sig = 0.3 * a_sig + 0.5 * torch.randn(50, 8, 6, generator=g)
    a, b, d = moments(a_sig, b_sig, "temporal", True)
    c, ok = solve_scale(a, b, d, 1.3)
    assert ok
    combined = c.reshape(1, 1, -1).float() * a_sig + b_sig
    var = combined.var(dim=0, unbiased=False).transpose(0, 1).reshape(6, -1).mean(1)
    torch.testing.assert_close(
        var.double(), torch.full((6,), 1.69, dtype=torch.float64), rtol=1e-4, atol=1e-5
    )
    # a fixed part that alone fluctuates more than the target: unreachable, said so
    _, ok = solve_scale(a, b, torch.full_like(d, 9.0), 1.0)
    assert not ok


class ConvBNResidual(nn.Module):
    """conv -> BN -> LIF, then a spiking-ResNet block (BN branch + identity shortcut)."""

    def __init__(self, node=neuron.LIFNode) -> None:
        super().__init__()
        self.conv1 = layer.Conv2d(2, 8, 3, padding=1, bias=False)
        self.bn1 = layer.BatchNorm2d(8)
        self.sn1 = node()
        self.conv2 = layer.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = layer.BatchNorm2d(8)
        self.sn2 = node()
        functional.set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.sn1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(s1))
        out += s1  # in place, as SpikingJelly's BasicBlock does
        return self.sn2(out)


def _data() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(8, 4, 2, 6, 6, generator=g) < 0.3).float()


@pytest.mark.parametrize("node", [neuron.LIFNode, neuron.IFNode])
def test_batchnorm_and_shortcut_hit_target_in_train_and_eval(node) -> None:
    torch.manual_seed(0)
    net = ConvBNResidual(node)
    x = _data()
    report = si.initialize(net, x, seed=0)
    diag = si.diagnose(net, x)
    assert [d.name for d in diag.layers] == ["sn1", "sn2"]
    aims = {layer.name: layer.target_sigma_u_theta for layer in report.layers}
    assert aims == {"sn1": 1.0, "sn2": OUTPUT_SIGMA_U}  # sn2's spikes are the output
    # sn2 also receives the block's identity shortcut, which alone fluctuates more than
    # the output target: the report says the target is not reachable
    notes = " ".join(report.layers[1].notes)
    assert "not reachable" in notes and "fixed input" in notes
    for d in diag.layers:
        if d.name == "sn2":
            assert d.sigma_u_theta > aims[d.name]
        else:
            assert abs(d.sigma_u_theta / aims[d.name] - 1.0) < 0.03, (d.name, d.sigma_u_theta)
    if node is neuron.IFNode:
        assert all(d.variance == "input" for d in diag.layers)
    notes = " ".join(report.layers[0].notes)
    assert "BatchNorm" in notes and "running stats" in notes
    # evaluation mode: the running statistics are those of the data, so the current is the same
    currents = {}
    for mode in ("train", "eval"):
        getattr(net, mode)()
        seen = []
        h = net.sn1.register_forward_pre_hook(lambda m, a, seen=seen: seen.append(a[0].clone()))
        functional.reset_net(net)
        with torch.no_grad():
            net(x)
        h.remove()
        currents[mode] = seen[0]
    torch.testing.assert_close(currents["eval"], currents["train"], rtol=1e-3, atol=2e-3)


def test_failed_initialize_leaves_the_model_bit_identical() -> None:
    """A failure half way (the second neuron gets no input) restores every tensor."""

    class Breaks(ConvBNResidual):
        calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            type(self).calls += 1
            if type(self).calls > 3:  # the trace and first passes work, then the model breaks
                raise RuntimeError("the user's forward failed")
            return super().forward(x)

    torch.manual_seed(0)
    net = Breaks()
    x = _data()
    with torch.no_grad():  # running statistics that are not the defaults
        net(x)
    functional.reset_net(net)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    params = [p.detach().clone() for p in net.parameters()]
    with pytest.raises(RuntimeError, match="forward failed"):
        si.initialize(net, x)
    after = net.state_dict()
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k
    for p, q in zip(params, net.parameters(), strict=True):
        assert torch.equal(p, q)
    assert net.training
