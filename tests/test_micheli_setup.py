"""Micheli et al.'s MLP input, as their public code feeds it (docs/science.md, section
'The training experiments'): pixels in [0, 1] (``ToTensor`` then ``Normalize((0,), (1,))``,
the identity), the same current at every step into a 784-wide snnTorch ``Leaky`` layer,
beta 0.5, theta 1, undecayed subtract reset, strict ``U > theta``.

The consequence checked here: at t = 0 the input layer has ``U = pixel <= 1`` and cannot
fire, so at T = 1 every image gives the same output (chance accuracy whatever the init);
from t = 1 on ``U = 1.5 pixel`` fires for pixels above 2/3. The ``mnist5k`` preset's
standardised pixels do reach the network at T = 1.
"""

from __future__ import annotations

import snntorch as snn
import torch

import spikeinit as si
import spikeinit.data as sd


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = si.models.build("micheli_mlp", (784,), 10)
    si.initialize(model, method="micheli", seed=0)
    return model


def test_raw_pixels_cannot_reach_the_network_at_the_first_step() -> None:
    ds = sd.load("mnist5k", encoding="current", n_steps=2)
    x, _ = ds.train.batch(torch.arange(64))  # (T = 2, 64, 784), pixels in [0, 1]
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    model = _model()
    spikes = model[0](x)  # the 784-wide input LIF layer
    # independent reference: snnTorch's own Leaky on the same pixels
    leaky = snn.Leaky(beta=0.5, threshold=1.0, reset_mechanism="subtract")
    mem = leaky.init_leaky()
    ref = []
    for t in range(2):
        spk, mem = leaky(x[t], mem)
        ref.append(spk)
    assert torch.equal(spikes, torch.stack(ref))
    assert float(spikes[0].sum()) == 0.0  # t = 0: U = pixel, never > theta = 1
    assert torch.equal(spikes[1], (1.5 * x[1] > 1.0).float())  # t = 1: U = 1.5 pixel
    assert float(spikes[1].mean()) > 0.05
    with torch.no_grad():
        out = model(x[:1])  # T = 1: the same output spikes for every image
        assert torch.equal(out[0], out[0][:1].expand_as(out[0]))
        # the mnist5k preset's standardised pixels (torchvision's MNIST mean and std) do
        std = model((x[:1] - 0.1307) / 0.3081)
        assert not torch.equal(std[0], std[0][:1].expand_as(std[0]))
