# ruff: noqa: B008  (faithful transcriptions: default args)
"""Residual and attention networks with membrane shortcuts, for ``si.initialize``.

In a membrane-shortcut network the residual stream is a current that blocks add
to and neurons read, never a spike train: one weight module's output reaches
several neurons (docs/science.md, 'Membrane shortcuts'). Each builder cites its
source; the ``*_transcribed`` ones are written here from the paper's code and
SpikingJelly's model zoo (layers, neuron arguments and the forward kept, sizes
made small), the ``*_zoo`` ones are built by calling the installed zoo itself.

Every case uses :class:`InteropCase` of tests/interop_models.py; ``run_reference``
and ``called_neurons`` work on them unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
from interop_models import InteropCase, _seeded, _seeded_data, mnist_images, poisson

Tensor = torch.Tensor


# -----------------------------------------------------------------------------
# the failing pattern of issue 25, in snnTorch: h = fc0(x); out = lif2(h + fc1(lif1(h)))
# -----------------------------------------------------------------------------
def snntorch_membrane_shortcut() -> nn.Module:
    # written for spikeinit issue 25 (the pattern of SpikingJelly's ms_resnet and the
    # spike-driven transformer, in snnTorch's tutorial style: Leaky with its membrane
    # carried by hand, as in snntorch docs/tutorials/tutorial_5.rst)
    import snntorch as snn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc0 = nn.Linear(100, 64)
            self.lif1 = snn.Leaky(beta=0.9)
            self.fc1 = nn.Linear(64, 64)
            self.lif2 = snn.Leaky(beta=0.9)
            self.fc2 = nn.Linear(64, 10)
            self.lif3 = snn.Leaky(beta=0.9)

        def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
            mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
            mem3 = self.lif3.init_leaky()
            spk_rec, mem_rec = [], []
            for step in range(x.shape[0]):
                h = self.fc0(x[step])
                spk1, mem1 = self.lif1(h, mem1)
                spk2, mem2 = self.lif2(h + self.fc1(spk1), mem2)  # membrane shortcut
                spk3, mem3 = self.lif3(self.fc2(spk2), mem3)
                spk_rec.append(spk3)
                mem_rec.append(mem3)
            return torch.stack(spk_rec), torch.stack(mem_rec)

    return Net()


# -----------------------------------------------------------------------------
# MS-ResNet (Hu, Deng, Wu, Li 2024, "Advancing Spiking Neural Networks toward Deep
# Residual Learning", arXiv:2112.08954; github.com/Ariande1/MS-ResNet models/MS_ResNet.py,
# and fangwei123456/spikingjelly spikingjelly/activation_based/model/ms_resnet.py::_MSBlock,
# MSResNet). The block spikes first: out = bn2(conv2(lif(bn1(conv1(lif(x)))))) + shortcut(x),
# the stream x is never a spike train. Neurons as in the paper: mem = 0.25 mem + x,
# threshold 0.5 (SpikingJelly: LIFNode(tau=4/3, decay_input=False, v_threshold=0.5)).
# Sizes: CIFAR-style stem (3x3, stride 1), stages (16, 32, 64) x 2 blocks (the paper's
# MS-ResNet-18 for CIFAR has (64, 128, 256, 512) x 2).
# -----------------------------------------------------------------------------
def _ms_lif() -> nn.Module:
    from spikingjelly.activation_based import neuron, surrogate

    return neuron.LIFNode(
        tau=4.0 / 3.0, v_threshold=0.5, decay_input=False, detach_reset=True,
        surrogate_function=surrogate.Rect(alpha=2.0), step_mode="m",
    )  # fmt: skip


def sj_ms_resnet_transcribed() -> nn.Module:
    from spikingjelly.activation_based import functional, layer

    class MSBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.lif1 = _ms_lif()
            self.conv1 = layer.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = layer.BatchNorm2d(cout)
            self.lif2 = _ms_lif()
            self.conv2 = layer.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = layer.BatchNorm2d(cout)
            self.shortcut = nn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = nn.Sequential(
                    layer.Conv2d(cin, cout, 1, stride, bias=False), layer.BatchNorm2d(cout)
                )

        def forward(self, x: Tensor) -> Tensor:
            out = self.bn1(self.conv1(self.lif1(x)))
            out = self.bn2(self.conv2(self.lif2(out)))
            return out + self.shortcut(x)

    class MSResNet(nn.Module):
        def __init__(self, T: int = 4, in_channels: int = 1, num_classes: int = 10) -> None:
            super().__init__()
            self.T = T
            self.conv1 = layer.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
            self.bn1 = layer.BatchNorm2d(16)
            blocks, cin = [], 16
            for cout, stride in ((16, 1), (16, 1), (32, 2), (32, 1), (64, 2), (64, 1)):
                blocks.append(MSBlock(cin, cout, stride))
                cin = cout
            self.layers = nn.Sequential(*blocks)
            self.lif = _ms_lif()
            self.pool = layer.AdaptiveAvgPool2d((1, 1))
            self.fc = layer.Linear(64, num_classes)
            functional.set_step_mode(self, "m")

        def forward(self, x: Tensor) -> Tensor:
            x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)  # static image, T steps
            x = self.layers(self.bn1(self.conv1(x)))
            x = self.pool(self.lif(x)).flatten(2)
            return self.fc(x).mean(0)

    return MSResNet()


def _sj_ms_resnet_zoo() -> nn.Module:
    # fangwei123456/spikingjelly spikingjelly/activation_based/model/ms_resnet.py::MSResNet,
    # CIFAR-style (3x3 stem, stride 1; stages of 16, 32, 64 channels); the zoo's own
    # neurons (tau 4/3, threshold 0.5, no input decay) and its zero-initialised bn2
    from spikingjelly.activation_based.model.ms_resnet import MSResNet

    return MSResNet(
        T=4, in_channels=1, num_classes=10, layers=(2, 2, 2), base_channels=16,
        stem_kernel_size=3, stem_stride=1,
    )  # fmt: skip


# -----------------------------------------------------------------------------
# Spike-driven Transformer (Yao, Hu, Zhou, Yuan, Tian, Xu, Li 2023, NeurIPS,
# arXiv:2307.01694; github.com/BICLab/Spike-Driven-Transformer module/ and
# fangwei123456/spikingjelly spikingjelly/activation_based/layer/attention.py::
# SpikeDrivenSelfAttention, model/spike_driven_transformer.py). Membrane shortcuts
# around the self-attention (SDSA) and the MLP: x = x + SDSA(x); x = x + MLP(x), each
# branch starting with a neuron that reads the stream. SDSA: Q, K, V spikes,
# attn_lif(sum_tokens(K * V)), Q * that, projection. Sizes: 64 channels, 4 heads,
# two blocks, a one-stage patch embedding (the paper: 384 or 512 channels, 8 blocks,
# four stages).
# -----------------------------------------------------------------------------
def _sdt_lif(**kw: Any) -> nn.Module:
    from spikingjelly.activation_based import neuron

    return neuron.LIFNode(tau=2.0, detach_reset=True, step_mode="m", **kw)


def sj_spike_driven_transformer_transcribed() -> nn.Module:
    from spikingjelly.activation_based import functional, layer

    class SDSA(nn.Module):
        def __init__(self, dim: int, heads: int) -> None:
            super().__init__()
            self.heads = heads
            self.shortcut_lif = _sdt_lif()
            self.q_conv, self.q_bn = layer.Conv2d(dim, dim, 1, bias=False), layer.BatchNorm2d(dim)
            self.q_lif = _sdt_lif()
            self.k_conv, self.k_bn = layer.Conv2d(dim, dim, 1, bias=False), layer.BatchNorm2d(dim)
            self.k_lif = _sdt_lif()
            self.v_conv, self.v_bn = layer.Conv2d(dim, dim, 1, bias=False), layer.BatchNorm2d(dim)
            self.v_lif = _sdt_lif()
            self.attn_lif = _sdt_lif(v_threshold=0.5)
            self.proj_conv, self.proj_bn = layer.Conv2d(dim, dim, 1), layer.BatchNorm2d(dim)

        def forward(self, x: Tensor) -> Tensor:
            T, N, C, H, W = x.shape
            s = self.shortcut_lif(x)
            q = self.q_lif(self.q_bn(self.q_conv(s)))
            k = self.k_lif(self.k_bn(self.k_conv(s)))
            v = self.v_lif(self.v_bn(self.v_conv(s)))

            def heads(t: Tensor) -> Tensor:  # [T, N, heads, H*W, C/heads]
                t = t.flatten(3).transpose(-1, -2)
                return t.reshape(T, N, H * W, self.heads, C // self.heads).transpose(2, 3)

            q, k, v = heads(q), heads(k), heads(v)
            kv = self.attn_lif((k * v).sum(dim=-2, keepdim=True))
            out = (q * kv).transpose(3, 4).reshape(T, N, C, H, W)
            return self.proj_bn(self.proj_conv(out))

    class MLP(nn.Module):
        def __init__(self, dim: int, hidden: int) -> None:
            super().__init__()
            self.lif1 = _sdt_lif()
            self.fc1, self.bn1 = layer.Conv2d(dim, hidden, 1), layer.BatchNorm2d(hidden)
            self.lif2 = _sdt_lif()
            self.fc2, self.bn2 = layer.Conv2d(hidden, dim, 1), layer.BatchNorm2d(dim)

        def forward(self, x: Tensor) -> Tensor:
            return self.bn2(self.fc2(self.lif2(self.bn1(self.fc1(self.lif1(x))))))

    class Block(nn.Module):
        def __init__(self, dim: int, heads: int) -> None:
            super().__init__()
            self.attn = SDSA(dim, heads)
            self.mlp = MLP(dim, 4 * dim)

        def forward(self, x: Tensor) -> Tensor:
            x = x + self.attn(x)  # membrane shortcut around SDSA
            return x + self.mlp(x)  # and around the MLP

    class SDT(nn.Module):
        def __init__(self, in_channels: int = 2, dim: int = 64, num_classes: int = 10) -> None:
            super().__init__()
            # patch embedding: conv-BN-LIF-pool, conv-BN-pool, relative position conv
            self.proj_conv = layer.Conv2d(in_channels, dim // 2, 3, padding=1)
            self.proj_bn = layer.BatchNorm2d(dim // 2)
            self.proj_lif = _sdt_lif()
            self.pool1 = layer.MaxPool2d(3, stride=2, padding=1)
            self.proj_conv2 = layer.Conv2d(dim // 2, dim, 3, padding=1)
            self.proj_bn2 = layer.BatchNorm2d(dim)
            self.pool2 = layer.MaxPool2d(3, stride=2, padding=1)
            self.rpe_lif = _sdt_lif()
            self.rpe_conv = layer.Conv2d(dim, dim, 3, padding=1, bias=False)
            self.rpe_bn = layer.BatchNorm2d(dim)
            self.blocks = nn.ModuleList([Block(dim, 4) for _ in range(2)])
            self.head_lif = _sdt_lif()
            self.head = nn.Linear(dim, num_classes)
            functional.set_step_mode(self, "m")

        def forward(self, x: Tensor) -> Tensor:
            x = self.pool1(self.proj_lif(self.proj_bn(self.proj_conv(x))))
            x = self.pool2(self.proj_bn2(self.proj_conv2(x)))
            x = x + self.rpe_bn(self.rpe_conv(self.rpe_lif(x)))
            for block in self.blocks:
                x = block(x)
            x = self.head_lif(x.flatten(3).mean(-1))
            return self.head(x.mean(0))

    return SDT()


def _sj_sdt_zoo() -> nn.Module:
    # fangwei123456/spikingjelly spikingjelly/activation_based/model/
    # spike_driven_transformer.py::SpikeDrivenTransformer (SDT-2-64, four-stage patch
    # embedding with pooling "1111"), DVS input with 2 channels
    from spikingjelly.activation_based.model.spike_driven_transformer import (
        SpikeDrivenTransformer,
    )

    return SpikeDrivenTransformer(
        T=4, in_channels=2, num_classes=10, embed_dims=64, num_heads=4, depths=2
    )


def _sj_spikformer_zoo() -> nn.Module:
    # fangwei123456/spikingjelly spikingjelly/activation_based/model/spikformer.py::
    # Spikformer (Zhou et al. 2023, ICLR, arXiv:2209.15425): spiking self-attention and
    # MLP with residual additions of spikes, 64 channels, 4 heads, one block, 4x4 patches
    from spikingjelly.activation_based.model.spikformer import Spikformer

    return Spikformer(
        T=4, in_channels=2, img_size_h=32, img_size_w=32, patch_size=4, num_classes=10,
        embed_dims=64, num_heads=4, depths=1,
    )  # fmt: skip


# -----------------------------------------------------------------------------
# Meta-SpikeFormer / Spike-driven Transformer V2 (Yao, Hu, Zhou, Yuan, Xu, Xu, Li 2024,
# ICLR, arXiv:2404.03663; github.com/BICLab/Spike-Driven-Transformer-V2
# classification/models.py: MS_DownSampling, SepConv, MS_ConvBlock, Spiking_vit_MetaFormer).
# Conv stages with membrane shortcuts: x = SepConv(x) + x; x = x + MLP(x), every branch
# starting with a neuron; SepConv = lif, 1x1 conv, BN, lif, depthwise 7x7, 1x1 conv, BN.
# torch Conv2d / BatchNorm2d on [T*B, ...] as in the source; MultiStepLIFNode(tau=2,
# detach_reset) -> LIFNode(step_mode='m'); the first two stages only (16 and 32 channels),
# then the head (mean over positions, lif, Linear); a static image repeated T=4 times.
# -----------------------------------------------------------------------------
def sj_meta_spikeformer_transcribed() -> nn.Module:
    def lif() -> nn.Module:
        return _sdt_lif()

    class DownSampling(nn.Module):
        def __init__(self, cin: int, cout: int, k: int, s: int, p: int, first: bool) -> None:
            super().__init__()
            self.encode_conv = nn.Conv2d(cin, cout, kernel_size=k, stride=s, padding=p)
            self.encode_bn = nn.BatchNorm2d(cout)
            if not first:
                self.encode_lif = lif()

        def forward(self, x: Tensor) -> Tensor:
            T, B = x.shape[:2]
            if hasattr(self, "encode_lif"):
                x = self.encode_lif(x)
            x = self.encode_conv(x.flatten(0, 1))
            _, _, H, W = x.shape
            return self.encode_bn(x).reshape(T, B, -1, H, W).contiguous()

    class SepConv(nn.Module):
        def __init__(self, dim: int, expansion_ratio: int = 2) -> None:
            super().__init__()
            med = expansion_ratio * dim
            self.lif1 = lif()
            self.pwconv1 = nn.Conv2d(dim, med, kernel_size=1, bias=False)
            self.bn1 = nn.BatchNorm2d(med)
            self.lif2 = lif()
            self.dwconv = nn.Conv2d(med, med, kernel_size=7, padding=3, groups=med, bias=False)
            self.pwconv2 = nn.Conv2d(med, dim, kernel_size=1, bias=False)
            self.bn2 = nn.BatchNorm2d(dim)

        def forward(self, x: Tensor) -> Tensor:
            T, B, C, H, W = x.shape
            x = self.lif1(x)
            x = self.bn1(self.pwconv1(x.flatten(0, 1))).reshape(T, B, -1, H, W)
            x = self.lif2(x)
            x = self.dwconv(x.flatten(0, 1))
            return self.bn2(self.pwconv2(x)).reshape(T, B, -1, H, W)

    class ConvBlock(nn.Module):
        def __init__(self, dim: int, mlp_ratio: int = 4) -> None:
            super().__init__()
            self.Conv = SepConv(dim)
            self.lif1 = lif()
            self.conv1 = nn.Conv2d(dim, dim * mlp_ratio, kernel_size=3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(dim * mlp_ratio)
            self.lif2 = lif()
            self.conv2 = nn.Conv2d(dim * mlp_ratio, dim, kernel_size=3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(dim)

        def forward(self, x: Tensor) -> Tensor:
            T, B, C, H, W = x.shape
            x = self.Conv(x) + x  # membrane shortcut around SepConv
            x_feat = x
            x = self.bn1(self.conv1(self.lif1(x).flatten(0, 1))).reshape(T, B, 4 * C, H, W)
            x = self.bn2(self.conv2(self.lif2(x).flatten(0, 1))).reshape(T, B, C, H, W)
            return x_feat + x  # and around the channel MLP

    class MetaSpikeFormer(nn.Module):
        def __init__(self, in_channels: int = 1, num_classes: int = 10, T: int = 4) -> None:
            super().__init__()
            self.T = T
            self.downsample1_1 = DownSampling(in_channels, 16, 7, 2, 3, first=True)
            self.ConvBlock1_1 = nn.ModuleList([ConvBlock(16)])
            self.downsample1_2 = DownSampling(16, 32, 3, 2, 1, first=False)
            self.ConvBlock1_2 = nn.ModuleList([ConvBlock(32)])
            self.lif = lif()
            self.head = nn.Linear(32, num_classes)

        def forward(self, x: Tensor) -> Tensor:
            x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
            x = self.downsample1_1(x)
            for blk in self.ConvBlock1_1:
                x = blk(x)
            x = self.downsample1_2(x)
            for blk in self.ConvBlock1_2:
                x = blk(x)
            x = self.lif(x.flatten(3).mean(3))
            return self.head(x).mean(0)

    return MetaSpikeFormer()


def _dvs(b: int) -> Tensor:
    return poisson((4, b, 2, 32, 32), 0.1)


SJ = "fangwei123456/spikingjelly spikingjelly/activation_based/"

MODELS_RESIDUAL = [
    InteropCase(
        "snntorch_membrane_shortcut", "snntorch",
        "spikeinit issue 25 (pattern of " + SJ + "model/ms_resnet.py), snnTorch tutorial_5 style",
        _seeded(snntorch_membrane_shortcut),
        _seeded_data(lambda b: poisson((25, b, 100), 0.1)), batch=8,
        notes="fc0's output reaches lif1 and, through the shortcut, lif2",
    ),
    InteropCase(
        "sj_ms_resnet_transcribed", "spikingjelly",
        "github.com/Ariande1/MS-ResNet models/MS_ResNet.py; " + SJ + "model/ms_resnet.py",
        _seeded(sj_ms_resnet_transcribed), mnist_images, static=True, batch=4,
        no_neuron_weights=("fc",),
        notes="6 MS blocks (16, 32, 64 channels), static MNIST repeated T=4 inside forward",
    ),
    InteropCase(
        "sj_ms_resnet_zoo", "spikingjelly", SJ + "model/ms_resnet.py::MSResNet",
        _seeded(_sj_ms_resnet_zoo), mnist_images, static=True, batch=4,
        no_neuron_weights=("head",),
        notes="the zoo's own MSResNet, layers (2, 2, 2), 16 base channels, zero-init bn2",
    ),
    InteropCase(
        "sj_spike_driven_transformer_transcribed", "spikingjelly",
        "github.com/BICLab/Spike-Driven-Transformer; " + SJ + "layer/attention.py",
        _seeded(sj_spike_driven_transformer_transcribed), _seeded_data(_dvs), batch=4,
        no_neuron_weights=("head",),
        notes="SDSA + MLP with membrane shortcuts, 2 blocks of 64 channels; DVS-like frames",
    ),
    InteropCase(
        "sj_meta_spikeformer_transcribed", "spikingjelly",
        "github.com/BICLab/Spike-Driven-Transformer-V2 classification/models.py",
        _seeded(sj_meta_spikeformer_transcribed), mnist_images, static=True, batch=4,
        no_neuron_weights=("head",),
        notes="two conv stages (16, 32 channels) of SepConv + MLP membrane shortcuts",
    ),
    InteropCase(
        "sj_spike_driven_transformer_zoo", "spikingjelly",
        SJ + "model/spike_driven_transformer.py::SpikeDrivenTransformer",
        _seeded(_sj_sdt_zoo), _seeded_data(_dvs), batch=4, no_neuron_weights=("head",),
        notes="the zoo's own SDT, 2 blocks of 64 channels, 4 heads; DVS-like frames",
    ),
    InteropCase(
        "sj_spikformer_zoo", "spikingjelly", SJ + "model/spikformer.py::Spikformer",
        _seeded(_sj_spikformer_zoo), _seeded_data(_dvs), batch=4, no_neuron_weights=("head",),
        notes="spike-sum residuals around SSA and MLP (no membrane shortcut): the contrast",
    ),
]  # fmt: skip
