"""The record of :func:`spikeinit.initialize`: what was measured and set, per layer and module."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class GroupInit:
    """What was measured and set for one weight group."""

    name: str
    kind: str
    fan_in: int
    rule: str
    filtered_mean: float | None = None
    filtered_var: float | None = None
    rate_hz: float | None = None
    mu_w: float = 0.0
    sigma_w: float = 0.0
    share: float = 1.0


@dataclass
class LayerInit:
    """One layer's entry in an :class:`InitReport`."""

    index: int
    name: str
    type: str
    groups: list[GroupInit]
    predicted_mu_u: float | None = None
    predicted_sigma_u: float | None = None
    measured_mu_u: float | None = None
    measured_sigma_u: float | None = None
    measured_rate_hz: float | None = None
    calibration_steps: int = 0
    notes: list[str] = field(default_factory=list)
    #: the measured free-membrane fluctuation and mean in units of theta
    sigma_u_theta: float | None = None
    mu_u_theta: float | None = None
    #: how sigma_U is measured: "temporal", "total" (static input) or "input" (IF neuron)
    variance: str = "temporal"
    is_readout: bool = False
    threshold: float | None = None
    #: how the model's output decodes this layer ("spikes", "membrane", "spikes, membrane"),
    #: or None for a hidden layer; and the output rule applied to it
    output: str | None = None
    output_rule: str | None = None
    #: the sigma_U / theta the measured rule aimed at (sigma_u for hidden layers, the
    #: output rule's target for output layers); None where no target was set
    target_sigma_u_theta: float | None = None


@dataclass
class ModuleInit:
    """One parameter-bearing module of the model: initialised (and how) or left alone (why)."""

    name: str
    type: str
    initialised: bool
    rule: str | None = None
    reason: str | None = None


@dataclass
class InitReport:
    """Per-layer record of :func:`initialize`: statistics, weights, predictions.

    ``predicted_*`` come from the theory and ``measured_*`` from running the
    data through the initialised layer with threshold and reset switched off
    (free membrane), both in membrane units (theta already applied);
    ``sigma_u_theta`` / ``mu_u_theta`` are the measured values in units of theta.
    ``modules`` lists every parameter-bearing module of the model (foreign
    models): initialised with its rule, or left alone with the reason.
    """

    method: str
    stats: str
    targets: dict[str, Any]
    layers: list[LayerInit]
    modules: list[ModuleInit] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        head = (
            f"{'#':>2} {'layer':<16} {'mu_W':>9} {'sigma_W':>9} {'pred sU':>8} {'meas sU':>8}"
            f" {'rate Hz':>8}"
        )
        lines = [f"InitReport(method={self.method!r}, stats={self.stats!r})", head]
        for layer in self.layers:
            g = layer.groups[0] if layer.groups else None
            theta = _theta(layer)
            lines.append(
                f"{layer.index:>2} {layer.name[:16]:<16} "
                f"{_fmt(g.mu_w if g else None):>9} {_fmt(g.sigma_w if g else None):>9} "
                f"{_fmt(_div(layer.predicted_sigma_u, theta)):>8} "
                f"{_fmt(_div(layer.measured_sigma_u, theta)):>8} "
                f"{_fmt(layer.measured_rate_hz):>8}" + ("  (readout)" if layer.is_readout else "")
                + (f"  (output: {layer.output}, {layer.output_rule})" if layer.output else "")
            )
        lines.append("(pred sU and meas sU: free-membrane std in units of the threshold theta)")
        left = [m for m in self.modules if not m.initialised]
        if left:
            lines.append("left alone:")
            lines.extend(f"  {m.name} ({m.type}): {m.reason}" for m in left)
        return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _theta(layer: LayerInit) -> float | None:
    return layer.threshold


def _div(x: float | None, theta: float | None) -> float | None:
    return None if x is None else x / (theta or 1.0)
