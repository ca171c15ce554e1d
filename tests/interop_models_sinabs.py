"""Real sinabs networks, transcribed from sinabs' own docs, tutorials and tests, for testing
``si.initialize`` / ``si.diagnose`` on a fourth framework (issue 25).

Same record as tests/interop_models.py (:class:`InteropCase`); every builder cites the
repository (github.com/synsense/sinabs), the file and the tutorial. sinabs layers take a
whole sequence per call, batch first: ``[B, T, ...]``, or ``[B*T, ...]`` for the
``Squeeze`` layers (time folded into the batch, batch-major), so every case is a
``"sequence"`` case: ``data(batch)`` is exactly what the source feeds ``model(x)``.
Sizes the source hard-codes (``batch_size`` of a ``Squeeze`` layer, ``num_timesteps``)
are kept or shortened, always said in ``notes``; where a neuron type appears in no
tutorial network, the case is built around the layer as sinabs' own gallery or tests
configure it and says so ("adapted"). MNIST pixels are spikeinit's offline mnist5k.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from interop_models import InteropCase, Tensor, _seeded, _seeded_data, mnist_images, poisson

REPO = "synsense/sinabs"


def _mnist_rate(batch: int, steps: int) -> Tensor:
    """``[B, T, 1, 28, 28]`` Bernoulli spikes with the pixel intensity as probability, as the
    weight-transfer tutorial's ``MNIST(is_spiking=True)`` makes them."""
    img = mnist_images(batch)  # [B, 1, 28, 28]
    return (torch.rand(batch, steps, *img.shape[1:]) < img.unsqueeze(1)).float()


def _mnist_rows(batch: int) -> Tensor:
    """``[B, 28, 28]`` spikes, an image read row by row (time = rows), as bptt.ipynb does."""
    img = mnist_images(batch)[:, 0]
    return (torch.rand(img.shape) < img).float()


# ----------------------------------------------------------------------------- 1
def quickstart_lif_fc() -> nn.Module:
    # docs/getting_started/quickstart.ipynb, "How to define your network"
    import sinabs.activation
    import sinabs.layers as sl

    return nn.Sequential(
        nn.Linear(16, 64),
        sl.LIF(tau_mem=10.0, surrogate_grad_fn=sinabs.activation.SingleExponential()),
        nn.Linear(64, 4),
        sl.LIF(tau_mem=10.0, surrogate_grad_fn=sinabs.activation.SingleExponential()),
    )


# ----------------------------------------------------------------------------- 2
QUICKSTART_BATCH = 8


def quickstart_conv_lifsqueeze() -> nn.Module:
    # docs/getting_started/quickstart.ipynb, "conv_model" (LIFSqueeze between convolutions)
    import sinabs.layers as sl

    batch_size = QUICKSTART_BATCH
    return nn.Sequential(
        nn.Conv2d(2, 16, kernel_size=3),
        sl.LIFSqueeze(tau_mem=20.0, batch_size=batch_size),
        nn.Conv2d(16, 32, kernel_size=3),
        sl.LIFSqueeze(tau_mem=20.0, batch_size=batch_size),
        nn.Flatten(),
        nn.Linear(512, 4),
    )


def quickstart_conv_data(batch: int, steps: int = 100) -> Tensor:
    # (Batch, Time, Channels, Height, Width) = torch.rand(...), then .view(B * T, 2, 8, 8)
    data = torch.rand(batch, steps, 2, 8, 8)
    return data.view(batch * steps, 2, 8, 8)


# ----------------------------------------------------------------------------- 3
WEIGHT_TRANSFER_STEPS = 100


def weight_transfer_mnist() -> nn.Module:
    # docs/tutorials/weight_transfer_mnist.ipynb: a Conv/AvgPool ANN converted by from_model
    import sinabs

    ann = nn.Sequential(
        nn.Conv2d(1, 20, 5, 1, bias=False),
        nn.ReLU(),
        nn.AvgPool2d(2, 2),
        nn.Conv2d(20, 32, 5, 1, bias=False),
        nn.ReLU(),
        nn.AvgPool2d(2, 2),
        nn.Conv2d(32, 128, 3, 1, bias=False),
        nn.ReLU(),
        nn.AvgPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(128, 500, bias=False),
        nn.ReLU(),
        nn.Linear(500, 10, bias=False),
    )
    return sinabs.from_model(
        ann,
        input_shape=(1, 28, 28),
        add_spiking_output=True,
        synops=False,
        num_timesteps=WEIGHT_TRANSFER_STEPS,
    )


def weight_transfer_data(batch: int) -> Tensor:
    # data = sl.FlattenTime()(data): [B, T, 1, 28, 28] -> [B * T, 1, 28, 28]
    return _mnist_rate(batch, WEIGHT_TRANSFER_STEPS).flatten(0, 1)


# ----------------------------------------------------------------------------- 4
NMNIST_BATCH = 2


def nmnist_iafsqueeze_sumpool() -> nn.Module:
    # docs/tutorials/nmnist.ipynb: the DynapCNN-style IAFSqueeze / SumPool2d network
    import sinabs.layers as sl

    batch_size = NMNIST_BATCH
    backend = sl
    return nn.Sequential(
        sl.FlattenTime(),
        nn.Conv2d(2, 8, kernel_size=3, padding=1, bias=False),
        backend.IAFSqueeze(batch_size=batch_size, min_v_mem=-1),
        sl.SumPool2d(2),
        nn.Conv2d(8, 16, kernel_size=3, padding=1, bias=False),
        backend.IAFSqueeze(batch_size=batch_size, min_v_mem=-1),
        sl.SumPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1, bias=False),
        backend.IAFSqueeze(batch_size=batch_size, min_v_mem=-1),
        sl.SumPool2d(2),
        nn.Conv2d(32, 64, kernel_size=3, padding=1, bias=False),
        backend.IAFSqueeze(batch_size=batch_size, min_v_mem=-1),
        sl.SumPool2d(2),
        nn.Conv2d(64, 10, kernel_size=2, padding=0, bias=False),
        backend.IAFSqueeze(batch_size=batch_size, min_v_mem=-1),
        nn.Flatten(),
        sl.UnflattenTime(batch_size=batch_size),
    )


def nmnist_data(batch: int, steps: int = 30) -> Tensor:
    # N-MNIST frames [B, T, 2, 34, 34] (tonic ToFrame); sparse ON/OFF events here
    return poisson((batch, steps, 2, 34, 34), 0.05)


# ----------------------------------------------------------------------------- 5
BPTT_BATCH = 64


class _SpikingModel(nn.Module):
    """What bptt.ipynb calls: ``model.spiking_model(img.reshape((-1, 28)))``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, img: Tensor) -> Tensor:
        out = self.network.spiking_model(img.reshape((-1, 28)))  # merging time and batch
        return out.reshape((img.shape[0], 28, 10))  # restoring original dimensions


def bptt_from_model_mlp() -> nn.Module:
    # docs/tutorials/bptt.ipynb: an MLP ANN converted with from_model(ann, batch_size=64)
    from sinabs.from_torch import from_model

    ann = nn.Sequential(
        nn.Linear(28, 128),
        nn.ReLU(),
        nn.Linear(128, 128),
        nn.ReLU(),
        nn.Linear(128, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
        nn.ReLU(),
    )
    return _SpikingModel(from_model(ann, batch_size=BPTT_BATCH))


# ----------------------------------------------------------------------------- 6
def lif_recurrent_expleak_readout() -> nn.Module:
    # adapted: LIFRecurrent as tests/test_layers/test_lif.py::test_lif_recurrent_v_mem_recordings
    # configures it (rec_connect = Sequential(Flatten, Linear(n, n, bias=False)), tau_mem 20,
    # norm_input False), read out by ExpLeak(tau_mem=60.0) of docs/gallery/layers/plot_exp_leaky.py
    import sinabs.layers as sl

    n_neurons = 20
    rec_connect = nn.Sequential(nn.Flatten(), nn.Linear(n_neurons, n_neurons, bias=False))
    return nn.Sequential(
        nn.Linear(28, n_neurons),
        sl.LIFRecurrent(tau_mem=20.0, rec_connect=rec_connect, norm_input=False),
        nn.Linear(n_neurons, 10),
        sl.ExpLeak(tau_mem=60.0),
    )


# ----------------------------------------------------------------------------- 7
def alif_network() -> nn.Module:
    # adapted: ALIF as docs/gallery/layers/plot_alif.py configures it (tau_mem 40, tau_adapt 40,
    # adapt_scale 20, norm_input False); ALIFRecurrent as tests/test_layers/test_alif.py::
    # test_alif_recurrent does (rec_connect = Sequential(Flatten, Linear(n, n, bias=False)),
    # tau_adapt = tau_mem); the LIF with a synapse of docs/gallery/layers/plot_lif.py
    # (tau_mem 40, tau_syn 30, norm_input False) as the output layer
    import sinabs.layers as sl

    n = 64
    rec_connect = nn.Sequential(nn.Flatten(), nn.Linear(n, n, bias=False))
    return nn.Sequential(
        nn.Linear(28, n),
        sl.ALIF(tau_mem=40.0, tau_adapt=40.0, adapt_scale=20, norm_input=False),
        nn.Linear(n, n),
        sl.ALIFRecurrent(tau_mem=20.0, tau_adapt=20.0, rec_connect=rec_connect),
        nn.Linear(n, 10),
        sl.LIF(tau_mem=40.0, tau_syn=30.0, norm_input=False),
    )


MODELS_SINABS: list[InteropCase] = [
    InteropCase(
        "sinabs_quickstart_lif_fc",
        "sinabs",
        f"{REPO} docs/getting_started/quickstart.ipynb (Quickstart Sinabs: the LIF model)",
        _seeded(quickstart_lif_fc),
        _seeded_data(lambda b: poisson((b, 100, 16), 0.1)),
        notes="the notebook's input is (Batch, Time, 16); Poisson spikes p = 0.1 here",
    ),
    InteropCase(
        "sinabs_quickstart_conv_lifsqueeze",
        "sinabs",
        f"{REPO} docs/getting_started/quickstart.ipynb (conv_model with LIFSqueeze)",
        _seeded(quickstart_conv_lifsqueeze),
        _seeded_data(lambda b: quickstart_conv_data(b, 20)),
        no_neuron_weights=("5",),
        fixed_batch=QUICKSTART_BATCH,
        notes="batch_size = 8 as in the notebook; 20 time steps instead of 100",
    ),
    InteropCase(
        "sinabs_weight_transfer_mnist_from_model",
        "sinabs",
        f"{REPO} docs/tutorials/weight_transfer_mnist.ipynb (from_model, add_spiking_output)",
        _seeded(weight_transfer_mnist),
        _seeded_data(weight_transfer_data),
        # the analog model that from_model keeps next to the spiking copy feeds no neuron
        no_neuron_weights=(
            "analog_model.0",
            "analog_model.3",
            "analog_model.6",
            "analog_model.10",
            "analog_model.12",
        ),
        notes="num_timesteps = 100 as in the tutorial; batch 2 (the tutorial tests 10)",
    ),
    InteropCase(
        "sinabs_nmnist_iafsqueeze_sumpool",
        "sinabs",
        f"{REPO} docs/tutorials/nmnist.ipynb (IAFSqueeze, SumPool2d, FlattenTime)",
        _seeded(nmnist_iafsqueeze_sumpool),
        _seeded_data(nmnist_data),
        fixed_batch=NMNIST_BATCH,
        notes="batch_size 2 instead of 16; sinabs layers instead of sinabs.exodus (not "
        "installed; the tutorial switches between the two); 30 Poisson frames instead of "
        "N-MNIST recordings",
    ),
    InteropCase(
        "sinabs_bptt_from_model_mlp",
        "sinabs",
        f"{REPO} docs/tutorials/bptt.ipynb (from_model(ann, batch_size=64), rows as time)",
        _seeded(bptt_from_model_mlp),
        _seeded_data(_mnist_rows),
        no_neuron_weights=(
            "network.analog_model.0",
            "network.analog_model.2",
            "network.analog_model.4",
            "network.analog_model.6",
            "network.analog_model.8",
        ),
        fixed_batch=BPTT_BATCH,
        notes="BATCH_SIZE = 64 as in the tutorial (from_model's batch_size)",
    ),
    InteropCase(
        "sinabs_lif_recurrent_expleak_readout",
        "sinabs",
        f"{REPO} tests/test_layers/test_lif.py + docs/gallery/layers/plot_exp_leaky.py (adapted)",
        _seeded(lif_recurrent_expleak_readout),
        _seeded_data(_mnist_rows),
        readouts=("3",),
        notes="adapted: LIFRecurrent appears in no sinabs tutorial network",
    ),
    InteropCase(
        "sinabs_alif_recurrent",
        "sinabs",
        f"{REPO} docs/gallery/layers/plot_alif.py + tests/test_layers/test_alif.py (adapted)",
        _seeded(alif_network),
        _seeded_data(_mnist_rows),
        notes="adapted: ALIF appears in no sinabs tutorial network",
    ),
]


def sinabs_spiking_classes() -> tuple[type, ...]:
    """sinabs' neuron base, read from sinabs (not from spikeinit)."""
    import sinabs.layers as sl

    return (sl.StatefulLayer,)


def is_sinabs_spiking(m: nn.Module) -> bool:
    """A sinabs stateful layer that spikes (``does_spike``: ExpLeak has no spike function)."""
    return isinstance(m, sinabs_spiking_classes()) and bool(m.does_spike)


def called_sinabs_neurons(case: InteropCase, model: nn.Module, x: Tensor) -> list[str]:
    """Names of the spiking sinabs layers the model's forward calls, found with forward
    hooks on sinabs' own base class; readouts excluded."""
    names = {m: n for n, m in model.named_modules()}
    seen: list[str] = []
    hooks = [
        m.register_forward_hook(
            lambda mod, *_: seen.append(names[mod]) if names[mod] not in seen else None
        )
        for m in model.modules()
        if is_sinabs_spiking(m)
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
        import sinabs

        sinabs.reset_states(model)
    return [n for n in seen if n not in case.readouts]
