"""``diagnose(model, data)``: what state is each spiking layer in, and why.

For every spiking layer it reports, from one pass of the data:

* ``rate`` (Hz) and ``rate_per_step`` (spikes per neuron per step, one value per
  time step);
* ``silent_fraction`` (neurons with no spike over the whole batch) and
  ``saturated_fraction`` (neurons firing on more than ``saturation`` of steps);
* ``mem_mean``, ``mem_std``: the actual membrane ``U`` (before reset);
* ``free_mem_mean``, ``free_mem_std``: the free membrane (threshold and reset
  off): ``free_mem_std`` is the per-neuron temporal std averaged over neurons
  and samples as a root mean square, ``sqrt(mean Var_t U)`` (sigma_U of Rossbroich
  et al. 2022, which the theory predicts in variance), and
  ``free_mean_spread`` the population std of the per-neuron time-averaged means
  (about ``sqrt(nu eps_bar^2 / eps_hat) sigma_U`` for Poisson input);
* ``predicted_sigma_u``: Campbell's prediction from the current weights and the
  measured input rate (Poisson assumption), and ``predicted_sigma_u_filtered``
  from the measured filtered input statistics (no Poisson assumption);
* ``state``: ``"silent"``, ``"saturated"``, ``"mean-driven"`` (free mean above
  threshold) or ``"fluctuation-driven"``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import theory
from ._api_checks import check_model_and_data, check_reals, names_data_errors
from .adapters.base import ForeignLayer
from .adapters.find import TimeDim, check_time_dim, find_sites, resolve_forward
from .measure import (
    Runner,
    Snapshot,
    collect_data,
    free_signal,
    measurement_mode,
    prepare_batches,
    spiking_layers,
    spread,
    variance_mode,
)
from .nn.base import SpikingLayer


@dataclass
class LayerDiagnosis:
    index: int
    name: str
    type: str
    n_neurons: int
    fan_in: int
    threshold: float
    rate: float
    rate_per_step: list[float]
    silent_fraction: float
    saturated_fraction: float
    mem_mean: float
    mem_std: float
    free_mem_mean: float
    free_mem_std: float
    free_mean_spread: float
    input_rate: float
    predicted_sigma_u: float | None
    predicted_sigma_u_filtered: float | None
    weight_mean: float
    weight_std: float
    state: str
    #: the free-membrane fluctuation in units of theta, measured as initialize targets it
    #: (std over time; over time and samples for a static input; the per-step input for IF)
    sigma_u_theta: float = math.nan
    variance: str = "temporal"


@dataclass
class Diagnosis:
    """Per-layer diagnosis; ``to_dict()`` is JSON-safe, ``plot(path)`` draws it."""

    layers: list[LayerDiagnosis]
    dt: float

    def to_dict(self) -> dict[str, Any]:
        return {"dt": self.dt, "layers": [_json_safe(asdict(layer)) for layer in self.layers]}

    def summary(self) -> list[dict[str, Any]]:
        """Per layer: name, state, sigma_U / theta, rate (Hz), silent and saturated
        fractions (what ``--diagnose-every`` records in ``metrics.jsonl``)."""
        return [
            _json_safe({
                "name": d.name, "state": d.state, "sigma_u_theta": d.sigma_u_theta,
                "rate_hz": d.rate, "silent_fraction": d.silent_fraction,
                "saturated_fraction": d.saturated_fraction,
            })  # fmt: skip
            for d in self.layers
        ]

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    def __str__(self) -> str:
        head = (
            f"{'#':>2} {'layer':<18} {'state':<19} {'rate Hz':>8} {'silent':>7} {'satur.':>7}"
            f" {'free sU':>8} {'pred sU':>8} {'spread':>7}"
        )
        rows = [head, "-" * len(head)]
        for d in self.layers:
            rows.append(
                f"{d.index:>2} {d.name[:18]:<18} {d.state:<19} {d.rate:>8.2f} "
                f"{d.silent_fraction:>7.1%} {d.saturated_fraction:>7.1%} "
                f"{d.sigma_u_theta:>8.3f} "
                f"{_f(d.predicted_sigma_u_filtered, d.threshold):>8} "
                f"{d.free_mean_spread / d.threshold:>7.3f}"
            )
        rows.append("(free sU, pred sU and spread in units of the threshold)")
        return "\n".join(rows)

    def plot(self, path: str | Path) -> Path:
        """Save a figure: rate per time step per layer, and sigma_U per layer."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
        spiking = [d for d in self.layers if d.state != "readout"]
        for d in spiking:
            axes[0].plot(d.rate_per_step, label=f"{d.index}: {d.name}")
        axes[0].set(xlabel="time step", ylabel="spikes / neuron / step", title="firing rate")
        if len(spiking) <= 10:
            axes[0].legend(fontsize=7)
        idx = [d.index for d in self.layers]
        axes[1].plot(idx, [d.sigma_u_theta for d in self.layers], "o-", label="measured")
        axes[1].plot(
            idx,
            [(d.predicted_sigma_u_filtered or math.nan) / d.threshold for d in self.layers],
            "x--",
            label="theory (filtered input)",
        )
        axes[1].set(xlabel="layer", ylabel="sigma_U / theta", title="free membrane std")
        axes[1].legend(fontsize=7)
        axes[2].bar(idx, [d.silent_fraction for d in self.layers], label="silent")
        axes[2].bar(
            idx,
            [d.saturated_fraction for d in self.layers],
            bottom=[d.silent_fraction for d in self.layers],
            label="saturated",
        )
        axes[2].set(xlabel="layer", ylabel="fraction of neurons", ylim=(0, 1), title="dead neurons")
        axes[2].legend(fontsize=7)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


def _f(x: float | None, scale: float) -> str:
    return "-" if x is None else f"{x / scale:.3f}"


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    return obj


def capture_layer_io(
    model: nn.Module,
    x: torch.Tensor,
    forward: Callable[[nn.Module, torch.Tensor], Any] | None = None,
) -> list[tuple[str, SpikingLayer, torch.Tensor]]:
    """Run the model once and return each spiking layer's input, in call order."""
    layers = spiking_layers(model)
    if not layers:
        return _foreign_io(model, [x], forward)
    seen: dict[int, tuple[str, SpikingLayer, torch.Tensor]] = {}
    handles = []
    for name, layer in layers:

        def hook(m: nn.Module, args: tuple[Any, ...], name: str = name) -> None:
            if id(m) not in seen:
                seen[id(m)] = (name, m, args[0].detach())  # type: ignore[assignment]

        handles.append(layer.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            (forward or (lambda m, d: m(d)))(model, x)
    finally:
        for h in handles:
            h.remove()
    return list(seen.values())


def _foreign_io(
    model: nn.Module,
    batches: list[Any],
    forward: Callable[[nn.Module, Any], Any] | None,
    time_dim: TimeDim = "auto",
) -> list[tuple[str, SpikingLayer, torch.Tensor]]:
    """snnTorch / Norse / SpikingJelly: each neuron's input, traced and captured in one pass."""
    forward = resolve_forward(model, batches[0], forward, time_dim)
    snapshot = Snapshot.take(model)
    try:
        measurement_mode(model)
        trace, layers = find_sites(model, batches[0], forward)
        runner = Runner(model, batches, trace, forward)
        currents, _ = runner.capture(None, trace.sites)
    finally:
        snapshot.restore()
    return [(layer.layer_name, layer, currents[layer.layer_name]) for layer in layers]


def diagnose_layer(
    index: int, name: str, layer: SpikingLayer, inp: torch.Tensor, saturation: float = 0.9
) -> LayerDiagnosis:
    """Measure one layer on its input ``inp`` ``[T, B, ...]`` (see the module docstring)."""
    p = layer.params
    with torch.no_grad():
        spikes, mem = layer.simulate(inp)
        _, free = layer.simulate(inp, free=True)
    steps = spikes.shape[0]
    flat_s = spikes.reshape(steps, spikes.shape[1], -1)
    per_neuron_rate = flat_s.mean(dim=(0, 1))  # spikes / step for each neuron
    is_readout = layer.is_readout
    free_flat = free.reshape(steps, free.shape[1], -1)
    per_neuron_mean = free_flat.mean(dim=0)  # [B, N]
    groups = layer.weight_groups()
    w_all = torch.cat([g.weight.detach().reshape(-1) for g in groups] + [inp.new_zeros(0)])
    ff = groups[0].weight.detach() if groups else inp.new_zeros(1)
    input_rate = float(inp.mean()) / p.dt
    fan_in = layer.fan_in
    pred = pred_f = None
    mu_w, sd_w = float(ff.mean()), float(ff.std()) if ff.numel() > 1 else 0.0
    binary = bool(((inp == 0) | (inp == 1)).all())
    if binary and input_rate > 0 and len(groups) == 1:
        pred = theory.membrane_moments(fan_in, input_rate, mu_w, sd_w, p)[1]
    if len(groups) == 1 and steps >= 2:
        m, v = theory.filtered_input_stats(inp, p)
        if v > 0:
            pred_f = theory.membrane_moments(
                fan_in, 1.0, mu_w, sd_w, p, filtered_mean=max(m, 0.0), filtered_var=v
            )[1]
    rate = 0.0 if is_readout else float(spikes.mean()) / p.dt
    silent = 0.0 if is_readout else float((per_neuron_rate == 0).float().mean())
    saturated = 0.0 if is_readout else float((per_neuron_rate > saturation).float().mean())
    free_std = float(free_flat.var(dim=0, unbiased=False).mean().sqrt())
    if isinstance(layer, ForeignLayer):
        mode = variance_mode(inp, layer)
        sigma_theta = spread(free_signal(layer, inp), mode) / p.threshold
        mode = mode if layer.leaky else "input"
    else:
        mode = "temporal" if steps > 1 else "total"
        sigma_theta = spread(free, mode) / p.threshold
    free_mean = float(free.mean())
    if is_readout:
        state = "readout"
    elif silent > 0.5 or rate == 0.0:
        state = "silent"
    elif saturated > 0.5:
        state = "saturated"
    elif free_mean > p.threshold:
        state = "mean-driven"
    else:
        state = "fluctuation-driven"
    return LayerDiagnosis(
        index=index,
        name=name,
        type=type(layer).__name__,
        n_neurons=int(flat_s.shape[-1]),
        fan_in=fan_in,
        threshold=p.threshold,
        rate=rate,
        rate_per_step=[0.0] * steps if is_readout else flat_s.mean(dim=(1, 2)).tolist(),
        silent_fraction=silent,
        saturated_fraction=saturated,
        mem_mean=float(mem.mean()),
        mem_std=float(mem.std()),
        free_mem_mean=free_mean,
        free_mem_std=free_std,
        free_mean_spread=float(per_neuron_mean.std(dim=1).mean())
        if per_neuron_mean.shape[1] > 1
        else 0.0,
        input_rate=input_rate,
        predicted_sigma_u=pred,
        predicted_sigma_u_filtered=pred_f,
        weight_mean=float(w_all.mean()) if w_all.numel() else 0.0,
        weight_std=float(w_all.std()) if w_all.numel() > 1 else 0.0,
        state=state,
        sigma_u_theta=sigma_theta,
        variance=mode,
    )


@names_data_errors
def diagnose(
    model: nn.Module,
    data: torch.Tensor | Iterable[Any],
    *,
    max_samples: int | None = 256,
    saturation: float = 0.9,
    forward: Callable[[nn.Module, torch.Tensor], Any] | None = None,
    time_dim: TimeDim = "auto",
) -> Diagnosis:
    """Diagnose each spiking layer of ``model`` on ``data`` (``[T, B, ...]`` or a DataLoader).

    ``saturation`` is the per-step firing probability above which a neuron
    counts as saturated. ``forward(model, x)`` is used for models that need a
    custom call. ``time_dim`` is :func:`spikeinit.initialize`'s: ``0`` (time-first
    data) or ``None`` (no time axis, one step) for a foreign model whose forward
    is one step; ``"auto"`` probes and refuses to guess.
    """
    check_model_and_data(model, data)
    check_reals(saturation=saturation)
    check_time_dim(time_dim, forward)
    if not 0 < saturation <= 1:
        raise ValueError(f"saturation must be in (0, 1], got {saturation!r}")
    if max_samples is not None and (
        isinstance(max_samples, bool) or not isinstance(max_samples, int) or max_samples < 1
    ):
        raise ValueError(f"max_samples must be an integer >= 1 or None, got {max_samples!r}")
    if spiking_layers(model):
        if time_dim is None:
            raise ValueError(
                "time_dim=None applies to snnTorch / Norse / SpikingJelly models whose forward "
                "is one step; spikeinit's own layers take time-first data [T, B, ...]"
            )
        captured = capture_layer_io(model, collect_data(data, max_samples), forward)
    else:
        captured = _foreign_io(model, prepare_batches(data, max_samples), forward, time_dim)
    out = [
        diagnose_layer(i, name, layer, inp, saturation)
        for i, (name, layer, inp) in enumerate(captured, start=1)
    ]
    dt = captured[0][1].params.dt if captured else math.nan
    return Diagnosis(out, dt)
