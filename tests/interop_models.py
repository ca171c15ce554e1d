# ruff: noqa: B007, B008  (faithful transcriptions: unused loop variables, default args)
"""Real snnTorch / Norse / SpikingJelly networks, transcribed from the frameworks' own
tutorials, examples, docs and model zoos, for testing ``si.initialize`` / ``si.diagnose``.

Every builder cites the repository, the file path and the tutorial it comes from.
Layers, neurons, their arguments and the forward's calling convention are kept as in
the source; only the batch size is chosen by the caller (and a few time lengths or
image sizes are shortened, always said in ``notes``). Where a source does not run as
printed (a typo, an argument missing), the smallest fix is made and said in ``notes``.
Where a neuron type appears in no tutorial network of its framework, the case is built
from the framework's own test or docs snippet and says so ("adapted").

``MODELS`` is the registry. ``InteropCase.convention`` says how the model is run:

* ``"sequence"``: ``model(x)`` consumes the whole input at once (a time loop inside
  ``forward``, a multi-step SpikingJelly model, or a model that repeats / encodes a
  static image inside ``forward``);
* ``"step"``: ``forward`` is one time step and the tutorial runs it in its own loop over
  ``x[t]`` of a time-first ``x`` (snnTorch ``init_hidden=True`` modules, Norse
  ``SequentialState`` of cells with the state carried, SpikingJelly single-step
  modules). ``data`` is then the time-first sequence the tutorial's loop iterates
  over; :func:`run_reference` is that loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor

# -----------------------------------------------------------------------------
# the registry's record
# -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InteropCase:
    name: str
    framework: str  # "snntorch" | "norse" | "spikingjelly"
    source: str  # repository + path + tutorial
    build: Callable[[], nn.Module]  # a fresh, seeded model
    data: Callable[[int], Tensor]  # data(batch): the input as the model's forward takes it
    readouts: tuple[str, ...] = ()  # module names of non-spiking readout neurons
    no_neuron_weights: tuple[str, ...] = ()  # weight modules whose output reaches no neuron
    static: bool = False  # True: data is a static input [B, ...] (time made inside forward)
    notes: str = ""
    convention: str = "sequence"  # "sequence" | "step" (see module docstring)
    encoders: tuple[str, ...] = ()  # weightless neuron encoders inside the model (not layers)
    fixed_batch: int | None = None  # the model hard-codes this batch size
    batch: int = 2  # batch used by the tests
    slow: bool = False  # > ~10 s for initialise + diagnose on one core
    init_kwargs: dict[str, Any] = field(default_factory=dict)  # stated extra arguments
    # ``time_dim=`` for si.initialize / si.diagnose: 0 where a one-step model's data also
    # runs as one step of a batch (spikeinit refuses to guess; docs/interop.md)
    time_dim: Any = "auto"

    def make_data(self, batch: int | None = None) -> Tensor:
        b = self.fixed_batch or (batch if batch is not None else self.batch)
        return self.data(b)


def _seeded(fn: Callable[[], nn.Module], seed: int = 0) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return fn()

    build.__name__ = getattr(fn, "__name__", "build")
    return build


def _seeded_data(fn: Callable[[int], Tensor], seed: int = 1) -> Callable[[int], Tensor]:
    def data(batch: int) -> Tensor:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return fn(batch)

    return data


# -----------------------------------------------------------------------------
# data: offline MNIST (spikeinit's mnist5k), Poisson spikes, DVS-like frames
# -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _mnist_pixels() -> Tensor:
    import spikeinit as si

    ds = si.data.mnist5k(flatten=False)
    return ds.test.data.clone()  # uint8 [500, 784], real MNIST digits


def mnist_images(batch: int, size: int = 28) -> Tensor:
    """``batch`` real MNIST images ``[B, 1, size, size]`` in [0, 1] (ToTensor())."""
    pix = _mnist_pixels()
    idx = torch.arange(batch) % pix.shape[0]
    x = pix[idx].float().div(255.0).view(batch, 1, 28, 28)
    if size != 28:  # transforms.Resize((size, size))
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x


def mnist_normalized(batch: int) -> Tensor:
    """MNIST images standardised as Norse's notebooks do: ``Normalize((0.1307,), (0.3081,))``."""
    return (mnist_images(batch) - 0.1307) / 0.3081


def poisson(shape: tuple[int, ...], p: float) -> Tensor:
    """Bernoulli spikes with probability ``p`` per bin (``torch.manual_seed`` set by caller)."""
    return (torch.rand(shape) < p).float()


def _repeat(x: Tensor, steps: int) -> Tensor:
    return x.unsqueeze(0).repeat(steps, *([1] * x.dim()))


# -----------------------------------------------------------------------------
# reference drivers: how the tutorial runs a "step" model
# -----------------------------------------------------------------------------


def _drive_snntorch_hidden(model: nn.Module, x: Tensor) -> Tensor:
    # snnTorch tutorials 6 / 7, quickstart: utils.reset(net); for step: net(data[step])
    from snntorch import utils

    utils.reset(model)
    out = []
    for t in range(x.shape[0]):
        o = model(x[t])
        out.append(o[0] if isinstance(o, tuple) else o)
    return torch.stack(out)


def _drive_norse_state(model: nn.Module, x: Tensor) -> Tensor:
    # Norse intro notebook: for timestep: output, state = model(data, state)
    state = None
    out = []
    for t in range(x.shape[0]):
        o, state = model(x[t], state)
        out.append(o)
    return torch.stack(out)


def _drive_sj_single(model: nn.Module, x: Tensor) -> Tensor:
    # SpikingJelly lif_fc_mnist: for t: out_fr += net(encoded_img); functional.reset_net(net)
    from spikingjelly.activation_based import functional

    out = torch.stack([model(x[t]) for t in range(x.shape[0])])
    functional.reset_net(model)
    return out


def reset_case(case: InteropCase, model: nn.Module) -> None:
    """Clear the neuron state a SpikingJelly model keeps between calls, between two uses of
    the model (initialise, then diagnose or run the source's forward)."""
    if case.framework == "spikingjelly":
        from spikingjelly.activation_based import functional

        functional.reset_net(model)


def run_reference(case: InteropCase, model: nn.Module, x: Tensor) -> Any:
    """Run ``model`` on ``x`` the way its source does (and reset SpikingJelly state)."""
    if case.convention == "step":
        if case.framework == "snntorch":
            return _drive_snntorch_hidden(model, x)
        if case.framework == "norse":
            return _drive_norse_state(model, x)
        return _drive_sj_single(model, x)
    out = model(x)
    if case.framework == "spikingjelly":
        from spikingjelly.activation_based import functional

        functional.reset_net(model)
    return out


# -----------------------------------------------------------------------------
# neuron classes and weight modules, counted independently of spikeinit
# -----------------------------------------------------------------------------


def spiking_neuron_classes() -> tuple[type, ...]:
    """Base classes of the frameworks' spiking neurons (readout integrators excluded below)."""
    import snntorch
    from norse.torch.module.snn import SNN, SNNCell, SNNRecurrent, SNNRecurrentCell
    from spikingjelly.activation_based import neuron

    return (snntorch.SpikingNeuron, SNN, SNNCell, SNNRecurrent, SNNRecurrentCell, neuron.BaseNode)


def readout_neuron_classes() -> tuple[type, ...]:
    """Norse's non-spiking leaky integrators."""
    import norse.torch as nt

    return (nt.LI, nt.LICell, nt.LILinearCell, nt.LIBoxCell)


def is_spiking_neuron(m: nn.Module) -> bool:
    return isinstance(m, spiking_neuron_classes()) and not isinstance(m, readout_neuron_classes())


def called_neurons(case: InteropCase, model: nn.Module, x: Tensor) -> list[str]:
    """Names of the spiking neuron modules that the source's forward really calls, in
    call order (each once), found with forward hooks; readouts and encoders excluded."""
    names = {m: n for n, m in model.named_modules()}
    seen: list[str] = []
    hooks = []

    def hook(mod: nn.Module, *_: Any) -> None:
        n = names[mod]
        if n not in seen:
            seen.append(n)

    for m in model.modules():
        if is_spiking_neuron(m):
            hooks.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad():
            run_reference(case, model, x)
    finally:
        for h in hooks:
            h.remove()
    skip = set(case.readouts) | set(case.encoders)
    return [n for n in seen if n not in skip and not any(n.startswith(s + ".") for s in skip)]


def weight_module_names(model: nn.Module) -> list[str]:
    """Modules that own synaptic weights: nn.Linear, every convolution (and subclasses,
    e.g. SpikingJelly's ``layer.Linear`` / ``layer.Conv2d``), Norse neurons with their
    own ``input_weights`` / ``recurrent_weights`` (``LIFRecurrent(Cell)``,
    ``LSNNRecurrent(Cell)``, ``LILinearCell``) and snnTorch's one-to-one recurrent ``V``."""
    from snntorch._neurons.rleaky import RecurrentOneToOne

    out = []
    for n, m in model.named_modules():
        if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd, RecurrentOneToOne)):
            out.append(n)
        elif isinstance(getattr(m, "input_weights", None), nn.Parameter) or isinstance(
            getattr(m, "recurrent_weights", None), nn.Parameter
        ):
            out.append(n)
    return out


def neuron_types_used(include_slow: bool = False) -> set[type]:
    """Classes of every neuron module found in the registry's (default-suite) models."""
    used: set[type] = set()
    for case in MODELS:
        if case.slow and not include_slow:
            continue
        for m in case.build().modules():
            if isinstance(m, spiking_neuron_classes() + readout_neuron_classes()):
                used.add(type(m))
    return used


def required_neuron_types() -> set[type]:
    import norse.torch as nt
    import snntorch as snn
    from spikingjelly.activation_based import neuron

    return {
        snn.Leaky, snn.Synaptic, snn.Lapicque, snn.Alpha, snn.RLeaky, snn.RSynaptic,
        nt.LIF, nt.LIFCell, nt.LIFRecurrent, nt.LIFRecurrentCell, nt.LSNN,
        nt.LSNNRecurrent, nt.LSNNRecurrentCell, nt.LIFBoxCell, nt.LI, nt.LICell,
        nt.LILinearCell,
        neuron.LIFNode, neuron.IFNode, neuron.ParametricLIFNode,
    }  # fmt: skip


# =============================================================================
# snnTorch
# =============================================================================


# jeshraghian/snntorch examples/tutorial_5_FCN.ipynb (docs/tutorials/tutorial_5.rst),
# "Tutorial 5 - Training Spiking Neural Networks with snntorch": Net, 784-1000-10 Leaky,
# beta=0.95, num_steps=25, the static image fed at every step inside forward.
def snntorch_tutorial5() -> nn.Module:
    import snntorch as snn

    num_inputs, num_hidden, num_outputs = 28 * 28, 1000, 10
    num_steps, beta = 25, 0.95

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(num_inputs, num_hidden)
            self.lif1 = snn.Leaky(beta=beta)
            self.fc2 = nn.Linear(num_hidden, num_outputs)
            self.lif2 = snn.Leaky(beta=beta)

        def forward(self, x):
            mem1 = self.lif1.init_leaky()
            mem2 = self.lif2.init_leaky()
            spk2_rec, mem2_rec = [], []
            for step in range(num_steps):
                cur1 = self.fc1(x)
                spk1, mem1 = self.lif1(cur1, mem1)
                cur2 = self.fc2(spk1)
                spk2, mem2 = self.lif2(cur2, mem2)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)

    return Net()


TUT6_BATCH_SIZE = 128  # tutorial 6's global batch_size, used inside Net.forward


# jeshraghian/snntorch examples/tutorial_6_CNN.ipynb (docs/tutorials/tutorial_6.rst),
# "Tutorial 6 - Surrogate Gradient Descent in a Convolutional SNN": the class-based Net:
# conv -> F.max_pool2d -> Leaky, `spk2.view(batch_size, -1)` with the global batch_size=128,
# beta=0.5, fast_sigmoid(slope=25). Its forward is ONE time step from a fresh membrane
# (init_leaky() at every call); the tutorial then switches to the nn.Sequential below.
def snntorch_tutorial6_class() -> nn.Module:
    import snntorch as snn
    from snntorch import surrogate

    spike_grad = surrogate.fast_sigmoid(slope=25)
    beta = 0.5
    batch_size = TUT6_BATCH_SIZE

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 12, 5)
            self.lif1 = snn.Leaky(beta=beta, spike_grad=spike_grad)
            self.conv2 = nn.Conv2d(12, 64, 5)
            self.lif2 = snn.Leaky(beta=beta, spike_grad=spike_grad)
            self.fc1 = nn.Linear(64 * 4 * 4, 10)
            self.lif3 = snn.Leaky(beta=beta, spike_grad=spike_grad)

        def forward(self, x):
            mem1 = self.lif1.init_leaky()
            mem2 = self.lif2.init_leaky()
            mem3 = self.lif3.init_leaky()
            cur1 = F.max_pool2d(self.conv1(x), 2)
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = F.max_pool2d(self.conv2(spk1), 2)
            spk2, mem2 = self.lif2(cur2, mem2)
            cur3 = self.fc1(spk2.view(batch_size, -1))
            spk3, mem3 = self.lif3(cur3, mem3)
            return spk3, mem3

    return Net()


# jeshraghian/snntorch examples/tutorial_6_CNN.ipynb, "Tutorial 6": the nn.Sequential net
# (Conv2d -> MaxPool2d -> Leaky(init_hidden=True)), run by forward_pass(net, num_steps, data)
# which feeds the same image at each of num_steps=50 steps.
def snntorch_tutorial6_sequential() -> nn.Module:
    import snntorch as snn
    from snntorch import surrogate

    spike_grad = surrogate.fast_sigmoid(slope=25)
    beta = 0.5
    return nn.Sequential(
        nn.Conv2d(1, 12, 5),
        nn.MaxPool2d(2),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
        nn.Conv2d(12, 64, 5),
        nn.MaxPool2d(2),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
        nn.Flatten(),
        nn.Linear(64 * 4 * 4, 10),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True, output=True),
    )


# jeshraghian/snntorch examples/tutorial_7_neuromorphic_datasets.ipynb
# (docs/tutorials/tutorial_7.rst), "Tutorial 7 - Neuromorphic Datasets with Tonic + snnTorch":
# N-MNIST frames [T, B, 2, 34, 34], Conv2d -> Leaky -> MaxPool2d (pool AFTER the neuron),
# atan surrogate, beta=0.5, forward_pass loops over data[step].
def snntorch_tutorial7() -> nn.Module:
    import snntorch as snn
    from snntorch import surrogate

    spike_grad = surrogate.atan()
    beta = 0.5
    return nn.Sequential(
        nn.Conv2d(2, 12, 5),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
        nn.MaxPool2d(2),
        nn.Conv2d(12, 32, 5),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 5 * 5, 10),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True, output=True),
    )


# jeshraghian/snntorch examples/quickstart.ipynb (docs/quickstart.rst), "Quickstart":
# convolutional nn.Sequential, beta=0.9, fast_sigmoid(), num_steps=25, static image each step.
def snntorch_quickstart_conv() -> nn.Module:
    import snntorch as snn
    from snntorch import surrogate

    beta = 0.9
    spike_grad = surrogate.fast_sigmoid()
    return nn.Sequential(
        nn.Conv2d(1, 8, 5),
        nn.MaxPool2d(2),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
        nn.Conv2d(8, 16, 5),
        nn.MaxPool2d(2),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True, output=True),
    )


# jeshraghian/snntorch examples/quickstart.ipynb, "Quickstart": the class-based Net,
# 784-300-10, layer 1 beta=0.9, layer 2 a per-neuron learnable beta = torch.rand(10),
# x.flatten(1) inside the time loop (num_steps=25).
def snntorch_quickstart_fc() -> nn.Module:
    import snntorch as snn

    num_steps = 25

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            num_inputs, num_hidden, num_outputs = 784, 300, 10
            beta1 = 0.9
            beta2 = torch.rand((num_outputs), dtype=torch.float)
            self.fc1 = nn.Linear(num_inputs, num_hidden)
            self.lif1 = snn.Leaky(beta=beta1)
            self.fc2 = nn.Linear(num_hidden, num_outputs)
            self.lif2 = snn.Leaky(beta=beta2, learn_beta=True)

        def forward(self, x):
            mem1 = self.lif1.init_leaky()
            mem2 = self.lif2.init_leaky()
            spk2_rec, mem2_rec = [], []
            for step in range(num_steps):
                cur1 = self.fc1(x.flatten(1))
                spk1, mem1 = self.lif1(cur1, mem1)
                cur2 = self.fc2(spk1)
                spk2, mem2 = self.lif2(cur2, mem2)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return torch.stack(spk2_rec), torch.stack(mem2_rec)

    return Net()


# jeshraghian/snntorch examples/tutorial_regression_2.ipynb
# (docs/tutorials/tutorial_regression_2.rst), "Regression with SNNs: Part II" (RLeaky
# classifier): Net(timesteps=num_steps=50, hidden=128, beta=0.9), RLeaky(linear_features=...)
# all-to-all recurrence; model(feature.flatten(1)), the static image repeated in forward.
def snntorch_regression2() -> nn.Module:
    import snntorch as snn

    class Net(nn.Module):
        def __init__(self, timesteps, hidden, beta):
            super().__init__()
            self.timesteps = timesteps
            self.hidden = hidden
            self.beta = beta
            self.fc1 = nn.Linear(in_features=784, out_features=self.hidden)
            self.rlif1 = snn.RLeaky(beta=self.beta, linear_features=self.hidden)
            self.fc2 = nn.Linear(in_features=self.hidden, out_features=10)
            self.rlif2 = snn.RLeaky(beta=self.beta, linear_features=10)

        def forward(self, x):
            spk1, mem1 = self.rlif1.init_rleaky()
            spk2, mem2 = self.rlif2.init_rleaky()
            spk_recording = []
            for step in range(self.timesteps):
                spk1, mem1 = self.rlif1(self.fc1(x), spk1, mem1)
                spk2, mem2 = self.rlif2(self.fc2(spk1), spk2, mem2)
                spk_recording.append(spk2)
            return torch.stack(spk_recording)

    return Net(timesteps=50, hidden=128, beta=0.9)


# jeshraghian/snntorch snntorch/_neurons/rleaky.py, the RLeaky class docstring "Example"
# (API reference snn.neurons_rleaky): lif1 = RLeaky(beta=0.5, linear_features=num_hidden),
# lif2 = RLeaky(beta=0.5, all_to_all=False, V=0.5) (one learnable self-connection V).
# num_inputs/num_hidden/num_outputs/num_steps are not defined in the docstring: 784/1000/10/25
# as in tutorial 5.
def snntorch_rleaky_docstring() -> nn.Module:
    import snntorch as snn

    num_inputs, num_hidden, num_outputs, num_steps = 784, 1000, 10, 25
    beta = 0.5
    V1 = 0.5

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(num_inputs, num_hidden)
            self.lif1 = snn.RLeaky(beta=beta, linear_features=num_hidden)
            self.fc2 = nn.Linear(num_hidden, num_outputs)
            self.lif2 = snn.RLeaky(beta=beta, all_to_all=False, V=V1)

        def forward(self, x):
            spk1, mem1 = self.lif1.init_rleaky()
            spk2, mem2 = self.lif2.init_rleaky()
            spk2_rec, mem2_rec = [], []
            for step in range(num_steps):
                cur1 = self.fc1(x)
                spk1, mem1 = self.lif1(cur1, spk1, mem1)
                cur2 = self.fc2(spk1)
                spk2, mem2 = self.lif2(cur2, spk2, mem2)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return torch.stack(spk2_rec), torch.stack(mem2_rec)

    return Net()


# jeshraghian/snntorch snntorch/_neurons/rsynaptic.py, the RSynaptic class docstring
# "Example" (API reference). The docstring constructs snn.RLeaky (a copy-paste slip) but
# calls init_rsynaptic() and passes (spk, syn, mem): fixed to snn.RSynaptic with alpha=0.9
# (the Synaptic docstring's value; the RSynaptic docstring leaves alpha undefined).
def snntorch_rsynaptic_docstring() -> nn.Module:
    import snntorch as snn

    num_inputs, num_hidden, num_outputs, num_steps = 784, 1000, 10, 25
    alpha, beta = 0.9, 0.5
    V1 = 0.5

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(num_inputs, num_hidden)
            self.lif1 = snn.RSynaptic(alpha=alpha, beta=beta, linear_features=num_hidden)
            self.fc2 = nn.Linear(num_hidden, num_outputs)
            self.lif2 = snn.RSynaptic(alpha=alpha, beta=beta, all_to_all=False, V=V1)

        def forward(self, x):
            spk1, syn1, mem1 = self.lif1.init_rsynaptic()
            spk2, syn2, mem2 = self.lif2.init_rsynaptic()
            spk2_rec, mem2_rec = [], []
            for step in range(num_steps):
                cur1 = self.fc1(x)
                spk1, syn1, mem1 = self.lif1(cur1, spk1, syn1, mem1)
                cur2 = self.fc2(spk1)
                spk2, syn2, mem2 = self.lif2(cur2, spk2, syn2, mem2)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return torch.stack(spk2_rec), torch.stack(mem2_rec)

    return Net()


# jeshraghian/snntorch docs/examples/example_snn/example_snn_synaptic.rst, "Building
# Networks: Synaptic Conductance-based LIF Neuron": alpha=0.9, beta=0.85, 784-1000-10,
# num_steps=100, static x each step. Fix: init_synaptic(batch_size, num_hidden) (old API)
# -> init_synaptic(), which snnTorch 1.0 takes without arguments.
def snntorch_synaptic_example() -> nn.Module:
    import snntorch as snn

    alpha, beta = 0.9, 0.85
    num_inputs, num_hidden, num_outputs, num_steps = 784, 1000, 10, 100

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(num_inputs, num_hidden)
            self.lif1 = snn.Synaptic(alpha=alpha, beta=beta)
            self.fc2 = nn.Linear(num_hidden, num_outputs)
            self.lif2 = snn.Synaptic(alpha=alpha, beta=beta)

        def forward(self, x):
            syn1, mem1 = self.lif1.init_synaptic()
            syn2, mem2 = self.lif2.init_synaptic()
            spk2_rec, mem2_rec = [], []
            for step in range(num_steps):
                cur1 = self.fc1(x)
                spk1, syn1, mem1 = self.lif1(cur1, syn1, mem1)
                cur2 = self.fc2(spk1)
                spk2, syn2, mem2 = self.lif2(cur2, syn2, mem2)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)

    return Net()


# jeshraghian/snntorch docs/examples/example_snn/example_snn_lapicque1.rst, "Building
# Networks: Lapicque's Neuron": lif1 = Lapicque(beta=0.5), lif2 = Lapicque(R=1, C=1.44),
# 784-1000-10, num_steps=100, static x. As printed it cannot run: forward(x, mem1, spk1,
# mem2) is called as net(x), and spk2_rec / mem2_rec are never created. Fix: the state
# arguments default to None (Lapicque's own default) and the two lists are created.
def snntorch_lapicque_example() -> nn.Module:
    import snntorch as snn

    beta = 0.5
    R, C = 1, 1.44
    num_inputs, num_hidden, num_outputs, num_steps = 784, 1000, 10, 100

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(num_inputs, num_hidden)
            self.lif1 = snn.Lapicque(beta=beta)
            self.fc2 = nn.Linear(num_hidden, num_outputs)
            self.lif2 = snn.Lapicque(R=R, C=C)

        def forward(self, x, mem1=None, spk1=None, mem2=None):
            spk2_rec, mem2_rec = [], []
            for step in range(num_steps):
                cur1 = self.fc1(x)
                spk1, mem1 = self.lif1(cur1, mem1)
                cur2 = self.fc2(spk1)
                spk2, mem2 = self.lif2(cur2, mem2)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)

    return Net()


# jeshraghian/snntorch snntorch/_neurons/alpha.py, the Alpha class docstring "Example"
# (API reference): the nn.Sequential option with init_hidden=True, alpha=0.9, beta=0.8;
# num_inputs/num_hidden/num_outputs undefined there: 784/1000/10. Input: MNIST rate-coded
# with snntorch.spikegen.rate (tutorial 1), num_steps=25.
def snntorch_alpha_sequential() -> nn.Module:
    import snntorch as snn

    alpha, beta = 0.9, 0.8
    num_inputs, num_hidden, num_outputs = 784, 1000, 10
    return nn.Sequential(
        nn.Linear(num_inputs, num_hidden),
        snn.Alpha(alpha=alpha, beta=beta, init_hidden=True),
        nn.Linear(num_hidden, num_outputs),
        snn.Alpha(alpha=alpha, beta=beta, init_hidden=True, output=True),
    )


# jeshraghian/snntorch examples/tutorial_sae.ipynb (docs/tutorials/tutorial_sae.rst),
# "Spiking Autoencoder (SAE) using snnTorch": the final SAE: Conv2d -> BatchNorm2d -> Leaky
# encoder, Linear latent, ConvTranspose2d -> BatchNorm2d -> Leaky decoder, two time loops
# (encode num_steps=5, decode num_steps=5), MNIST resized to 32x32, beta=0.5, threshold=1,
# latent_dim=32, atan(alpha=2.0); decoder's last Leaky has threshold=20000 ("make large so
# membrane can be trained": it never spikes but is a Leaky, counted as spiking here).
def snntorch_sae() -> nn.Module:
    import snntorch as snn
    from snntorch import surrogate, utils

    spike_grad = surrogate.atan(alpha=2.0)
    beta, num_steps, latent_dim, thresh = 0.5, 5, 32, 1

    def leaky(**kw):
        return snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True, **kw)

    class SAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(
                nn.Conv2d(1, 32, 3, padding=1, stride=2),
                nn.BatchNorm2d(32),
                leaky(threshold=thresh),
                nn.Conv2d(32, 64, 3, padding=1, stride=2),
                nn.BatchNorm2d(64),
                leaky(threshold=thresh),
                nn.Conv2d(64, 128, 3, padding=1, stride=2),
                nn.BatchNorm2d(128),
                leaky(threshold=thresh),
                nn.Flatten(start_dim=1, end_dim=3),
                nn.Linear(2048, latent_dim),
                leaky(output=True, threshold=thresh),
            )
            self.linearNet = nn.Sequential(
                nn.Linear(latent_dim, 128 * 4 * 4), leaky(output=True, threshold=thresh)
            )
            self.decoder = nn.Sequential(
                nn.Unflatten(1, (128, 4, 4)),
                leaky(threshold=thresh),
                nn.ConvTranspose2d(128, 64, 3, padding=1, stride=(2, 2), output_padding=1),
                nn.BatchNorm2d(64),
                leaky(threshold=thresh),
                nn.ConvTranspose2d(64, 32, 3, padding=1, stride=(2, 2), output_padding=1),
                nn.BatchNorm2d(32),
                leaky(threshold=thresh),
                nn.ConvTranspose2d(32, 1, 3, padding=1, stride=(2, 2), output_padding=1),
                leaky(output=True, threshold=20000),
            )

        def forward(self, x):
            utils.reset(self.encoder)
            utils.reset(self.decoder)
            utils.reset(self.linearNet)
            spk_mem, spk_rec = [], []
            for step in range(num_steps):
                spk_x, mem_x = self.encode(x)
                spk_rec.append(spk_x)
                spk_mem.append(mem_x)
            spk_rec = torch.stack(spk_rec, dim=2)
            spk_mem = torch.stack(spk_mem, dim=2)
            spk_mem2, spk_rec2 = [], []
            for step in range(num_steps):
                x_recon, x_mem_recon = self.decode(spk_rec[..., step])
                spk_rec2.append(x_recon)
                spk_mem2.append(x_mem_recon)
            spk_rec2 = torch.stack(spk_rec2, dim=4)
            spk_mem2 = torch.stack(spk_mem2, dim=4)
            return spk_mem2[:, :, :, :, -1]

        def encode(self, x):
            spk_latent_x, mem_latent_x = self.encoder(x)
            return spk_latent_x, mem_latent_x

        def decode(self, x):
            spk_x, mem_x = self.linearNet(x)
            spk_x2, mem_x2 = self.decoder(spk_x)
            return spk_x2, mem_x2

    return SAE()


# jeshraghian/snntorch docs/tutorials/tutorial_ssc.rst (at commit c0f829f2), "Spiking Speech
# Commands (SSC) classification": nn.Sequential of Linear -> Leaky(beta=0.95, atan(alpha=2),
# init_hidden=True), hidden=512, 4 hidden layers, nn.Dropout(0.4) before Linear(512, 35);
# the forward loop `for i in range(data.size(0)): net(data[i])` over tonic frames
# [T=83, B, 1, channels]. downsample_factor=1 ("Change as needed") keeps all 700 channels.
def snntorch_ssc() -> nn.Module:
    import snntorch as snn

    downsample_factor = 1
    inputs = int(700 * downsample_factor)
    hidden, outputs, beta = 512, 35, 0.95
    surrogate = snn.surrogate.atan(alpha=2)
    return nn.Sequential(
        nn.Linear(inputs, hidden),
        snn.Leaky(beta=beta, spike_grad=surrogate, init_hidden=True),
        nn.Linear(hidden, hidden),
        snn.Leaky(beta=beta, spike_grad=surrogate, init_hidden=True),
        nn.Linear(hidden, hidden),
        snn.Leaky(beta=beta, spike_grad=surrogate, init_hidden=True),
        nn.Linear(hidden, hidden),
        snn.Leaky(beta=beta, spike_grad=surrogate, init_hidden=True),
        nn.Dropout(0.4),
        nn.Linear(hidden, outputs),
        snn.Leaky(beta=beta, spike_grad=surrogate, init_hidden=True, output=True),
    )


def _rate_coded_mnist(steps: int) -> Callable[[int], Tensor]:
    def data(b: int) -> Tensor:
        from snntorch import spikegen

        return spikegen.rate(mnist_images(b).view(b, -1), num_steps=steps)

    return data


SNNTORCH_CASES = [
    InteropCase(
        "snntorch_tutorial5_fc", "snntorch",
        "jeshraghian/snntorch examples/tutorial_5_FCN.ipynb (Tutorial 5)",
        _seeded(snntorch_tutorial5), lambda b: mnist_images(b).view(b, -1),
        static=True, notes="static image [B, 784] repeated 25 steps inside forward; Leaky",
    ),
    InteropCase(
        "snntorch_tutorial6_class_batch128", "snntorch",
        "jeshraghian/snntorch examples/tutorial_6_CNN.ipynb (Tutorial 6, class Net)",
        _seeded(snntorch_tutorial6_class), mnist_images, static=True,
        fixed_batch=TUT6_BATCH_SIZE,
        notes="conv -> F.max_pool2d -> Leaky; spk2.view(batch_size=128, -1) hard-coded; "
        "forward is ONE step from a zero membrane (init_leaky() at each call)",
    ),
    InteropCase(
        "snntorch_tutorial6_sequential", "snntorch",
        "jeshraghian/snntorch examples/tutorial_6_CNN.ipynb (Tutorial 6, nn.Sequential)",
        _seeded(snntorch_tutorial6_sequential), lambda b: _repeat(mnist_images(b), 50),
        convention="step",
        notes="init_hidden=True Sequential, Conv->MaxPool2d->Leaky; the tutorial feeds the "
        "same image at each of 50 steps: data is that repetition [50, B, 1, 28, 28]",
        slow=True,
    ),
    InteropCase(
        "snntorch_tutorial7_nmnist", "snntorch",
        "jeshraghian/snntorch examples/tutorial_7_neuromorphic_datasets.ipynb (Tutorial 7)",
        _seeded(snntorch_tutorial7),
        _seeded_data(lambda b: poisson((30, b, 2, 34, 34), 0.03)),
        convention="step",
        notes="DVS-like N-MNIST frames [T, B, 2, 34, 34]; T=30 instead of ~300 (1 ms "
        "frames); Conv->Leaky->MaxPool2d (pool after the neuron); atan surrogate",
    ),
    InteropCase(
        "snntorch_quickstart_conv", "snntorch",
        "jeshraghian/snntorch examples/quickstart.ipynb (Quickstart, conv Sequential)",
        _seeded(snntorch_quickstart_conv), lambda b: _repeat(mnist_images(b), 25),
        convention="step", notes="forward_pass(net, data, num_steps=25): same image each step",
    ),
    InteropCase(
        "snntorch_quickstart_fc_learn_beta", "snntorch",
        "jeshraghian/snntorch examples/quickstart.ipynb (Quickstart, class Net)",
        _seeded(snntorch_quickstart_fc), mnist_images, static=True,
        notes="[B, 1, 28, 28] flattened inside the loop; layer-2 beta per neuron, learnable",
    ),
    InteropCase(
        "snntorch_regression2_rleaky", "snntorch",
        "jeshraghian/snntorch examples/tutorial_regression_2.ipynb (Regression Part II)",
        _seeded(snntorch_regression2), lambda b: mnist_images(b).flatten(1), static=True,
        notes="RLeaky all-to-all (recurrent nn.Linear inside the neuron); static [B, 784] "
        "repeated 50 steps inside forward",
        slow=True,
    ),
    InteropCase(
        "snntorch_rleaky_docstring", "snntorch",
        "jeshraghian/snntorch snntorch/_neurons/rleaky.py (RLeaky docstring Example)",
        _seeded(snntorch_rleaky_docstring), lambda b: mnist_images(b).view(b, -1),
        static=True, notes="RLeaky all_to_all and one-to-one V=0.5 (RecurrentOneToOne)",
        batch=1,
    ),
    InteropCase(
        "snntorch_rsynaptic_docstring", "snntorch",
        "jeshraghian/snntorch snntorch/_neurons/rsynaptic.py (RSynaptic docstring Example)",
        _seeded(snntorch_rsynaptic_docstring), lambda b: mnist_images(b).view(b, -1),
        static=True, notes="docstring builds snn.RLeaky by mistake: fixed to RSynaptic",
        batch=1,
    ),
    InteropCase(
        "snntorch_synaptic_example", "snntorch",
        "jeshraghian/snntorch docs/examples/example_snn/example_snn_synaptic.rst",
        _seeded(snntorch_synaptic_example), lambda b: mnist_images(b).view(b, -1),
        static=True, notes="Synaptic alpha=0.9 beta=0.85, 100 steps; init_synaptic() fix",
        batch=1,
    ),
    InteropCase(
        "snntorch_lapicque_example", "snntorch",
        "jeshraghian/snntorch docs/examples/example_snn/example_snn_lapicque1.rst",
        _seeded(snntorch_lapicque_example), lambda b: mnist_images(b).view(b, -1),
        static=True,
        notes="Lapicque(beta=0.5) and Lapicque(R=1, C=1.44); update uses 1-dt/RC and dt/C, "
        "not beta; state args given None defaults so net(x) runs",
        batch=1,
    ),
    InteropCase(
        "snntorch_alpha_sequential", "snntorch",
        "jeshraghian/snntorch snntorch/_neurons/alpha.py (Alpha docstring, Sequential)",
        _seeded(snntorch_alpha_sequential), _seeded_data(_rate_coded_mnist(25)),
        convention="step", time_dim=0,
        notes="Alpha (default reset 'zero'); MNIST rate-coded by snntorch.spikegen.rate "
        "[25, B, 784]",
    ),
    InteropCase(
        "snntorch_sae_batchnorm", "snntorch",
        "jeshraghian/snntorch examples/tutorial_sae.ipynb (Spiking Autoencoder)",
        _seeded(snntorch_sae), lambda b: mnist_images(b, 32), static=True,
        encoders=("decoder.1",),
        notes="Conv->BatchNorm2d->Leaky, ConvTranspose2d->BatchNorm2d->Leaky, two time "
        "loops; last Leaky threshold=20000 never spikes; decoder.1 is a Leaky with no "
        "weight before it (fed the latent spikes through Unflatten)",
        slow=True,
    ),
    InteropCase(
        "snntorch_ssc_shd_like", "snntorch",
        "jeshraghian/snntorch docs/tutorials/tutorial_ssc.rst (SSC tutorial, commit c0f829f2)",
        _seeded(snntorch_ssc), _seeded_data(lambda b: poisson((83, b, 1, 700), 0.05)),
        convention="step", time_dim=0,
        notes="SHD/SSC-like Poisson frames [83, B, 1, 700]; Dropout(0.4) between the last "
        "Leaky and Linear; 5 Leaky layers",
        slow=True,
    ),
]  # fmt: skip


# =============================================================================
# Norse
# =============================================================================


# norse/norse README.md, "2.3. Example: Spiking convolutional classifier" (taken from the
# norse/notebooks mnist_classifiers tutorial): SequentialState of Conv2d, LIFCell,
# MaxPool2d, ..., Linear(800, 10), LICell. Run with the state carried, image each step.
def norse_readme_conv() -> nn.Module:
    from norse.torch import LICell, LIFCell, SequentialState

    return SequentialState(
        nn.Conv2d(1, 20, 5, 1),
        LIFCell(),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(20, 50, 5, 1),
        LIFCell(),
        nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(800, 10),
        LICell(),
    )


# norse/notebooks intro_norse.ipynb, "Introduction to Norse": SequentialState(Conv2d(3, 6, 7),
# LIFCell, Conv2d(6, 12, 7), LIFCell, Flatten, Linear(3072, 10, bias=False)); data
# torch.randn(8, 3, 28, 28) fed for 32 steps with `output, state = model(data, state)`.
def norse_intro() -> nn.Module:
    import norse.torch as norse

    return norse.SequentialState(
        nn.Conv2d(3, 6, 7, 1),
        norse.LIFCell(),
        nn.Conv2d(6, 12, 7, 1),
        norse.LIFCell(),
        nn.Flatten(1),
        nn.Linear(3072, 10, bias=False),
    )


# norse/notebooks high-performance-computing.ipynb, "SpikingModel": SequentialState(
# ConstantCurrentLIFEncoder(seq_length=32), norse.ConvNet()) on MNIST normalised with
# (0.1307, 0.3081). norse.ConvNet is norse/torch/models/conv.py::ConvNet (package model
# zoo): conv -> LIFCell -> F.max_pool2d -> 10 * conv -> LIFCell -> ... -> LILinearCell.
def norse_hpc_convnet() -> nn.Module:
    import norse.torch as norse

    return norse.SequentialState(
        norse.ConstantCurrentLIFEncoder(seq_length=32),
        norse.ConvNet(),
    )


# norse/norse norse/task/mnist.py::LIFConvNet (package task, imported as a user would):
# ConstantCurrentLIFEncoder(seq_length) inside forward, ConvNet4 (v_th=0.7 conv layers,
# 10 * conv2, F.max_pool2d, LILinearCell readout). CLI defaults seq_length=200, scale 1.
def norse_task_mnist() -> nn.Module:
    from norse.task.mnist import LIFConvNet

    return LIFConvNet(input_features=28 * 28, seq_length=200, input_scale=1.0)


# norse/norse norse/task/cifar10.py::LIFConvNet (a pl.LightningModule; only __init__ and
# forward transcribed, as nn.Module): SequentialState of bias-free Conv2d, LIFCell(p) with
# p = LIFParameters(v_th=0.4), MaxPool2d; classification SequentialState(Linear(4096, 10,
# bias=False), LICell()); static image, seq_length=128 steps inside forward, 0.001 noise.
def norse_task_cifar10() -> nn.Module:
    from norse.torch import LICell, LIFCell, LIFParameters, SequentialState

    class LIFConvNet(nn.Module):
        def __init__(self, seq_length, num_channels, p):
            super().__init__()
            self.seq_length = seq_length
            self.p = p
            c = 64
            c = [c, 2 * c, 4 * c, 4 * c]
            self.features = SequentialState(
                nn.Conv2d(num_channels, c[0], kernel_size=3, stride=1, padding=1, bias=False),
                LIFCell(p),
                nn.Conv2d(c[0], c[1], kernel_size=3, stride=1, padding=1, bias=False),
                LIFCell(p),
                nn.MaxPool2d(2),
                nn.Conv2d(c[1], c[2], kernel_size=3, stride=1, padding=1, bias=False),
                LIFCell(p),
                nn.MaxPool2d(2),
                nn.Conv2d(c[2], c[3], kernel_size=3, stride=1, padding=1, bias=False),
                LIFCell(p),
                nn.MaxPool2d(2),
                nn.Flatten(),
            )
            self.classification = SequentialState(nn.Linear(4096, 10, bias=False), LICell())

        def forward(self, x):
            voltages = torch.empty(self.seq_length, x.shape[0], 10, device=x.device, dtype=x.dtype)
            sf = None
            sc = None
            for ts in range(self.seq_length):
                out_f, sf = self.features(x, sf)
                out_c, sc = self.classification(out_f, sc)
                voltages[ts, :, :] = out_c + 0.001 * torch.randn(x.shape[0], 10, device=x.device)
            y_hat, _ = torch.max(voltages, 0)
            return y_hat

    return LIFConvNet(seq_length=128, num_channels=3, p=LIFParameters(v_th=torch.as_tensor(0.4)))


class _NorseSNNRecurrent(nn.Module):
    """norse/notebooks mnist_classifiers.ipynb and poker-dvs_classifier.ipynb, class SNN:
    LIFRecurrentCell -> Linear(bias=False) -> LICell over x[ts].view(-1, input_features)
    (the notebooks' optional recording of states is left out)."""

    def __init__(self, input_features, hidden_features, output_features, p, dt=0.001):
        from norse.torch import LICell, LIFRecurrentCell

        super().__init__()
        self.l1 = LIFRecurrentCell(input_features, hidden_features, p=p, dt=dt)
        self.input_features = input_features
        self.fc_out = nn.Linear(hidden_features, output_features, bias=False)
        self.out = LICell(dt=dt)
        self.hidden_features = hidden_features
        self.output_features = output_features

    def forward(self, x):
        seq_length, batch_size, _, _, _ = x.shape
        s1 = so = None
        voltages = []
        for ts in range(seq_length):
            z = x[ts, :, :, :].view(-1, self.input_features)
            z, s1 = self.l1(z, s1)
            z = self.fc_out(z)
            vo, so = self.out(z, so)
            voltages += [vo]
        return torch.stack(voltages)


def _norse_decode(x):
    x, _ = torch.max(x, 0)
    return F.log_softmax(x, dim=1)


# norse/notebooks mnist_classifiers.ipynb, "Training an MNIST classifier" (first model):
# Model(encoder=ConstantCurrentLIFEncoder(seq_length=T=32), snn=SNN(784, 100, 10) with
# LIFRecurrentCell p=LIFParameters(alpha=100, v_th=0.5), decoder=max-over-time log-softmax).
def norse_mnist_recurrent() -> nn.Module:
    from norse.torch import ConstantCurrentLIFEncoder, LIFParameters

    class Model(nn.Module):
        def __init__(self, encoder, snn, decoder):
            super().__init__()
            self.encoder = encoder
            self.snn = snn
            self.decoder = decoder

        def forward(self, x):
            x = self.encoder(x)
            x = self.snn(x)
            return self.decoder(x)

    p = LIFParameters(alpha=100, v_th=torch.tensor(0.5))
    return Model(
        encoder=ConstantCurrentLIFEncoder(seq_length=32),
        snn=_NorseSNNRecurrent(28 * 28, 100, 10, p=p, dt=0.001),
        decoder=_norse_decode,
    )


# norse/notebooks poker-dvs_classifier.ipynb, "Classifying Poker-DVS": SNN(2 * 35 * 35, 100,
# 4) with LIFRecurrentCell p = LIFParameters(alpha=100, v_th=0.3, tau_syn_inv=1/1e-2,
# tau_mem_inv=1/1e-2), LICell readout; DVS frames [T, B, 2, 35, 35] (time_window=1000 us).
def norse_poker_dvs() -> nn.Module:
    from norse.torch import LIFParameters

    class Model(nn.Module):
        def __init__(self, snn, decoder):
            super().__init__()
            self.snn = snn
            self.decoder = decoder

        def forward(self, x):
            x = self.snn(x)
            return self.decoder(x)

    p = LIFParameters(
        alpha=100, v_th=torch.as_tensor(0.3),
        tau_syn_inv=torch.tensor(1 / 1e-2), tau_mem_inv=torch.tensor(1 / 1e-2),
    )  # fmt: skip
    return Model(snn=_NorseSNNRecurrent(2 * 35 * 35, 100, 4, p=p, dt=1e-3), decoder=_norse_decode)


# norse/notebooks parameter-learning.ipynb, "OddFiringModel": SequentialState(Linear(100, 200),
# LIF(p), Linear(200, 100), LIF(p)) run on a whole time-first sequence (LIF, not the cell).
def norse_odd_firing() -> nn.Module:
    import norse.torch as norse

    class OddFiringModel(nn.Module):
        def __init__(self, p=norse.LIFParameters()):
            super().__init__()
            self.model = norse.SequentialState(
                nn.Linear(100, 200), norse.LIF(p=p), nn.Linear(200, 100), norse.LIF(p=p)
            )

        def forward(self, x):
            return self.model(x)

    return OddFiringModel()


# norse/notebooks parameter-learning.ipynb, "OddFiringModelWithParameters": per-neuron
# learnable tau_mem_inv (nn.Parameter of 200 and 100 values) in LIFParameters.
def norse_odd_firing_params() -> nn.Module:
    import norse.torch as norse

    class OddFiringModelWithParameters(nn.Module):
        def __init__(self):
            super().__init__()
            p1 = norse.LIFParameters(
                tau_mem_inv=nn.Parameter(torch.full((200,), torch.as_tensor(1.0 / 1e-2)))
            )
            p2 = norse.LIFParameters(
                tau_mem_inv=nn.Parameter(torch.full((100,), torch.as_tensor(1.0 / 1e-2)))
            )
            self.model = norse.SequentialState(
                nn.Linear(100, 200), norse.LIF(p=p1), nn.Linear(200, 100), norse.LIF(p=p2)
            )

        def forward(self, x):
            return self.model(x)

    return OddFiringModelWithParameters()


# norse/norse README.md, "2.4. Example: Long short-term spiking neural networks":
# layer = LSNNRecurrent(2, 10); data [20 steps, 8 batch, 2]; output, new_state = layer(data).
def norse_readme_lsnn() -> nn.Module:
    from norse.torch import LSNNRecurrent

    return LSNNRecurrent(2, 10)


# norse/norse norse/torch/module/test/test_sequential.py::test_state_sequence_norse (the
# framework's own test): SequentialState(LIFRecurrent(10, 5), LSNNRecurrent(5, 1)) on [10, 2, 10].
# (Adapted source: no Norse tutorial network uses the non-cell LIFRecurrent.)
def norse_test_lifrec_lsnnrec() -> nn.Module:
    import norse.torch as norse

    return norse.SequentialState(norse.LIFRecurrent(10, 5), norse.LSNNRecurrent(5, 1))


# norse/norse norse/torch/module/test/test_sequential.py::test_sequential_compile (the
# framework's own test; no Norse tutorial uses LIFBoxCell, which Norse otherwise builds only
# when importing NIR LIF nodes, norse/torch/utils/import_nir.py): SequentialState(
# Linear(2, 1), LIFBoxCell()), run as `z, s = m(x); _, s = m(x, s)`.
def norse_test_lifbox() -> nn.Module:
    import norse.torch as norse

    return norse.SequentialState(nn.Linear(2, 1), norse.LIFBoxCell())


# norse/norse norse/torch/module/test/test_lift.py::test_lift_sequential (the framework's own
# test): torch.nn.Sequential(Lift(Conv2d(64, 32, 5, 1)), LIF()) on randn(20, 16, 64, 20, 30);
# returns LIF's (output, state) tuple.
def norse_test_lift() -> nn.Module:
    from norse.torch import LIF, Lift

    return nn.Sequential(Lift(nn.Conv2d(64, 32, 5, 1)), LIF())


# ADAPTED: norse/notebooks parameter-learning.ipynb OddFiringModel with the feed-forward
# norse.LSNN (norse/torch/module/lsnn.py; used alone in norse/torch/module/test/test_lsnn.py)
# in place of the first LIF and norse.LI (docs/pages/spiking.ipynb uses norse.torch.LI() as
# an activation) as the readout. No Norse tutorial network uses LSNN or LI.
def norse_adapted_lsnn_li() -> nn.Module:
    import norse.torch as norse

    return norse.SequentialState(nn.Linear(100, 200), norse.LSNN(), nn.Linear(200, 100), norse.LI())


# norse/norse norse/task/memory.py::MemoryNet / LSNNLIFNet (a pl.LightningModule; only
# __init__ and forward transcribed): neuron_model="lsnnlif" (default): LIFRecurrentCell and
# LSNNRecurrentCell side by side on the same input, spikes concatenated, LILinearCell
# readout. BATCH-FIRST: forward iterates x.unbind(1). Defaults: population_size=5 (20
# inputs), dt=0.001, v_th=0.5, tau_adapt_inv=1/exp(2000 dt), beta=1.8, seq_length=200.
def norse_task_memory() -> nn.Module:
    from norse.torch import (
        LIFParameters,
        LIFRecurrentCell,
        LILinearCell,
        LIParameters,
        LSNNParameters,
        LSNNRecurrentCell,
    )

    class LSNNLIFNet(nn.Module):
        def __init__(self, input_features, p_lsnn, p_lif, dt):
            super().__init__()
            assert input_features % 2 == 0, "Input features must be a whole number"
            self.neurons_per_layer = input_features // 2
            self.lsnn_cell = LSNNRecurrentCell(
                input_features, self.neurons_per_layer, p_lsnn, dt=dt
            )
            self.lif_cell = LIFRecurrentCell(input_features, self.neurons_per_layer, p_lif, dt=dt)

        def forward(self, input_spikes, state):
            if state is None:
                lif_state = None
                lsnn_state = None
            else:
                lif_state, lsnn_state = state
            lif_out, lif_state = self.lif_cell(input_spikes, lif_state)
            lsnn_out, lsnn_state = self.lsnn_cell(input_spikes, lsnn_state)
            out_spikes = torch.cat((lif_out, lsnn_out), -1)
            return out_spikes, (lif_state, lsnn_state)

    class MemoryNet(nn.Module):
        def __init__(
            self, input_features, output_features, seq_length=200, dt=0.001, model="super"
        ):
            super().__init__()
            self.input_features = input_features
            self.output_features = output_features
            self.seq_length = seq_length
            p_lsnn = LSNNParameters(
                method=model,
                v_th=torch.as_tensor(0.5),
                tau_adapt_inv=1 / torch.as_tensor(2000 * dt).exp(),
                beta=torch.as_tensor(1.8),
            )
            p_lif = LIFParameters(method=model, v_th=torch.as_tensor(0.5))
            p_li = LIParameters()
            self.layer = LSNNLIFNet(input_features, p_lsnn=p_lsnn, p_lif=p_lif, dt=dt)
            self.capture_b = True
            self.readout = LILinearCell(input_features, output_features, p=p_li)

        def forward(self, x):
            sl = None
            sr = None
            seq_spikes, step_spikes, seq_readouts, step_readouts, seq_betas = [], [], [], [], []
            for index, x_step in enumerate(x.unbind(1)):
                spikes, sl = self.layer(x_step, sl)
                seq_spikes.append(spikes)
                v, sr = self.readout(spikes, sr)
                seq_readouts.append(v)
                if (index + 1) % self.seq_length == 0:
                    step_spikes.append(torch.stack(seq_spikes))
                    seq_spikes = []
                    step_readouts.append(torch.stack(seq_readouts))
                    seq_readouts = []
                if self.capture_b:
                    seq_betas.append(sl[1].b.clone().detach().cpu())
            spikes = torch.cat(step_spikes)
            readouts = torch.stack(step_readouts)
            betas = torch.stack(seq_betas) if len(seq_betas) > 0 else None
            return spikes, readouts, betas

    return MemoryNet(4 * 5, 2)


def _memory_data(b: int) -> Tensor:
    # norse.dataset.memory.MemoryStoreRecallDataset(samples, seq_length=200, seq_periods,
    # seq_repetitions=1, population_size=5, poisson_rate=100, dt=0.001) batched by a
    # DataLoader -> [B, T, 20]; seq_periods=2 (CLI default 12, i.e. T=2400; 1 is invalid)
    # keeps T=400.
    from norse.dataset.memory import MemoryStoreRecallDataset

    ds = MemoryStoreRecallDataset(b, 200, 2, 1, 5, poisson_rate=100, dt=0.001)
    return torch.stack([ds[i][0] for i in range(b)])


# norse/norse norse/task/speech_commands/model.py::lsnn_model (package, imported as a user
# would; run.py uses n_output=13): LSNNRecurrentCell(80, 128) -> LILinearCell(128, 13) over
# x[ts]; input: 80 features per step (mel bins), here Poisson spikes, T=100 (1 s, 10 ms hop).
def norse_speech_lsnn() -> nn.Module:
    from norse.task.speech_commands.model import lsnn_model

    return lsnn_model(n_output=13)


# norse/norse norse/torch/models/vgg.py::vgg11_bn (package model zoo): Lift(Conv2d),
# Lift(BatchNorm2d), LIF() in nn.Sequential, Lift(MaxPool2d), Lift(AdaptiveAvgPool2d(7, 7)),
# classifier Lift(Linear) / LIF() / Lift(Dropout); 133 M parameters. Input [T, B, 3, H, W].
def norse_vgg11_bn() -> nn.Module:
    from norse.torch.models.vgg import vgg11_bn

    return vgg11_bn()


NORSE_CASES = [
    InteropCase(
        "norse_readme_conv_sequentialstate", "norse",
        "norse/norse README.md (2.3 Spiking convolutional classifier)",
        _seeded(norse_readme_conv), lambda b: _repeat(mnist_images(b), 32),
        readouts=("8",), convention="step",
        notes="SequentialState of LIFCell with state carried; image fed 32 steps (the README "
        "shows one call; T=32 as in the notebooks)",
        batch=1,
    ),
    InteropCase(
        "norse_intro_sequentialstate", "norse",
        "norse/notebooks intro_norse.ipynb (Introduction to Norse)",
        _seeded(norse_intro), _seeded_data(lambda b: _repeat(torch.randn(b, 3, 28, 28), 32)),
        no_neuron_weights=("5",), convention="step",
        notes="randn images [B, 3, 28, 28] fed 32 steps, state carried; Linear(3072, 10) "
        "is the output (no neuron after it)",
    ),
    InteropCase(
        "norse_hpc_encoder_convnet", "norse",
        "norse/notebooks high-performance-computing.ipynb + norse/torch/models/conv.py ConvNet",
        _seeded(norse_hpc_convnet), lambda b: (mnist_images(b) - 0.1307) / 0.3081,
        readouts=("1.out",), encoders=("0",), static=True,
        slow=True,
        notes="ConstantCurrentLIFEncoder(32) inside the model; 10 * conv2(z) between "
        "weight and neuron; F.max_pool2d; LILinearCell readout",
    ),
    InteropCase(
        "norse_mnist_notebook_lifrecurrentcell", "norse",
        "norse/notebooks mnist_classifiers.ipynb (Model with SNN, ConstantCurrentLIFEncoder)",
        _seeded(norse_mnist_recurrent), mnist_normalized, readouts=("snn.out",),
        encoders=("encoder",), static=True,
        notes="static image encoded by ConstantCurrentLIFEncoder(32) inside forward; "
        "LIFRecurrentCell (own input/recurrent weights) -> Linear(bias=False) -> LICell",
    ),
    InteropCase(
        "norse_poker_dvs_lifrecurrentcell", "norse",
        "norse/notebooks poker-dvs_classifier.ipynb (SNN)",
        _seeded(norse_poker_dvs), _seeded_data(lambda b: poisson((40, b, 2, 35, 35), 0.02)),
        readouts=("snn.out",), notes="DVS-like frames [40, B, 2, 35, 35]",
    ),
    InteropCase(
        "norse_odd_firing_lif", "norse",
        "norse/notebooks parameter-learning.ipynb (OddFiringModel)",
        _seeded(norse_odd_firing), _seeded_data(lambda b: poisson((32, b, 100), 0.1)),
        notes="notebook data is ones(32, 100) (T=32, no batch); here Poisson [32, B, 100]",
    ),
    InteropCase(
        "norse_odd_firing_lif_tau_params", "norse",
        "norse/notebooks parameter-learning.ipynb (OddFiringModelWithParameters)",
        _seeded(norse_odd_firing_params), _seeded_data(lambda b: poisson((32, b, 100), 0.1)),
        notes="per-neuron tau_mem_inv nn.Parameter",
    ),
    InteropCase(
        "norse_readme_lsnnrecurrent", "norse",
        "norse/norse README.md (2.4 Long short-term spiking neural networks)",
        _seeded(norse_readme_lsnn), _seeded_data(lambda b: poisson((20, b, 2), 0.2)),
        notes="a single LSNNRecurrent(2, 10) layer with its own weights; README data is "
        "zeros(20, 8, 2), here Poisson",
    ),
    InteropCase(
        "norse_test_lifrecurrent_lsnnrecurrent", "norse",
        "norse/norse norse/torch/module/test/test_sequential.py::test_state_sequence_norse",
        _seeded(norse_test_lifrec_lsnnrec), _seeded_data(lambda b: poisson((100, b, 10), 0.2)),
        notes="adapted source (framework test); LIFRecurrent then LSNNRecurrent; 100 steps "
        "instead of the test's 10: at dt = 1 ms, 10 steps are a fraction of tau_mem = 10 ms "
        "and the first layer cannot fire, so nothing would reach the second",
    ),
    InteropCase(
        "norse_test_lifboxcell", "norse",
        "norse/norse norse/torch/module/test/test_sequential.py::test_sequential_compile",
        _seeded(norse_test_lifbox), _seeded_data(lambda b: poisson((50, b, 2), 0.3)),
        convention="step", time_dim=0,
        notes="adapted source (framework test); LIFBoxCell, state carried",
    ),
    InteropCase(
        "norse_test_lift_conv_lif", "norse",
        "norse/norse norse/torch/module/test/test_lift.py::test_lift_sequential",
        _seeded(norse_test_lift), _seeded_data(lambda b: torch.randn(20, b, 64, 20, 30)),
        notes="nn.Sequential(Lift(Conv2d), LIF()) returning a tuple; randn input as the test",
    ),
    InteropCase(
        "norse_adapted_lsnn_li", "norse",
        "ADAPTED: norse/notebooks parameter-learning.ipynb with norse.LSNN and norse.LI",
        _seeded(norse_adapted_lsnn_li), _seeded_data(lambda b: poisson((32, b, 100), 0.1)),
        readouts=("3",), notes="feed-forward LSNN (adaptive threshold) and LI readout",
    ),
    InteropCase(
        "norse_task_memory_lsnn_lif_batch_first", "norse",
        "norse/norse norse/task/memory.py (MemoryNet, neuron_model=lsnnlif)",
        _seeded(norse_task_memory), _seeded_data(_memory_data), readouts=("readout",),
        slow=True,
        notes="BATCH-FIRST [B, 400, 20] (x.unbind(1)); store/recall data from "
        "norse.dataset.memory; LIF and LSNN recurrent cells in parallel, LILinearCell",
    ),
    InteropCase(
        "norse_speech_commands_lsnn", "norse",
        "norse/norse norse/task/speech_commands/model.py::lsnn_model",
        _seeded(norse_speech_lsnn), _seeded_data(lambda b: poisson((100, b, 80), 0.05)),
        readouts=("readout",), notes="LSNNRecurrentCell + LILinearCell; Poisson [100, B, 80]",
    ),
    InteropCase(
        "norse_task_mnist_convnet4", "norse",
        "norse/norse norse/task/mnist.py::LIFConvNet (+ norse/torch/models/conv.py ConvNet4)",
        _seeded(norse_task_mnist), mnist_normalized, readouts=("rsnn.out",),
        encoders=("constant_current_encoder",), static=True, slow=True,
        notes="200 steps inside forward; ConvNet4 v_th=0.7, 10 * conv2; images normalised "
        "with (0.1307, 0.3081) as norse/task/mnist.py's loaders do",
    ),
    InteropCase(
        "norse_task_cifar10", "norse",
        "norse/norse norse/task/cifar10.py::LIFConvNet",
        _seeded(norse_task_cifar10), _seeded_data(lambda b: torch.rand(b, 3, 32, 32)),
        readouts=("classification.1",), static=True, slow=True,
        notes="CIFAR-like random images; 128 steps inside forward; bias-free convs, v_th=0.4",
    ),
    InteropCase(
        "norse_vgg11_bn_lift", "norse",
        "norse/norse norse/torch/models/vgg.py::vgg11_bn",
        _seeded(norse_vgg11_bn), _seeded_data(lambda b: torch.rand(4, b, 3, 32, 32)),
        no_neuron_weights=("classifier.6.lifted_module",), slow=True,
        notes="Lift(Conv)/Lift(BN)/LIF; 32x32 instead of 224x224, T=4",
    ),
]  # fmt: skip


# =============================================================================
# SpikingJelly (activation_based, 2.0)
# =============================================================================


# fangwei123456/spikingjelly spikingjelly/activation_based/examples/lif_fc_mnist.py
# (docs/source/tutorials/en/lif_fc_mnist.rst, "Single Fully Connected Layer SNN to Classify
# MNIST"): SNN(tau=2.0): Flatten, Linear(784, 10, bias=False), LIFNode(tau, ATan); single-step,
# the loop `for t in range(T): out_fr += net(encoder(img))` with PoissonEncoder, T=100.
def sj_lif_fc_mnist() -> nn.Module:
    from spikingjelly.activation_based import layer, neuron, surrogate

    class SNN(nn.Module):
        def __init__(self, tau):
            super().__init__()
            self.layer = nn.Sequential(
                layer.Flatten(),
                layer.Linear(28 * 28, 10, bias=False),
                neuron.LIFNode(tau=tau, surrogate_function=surrogate.ATan()),
            )

        def forward(self, x):
            return self.layer(x)

    return SNN(tau=2.0)


def _sj_poisson_mnist(b: int) -> Tensor:
    from spikingjelly.activation_based import encoding

    enc = encoding.PoissonEncoder()
    img = mnist_images(b)
    return torch.stack([enc(img) for _ in range(100)])


# fangwei123456/spikingjelly spikingjelly/activation_based/examples/conv_fashion_mnist.py
# (docs/source/tutorials/en/conv_fashion_mnist.rst, "Convolutional SNN to Classify FMNIST"):
# CSNN(T=4, channels=128): layer.Conv2d(bias=False) -> layer.BatchNorm2d -> IFNode(ATan) ->
# layer.MaxPool2d, ..., layer.Linear -> IFNode; set_step_mode 'm'; forward expands the static
# image to [T, N, C, H, W]. (MNIST digits stand in for Fashion-MNIST, which is not offline.)
def sj_csnn() -> nn.Module:
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    class CSNN(nn.Module):
        def __init__(self, T: int, channels: int):
            super().__init__()
            self.T = T
            self.conv_fc = nn.Sequential(
                layer.Conv2d(1, channels, kernel_size=3, padding=1, bias=False),
                layer.BatchNorm2d(channels),
                neuron.IFNode(surrogate_function=surrogate.ATan()),
                layer.MaxPool2d(2, 2),
                layer.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False),
                layer.BatchNorm2d(channels),
                neuron.IFNode(surrogate_function=surrogate.ATan()),
                layer.MaxPool2d(2, 2),
                layer.Flatten(),
                layer.Linear(channels * 7 * 7, channels * 4 * 4, bias=False),
                neuron.IFNode(surrogate_function=surrogate.ATan()),
                layer.Linear(channels * 4 * 4, 10, bias=False),
                neuron.IFNode(surrogate_function=surrogate.ATan()),
            )
            functional.set_step_mode(self, step_mode="m")

        def forward(self, x):
            x_seq = x.unsqueeze(0).expand(self.T, -1, -1, -1, -1)
            x_seq = self.conv_fc(x_seq)
            return x_seq.mean(0)

    return CSNN(T=4, channels=128)


# fangwei123456/spikingjelly docs/source/tutorials/en/container.rst ("Container"):
# net_container = nn.Sequential(layer.SeqToANNContainer(nn.Conv2d(3, 8, 3, padding=1,
# bias=False), nn.BatchNorm2d(8)), neuron.IFNode(step_mode='m')); input [T, N, 3, H, W].
def sj_container_seq_to_ann() -> nn.Module:
    from spikingjelly.activation_based import layer, neuron

    return nn.Sequential(
        layer.SeqToANNContainer(
            nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(8)
        ),
        neuron.IFNode(step_mode="m"),
    )


# fangwei123456/spikingjelly spikingjelly/activation_based/examples/rsnn_sequential_fmnist.py
# (docs/source/tutorials/en/recurrent_connection_and_stateful_synapse.rst): sequential
# FMNIST, one image row per step (img.permute(2, 0, 1) -> [W=28, N, H=28]), multi-step.
def sj_rsnn_plain() -> nn.Module:
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    class PlainNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Sequential(
                layer.Linear(28, 32),
                neuron.IFNode(surrogate_function=surrogate.ATan()),
                layer.Linear(32, 10),
                neuron.IFNode(surrogate_function=surrogate.ATan()),
            )

        def forward(self, x):
            return self.fc(x).mean(0)

    net = PlainNet()
    functional.set_step_mode(net, step_mode="m")
    return net


def sj_rsnn_stateful_synapse() -> nn.Module:
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    class StatefulSynapseNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Sequential(
                layer.Linear(28, 32),
                neuron.IFNode(surrogate_function=surrogate.ATan()),
                layer.SynapseFilter(tau=2.0, learnable=True),
                layer.Linear(32, 10),
                neuron.IFNode(surrogate_function=surrogate.ATan()),
            )

        def forward(self, x):
            return self.fc(x).mean(0)

    net = StatefulSynapseNet()
    functional.set_step_mode(net, step_mode="m")
    return net


def sj_rsnn_feedback() -> nn.Module:
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    class FeedBackNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Sequential(
                layer.Linear(28, 32),
                layer.LinearRecurrentContainer(
                    neuron.IFNode(surrogate_function=surrogate.ATan(), detach_reset=True),
                    in_features=32,
                    out_features=32,
                    bias=True,
                ),
                layer.Linear(32, 10),
                neuron.IFNode(surrogate_function=surrogate.ATan()),
            )

        def forward(self, x):
            return self.fc(x).mean(0)

    net = FeedBackNet()
    # the example's comment: set_step_mode does not switch the neuron inside the container
    functional.set_step_mode(net, step_mode="m")
    return net


def _sequential_mnist(b: int) -> Tensor:
    return mnist_images(b)[:, 0].permute(2, 0, 1).contiguous()  # [W, N, H]


# fangwei123456/spikingjelly spikingjelly/activation_based/model/parametric_lif_net.py
# (package model zoo, used by the PLIF paper scripts): FashionMNISTNet(channels=128,
# spiking_neuron=neuron.ParametricLIFNode, surrogate_function=ATan(), detach_reset=True):
# layer.Conv2d -> layer.BatchNorm2d -> PLIF -> MaxPool, Dropout, Linear(6272, 2048) -> PLIF,
# Linear(2048, 100) -> PLIF -> VotingLayer; set_step_mode 'm'; image repeated over T=8.
def sj_plif_fmnist() -> nn.Module:
    from spikingjelly.activation_based import functional, neuron, surrogate
    from spikingjelly.activation_based.model import parametric_lif_net

    net = parametric_lif_net.FashionMNISTNet(
        channels=128, spiking_neuron=neuron.ParametricLIFNode,
        surrogate_function=surrogate.ATan(), detach_reset=True,
    )  # fmt: skip
    functional.set_step_mode(net, "m")
    return net


# fangwei123456/spikingjelly spikingjelly/activation_based/model/parametric_lif_net.py::NMNISTNet
# (channels=128, ParametricLIFNode, multi-step): N-MNIST frames [T, B, 2, 34, 34].
def sj_plif_nmnist() -> nn.Module:
    from spikingjelly.activation_based import functional, neuron, surrogate
    from spikingjelly.activation_based.model import parametric_lif_net

    net = parametric_lif_net.NMNISTNet(
        channels=128, spiking_neuron=neuron.ParametricLIFNode,
        surrogate_function=surrogate.ATan(), detach_reset=True,
    )  # fmt: skip
    functional.set_step_mode(net, "m")
    return net


def _sj_zoo(fn_name: str, module: str, **kw: Any) -> Callable[[], nn.Module]:
    # built as a user would: spiking_neuron=neuron.LIFNode, surrogate ATan, detach_reset,
    # then functional.set_step_mode(net, 'm') (spikingjelly/activation_based/model/
    # train_imagenet_example.py and the SEW / spiking ResNet papers' scripts)
    def build() -> nn.Module:
        import importlib

        from spikingjelly.activation_based import functional, neuron, surrogate

        mod = importlib.import_module(f"spikingjelly.activation_based.model.{module}")
        net = getattr(mod, fn_name)(
            spiking_neuron=neuron.LIFNode, surrogate_function=surrogate.ATan(),
            detach_reset=True, **kw,
        )  # fmt: skip
        functional.set_step_mode(net, "m")
        return net

    build.__name__ = fn_name
    return build


# fangwei123456/spikingjelly docs/source/legacy_tutorials/en/14_classify_dvsg.rst,
# "Classify DVS128 Gesture", CextNet (multi-step, layer-by-layer) in the 2.0 API
# (MultiStepLIFNode -> LIFNode(step_mode='m'), MultiStepDropout -> layer.Dropout(step_mode=
# 'm'), backend 'cupy' -> default torch; docs/source/tutorials/en/migrate_from_legacy.rst):
# SeqToANNContainer(Conv2d, BatchNorm2d) -> LIFNode, SeqToANNContainer(MaxPool2d), channels=128,
# VotingLayer; BATCH-FIRST input [N, T, 2, 128, 128] permuted inside forward.
def sj_dvsg_cext() -> nn.Module:
    from spikingjelly.activation_based import layer, neuron, surrogate

    class VotingLayer(nn.Module):
        def __init__(self, voter_num: int):
            super().__init__()
            self.voting = nn.AvgPool1d(voter_num, voter_num)

        def forward(self, x):
            return self.voting(x.unsqueeze(1)).squeeze(1)

    def lif():
        return neuron.LIFNode(
            tau=2.0, surrogate_function=surrogate.ATan(), detach_reset=True, step_mode="m"
        )

    class CextNet(nn.Module):
        def __init__(self, channels: int):
            super().__init__()
            conv = []
            conv.extend(CextNet.conv3x3(2, channels))
            conv.append(layer.SeqToANNContainer(nn.MaxPool2d(2, 2)))
            for i in range(4):
                conv.extend(CextNet.conv3x3(channels, channels))
                conv.append(layer.SeqToANNContainer(nn.MaxPool2d(2, 2)))
            self.conv = nn.Sequential(*conv)
            self.fc = nn.Sequential(
                nn.Flatten(2),
                layer.Dropout(0.5, step_mode="m"),
                layer.SeqToANNContainer(nn.Linear(channels * 4 * 4, channels * 2 * 2, bias=False)),
                lif(),
                layer.Dropout(0.5, step_mode="m"),
                layer.SeqToANNContainer(nn.Linear(channels * 2 * 2, 110, bias=False)),
                lif(),
            )
            self.vote = VotingLayer(10)

        def forward(self, x):
            x = x.permute(1, 0, 2, 3, 4)
            out_spikes = self.fc(self.conv(x))
            return self.vote(out_spikes.mean(0))

        @staticmethod
        def conv3x3(in_channels: int, out_channels):
            return [
                layer.SeqToANNContainer(
                    nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
                    nn.BatchNorm2d(out_channels),
                ),
                lif(),
            ]

    return CextNet(channels=128)


# fangwei123456/spikingjelly spikingjelly/activation_based/examples/speech_commands.py, Net:
# nn.Conv2d over [batch, channel, T, n_mel] (time is a conv axis, dilated), LIFWrapper(
# LIFNode(tau=10/7, Sigmoid(alpha=10), step_mode='m')) that transposes to [T, C, B, n_mel];
# the last wrapper flattens to [B, T, 64 * 40]; fc = nn.Linear(64 * 40, label_cnt=12),
# mean over time. BATCH-FIRST, static mel input [B, 1, 101, 40] (delta_order=0).
def sj_speech_commands() -> nn.Module:
    from spikingjelly.activation_based import neuron, surrogate

    delta_order, label_cnt = 0, 12

    class LIFWrapper(nn.Module):
        def __init__(self, module, flatten=False):
            super().__init__()
            self.module = module
            self.flatten = flatten

        def forward(self, x_seq):
            y_seq = self.module(x_seq.transpose(0, 2))
            if self.flatten:
                y_seq = y_seq.permute(2, 0, 1, 3)
                shape = y_seq.shape[:2]
                return y_seq.reshape(shape + (-1,))
            return y_seq.transpose(0, 2)

    def lif():
        return neuron.LIFNode(
            tau=10.0 / 7, surrogate_function=surrogate.Sigmoid(alpha=10.0), step_mode="m"
        )

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Sequential(
                nn.Conv2d(
                    delta_order + 1, 64, kernel_size=(4, 3), stride=1, padding=(2, 1), bias=False
                ),
                LIFWrapper(lif()),
                nn.Conv2d(
                    64,
                    64,
                    kernel_size=(4, 3),
                    stride=1,
                    padding=(6, 3),
                    dilation=(4, 3),
                    bias=False,
                ),
                LIFWrapper(lif()),
                nn.Conv2d(
                    64,
                    64,
                    kernel_size=(4, 3),
                    stride=1,
                    padding=(24, 9),
                    dilation=(16, 9),
                    bias=False,
                ),
                LIFWrapper(lif(), flatten=True),
            )
            self.fc = nn.Linear(64 * 40, label_cnt)

        def forward(self, x):
            x = self.fc(self.conv(x))
            return x.mean(dim=1)

    return Net()


SJ_SRC = "fangwei123456/spikingjelly spikingjelly/activation_based/"

SPIKINGJELLY_CASES = [
    InteropCase(
        "sj_lif_fc_mnist_single_step", "spikingjelly",
        SJ_SRC + "examples/lif_fc_mnist.py",
        _seeded(sj_lif_fc_mnist), _seeded_data(_sj_poisson_mnist), convention="step",
        notes="single-step LIFNode(tau=2); PoissonEncoder spikes of MNIST, T=100",
    ),
    InteropCase(
        "sj_conv_fashion_mnist_csnn_ifnode", "spikingjelly",
        SJ_SRC + "examples/conv_fashion_mnist.py",
        _seeded(sj_csnn), mnist_images, static=True,
        notes="layer.Conv2d/BatchNorm2d/IFNode multi-step, T=4 expand inside forward; batch 2: "
        "with one static image every IF neuron gets one constant current, nothing fluctuates",
        batch=2,
    ),
    InteropCase(
        "sj_container_seq_to_ann_bn_ifnode", "spikingjelly",
        "fangwei123456/spikingjelly docs/source/tutorials/en/container.rst (net_container)",
        _seeded(sj_container_seq_to_ann), _seeded_data(lambda b: torch.rand(4, b, 3, 32, 32)),
        notes="SeqToANNContainer(Conv2d, BatchNorm2d) -> IFNode(step_mode='m'); random "
        "images [T=4, B, 3, 32, 32] (the tutorial gives no data)",
    ),
    InteropCase(
        "sj_rsnn_plain_ifnode", "spikingjelly",
        SJ_SRC + "examples/rsnn_sequential_fmnist.py",
        _seeded(sj_rsnn_plain), _sequential_mnist,
        notes="row-sequential image [28, B, 28] (MNIST for FMNIST), multi-step IFNode",
    ),
    InteropCase(
        "sj_rsnn_stateful_synapse", "spikingjelly",
        SJ_SRC + "examples/rsnn_sequential_fmnist.py",
        _seeded(sj_rsnn_stateful_synapse), _sequential_mnist,
        notes="layer.SynapseFilter(tau=2, learnable) between IFNode spikes and next Linear",
    ),
    InteropCase(
        "sj_rsnn_feedback_linear_recurrent_container", "spikingjelly",
        SJ_SRC + "examples/rsnn_sequential_fmnist.py",
        _seeded(sj_rsnn_feedback), _sequential_mnist,
        notes="LinearRecurrentContainer(IFNode, 32, 32): the neuron gets rc(cat(x, y[t-1])), "
        "rc = Linear(64, 32) after layer.Linear(28, 32): two weights in series",
    ),
    InteropCase(
        "sj_parametric_lif_fmnist_net", "spikingjelly",
        SJ_SRC + "model/parametric_lif_net.py",
        _seeded(sj_plif_fmnist), lambda b: _repeat(mnist_images(b), 8),
        notes="ParametricLIFNode + BatchNorm + Dropout + VotingLayer; image repeated T=8",
        batch=1,
    ),
    InteropCase(
        "sj_parametric_lif_nmnist_net", "spikingjelly",
        SJ_SRC + "model/parametric_lif_net.py",
        _seeded(sj_plif_nmnist), _seeded_data(lambda b: poisson((8, b, 2, 34, 34), 0.03)),
        slow=True,
        notes="DVS-like N-MNIST frames [T=8, B, 2, 34, 34] (T=16 in the paper)",
    ),
    InteropCase(
        "sj_sew_resnet18", "spikingjelly",
        SJ_SRC + "model/sew_resnet.py::sew_resnet18",
        _seeded(_sj_zoo("sew_resnet18", "sew_resnet", cnf="ADD")),
        _seeded_data(lambda b: torch.rand(4, b, 3, 32, 32)), no_neuron_weights=("fc",),
        batch=1, notes="SEW ADD residuals, LIFNode, BN; 32x32 instead of 224x224, T=4",
        slow=True,
    ),
    InteropCase(
        "sj_sew_resnet18_224", "spikingjelly",
        SJ_SRC + "model/sew_resnet.py::sew_resnet18",
        _seeded(_sj_zoo("sew_resnet18", "sew_resnet", cnf="ADD")),
        _seeded_data(lambda b: torch.rand(4, b, 3, 224, 224)), no_neuron_weights=("fc",),
        batch=1, slow=True, notes="real ImageNet input shape, T=4",
    ),
    InteropCase(
        "sj_spiking_resnet18", "spikingjelly",
        SJ_SRC + "model/spiking_resnet.py::spiking_resnet18",
        _seeded(_sj_zoo("spiking_resnet18", "spiking_resnet")),
        _seeded_data(lambda b: torch.rand(4, b, 3, 32, 32)), no_neuron_weights=("fc",),
        batch=1, slow=True, notes="residual added before the neuron; 32x32, T=4",
    ),
    InteropCase(
        "sj_spiking_vgg11_bn", "spikingjelly",
        SJ_SRC + "model/spiking_vgg.py::spiking_vgg11_bn",
        _seeded(_sj_zoo("spiking_vgg11_bn", "spiking_vgg")),
        _seeded_data(lambda b: torch.rand(4, b, 3, 32, 32)),
        no_neuron_weights=("classifier.6",), batch=1, slow=True,
        notes="VGG11-BN, 133 M parameters; 32x32, T=4",
    ),
    InteropCase(
        "sj_dvsg_cext_seq_to_ann_batch_first", "spikingjelly",
        "fangwei123456/spikingjelly docs/source/legacy_tutorials/en/14_classify_dvsg.rst (CextNet)",
        _seeded(sj_dvsg_cext), _seeded_data(lambda b: poisson((b, 16, 2, 128, 128), 0.02)),
        slow=True, batch=1,
        notes="BATCH-FIRST [N, T=16, 2, 128, 128]; legacy names mapped to the 2.0 API",
    ),
    InteropCase(
        "sj_speech_commands_conv_over_time", "spikingjelly",
        SJ_SRC + "examples/speech_commands.py",
        _seeded(sj_speech_commands), _seeded_data(lambda b: torch.rand(b, 1, 101, 40)),
        no_neuron_weights=("fc",), static=True, slow=True, batch=1,
        notes="batch-first mel input [B, 1, T=101, 40]; convolution along time; LIFWrapper "
        "transposes to [T, C, B, n_mel] (channels become a batch axis)",
    ),
]  # fmt: skip


MODELS: list[InteropCase] = SNNTORCH_CASES + NORSE_CASES + SPIKINGJELLY_CASES


def case_by_name(name: str) -> InteropCase:
    for c in MODELS:
        if c.name == name:
            return c
    raise KeyError(name)


__all__ = [
    "InteropCase",
    "MODELS",
    "called_neurons",
    "case_by_name",
    "is_spiking_neuron",
    "mnist_images",
    "neuron_types_used",
    "poisson",
    "required_neuron_types",
    "run_reference",
    "weight_module_names",
]
