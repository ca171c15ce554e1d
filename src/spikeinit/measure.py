"""Measuring what a layer receives and how its free membrane moves: one home for
:mod:`spikeinit.init` and :mod:`spikeinit.diagnostics`.

Both the initialisers and the diagnosis run the data through a model, capture
what each spiking layer (or foreign neuron) receives, and measure its free
membrane potential ``U`` (threshold and reset off): its mean ``mu_U`` and its
temporal std ``sigma_U`` (Rossbroich, Gygax & Zenke 2022), or the std over
time and samples for a static input. This module holds that shared code, below
both of them:

* spikeinit's own layers: :func:`collect_data` (time-first ``[T, B, ...]``
  data from a tensor or a DataLoader), :func:`spiking_layers`,
  :func:`capture_input`, :func:`free_membrane_stats`,
  :func:`pooled_filtered_stats`;
* snnTorch / Norse / SpikingJelly neurons: :class:`Runner` (the user's model
  over the prepared batches, stopped at one neuron), :func:`free_signal`,
  :func:`variance_mode`, :func:`moments`, :func:`spread`;
* a model's state: :class:`Snapshot` and :func:`restored_on_failure` (a failed
  initialisation leaves every parameter and buffer as it was).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .adapters import find as _find
from .adapters.base import ForeignLayer
from .adapters.trace import NORM_TYPES, Site, Trace, capture_pass
from .neuron import lif_sequence
from .nn.base import SpikingLayer
from .params import LIFParams


# ------------------------------------------------------------------ spikeinit's own layers
def collect_data(
    data: torch.Tensor | Iterable[Any],
    max_samples: int | None = None,
    batch_first: bool | None = None,
) -> torch.Tensor:
    """Return a time-first ``[T, B, ...]`` tensor from a tensor or a DataLoader.

    A tensor is time-first (``batch_first=True`` transposes it). A DataLoader may
    yield ``x`` or ``(x, y, ...)``; with labels, the batch dimension is the one
    of ``len(y)`` entries, and a batch-first loader (a ``TensorDataset`` with
    torch's default collate) is transposed. When both leading dimensions have
    ``len(y)`` entries the layout is ambiguous and ``batch_first`` must be given.
    Raises ``ValueError`` for empty data, NaN/inf, or inconsistent batches.
    """
    if isinstance(data, torch.Tensor):
        x = data.transpose(0, 1) if batch_first and data.dim() > 1 else data
    else:
        if not isinstance(data, Iterable):
            raise TypeError(
                f"data must be a [T, B, ...] tensor or a DataLoader, got {type(data).__name__}"
            )
        chunks: list[torch.Tensor] = []
        total = 0
        for batch in data:
            xb = batch[0] if isinstance(batch, (tuple, list)) else batch
            if not isinstance(xb, torch.Tensor):
                raise TypeError(f"data batches must be tensors, got {type(xb).__name__}")
            labels = batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
            xb = _time_first(xb, labels, batch_first)
            chunks.append(xb)
            total += xb.shape[1] if xb.dim() > 1 else 0
            if max_samples is not None and total >= max_samples:
                break
        if not chunks:
            raise ValueError("data is empty: the DataLoader yielded no batches")
        shapes = {(c.shape[0],) + tuple(c.shape[2:]) for c in chunks}
        if len(shapes) != 1:
            raise ValueError(f"data batches have inconsistent shapes: {sorted(shapes)}")
        x = torch.cat(chunks, dim=1)
    if x.dim() < 3:
        raise ValueError(f"data must have shape [T, B, features...], got {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"data is empty (shape {tuple(x.shape)})")
    if max_samples is not None:
        x = x[:, :max_samples]
    x = x.float() if not x.is_floating_point() else x
    if not torch.isfinite(x).all():
        raise ValueError("data contains NaN or inf")
    return x


def _time_first(x: torch.Tensor, labels: Any, batch_first: bool | None) -> torch.Tensor:
    """One loader batch as ``[T, B, ...]`` (see :func:`collect_data`)."""
    if batch_first is not None:
        return x.transpose(0, 1) if batch_first and x.dim() > 1 else x
    if not isinstance(labels, torch.Tensor) or labels.dim() == 0 or x.dim() < 3:
        return x
    n = labels.shape[0]
    if x.shape[0] == n and x.shape[1] == n:
        raise ValueError(
            f"data: a batch of shape {tuple(x.shape)} with {n} labels could be time-first or "
            "batch-first; pass batch_first=True (a TensorDataset loader) or False"
        )
    if x.shape[0] == n:
        return x.transpose(0, 1)
    if x.shape[1] != n:
        raise ValueError(f"data: no dimension of the batch {tuple(x.shape)} matches its {n} labels")
    return x


MIN_SPIKES_PER_SAMPLE = 1.0


def check_plausible_input(x: torch.Tensor) -> None:
    """Refuse spike data too sparse to measure (e.g. spike times read in the wrong unit).

    With fewer than one input spike per sample, the filtered statistics rest on a
    handful of events and the rule scales the weights up by orders of magnitude
    (an SHD file with times in milliseconds read as seconds gives 0.0007 Hz).
    """
    binary = bool(((x == 0) | (x == 1)).all())
    if not binary:
        return
    per_sample = float(x.sum()) / max(int(x.shape[1]), 1)
    if per_sample < MIN_SPIKES_PER_SAMPLE:
        raise ValueError(
            f"data has {per_sample:.3g} input spikes per sample (over all inputs and "
            f"{x.shape[0]} steps): too few to measure its statistics; check the time unit "
            "and the number of steps (spike times in ms read as s give almost empty data)"
        )


def spiking_layers(model: nn.Module) -> list[tuple[str, SpikingLayer]]:
    """The model's spiking layers in registration (= usual execution) order."""
    return [
        (n or type(m).__name__, m) for n, m in model.named_modules() if isinstance(m, SpikingLayer)
    ]


def flat_sequence(model: nn.Module) -> list[nn.Module] | None:
    """The modules of a (nested) ``nn.Sequential`` chain, else ``None``."""
    if not isinstance(model, nn.Sequential):
        return None
    out: list[nn.Module] = []
    for child in model:
        if isinstance(child, nn.Sequential):
            sub = flat_sequence(child)
            assert sub is not None
            out.extend(sub)
        else:
            out.append(child)
    return out


class _Stop(Exception):
    pass


def capture_input(
    model: nn.Module,
    layer: nn.Module,
    x: torch.Tensor,
    forward: Callable[[nn.Module, torch.Tensor], Any] | None = None,
) -> torch.Tensor:
    """The input that ``layer`` receives when ``model`` runs on ``x`` (no grad).

    Uses a forward pre-hook and stops the forward pass there.
    """
    captured: list[torch.Tensor] = []

    def hook(_m: nn.Module, args: tuple[Any, ...]) -> None:
        captured.append(args[0].detach())
        raise _Stop

    handle = layer.register_forward_pre_hook(hook)
    try:
        with torch.no_grad():
            (forward or (lambda m, d: m(d)))(model, x)
    except _Stop:
        pass
    finally:
        handle.remove()
    if not captured:
        raise ValueError(
            f"layer {type(layer).__name__} was not called by the model's forward pass; "
            "pass forward=... if the model needs a custom call"
        )
    return captured[0]


def free_membrane_stats(
    layer: SpikingLayer, x: torch.Tensor, variance: str = "temporal"
) -> tuple[float, float, float]:
    """(mean U, std of U, rate Hz) of the layer's free membrane on input ``x``.

    The std is the per-neuron temporal std, averaged over neurons and samples as
    a root mean square, ``sqrt(mean_{b,j} Var_t U_bj)`` (``variance="temporal"``:
    sigma_U of Rossbroich et al., which Campbell's theorem predicts in variance),
    or the per-neuron std over time steps and samples together, averaged over
    neurons in the same way (``"total"``).
    ``U`` is the free membrane (threshold and reset off, recurrent input from the
    layer's actual spikes); the rate is the real layer's output rate.
    """
    with torch.no_grad():
        spikes, free = layer.simulate(x, free=True)
    if variance == "total":
        flat = free.reshape(free.shape[0] * free.shape[1], -1)
        sd = float(flat.var(dim=0, unbiased=False).mean().sqrt())
    else:
        sd = float(free.var(dim=0, unbiased=False).mean().sqrt())
    if layer.is_readout:
        rate = 0.0
    else:
        rate = float(spikes.mean()) / layer.params.dt
    return float(free.mean()), sd, rate


def pooled_filtered_stats(spikes: torch.Tensor, params: LIFParams) -> tuple[float, float]:
    """Filtered input statistics pooled over time *and* samples (``variance="total"``).

    Each input train is filtered by the PSP kernel (the neuron's own linear
    update with unit weight), then ``m`` is its mean and ``v`` its variance over
    all (time step, sample) pairs, averaged over inputs. For static or very short
    inputs (T = 1, e.g. Micheli et al.'s single-step MNIST) the temporal variance
    is zero or meaningless; the variance across samples is then what drives the
    neurons, and the free membrane is measured the same way.
    """
    steps, batch = spikes.shape[:2]
    flat = spikes.reshape(steps, -1).float()
    _, filt = lif_sequence(flat, params.replace(reset="none", threshold=_NEVER), return_mem=True)
    filt = filt.reshape(steps, batch, -1).double()
    return float(filt.mean()), float(filt.var(dim=(0, 1), unbiased=False).mean())


_NEVER = 1e30  # a threshold no membrane reaches: the linear (free) response


# ------------------------------------------------------------------ foreign neurons
Forward = Callable[[nn.Module, Any], Any]


STATIC_RATIO = 1e-6  # temporal variance below this share of the total: a static input


def stack_calls(tensors: list[torch.Tensor], site: Site) -> torch.Tensor:
    """A neuron's input over one pass as ``[T, B, ...]`` (stacked for step-mode neurons)."""
    if site.mode == "step":
        return torch.stack(tensors[: site.calls])
    return _find.time_first(site.neuron, tensors[0])  # sinabs: [B, T, ...] / [B*T, ...]


def free_signal(layer: ForeignLayer, current: torch.Tensor) -> torch.Tensor:
    """What sigma_U measures: the free membrane, or the input current of a non-leaky neuron."""
    if not layer.leaky:
        return layer.input_current(current)
    with torch.no_grad():
        return layer.free_membrane(layer.input_current(current))


def is_static(current: torch.Tensor) -> bool:
    """The input current ``[T, B, ...]`` is one step, or constant in time (a static image
    repeated every step): its temporal variance is below ``STATIC_RATIO`` of the total."""
    if current.shape[0] < 2:
        return True
    flat = current.reshape(current.shape[0], current.shape[1], -1).double()
    temporal = float(flat.var(dim=0, unbiased=False).mean())
    total = float(flat.reshape(-1, flat.shape[-1]).var(dim=0, unbiased=False).mean())
    return temporal <= STATIC_RATIO * max(total, 1e-300)


def variance_mode(current: torch.Tensor, layer: ForeignLayer) -> str:
    """``"temporal"`` unless the input is static in time, a single step, the neuron is IF,
    or the model's output decodes the neuron per sample (``layer.decoded``).

    An output layer's spike count or membrane is read once per sample, so what makes its
    start uninformative is the spread of its free membrane over samples *and* time: a
    time-varying input whose mean differs from sample to sample (Poisson-coded images)
    moves each output neuron's count by that mean, which the temporal variance does not
    see (docs/science.md, section 'Output layers')."""
    if not layer.leaky or layer.decoded or is_static(current):
        return "total"
    return "temporal"


def _centred(x: torch.Tensor, mode: str) -> torch.Tensor:
    dims = (0,) if mode == "temporal" else (0, 1)
    return x - x.mean(dim=dims, keepdim=True)


def moments(
    a: torch.Tensor, b: torch.Tensor | None, mode: str, per_channel: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``<Var A>``, ``<Cov(A, B)>``, ``<Var B>`` (per channel = dim 2, or overall)."""
    ca = _centred(a.float(), mode)
    cb = _centred(b.float(), mode) if b is not None else None

    def avg(t: torch.Tensor) -> torch.Tensor:
        if per_channel and t.dim() > 2:
            return t.transpose(0, 2).reshape(t.shape[2], -1).mean(dim=1).double()
        return t.mean().reshape(1).double()

    var_a = avg(ca * ca)
    if cb is None:
        return var_a, torch.zeros_like(var_a), torch.zeros_like(var_a)
    return var_a, avg(ca * cb), avg(cb * cb)


def spread(signal: torch.Tensor, mode: str) -> float:
    """The fluctuation of a signal ``[T, B, ...]``: RMS over neurons of its per-neuron std."""
    return math.sqrt(float(moments(signal, None, mode, False)[0]))


@dataclass
class Snapshot:
    """Every parameter and buffer of a model, to restore on failure (or buffers only)."""

    params: list[tuple[nn.Parameter, torch.Tensor]]
    buffers: list[tuple[nn.Module, str, torch.Tensor | None]]
    training: list[tuple[nn.Module, bool]]

    @classmethod
    def take(cls, model: nn.Module) -> Snapshot:
        params = [(p, p.detach().clone()) for p in model.parameters()]
        buffers = []
        for module in model.modules():
            for name, buf in module._buffers.items():
                buffers.append((module, name, None if buf is None else buf.detach().clone()))
        return cls(params, buffers, [(m, m.training) for m in model.modules()])

    def restore_buffers(self) -> None:
        for module, name, buf in self.buffers:
            module._buffers[name] = None if buf is None else buf.clone()

    def restore(self) -> None:
        with torch.no_grad():
            for p, value in self.params:
                p.copy_(value)
        self.restore_buffers()
        for module, flag in self.training:
            module.training = flag


def check_finite(model: nn.Module) -> None:
    """Raise ``ValueError`` if initialisation left a non-finite parameter (the caller restores)."""
    for name, p in model.named_parameters():
        if not bool(torch.isfinite(p).all()):
            raise ValueError(
                f"initialisation gave non-finite values in {name!r} (the targets are out of "
                "reach of the data or the dtype); the model is left as it was"
            )


@contextlib.contextmanager
def restored_on_failure(model: nn.Module) -> Iterator[Snapshot]:
    """Run the block on ``model``; if it raises, or leaves a non-finite parameter,
    every parameter and buffer is restored bit for bit and the error propagates."""
    snapshot = Snapshot.take(model)
    try:
        yield snapshot
        check_finite(model)
    except BaseException:
        snapshot.restore()
        _find.reset_states(model)
        raise


def measurement_mode(model: nn.Module) -> None:
    """BatchNorm uses batch statistics (as in training); dropout is off."""
    for module in model.modules():
        if isinstance(module, NORM_TYPES):
            module.train()
        elif "Dropout" in type(module).__name__:
            module.eval()


@dataclass
class Runner:
    """Runs the user's model over the prepared batches and gathers captures."""

    model: nn.Module
    batches: list[Any]
    trace: Trace
    forward: Forward | None

    def capture(
        self,
        site: Site | None,
        neurons: list[Site],
        norms: list[str] = (),  # type: ignore[assignment]
        outputs: dict[str, list[torch.Tensor]] | None = None,
    ) -> tuple[dict[str, torch.Tensor], dict[str, list[torch.Tensor]]]:
        """Stacked inputs ``[T, B, ...]`` of ``neurons`` (batches joined on dim 1), and
        the inputs of the BatchNorm modules ``norms`` (per call, batches appended).

        With ``site``, each pass stops once that neuron has received all its input.
        ``outputs``: module names whose outputs are appended to its lists, per batch.
        """
        names = [s.name for s in neurons]
        joined: dict[str, list[torch.Tensor]] = {n: [] for n in names}
        norm_inputs: dict[str, list[torch.Tensor]] = {n: [] for n in norms}
        stop = None if site is None else (site.name, site.calls)
        for batch in self.batches:
            cap = capture_pass(
                self.model,
                batch,
                names + list(norms),
                list(outputs or {}),
                self.trace.modules,
                _find.reset_states,
                self.forward,
                stop_after=stop,
            )
            for s in neurons:
                got = cap.inputs.get(s.name)
                if not got:
                    raise ValueError(
                        f"neuron {s.name!r} received no input in a measurement pass; "
                        "the model's forward changed between passes"
                    )
                joined[s.name].append(stack_calls(got, s))
            for n in norms:
                norm_inputs[n].extend(cap.inputs.get(n, []))
            for n in outputs or {}:
                got = cap.outputs.get(n, [])
                assert outputs is not None
                outputs[n].append(got[0] if len(got) == 1 else torch.stack(got))
        return {n: torch.cat(v, dim=1) for n, v in joined.items()}, norm_inputs


def prepare_batches(data: Any, max_samples: int | None) -> list[Any]:
    """The model inputs to use: a tensor as one batch, or a loader's batches up to ``max_samples``.

    Each batch is exactly what the model's forward takes (``x``, or the first
    element of a ``(x, y, ...)`` batch). Non-finite values raise ``ValueError``.
    """
    if isinstance(data, torch.Tensor):
        batches = [data]
    else:
        try:
            iterator = iter(data)
        except TypeError:
            raise TypeError(
                f"data must be a tensor or an iterable of batches, got {type(data).__name__}"
            ) from None
        batches, total = [], 0
        for batch in iterator:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"data batches must be tensors, got {type(x).__name__}")
            batches.append(x)
            labels = batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
            total += len(labels) if isinstance(labels, torch.Tensor) and labels.dim() else 1
            if max_samples is not None and total >= max_samples:
                break
        if not batches:
            raise ValueError("data is empty: the DataLoader yielded no batches")
    for x in batches:
        if x.numel() == 0:
            raise ValueError(f"data is empty (shape {tuple(x.shape)})")
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            raise ValueError("data contains NaN or inf")
    return batches


def limit_samples(batches: list[Any], batch_size: int | None, max_samples: int | None) -> list[Any]:
    """Cut a single tensor to ``max_samples`` along its batch dimension, when that is clear."""
    if max_samples is None or batch_size is None or len(batches) != 1:
        return batches
    x = batches[0]
    dims = [i for i, n in enumerate(x.shape) if n == batch_size]
    if batch_size <= max_samples or len(dims) != 1:
        return batches
    return [x.narrow(dims[0], 0, max_samples)]
