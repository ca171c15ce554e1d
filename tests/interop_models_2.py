# ruff: noqa: B007, B008  (faithful transcriptions: unused loop variables, default args)
"""A second corpus of real snnTorch / Norse / SpikingJelly networks (issue 25), none of them
in tests/interop_models.py: the frameworks' docstring examples, tutorials, task scripts,
examples and model zoo, with the neuron classes the first corpus does not use (sequence
neurons, refractory, adaptive-exponential, conductance-based, Izhikevich, current-based,
online-learning and LSTM-style spiking cells, non-spiking readouts) and static-batch
``init_hidden`` Sequentials.

Every builder cites the repository and the file (and the docstring, tutorial or function)
it comes from; the code is a transcription, with any change said in ``notes``. ``MODELS``
is the registry (``InteropCase`` of tests/interop_models.py). ``REFUSALS`` says, for the
networks that ``si.initialize`` refuses, the class the message must name and the phrases
that state why and the way forward (tests/test_interop_models_2.py checks them).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from interop_models import (
    InteropCase,
    _repeat,
    _seeded,
    _seeded_data,
    mnist_images,
    poisson,
)

Tensor = torch.Tensor

SNN_SRC = "jeshraghian/snntorch "
NORSE_SRC = "norse/norse "
SJ_SRC = "fangwei123456/spikingjelly spikingjelly/activation_based/"

#: the ``time_dim`` refusal of a one-step model fed a static batch (docs/interop.md)
TIME_DIM = ("spikeinit cannot tell a batch of static samples from a time sequence", "time_dim=0")


# =============================================================================
# snnTorch
# =============================================================================


# jeshraghian/snntorch examples/tutorial_pop.ipynb, "Population Coding in Spiking Neural
# Nets": nn.Sequential(Flatten, Linear(784, 128), Leaky(init_hidden), Linear(128, 500),
# Leaky(init_hidden, output=True)), 50 output neurons per class; one static MNIST batch
# [8, 1, 28, 28] is given to net_pop as it is (issue 25's silent case).
def snntorch_pop_coding() -> nn.Module:
    import snntorch as snn
    from snntorch import surrogate

    num_inputs, num_hidden, pop_outputs = 28 * 28, 128, 500
    beta = 0.5
    spike_grad = surrogate.fast_sigmoid()
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(num_inputs, num_hidden),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
        nn.Linear(num_hidden, pop_outputs),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True, output=True),
    )


# jeshraghian/snntorch snntorch/backprop.py, BPTT docstring Example (also export_nir.py's
# Example): nn.Sequential(Flatten, Linear(784, 500), Leaky(0.9, init_hidden),
# Linear(500, 10), Leaky(0.9, init_hidden, output=True)); "if input data is time-static,
# set time_var=False": a static MNIST batch [B, 1, 28, 28].
def snntorch_backprop_bptt() -> nn.Module:
    import snntorch as snn

    lif1 = snn.Leaky(beta=0.9, init_hidden=True)
    lif2 = snn.Leaky(beta=0.9, init_hidden=True, output=True)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 500), lif1, nn.Linear(500, 10), lif2)


# jeshraghian/snntorch snntorch/_neurons/leakyparallel.py, LeakyParallel docstring Example:
# lif1 = LeakyParallel(784, 128) (random recurrent weights, beta=None), lif2 =
# LeakyParallel(128, 10, beta=0.5, learn_beta=True); x = torch.rand(num_steps, B, 784).
def snntorch_leaky_parallel() -> nn.Module:
    import snntorch as snn

    beta, num_inputs, num_hidden, num_outputs = 0.5, 784, 128, 10

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lif1 = snn.LeakyParallel(input_size=num_inputs, hidden_size=num_hidden)
            self.lif2 = snn.LeakyParallel(
                input_size=num_hidden, hidden_size=num_outputs, beta=beta, learn_beta=True
            )

        def forward(self, x):
            spk1 = self.lif1(x)
            spk2 = self.lif2(spk1)
            return spk2

    return Net()


# jeshraghian/snntorch snntorch/_neurons/stateleaky.py, StateLeaky docstring Example:
# StateLeaky(beta=0.9, channels=C, output=True, kernel_truncation_steps=8) on [T, B, C];
# adapted: an nn.Linear(20, C) feeds it (the docstring drives it with torch.randn).
def snntorch_state_leaky() -> nn.Module:
    from snntorch._neurons.stateleaky import StateLeaky

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(20, 4)
            self.lif = StateLeaky(beta=0.9, channels=4, output=True, kernel_truncation_steps=8)

        def forward(self, x):
            spk, mem = self.lif(self.fc(x))
            return spk

    return Net()


# jeshraghian/snntorch snntorch/_neurons/slstm.py, SLSTM docstring Example: two SLSTM layers
# 784-1000-10 with straight_through_estimator, x.flatten(1) each step (num_steps steps).
def snntorch_slstm() -> nn.Module:
    import snntorch as snn
    from snntorch import surrogate

    class Net(nn.Module):
        def __init__(self, num_steps: int = 25):
            super().__init__()
            num_inputs, num_hidden1, num_hidden2 = 784, 1000, 10
            spike_grad_lstm = surrogate.straight_through_estimator()
            self.num_steps = num_steps
            self.slstm1 = snn.SLSTM(num_inputs, num_hidden1, spike_grad=spike_grad_lstm)
            self.slstm2 = snn.SLSTM(num_hidden1, num_hidden2, spike_grad=spike_grad_lstm)

        def forward(self, x):
            syn1, mem1 = self.slstm1.init_slstm()
            syn2, mem2 = self.slstm2.init_slstm()
            spk2_rec, mem2_rec = [], []
            for step in range(self.num_steps):
                spk1, syn1, mem1 = self.slstm1(x.flatten(1), syn1, mem1)
                spk2, syn2, mem2 = self.slstm2(spk1, syn2, mem2)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return torch.stack(spk2_rec), torch.stack(mem2_rec)

    return Net()


# jeshraghian/snntorch snntorch/_neurons/sconv2dlstm.py, SConv2dLSTM docstring Example:
# SConv2dLSTM(1, 8, 3, max_pool=2) -> SConv2dLSTM(8, 8, 3, avg_pool=2) -> Linear(49 * 16,
# 10) -> Leaky(0.5); BATCH-FIRST [N, T, 1, 28, 28]. Fixed as printed it does not run:
# init_sconv2dlstm / init_leaky are called on lif1 and lif3 (typos for sclstm1/2, lif1),
# and 49 * 16 is 8 channels * 7 * 7 = 392.
def snntorch_sconv2dlstm() -> nn.Module:
    import snntorch as snn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            in_channels, out_channels, kernel_size = 1, 8, 3
            spike_grad_lstm = snn.surrogate.straight_through_estimator()
            spike_grad_fc = snn.surrogate.fast_sigmoid(slope=5)
            self.sclstm1 = snn.SConv2dLSTM(
                in_channels, out_channels, kernel_size, max_pool=2, spike_grad=spike_grad_lstm
            )
            self.sclstm2 = snn.SConv2dLSTM(
                out_channels, out_channels, kernel_size, avg_pool=2, spike_grad=spike_grad_lstm
            )
            self.fc1 = nn.Linear(out_channels * 7 * 7, 10)
            self.lif1 = snn.Leaky(beta=0.5, spike_grad=spike_grad_fc)

        def forward(self, x):
            syn1, mem1 = self.sclstm1.init_sconv2dlstm()
            syn2, mem2 = self.sclstm2.init_sconv2dlstm()
            mem3 = self.lif1.init_leaky()
            spk3_rec, mem3_rec = [], []
            for step in range(x.size()[1]):
                x_step = x[:, step, :, :, :]
                spk1, syn1, mem1 = self.sclstm1(x_step, syn1, mem1)
                spk2, syn2, mem2 = self.sclstm2(spk1, syn2, mem2)
                cur = self.fc1(spk2.flatten(1))
                spk3, mem3 = self.lif1(cur, mem3)
                spk3_rec.append(spk3)
                mem3_rec.append(mem3)
            return torch.stack(spk3_rec), torch.stack(mem3_rec)

    return Net()


# jeshraghian/snntorch snntorch/_neurons/rleaky.py, RLeaky docstring ("if all_to_all is True
# and conv2d_channels and kernel_size are specified, the recurrent connection is an
# nn.Conv2d"), in the convolutional Sequential of snntorch/surrogate.py's Example
# (Conv2d(1, 12, 5) -> MaxPool2d(2) -> ..., init_hidden=True); adapted: the hidden Leaky
# layers are RLeaky(conv2d_channels=..., kernel_size=3).
def snntorch_rleaky_conv() -> nn.Module:
    import snntorch as snn
    from snntorch import surrogate

    beta, spike_grad = 0.5, surrogate.fast_sigmoid(slope=25)
    return nn.Sequential(
        nn.Conv2d(1, 12, 5),
        nn.MaxPool2d(2),
        snn.RLeaky(beta=beta, spike_grad=spike_grad, init_hidden=True,
                   conv2d_channels=12, kernel_size=3),
        nn.Conv2d(12, 64, 5),
        nn.MaxPool2d(2),
        snn.RLeaky(beta=beta, spike_grad=spike_grad, init_hidden=True,
                   conv2d_channels=64, kernel_size=3),
        nn.Flatten(),
        nn.Linear(64 * 4 * 4, 10),
        snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True, output=True),
    )  # fmt: skip


# jeshraghian/snntorch snntorch/_neurons/rsynaptic.py, RSynaptic docstring (conv2d_channels,
# kernel_size: an nn.Conv2d recurrent connection); adapted into tutorial 7's N-MNIST
# Sequential (Conv2d(2, 12, 5) -> neuron -> MaxPool2d(2) ...), alpha=0.9, beta=0.5.
def snntorch_rsynaptic_conv() -> nn.Module:
    import snntorch as snn
    from snntorch import surrogate

    spike_grad = surrogate.atan()
    return nn.Sequential(
        nn.Conv2d(2, 12, 5),
        snn.RSynaptic(alpha=0.9, beta=0.5, spike_grad=spike_grad, init_hidden=True,
                      conv2d_channels=12, kernel_size=3),
        nn.MaxPool2d(2),
        nn.Conv2d(12, 32, 5),
        snn.Leaky(beta=0.5, spike_grad=spike_grad, init_hidden=True),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 5 * 5, 10),
        snn.Leaky(beta=0.5, spike_grad=spike_grad, init_hidden=True, output=True),
    )  # fmt: skip


def _rate(steps: int, size: int = 784) -> Callable[[int], Tensor]:
    def data(b: int) -> Tensor:
        return (torch.rand(steps, b, size) < mnist_images(b).view(b, -1)[None, :, :size]).float()

    return data


SNNTORCH_CASES = [
    InteropCase(
        "snntorch_pop_coding_static_batch", "snntorch",
        SNN_SRC + "examples/tutorial_pop.ipynb (Population Coding)",
        _seeded(snntorch_pop_coding), mnist_images, batch=8,
        notes="init_hidden Sequential given one static batch [8, 1, 28, 28]: model(x) and "
        "model(x[t]) both run one step; refused, asking for time_dim",
    ),
    InteropCase(
        "snntorch_backprop_bptt_static_batch", "snntorch",
        SNN_SRC + "snntorch/backprop.py (BPTT docstring Example, time_var=False)",
        _seeded(snntorch_backprop_bptt), mnist_images, batch=4,
        notes="init_hidden Sequential, static MNIST batch [B, 1, 28, 28]: refused, asking for "
        "time_dim (BPTT repeats it num_steps times: x.expand(T, ...) with time_dim=0)",
    ),
    InteropCase(
        "snntorch_leaky_parallel_docstring", "snntorch",
        SNN_SRC + "snntorch/_neurons/leakyparallel.py (LeakyParallel docstring Example)",
        _seeded(snntorch_leaky_parallel), _seeded_data(_rate(25)),
        notes="two LeakyParallel (ReLU RNN) layers with their own input weights; MNIST "
        "rate-coded [25, B, 784] (the docstring uses torch.rand)",
    ),
    InteropCase(
        "snntorch_state_leaky_docstring", "snntorch",
        SNN_SRC + "snntorch/_neurons/stateleaky.py (StateLeaky docstring Example)",
        _seeded(snntorch_state_leaky), _seeded_data(lambda b: poisson((16, b, 20), 0.2)),
        notes="StateLeaky, kernel truncated to 8 steps; a Linear(20, 4) feeds it; T=16",
    ),
    InteropCase(
        "snntorch_slstm_docstring", "snntorch",
        SNN_SRC + "snntorch/_neurons/slstm.py (SLSTM docstring Example)",
        _seeded(snntorch_slstm), lambda b: mnist_images(b), static=True,
        notes="LSTM-style SLSTM 784-1000-10, static image each of 25 steps: refused",
    ),
    InteropCase(
        "snntorch_sconv2dlstm_docstring", "snntorch",
        SNN_SRC + "snntorch/_neurons/sconv2dlstm.py (SConv2dLSTM docstring Example)",
        _seeded(snntorch_sconv2dlstm),
        lambda b: _repeat(mnist_images(b), 8).transpose(0, 1).contiguous(),
        notes="batch-first [N, T=8, 1, 28, 28]; docstring typos fixed (init on the right "
        "layers, 8 * 7 * 7 features); LSTM-style: refused",
    ),
    InteropCase(
        "snntorch_rleaky_conv_feedback", "snntorch",
        SNN_SRC + "snntorch/_neurons/rleaky.py (conv2d_channels) + snntorch/surrogate.py "
        "(Example Sequential)",
        _seeded(snntorch_rleaky_conv), lambda b: _repeat(mnist_images(b), 20),
        convention="step",
        notes="RLeaky with an nn.Conv2d recurrent connection (kernel 3); image each of 20 "
        "steps [20, B, 1, 28, 28]",
    ),
    InteropCase(
        "snntorch_rsynaptic_conv_feedback", "snntorch",
        SNN_SRC + "snntorch/_neurons/rsynaptic.py (conv2d_channels) + examples/"
        "tutorial_7_neuromorphic_datasets.ipynb (Sequential)",
        _seeded(snntorch_rsynaptic_conv),
        _seeded_data(lambda b: poisson((20, b, 2, 34, 34), 0.05)), convention="step",
        notes="RSynaptic with an nn.Conv2d recurrent connection; DVS-like frames "
        "[20, B, 2, 34, 34]",
    ),
]  # fmt: skip


# =============================================================================
# Norse
# =============================================================================


# norse/norse norse/task/cartpole.py::Policy (transcribed: the module imports gym):
# ConstantCurrentLIFEncoder(40) of relu(+-50 x), LIFRecurrentCell(8, 128, p=LIFParameters(
# method="super", alpha=100)), Dropout(0.5), LILinearCell(128, 2); max over time, softmax.
def norse_cartpole_policy(lsnn: bool = False) -> nn.Module:
    from norse.torch import (
        ConstantCurrentLIFEncoder,
        LIFParameters,
        LIFRecurrentCell,
        LILinearCell,
        LSNNParameters,
        LSNNRecurrentCell,
    )

    class Policy(nn.Module):
        def __init__(self):
            super().__init__()
            self.state_dim = 4
            self.hidden_features = 128
            self.output_features = 2
            self.constant_current_encoder = ConstantCurrentLIFEncoder(40)
            if lsnn:  # LSNNPolicy
                self.lif = LSNNRecurrentCell(
                    2 * self.state_dim, self.hidden_features,
                    p=LSNNParameters(method="super", alpha=100.0),
                )  # fmt: skip
            else:
                self.lif = LIFRecurrentCell(
                    2 * self.state_dim, self.hidden_features,
                    p=LIFParameters(method="super", alpha=100.0),
                )  # fmt: skip
            self.dropout = nn.Dropout(p=0.5)
            self.readout = LILinearCell(self.hidden_features, self.output_features)

        def forward(self, x):
            scale = 50
            x_pos = self.constant_current_encoder(F.relu(scale * x))
            x_neg = self.constant_current_encoder(F.relu(-scale * x))
            x = torch.cat([x_pos, x_neg], dim=2)
            seq_length, batch_size, _ = x.shape
            voltages = torch.zeros(seq_length, batch_size, self.output_features)
            s1 = so = None
            for ts in range(seq_length):
                z1, s1 = self.lif(x[ts, :, :], s1)
                z1 = self.dropout(z1)
                vo, so = self.readout(z1, so)
                voltages[ts, :, :] = vo
            m, _ = torch.max(voltages, 0)
            return F.softmax(m, dim=1)

    return Policy()


def _cartpole_states(b: int) -> Tensor:
    # CartPole-v0 observations: position, velocity, angle, angular velocity (~N(0, 0.05..1))
    return torch.randn(b, 4) * torch.tensor([0.5, 0.5, 0.05, 0.5])


# norse/norse norse/torch/module/lif_refrac.py, LIFRefracRecurrent docstring Example:
# l = LIFRefracRecurrent(2, 4) on data [10 timesteps, 5 batches, 2 neurons].
def norse_lifrefrac_recurrent() -> nn.Module:
    from norse.torch import LIFRefracRecurrent

    return LIFRefracRecurrent(2, 4)


# norse/norse norse/torch/module/lif_refrac.py, LIFRefracCell docstring Example
# (lif = LIFRefracCell(); input [batch 16, 20, 30]); adapted into the Norse README's
# SequentialState (Linear -> cell -> Linear -> LICell), run with the state carried.
def norse_lifrefrac_cell() -> nn.Module:
    from norse.torch import LICell, LIFRefracCell, SequentialState

    return SequentialState(nn.Linear(30, 20), LIFRefracCell(), nn.Linear(20, 10), LICell())


# norse/norse norse/torch/module/lif_adex.py, LIFAdExRecurrentCell docstring Example:
# lif = LIFAdExRecurrentCell(10, 20); input [batch 16, 10] per step.
def norse_lifadex_recurrent_cell() -> nn.Module:
    from norse.torch import LIFAdExRecurrentCell, SequentialState

    return SequentialState(LIFAdExRecurrentCell(10, 20))


# norse/norse norse/torch/module/lif_adex.py, LIFAdExRecurrent docstring Example
# ("l = LIFAdExLayer(2, 4)", the class's old name) on data [10, 5, 2].
def norse_lifadex_recurrent() -> nn.Module:
    from norse.torch import LIFAdExRecurrent

    return LIFAdExRecurrent(2, 4)


# norse/norse norse/torch/module/lif_ex.py, LIFExCell docstring Example (lif_ex =
# LIFExCell(); data [batch 16, 20, 30]); adapted into a SequentialState with a Linear.
def norse_lifex_cell() -> nn.Module:
    from norse.torch import LIFExCell, SequentialState

    return SequentialState(nn.Linear(30, 20), LIFExCell())


# norse/norse norse/torch/module/izhikevich.py, IzhikevichRecurrentCell docstring
# Example: l = IzhikevichRecurrentCell(2, 4) on data [5 batches, 2 neurons]; as printed
# it does not run (the spiking behaviour is a required argument): tonic_spiking given.
def norse_izhikevich_recurrent_cell() -> nn.Module:
    from norse.torch import IzhikevichRecurrentCell, SequentialState
    from norse.torch.functional.izhikevich import tonic_spiking

    return SequentialState(IzhikevichRecurrentCell(2, 4, tonic_spiking))


# norse/norse norse/torch/module/coba_lif.py, CobaLIFCell docstring Example:
# model = CobaLIFCell(10, 20); input [batch 16, 10] per step.
def norse_coba_lif_cell() -> nn.Module:
    from norse.torch import CobaLIFCell, SequentialState

    return SequentialState(CobaLIFCell(10, 20))


NORSE_CASES = [
    InteropCase(
        "norse_cartpole_policy_lifrecurrentcell", "norse",
        NORSE_SRC + "norse/task/cartpole.py::Policy",
        _seeded(norse_cartpole_policy), _seeded_data(_cartpole_states), static=True,
        readouts=("readout",), encoders=("constant_current_encoder",),
        notes="CartPole state [B, 4] encoded by ConstantCurrentLIFEncoder(40) inside forward "
        "(relu(+-50 x) concatenated); LIFRecurrentCell and LILinearCell readout",
    ),
    InteropCase(
        "norse_cartpole_lsnn_policy", "norse",
        NORSE_SRC + "norse/task/cartpole.py::LSNNPolicy",
        _seeded(lambda: norse_cartpole_policy(lsnn=True)), _seeded_data(_cartpole_states),
        static=True, readouts=("readout",), encoders=("constant_current_encoder",),
        notes="as Policy with LSNNRecurrentCell (adaptive threshold)",
    ),
    InteropCase(
        "norse_lifrefrac_recurrent_docstring", "norse",
        NORSE_SRC + "norse/torch/module/lif_refrac.py (LIFRefracRecurrent docstring)",
        _seeded(norse_lifrefrac_recurrent),
        _seeded_data(lambda b: poisson((100, b, 2), 0.3)),
        notes="refractory recurrent layer with its own weights; the docstring's zeros "
        "replaced by Poisson spikes [100, B, 2] (all-zero data drives nothing)",
    ),
    InteropCase(
        "norse_lifrefrac_cell_sequential", "norse",
        NORSE_SRC + "norse/torch/module/lif_refrac.py (LIFRefracCell docstring) + README.md "
        "(SequentialState)",
        _seeded(norse_lifrefrac_cell), _seeded_data(lambda b: poisson((100, b, 30), 0.1)),
        convention="step", readouts=("3",), time_dim=0,
        notes="Linear -> LIFRefracCell -> Linear -> LICell, state carried; Poisson "
        "[100, B, 30]",
    ),
    InteropCase(
        "norse_lifadex_recurrent_cell_docstring", "norse",
        NORSE_SRC + "norse/torch/module/lif_adex.py (LIFAdExRecurrentCell docstring)",
        _seeded(norse_lifadex_recurrent_cell),
        _seeded_data(lambda b: poisson((100, b, 10), 0.1)), convention="step", time_dim=0,
        batch=4, notes="adaptive exponential recurrent cell, its own weights; Poisson "
        "[100, B, 10]",
    ),
    InteropCase(
        "norse_lifadex_recurrent_docstring", "norse",
        NORSE_SRC + "norse/torch/module/lif_adex.py (LIFAdExRecurrent docstring, "
        "'LIFAdExLayer')",
        _seeded(norse_lifadex_recurrent), _seeded_data(lambda b: poisson((100, b, 2), 0.3)),
        notes="the docstring's class name LIFAdExLayer is today's LIFAdExRecurrent; Poisson "
        "[100, B, 2] for its zeros",
    ),
    InteropCase(
        "norse_lifex_cell_sequential", "norse",
        NORSE_SRC + "norse/torch/module/lif_ex.py (LIFExCell docstring)",
        _seeded(norse_lifex_cell), _seeded_data(lambda b: poisson((100, b, 30), 0.1)),
        convention="step", time_dim=0, notes="Linear(30, 20) -> LIFExCell, state carried",
    ),
    InteropCase(
        "norse_izhikevich_recurrent_cell_docstring", "norse",
        NORSE_SRC + "norse/torch/module/izhikevich.py (IzhikevichRecurrentCell docstring)",
        _seeded(norse_izhikevich_recurrent_cell),
        _seeded_data(lambda b: poisson((50, b, 2), 0.3)), convention="step", time_dim=0,
        notes="Izhikevich tonic spiking, recurrent: refused (quadratic term)",
    ),
    InteropCase(
        "norse_coba_lif_cell_docstring", "norse",
        NORSE_SRC + "norse/torch/module/coba_lif.py (CobaLIFCell docstring)",
        _seeded(norse_coba_lif_cell), _seeded_data(lambda b: poisson((50, b, 10), 0.3)),
        convention="step", time_dim=0,
        notes="conductance-based cell: refused (Norse's step drops the input)",
    ),
]  # fmt: skip


# =============================================================================
# SpikingJelly
# =============================================================================


# fangwei123456/spikingjelly spikingjelly/activation_based/examples/dsqn/utils/model.py::DSQN
# (Deep Spiking Q-Network, dec_type="max-mem"): Atari conv net of LIFNode (ATan,
# detach_reset), NonSpikingLIFNode(decode="max-mem") readout, multi-step, the frame stack
# [N, 4, 84, 84] repeated T=5 steps inside forward.
def sj_dsqn(dec_type: str = "max-mem") -> nn.Module:
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    class DSQN(nn.Module):
        def __init__(self, input_shape, n_actions, T=5, dec_type="max-mem"):
            super().__init__()
            self.dec_type = dec_type
            self.network = nn.Sequential(
                layer.Conv2d(input_shape[0], 32, kernel_size=8, stride=4),
                neuron.LIFNode(surrogate_function=surrogate.ATan(), detach_reset=True),
                layer.Conv2d(32, 64, kernel_size=4, stride=2),
                neuron.LIFNode(surrogate_function=surrogate.ATan(), detach_reset=True),
                layer.Conv2d(64, 64, kernel_size=3, stride=1),
                neuron.LIFNode(surrogate_function=surrogate.ATan(), detach_reset=True),
                layer.Flatten(),
                layer.Linear(64 * 7 * 7, 512),
                neuron.LIFNode(surrogate_function=surrogate.ATan(), detach_reset=True),
                layer.Linear(512, n_actions),
                neuron.NonSpikingLIFNode(decode=dec_type),
            )
            self.T = T
            functional.set_step_mode(self.network, step_mode="m")

        def forward(self, x):
            x_seq = x.unsqueeze(0).expand(self.T, -1, -1, -1, -1)
            return self.network(x_seq)

    return DSQN((4, 84, 84), 6, dec_type=dec_type)


# fangwei123456/spikingjelly .../examples/ilc_san/ilc_san.py::SpikeMLP (ILC-SAN, TNNLS
# 2024): Linear -> CUBALIFNode hidden layers, Linear -> ILCCUBALIFNode(act_dim,
# dec_pop_dim) output, multi-step; HalfCheetah sizes: obs 17 x enc_pop 10, act 6 x dec_pop
# 10, hidden (256, 256), spike_ts 5.
def sj_ilc_san() -> nn.Module:
    from spikingjelly.activation_based import functional, layer, neuron, surrogate

    class SpikeMLP(nn.Module):
        def __init__(self, in_pop_dim, act_dim, dec_pop_dim, hidden_sizes):
            super().__init__()
            hidden_num = len(hidden_sizes)
            hidden_layers = OrderedDict([
                ("Linear0", layer.Linear(in_pop_dim, hidden_sizes[0])),
                ("CUBALIFNode0", neuron.CUBALIFNode(surrogate_function=surrogate.Rect())),
            ])  # fmt: skip
            for hidden_layer in range(1, hidden_num):
                hidden_layers["Linear" + str(hidden_layer)] = layer.Linear(
                    hidden_sizes[hidden_layer - 1], hidden_sizes[hidden_layer]
                )
                hidden_layers["CUBALIFNode" + str(hidden_layer)] = neuron.CUBALIFNode(
                    surrogate_function=surrogate.Rect()
                )
            hidden_layers["Linear" + str(hidden_num)] = layer.Linear(
                hidden_sizes[-1], act_dim * dec_pop_dim
            )
            hidden_layers["ILCCUBALIFNode" + str(hidden_num)] = neuron.ILCCUBALIFNode(
                act_dim, dec_pop_dim, surrogate_function=surrogate.Rect()
            )
            self.hidden_layers = nn.Sequential(hidden_layers)
            functional.set_step_mode(self, step_mode="m")

        def forward(self, in_pop_spikes):
            return self.hidden_layers(in_pop_spikes)

    return SpikeMLP(17 * 10, 6, 10, (256, 256))


# fangwei123456/spikingjelly .../examples/noisy_san/noisy_san.py::NoisySpikeMLP (Noisy
# Spiking Actor Network): Linear -> NoisyCUBALIFNode(hidden, T, sigma_init, beta) hidden
# layers, NoisyILCCUBALIFNode output; HalfCheetah sizes as ILC-SAN, spike_ts 5,
# sigma_init 0.5, beta 0.
def sj_noisy_san() -> nn.Module:
    from spikingjelly.activation_based import functional, layer, neuron

    class NoisySpikeMLP(nn.Module):
        def __init__(self, in_pop_dim, act_dim, dec_pop_dim, hidden_sizes, spike_ts, beta,
                     sigma_init):  # fmt: skip
            super().__init__()
            hidden_num = len(hidden_sizes)
            hidden_layers = OrderedDict([
                ("linear0", layer.Linear(in_pop_dim, hidden_sizes[0])),
                ("sn0", neuron.NoisyCUBALIFNode(hidden_sizes[0], T=spike_ts,
                                                sigma_init=sigma_init, beta=beta)),
            ])  # fmt: skip
            for hidden_layer in range(1, hidden_num):
                hidden_layers["linear" + str(hidden_layer)] = layer.Linear(
                    hidden_sizes[hidden_layer - 1], hidden_sizes[hidden_layer]
                )
                hidden_layers["sn" + str(hidden_layer)] = neuron.NoisyCUBALIFNode(
                    hidden_sizes[hidden_layer], T=spike_ts, sigma_init=sigma_init, beta=beta
                )
            hidden_layers["linear" + str(hidden_num)] = layer.Linear(
                hidden_sizes[-1], act_dim * dec_pop_dim
            )
            hidden_layers["sn" + str(hidden_num)] = neuron.NoisyILCCUBALIFNode(
                act_dim, dec_pop_dim, T=spike_ts, sigma_init=sigma_init, beta=beta
            )
            self.hidden_layers = nn.Sequential(hidden_layers)
            functional.set_step_mode(self, step_mode="m")

        def forward(self, in_pop_spikes):
            return self.hidden_layers(in_pop_spikes)

        def _noisy_nodes(self):
            return (
                module
                for module in self.hidden_layers
                if isinstance(module, (neuron.NoisyCUBALIFNode, neuron.NoisyILCCUBALIFNode))
            )

        def reset_noise(self, num_steps):
            for module in self._noisy_nodes():
                module.reset_noise(num_steps)

    net = NoisySpikeMLP(17 * 10, 6, 10, (256, 256), 5, 0.0, 0.5)
    net.reset_noise(100)  # as the training script does before each rollout
    return net


# fangwei123456/spikingjelly .../examples/spiking_lstm_sequential_mnist.py::Net:
# rnn.SpikingLSTM(28, 1024, 1) over the 28 rows, nn.Linear(1024, 10) on the last step.
def sj_spiking_lstm_mnist() -> nn.Module:
    from spikingjelly.activation_based import rnn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = rnn.SpikingLSTM(28, 1024, 1)
            self.fc = nn.Linear(1024, 10)

        def forward(self, x):
            x, _ = self.lstm(x)
            return self.fc(x[-1])

    return Net()


# fangwei123456/spikingjelly .../examples/spiking_lstm_text.py::Net (name classification,
# 57 letters one-hot, 18 languages): rnn.SpikingLSTM(n_letters, 256, 1), Linear, softmax.
def sj_spiking_lstm_text() -> nn.Module:
    from spikingjelly.activation_based import rnn

    class Net(nn.Module):
        def __init__(self, n_letters, n_hidden, n_categories):
            super().__init__()
            self.lstm = rnn.SpikingLSTM(n_letters, n_hidden, 1)
            self.fc = nn.Linear(n_hidden, n_categories)

        def forward(self, x):
            x, _ = self.lstm(x)
            return F.softmax(self.fc(x[-1]), dim=1)

    return Net(57, 256, 18)


def _one_hot_names(b: int) -> Tensor:
    letters = torch.randint(0, 57, (8, b))
    return F.one_hot(letters, 57).float()  # [T=8 letters, B, 57]


# fangwei123456/spikingjelly .../examples/spiking_dqn_state.py::DQSN: layer.Linear ->
# IFNode -> layer.Linear -> the example's own NonSpikingLIFNode (a subclass of
# neuron.SimpleLIFNode returning v), single-step, the state fed T=16 times; CartPole sizes
# (4 -> 256 -> 2).
def sj_spiking_dqn_state() -> nn.Module:
    from spikingjelly.activation_based import layer, neuron

    class NonSpikingLIFNode(neuron.SimpleLIFNode):
        def single_step_forward(self, x: torch.Tensor):
            self.neuronal_charge(x)
            return self.v

    class DQSN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size, T=16):
            super().__init__()
            self.fc = nn.Sequential(
                layer.Linear(input_size, hidden_size),
                neuron.IFNode(),
                layer.Linear(hidden_size, output_size),
                NonSpikingLIFNode(tau=2.0, decay_input=True),
            )
            self.T = T

        def forward(self, x):
            for t in range(self.T):
                self.fc(x)
            return self.fc[-1].v

    return DQSN(4, 256, 2)


# fangwei123456/spikingjelly .../model/spiking_vggws_ottt.py::OTTTSpikingVGG (Online Training
# Through Time), cfg "S" with light_classifier as ottt_spiking_vggws, but without weight
# standardisation (weight_standardization=False: WSConv2d's weights are scale-invariant, a
# failure class of its own); OTTTLIFNode, evaluation mode (the nodes return spikes only),
# single-step, CIFAR-like image each of T=4 steps.
def sj_ottt_vgg() -> nn.Module:
    from spikingjelly.activation_based import neuron
    from spikingjelly.activation_based.model.spiking_vggws_ottt import _spiking_vgg

    return _spiking_vgg("S", False, neuron.OTTTLIFNode, light_classifier=True).eval()


# fangwei123456/spikingjelly .../model/parametric_lif_net.py::DVSGestureNet as built by
# examples/classify_dvsg.py (spiking_neuron=neuron.LIFNode, surrogate ATan, detach_reset),
# multi-step; DVS128 Gesture frames [T, N, 2, 128, 128] (T=16 in the example; T=4 here).
def sj_dvsg_net() -> nn.Module:
    from spikingjelly.activation_based import functional, neuron, surrogate
    from spikingjelly.activation_based.model import parametric_lif_net

    net = parametric_lif_net.DVSGestureNet(
        channels=128, spiking_neuron=neuron.LIFNode, surrogate_function=surrogate.ATan(),
        detach_reset=True,
    )  # fmt: skip
    functional.set_step_mode(net, "m")
    return net


SPIKINGJELLY_CASES = [
    InteropCase(
        "sj_dsqn_atari_max_mem", "spikingjelly", SJ_SRC + "examples/dsqn/utils/model.py::DSQN",
        _seeded(sj_dsqn), _seeded_data(lambda b: torch.rand(b, 4, 84, 84)), static=True,
        readouts=("network.10",),
        notes="Atari frame stack [B, 4, 84, 84] (random frames) expanded to T=5 inside "
        "forward; NonSpikingLIFNode(decode='max-mem') readout",
    ),
    InteropCase(
        "sj_ilc_san_spike_mlp", "spikingjelly", SJ_SRC + "examples/ilc_san/ilc_san.py::SpikeMLP",
        _seeded(sj_ilc_san), _seeded_data(lambda b: poisson((5, b, 170), 0.3)),
        notes="population-coded HalfCheetah observation spikes [5, B, 170]; CUBALIFNode "
        "hidden layers, ILCCUBALIFNode output: refused",
    ),
    InteropCase(
        "sj_noisy_san_spike_mlp", "spikingjelly",
        SJ_SRC + "examples/noisy_san/noisy_san.py::NoisySpikeMLP",
        _seeded(sj_noisy_san), _seeded_data(lambda b: poisson((5, b, 170), 0.3)),
        notes="NoisyCUBALIFNode (learnt noise on the membrane): refused",
    ),
    InteropCase(
        "sj_spiking_lstm_sequential_mnist", "spikingjelly",
        SJ_SRC + "examples/spiking_lstm_sequential_mnist.py::Net",
        _seeded(sj_spiking_lstm_mnist),
        lambda b: mnist_images(b).view(b, 28, 28).permute(1, 0, 2).contiguous(),
        notes="rows as time [28, B, 28]; SpikingLSTM: refused (LSTM-style)",
    ),
    InteropCase(
        "sj_spiking_lstm_text", "spikingjelly", SJ_SRC + "examples/spiking_lstm_text.py::Net",
        _seeded(sj_spiking_lstm_text), _seeded_data(_one_hot_names),
        notes="one-hot letters [8, B, 57]; SpikingLSTM: refused (LSTM-style)",
    ),
    InteropCase(
        "sj_spiking_dqn_state_dqsn", "spikingjelly",
        SJ_SRC + "examples/spiking_dqn_state.py::DQSN",
        _seeded(sj_spiking_dqn_state), _seeded_data(lambda b: torch.randn(b, 4)), static=True,
        notes="the example's own NonSpikingLIFNode subclass of SimpleLIFNode: refused by "
        "name (register it)",
    ),
    InteropCase(
        "sj_ottt_spiking_vgg_s", "spikingjelly",
        SJ_SRC + "model/spiking_vggws_ottt.py::OTTTSpikingVGG (cfg 'S', light classifier)",
        _seeded(sj_ottt_vgg), _seeded_data(lambda b: _repeat(torch.rand(b, 3, 32, 32), 4)),
        convention="step", no_neuron_weights=("classifier.2",), batch=2, slow=True,
        notes="OTTTLIFNode, eval mode, single-step, CIFAR-like image each of T=4 steps; "
        "weight_standardization=False",
    ),
    InteropCase(
        "sj_dvs_gesture_net", "spikingjelly",
        SJ_SRC + "model/parametric_lif_net.py::DVSGestureNet (examples/classify_dvsg.py)",
        _seeded(sj_dvsg_net), _seeded_data(lambda b: poisson((4, b, 2, 128, 128), 0.02)),
        batch=1, slow=True,
        notes="5 x (Conv2d 128, BatchNorm2d, LIFNode, MaxPool2d), Linear 2048-512-110, "
        "VotingLayer; DVS-like frames [T=4, 1, 2, 128, 128]",
    ),
]  # fmt: skip


MODELS: list[InteropCase] = SNNTORCH_CASES + NORSE_CASES + SPIKINGJELLY_CASES

#: name -> (the class the refusal names, phrases that say why and the way forward)
REFUSALS: dict[str, tuple[str, tuple[str, ...]]] = {
    "snntorch_pop_coding_static_batch": ("Sequential", TIME_DIM),
    "snntorch_backprop_bptt_static_batch": ("Sequential", TIME_DIM),
    "snntorch_slstm_docstring": ("snntorch SLSTM", ("LSTM-style", "kaiming_normal_")),
    "snntorch_sconv2dlstm_docstring": ("snntorch SConv2dLSTM", ("LSTM-style", "kaiming_normal_")),
    "norse_izhikevich_recurrent_cell_docstring": (
        "norse IzhikevichRecurrentCell",
        ("runs to infinity", "data-independent rule"),
    ),
    "norse_coba_lif_cell_docstring": (
        "norse CobaLIFCell",
        ("input never reaches the membrane", "si.register_neuron"),
    ),
    "sj_ilc_san_spike_mlp": (
        "spikingjelly ILCCUBALIFNode",
        ("intra-layer-connection", "si.register_neuron"),
    ),
    "sj_noisy_san_spike_mlp": (
        "spikingjelly NoisyCUBALIFNode",
        ("coloured noise", "si.register_neuron"),
    ),
    "sj_spiking_lstm_sequential_mnist": (
        "spikingjelly SpikingLSTM",
        ("gate pre-activations", "kaiming_normal_"),
    ),
    "sj_spiking_lstm_text": (
        "spikingjelly SpikingLSTM",
        ("gate pre-activations", "kaiming_normal_"),
    ),
    "sj_spiking_dqn_state_dqsn": ("spikingjelly NonSpikingLIFNode", ("si.register_neuron",)),
}

#: LSTM-style, refractory or conductance-based neurons (issue 25 asks for at least 4)
SPECIAL_NEURONS = (
    "snntorch_slstm_docstring",
    "snntorch_sconv2dlstm_docstring",
    "norse_lifrefrac_recurrent_docstring",
    "norse_lifrefrac_cell_sequential",
    "norse_coba_lif_cell_docstring",
    "sj_spiking_lstm_sequential_mnist",
    "sj_spiking_lstm_text",
)
#: static-batch ``init_hidden`` Sequentials, and the ``time_dim`` that makes them run
STATIC_BATCH = ("snntorch_pop_coding_static_batch", "snntorch_backprop_bptt_static_batch")


def case_by_name(name: str) -> InteropCase:
    for c in MODELS:
        if c.name == name:
            return c
    raise KeyError(name)


def extra_spiking_classes() -> tuple[type, ...]:
    """Neuron classes outside the first corpus's bases (tests/interop_models.py's
    ``spiking_neuron_classes``): snnTorch's ``LeakyParallel`` has no ``SpikingNeuron``
    base, Norse's ``CobaLIFCell`` no ``SNNCell`` base, SpikingJelly's spiking RNNs and
    noisy nodes no ``BaseNode``."""
    import norse.torch as nt
    import snntorch as snn
    from spikingjelly.activation_based import neuron, rnn

    return (
        snn.LeakyParallel,
        nt.CobaLIFCell,
        rnn.SpikingRNNBase,
        neuron.NoisyCUBALIFNode,
        neuron.NoisyILCCUBALIFNode,
    )


def extra_readout_classes() -> tuple[type, ...]:
    """Non-spiking neurons of this corpus: SpikingJelly's ``NonSpikingLIFNode``."""
    from spikingjelly.activation_based import neuron

    return (neuron.NonSpikingLIFNode,)


__all__ = [
    "MODELS",
    "REFUSALS",
    "SPECIAL_NEURONS",
    "STATIC_BATCH",
    "case_by_name",
    "extra_readout_classes",
    "extra_spiking_classes",
]
