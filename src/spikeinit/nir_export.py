"""Export spikeinit models to NIR (the Neuromorphic Intermediate Representation).

``export_nir(model, path)`` writes an ``nn.Sequential`` of
:class:`~spikeinit.nn.SpikingLinear` (feed-forward) and
:class:`~spikeinit.nn.Readout` layers as a NIR graph::

    SpikingLinear, current synapse  ->  nir.Linear  +  nir.CubaLIF
    SpikingLinear, delta synapse    ->  nir.Linear  +  nir.LIF
    Readout                         ->  nir.Linear  +  nir.CubaLI  (nir.LI for a delta synapse)

**Discretisation.** NIR is continuous-time (``tau dv/dt = (v_leak - v) + r I``,
``tau_syn dI/dt = -I + w_in x``); spikeinit is a discrete update with step
``dt``. The importers of snnTorch and Norse integrate NIR with forward Euler
(snnTorch at a fixed ``dt = 1e-4`` s, Norse at its ``dt``), so the export writes
the *Euler-equivalent* time constants, ``tau = dt / (1 - beta)``, and the gains
in the pulse convention (a spike is an input of height 1 for one step):

* delta synapse: ``tau = dt / (1 - beta_m)``, ``r = g tau / dt``;
* current synapse: ``tau_syn = dt / (1 - beta_s)``, ``w_in = tau_syn / dt``,
  ``tau_mem = dt / (1 - beta_m)``, ``r = tau_mem / dt``, and the membrane gain
  ``g`` (``1 - beta_m`` by default) folded into the exported weights.

What holds **exactly**: a forward-Euler integration of the graph at the same
``dt`` reproduces spikeinit's sub-threshold update (same decays, same gain), and
so the same spikes for ``reset="zero"`` (snnTorch's importer: tested spike for
spike when ``dt = 1e-4``). What holds **approximately**: an exact (exponential)
integrator sees ``tau = dt / (1 - beta)`` instead of spikeinit's
``tau = -dt / ln(beta)``, a relative difference of ``x / (1 - e^-x) - 1 ~ x / 2``
with ``x = dt / tau`` (2.5 % at ``dt / tau = 0.05``); and an importer at another
``dt`` changes the decays. NIR 1.0 has no subtract reset: ``reset="subtract"``
layers are exported with ``v_reset = 0`` and a warning (``reset="none"`` gets a
threshold of ``inf``). The metadata keeps ``dt`` and spikeinit's own
``tau_mem``/``tau_syn``/``reset``.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from .nn.layers import Readout, SpikingLinear
from .params import LIFParams


def _euler_tau(beta: float, dt: float) -> float:
    return dt / (1.0 - beta)


def _full(n: int, value: float) -> np.ndarray:
    return np.full(n, value, dtype=np.float32)


def _neuron_node(layer: SpikingLinear, index: int) -> tuple[Any, float, dict[str, Any]]:
    """(NIR neuron node, weight scale folded into the Linear, metadata)."""
    import nir

    p: LIFParams = layer.params
    n = layer.out_features
    meta: dict[str, Any] = {
        "spikeinit": type(layer).__name__,
        "dt": p.dt,
        "tau_mem": p.tau_mem,
        "reset": p.reset,
        "threshold": p.threshold,
    }
    if p.tau_syn is not None:
        meta["tau_syn"] = p.tau_syn
    tau_m = _euler_tau(p.beta_mem, p.dt)
    readout = isinstance(layer, Readout)
    if p.convention != "spikeinit":
        meta["convention"] = p.convention
        warnings.warn(
            f"layer {index}: NIR's LIF has no update order; the {p.convention!r} convention "
            "(docs/science.md, section 'Neuron conventions') is exported as spikeinit's own "
            "and kept in the node's metadata",
            stacklevel=3,
        )
    if not readout and p.reset == "subtract":
        warnings.warn(
            f"layer {index}: NIR has no subtract reset; exported with v_reset = 0",
            stacklevel=3,
        )
    threshold = math.inf if p.reset == "none" else p.threshold
    if p.tau_syn is None:
        r = p.gain * tau_m / p.dt
        if readout:
            return nir.LI(_full(n, tau_m), _full(n, r), _full(n, 0.0), metadata=meta), 1.0, meta
        node = nir.LIF(
            _full(n, tau_m),
            _full(n, r),
            _full(n, 0.0),
            _full(n, threshold),
            _full(n, 0.0),
            metadata=meta,
        )
        return node, 1.0, meta
    tau_s = _euler_tau(p.beta_syn, p.dt)
    r = tau_m / p.dt
    w_in = tau_s / p.dt
    if readout:
        node = nir.CubaLI(
            _full(n, tau_s),
            _full(n, tau_m),
            _full(n, r),
            _full(n, 0.0),
            _full(n, w_in),
            metadata=meta,
        )
        return node, p.gain, meta
    node = nir.CubaLIF(
        _full(n, tau_s),
        _full(n, tau_m),
        _full(n, r),
        _full(n, 0.0),
        _full(n, threshold),
        _full(n, 0.0),
        _full(n, w_in),
        metadata=meta,
    )
    return node, p.gain, meta


def to_nir(model: nn.Module) -> Any:
    """The NIR graph (``nir.NIRGraph``) of an ``nn.Sequential`` of spikeinit layers."""
    import nir

    layers: list[Any] = list(model) if isinstance(model, nn.Sequential) else [model]
    if not layers:
        raise ValueError("the model is empty")
    for i, layer in enumerate(layers):
        if not isinstance(layer, SpikingLinear):
            raise ValueError(
                f"layer {i} ({type(layer).__name__}) cannot be exported to NIR; supported: "
                "SpikingLinear (feed-forward) and Readout in an nn.Sequential"
            )
        if layer.recurrent_weight is not None:
            raise ValueError(f"layer {i}: recurrent SpikingLinear export is not supported")
    nodes: dict[str, Any] = {
        "input": nir.Input(input_type={"input": np.array([layers[0].in_features])})
    }
    edges: list[tuple[str, str]] = []
    prev = "input"
    for i, layer in enumerate(layers):
        neuron, scale, _ = _neuron_node(layer, i)
        w = (layer.weight.detach().double() * scale).float().cpu().numpy()
        if layer.bias is not None:
            b = (layer.bias.detach().double() * scale).float().cpu().numpy()
            nodes[f"fc{i}"] = nir.Affine(weight=w, bias=b)
        else:
            nodes[f"fc{i}"] = nir.Linear(weight=w)
        nodes[f"neuron{i}"] = neuron
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"neuron{i}")]
        prev = f"neuron{i}"
    nodes["output"] = nir.Output(output_type={"output": np.array([layers[-1].out_features])})
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"exporter": "spikeinit"})


def export_nir(model: nn.Module, path: str | Path | None = None) -> Any:
    """Export ``model`` to NIR; write it to ``path`` (HDF5) if given. Returns the graph.

    See the module docstring for the mapping and what holds exactly.
    """
    graph = to_nir(model)
    if path is not None:
        import nir

        nir.write(str(path), graph)
    return graph


__all__ = ["export_nir", "to_nir"]
