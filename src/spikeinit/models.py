"""The model zoo, reached by name: ``names()`` and ``build(name, input_shape, n_classes)``.

Every model maps time-first input ``[T, B, *input_shape]`` to a readout trace
``[T, B, n_classes]`` (or, for the Micheli models, output spikes, to be used
with the spike-count loss). ``params`` are the hidden neurons' LIF parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .nn import (
    LIF,
    DaleLinear,
    Flatten,
    Readout,
    RecurrentSpikingConv1d,
    SpikingConv2d,
    SpikingLinear,
    SpikingMaxPool2d,
    TimeFold,
)
from .params import LIFParams

#: stork's reference neuron (docs/science.md, section 'Reference experiments')
STORK_PARAMS = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=2e-3)
#: Micheli et al.'s snnTorch Leaky neuron: beta 0.5, theta 1, subtract reset
MICHELI_PARAMS = LIFParams.from_snntorch(beta=0.5, threshold=1.0, reset_mechanism="subtract")

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
#: the output each model produces: "trace" (readout membrane) or "spikes"
OUTPUT: dict[str, str] = {}


def register(
    name: str, output: str = "trace"
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _REGISTRY[name] = fn
        OUTPUT[name] = output
        return fn

    return deco


def names() -> list[str]:
    """Names accepted by :func:`build`."""
    return sorted(_REGISTRY)


def build(
    name: str,
    input_shape: Sequence[int],
    n_classes: int,
    params: LIFParams | None = None,
    **kw: Any,
) -> nn.Module:
    """Build zoo model ``name`` for inputs ``[T, B, *input_shape]`` and ``n_classes`` classes."""
    if name not in _REGISTRY:
        raise ValueError(f"model must be one of {names()}, got {name!r}")
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(
            f"input_shape must be a non-empty tuple of positive sizes, got {input_shape!r}"
        )
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    return _REGISTRY[name](shape, n_classes, params, **kw)


def readout_params(params: LIFParams, duration: float | None) -> LIFParams:
    """stork's readout: a leaky integrator with tau_mem = the sample duration, 10 ms synapse."""
    tau_mem = duration if duration is not None and duration > params.dt else 20 * params.tau_mem
    tau_syn = 10e-3 if 10e-3 > params.dt else 2 * params.dt
    return LIFParams(tau_mem=tau_mem, tau_syn=tau_syn, dt=params.dt, reset="none")


def _flat(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


@register("fc")
def fc(
    input_shape: tuple[int, ...],
    n_classes: int,
    params: LIFParams | None = None,
    hidden: Sequence[int] = (128,),
    recurrent: bool = False,
    duration: float | None = None,
) -> nn.Module:
    """Fully connected: [Flatten] -> SpikingLinear x len(hidden) -> Readout (stork's FC nets)."""
    p = params or STORK_PARAMS
    layers: list[nn.Module] = [Flatten()] if len(input_shape) > 1 else []
    n = _flat(input_shape)
    for width in hidden:
        layers.append(SpikingLinear(n, width, params=p, recurrent=recurrent))
        n = width
    layers.append(Readout(n, n_classes, params=readout_params(p, duration)))
    return nn.Sequential(*layers)


@register("recurrent")
def recurrent(
    input_shape: tuple[int, ...],
    n_classes: int,
    params: LIFParams | None = None,
    hidden: Sequence[int] = (128,),
    duration: float | None = None,
) -> nn.Module:
    """Recurrent: SpikingLinear(recurrent=True) hidden layers -> Readout."""
    return fc(input_shape, n_classes, params, hidden=hidden, recurrent=True, duration=duration)


@register("deep_conv")
def deep_conv(
    input_shape: tuple[int, ...],
    n_classes: int,
    params: LIFParams | None = None,
    channels: Sequence[int] = (16, 32, 32, 64),
    pool_after: Sequence[int] = (1, 3),
    duration: float | None = None,
) -> nn.Module:
    """Deep convolutional: 3x3 SpikingConv2d (pad 1) x len(channels), 2x2 max-pool after
    the layers listed in ``pool_after`` (0-based), then Flatten -> Readout.
    ``input_shape`` is ``(C, H, W)`` (``(H*W,)`` with a square H = W is reshaped)."""
    p = params or STORK_PARAMS
    shape = _image_shape(input_shape)
    layers: list[nn.Module] = []
    if shape != input_shape:
        layers.append(_Reshape(shape))
    c, h, w = shape
    for i, out in enumerate(channels):
        layers.append(SpikingConv2d(c, out, 3, params=p, padding=1))
        c = out
        if i in pool_after:
            layers.append(TimeFold(nn.MaxPool2d(2)))
            h, w = h // 2, w // 2
    layers += [Flatten(), Readout(c * h * w, n_classes, params=readout_params(p, duration))]
    return nn.Sequential(*layers)


@register("micheli_mlp", output="spikes")
def micheli_mlp(
    input_shape: tuple[int, ...],
    n_classes: int,
    params: LIFParams | None = None,
    width: int = 100,
    hidden_layers: int = 8,
    surrogate: str = "atan",
    bias: bool = True,
) -> nn.Module:
    """Micheli et al.'s MLP ("10 layers"): an input LIF layer fed raw pixels as current,
    ``hidden_layers`` Linear+LIF layers of ``width``, and an ``n_classes`` LIF output layer.
    Output: spikes; train with the spike-count loss. The surrogate defaults to
    snnTorch's (and so Micheli's) arctan with alpha = 2. As in the public code, every
    Linear has PyTorch's default bias ``U(-1/sqrt(n), 1/sqrt(n))`` (``bias=False``: none),
    which the initialisers leave alone."""
    p = params or MICHELI_PARAMS
    n = _flat(input_shape)
    layers: list[nn.Module] = [Flatten()] if len(input_shape) > 1 else []
    layers.append(LIF(p, surrogate=surrogate))
    for _ in range(hidden_layers):
        layers.append(_with_torch_bias(SpikingLinear(n, width, p, bias=bias, surrogate=surrogate)))
        n = width
    layers.append(_with_torch_bias(SpikingLinear(n, n_classes, p, bias=bias, surrogate=surrogate)))
    return nn.Sequential(*layers)


def _with_torch_bias(layer: SpikingLinear | SpikingConv2d) -> SpikingLinear | SpikingConv2d:
    """Draw the layer's bias (if any) as PyTorch's ``nn.Linear`` / ``nn.Conv2d`` default,
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, from the global generator."""
    b = layer.conv.bias if isinstance(layer, SpikingConv2d) else layer.bias
    if b is not None:
        bound = 1.0 / math.sqrt(layer.fan_in)
        with torch.no_grad():
            b.uniform_(-bound, bound)
    return layer


@register("micheli_cnn", output="spikes")
def micheli_cnn(
    input_shape: tuple[int, ...],
    n_classes: int,
    params: LIFParams | None = None,
    channels: int = 64,
    n_conv: int = 2,
    surrogate: str = "atan",
    bias: bool = True,
) -> nn.Module:
    """Micheli et al.'s CNN: input LIF layer, ``n_conv`` x (3x3 conv pad 1 + LIF, 2x2 max-pool),
    then a LIF output layer of ``n_classes``. Output: spikes (spike-count loss). Convolutions
    and the output Linear have PyTorch's default bias, as in the public code (``bias=False``:
    none)."""
    p = params or MICHELI_PARAMS
    shape = _image_shape(input_shape)
    layers: list[nn.Module] = []
    if shape != input_shape:
        layers.append(_Reshape(shape))
    c, h, w = shape
    layers.append(LIF(p, surrogate=surrogate))
    for _ in range(n_conv):
        conv = SpikingConv2d(c, channels, 3, params=p, padding=1, bias=bias, surrogate=surrogate)
        layers += [_with_torch_bias(conv), TimeFold(nn.MaxPool2d(2))]
        c, h, w = channels, h // 2, w // 2
    out = SpikingLinear(c * h * w, n_classes, params=p, bias=bias, surrogate=surrogate)
    layers += [Flatten(), _with_torch_bias(out)]
    return nn.Sequential(*layers)


@register("recurrent_conv_shd")
def recurrent_conv_shd(
    input_shape: tuple[int, ...],
    n_classes: int,
    params: LIFParams | None = None,
    channels: Sequence[int] = (16, 32, 64),
    kernels: Sequence[int] = (21, 7, 7),
    strides: Sequence[int] = (10, 3, 3),
    rec_kernel_size: int = 5,
    duration: float | None = None,
) -> nn.Module:
    """stork's recurrent convolutional SHD net: the input ``(700,)`` is one channel of
    700 units (``(C, L)`` is taken as is); RecurrentSpikingConv1d layers with ``channels``
    filters, ``kernels``, ``strides`` (no padding) and a same-padded recurrent conv of
    ``rec_kernel_size``; Flatten -> Readout. For SHD: 700 -> 16x68 -> 32x21 -> 64x5 -> 320."""
    p = params or STORK_PARAMS
    if len(input_shape) == 1:
        shape: tuple[int, ...] = (1, input_shape[0])
    elif len(input_shape) == 2:
        shape = input_shape
    else:
        raise ValueError(f"input_shape must be (L,) or (C, L), got {input_shape!r}")
    if not len(channels) == len(kernels) == len(strides):
        raise ValueError("channels, kernels and strides must have the same length")
    layers: list[nn.Module] = [_Reshape(shape)] if shape != input_shape else []
    c, length = shape
    for out, k, st in zip(channels, kernels, strides, strict=True):
        layers.append(
            RecurrentSpikingConv1d(c, out, k, params=p, stride=st, rec_kernel_size=rec_kernel_size)
        )
        length = (length - k) // st + 1
        if length < 1:
            raise ValueError(f"input length {shape[1]} is too short for kernels {tuple(kernels)}")
        c = out
    layers += [Flatten(), Readout(c * length, n_classes, params=readout_params(p, duration))]
    return nn.Sequential(*layers)


@register("dale_shd")
def dale_shd(
    input_shape: tuple[int, ...],
    n_classes: int,
    params: LIFParams | None = None,
    n_exc: int = 128,
    n_inh: int = 32,
    tau_exc: float = 10e-3,
    tau_inh: float = 20e-3,
    recurrent: bool = True,
    duration: float | None = None,
) -> nn.Module:
    """stork's Dale's-law SHD net: [Flatten] -> DaleLinear(128 E + 32 I, recurrent,
    tau_exc 10 ms, tau_inh 20 ms) -> Readout of the E spikes."""
    p = params or STORK_PARAMS
    layers: list[nn.Module] = [Flatten()] if len(input_shape) > 1 else []
    layers.append(
        DaleLinear(
            _flat(input_shape),
            n_exc,
            n_inh,
            params=p,
            tau_exc=tau_exc,
            tau_inh=tau_inh,
            recurrent=recurrent,
        )  # fmt: skip
    )
    layers.append(Readout(n_exc, n_classes, params=readout_params(p, duration)))
    return nn.Sequential(*layers)


@register("dvs_conv")
def dvs_conv(
    input_shape: tuple[int, ...],
    n_classes: int,
    params: LIFParams | None = None,
    channels: Sequence[int] = (16, 32),
    duration: float | None = None,
) -> nn.Module:
    """stork's DVS Gesture net: ``len(channels)`` blocks of two 3x3 SpikingConv2d (pad 1)
    and a 2x2 max-pool, then Flatten -> Readout. Input ``(2, 32, 32)``: 2x32x32 ->
    16x16x16 -> 32x8x8 -> 2048."""
    p = params or STORK_PARAMS
    shape = _image_shape(input_shape)
    layers: list[nn.Module] = [_Reshape(shape)] if shape != input_shape else []
    c, h, w = shape
    for out in channels:
        layers += [
            SpikingConv2d(c, out, 3, params=p, padding=1),
            SpikingConv2d(out, out, 3, params=p, padding=1),
            SpikingMaxPool2d(2),
        ]
        c, h, w = out, h // 2, w // 2
    layers += [Flatten(), Readout(c * h * w, n_classes, params=readout_params(p, duration))]
    return nn.Sequential(*layers)


class _Reshape(nn.Module):
    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: Any) -> Any:
        return x.reshape(x.shape[0], x.shape[1], *self.shape)


def _image_shape(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(input_shape) == 3:
        return input_shape  # type: ignore[return-value]
    if len(input_shape) == 2:
        return (1, *input_shape)  # type: ignore[return-value]
    side = math.isqrt(input_shape[0])
    if len(input_shape) == 1 and side * side == input_shape[0]:
        return (1, side, side)
    raise ValueError(
        f"input_shape must be (C, H, W), (H, W) or a square (H*W,), got {input_shape!r}"
    )
