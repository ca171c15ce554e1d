"""One training run from names: dataset + model + init + seed -> metrics, on disk.

Shared by ``spikeinit train``, ``spikeinit compare`` and ``spikeinit demo``.
Each dataset has a preset (SCIENCE.md's reference set-ups); every field can be
overridden.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .. import models
from ..data import load as load_dataset
from ..init.model import METHODS, initialize
from ..params import LIFParams
from ..regularizers import ActivityRegularizer
from ..train import TrainConfig, fit

INIT_ALIASES = {"xavier": "glorot", "he": "kaiming", "micheli-reset": "micheli_reset"}
INIT_NAMES = tuple(METHODS) + tuple(INIT_ALIASES)


@dataclass(frozen=True)
class RunSpec:
    """Everything one training run needs; JSON-able via ``asdict``."""

    dataset: str = "randman"
    model: str = "fc"
    init: str = "fluctuation"
    seed: int = 0
    epochs: int = 200
    batch_size: int = 250
    lr: float = 5e-3
    optimizer: str = "smorms3"
    loss: str = "max"
    schedule: str = "none"
    sigma_u: float = 1.0
    hidden: tuple[int, ...] = (128,)
    dataset_kw: dict[str, Any] = field(default_factory=dict)
    regularize: bool = True
    standardize: bool = False
    init_samples: int = 256


PRESETS: dict[str, RunSpec] = {
    # stork's Randman example: 1 x 128, SMORMS3 5e-3, 200 epochs, batch 250, max-over-time
    "randman": RunSpec(),
    # a fast sanity run on scikit-learn's 8x8 digits, Poisson rate coded
    "digits": RunSpec(
        dataset="digits",
        epochs=40,
        batch_size=64,
        lr=5e-3,
        optimizer="adam",
        dataset_kw={"encoding": "poisson", "n_steps": 50},
        regularize=False,
    ),
    # Micheli et al.'s MLP on real MNIST images: pixels (standardised) as current, T = 1
    "mnist5k": RunSpec(
        dataset="mnist5k",
        model="micheli_mlp",
        init="micheli",
        epochs=100,
        batch_size=64,
        lr=1e-3,
        optimizer="adam",
        loss="count",
        schedule="cosine_batch",
        dataset_kw={"encoding": "current", "n_steps": 1},
        regularize=False,
        standardize=True,
    ),
}


def resolve_init(name: str) -> str:
    method = INIT_ALIASES.get(name, name)
    if method not in METHODS:
        raise ValueError(f"--init must be one of {sorted(INIT_NAMES)}, got {name!r}")
    return method


def preset(dataset: str, **overrides: Any) -> RunSpec:
    """The preset for ``dataset`` (Randman's set-up for others), with overrides."""
    base = PRESETS.get(dataset, replace(PRESETS["randman"], dataset=dataset))
    clean = {k: v for k, v in overrides.items() if v is not None}
    if "dataset_kw" in clean:
        clean["dataset_kw"] = {**base.dataset_kw, **clean["dataset_kw"]}
    return replace(base, **clean)


def standardize_mnist(x: torch.Tensor) -> torch.Tensor:
    """MNIST standardisation ``(x - 0.1307) / 0.3081`` (torchvision's mean and std)."""
    return (x - 0.1307) / 0.3081


class _Standardized:
    """Loader wrapper applying :func:`standardize_mnist` to every batch."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.inner, "set_epoch"):
            self.inner.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.inner)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.inner:
            yield standardize_mnist(x), y


def _regularizers(spec: RunSpec) -> tuple[ActivityRegularizer, ...]:
    if not spec.regularize:
        return ()
    # SCIENCE.md, Homeostasis (Randman / SHD-FC): lower bound per neuron, upper per sample
    return (
        ActivityRegularizer(100.0, 1e-3, "lower", per_neuron=True),
        ActivityRegularizer(0.1, 4.0, "upper", dims=1),
    )


def build_model(spec: RunSpec) -> tuple[torch.nn.Module, Any]:
    """The dataset and the zoo model for ``spec`` (weights not yet initialised)."""
    ds = load_dataset(spec.dataset, **spec.dataset_kw)
    torch.manual_seed(spec.seed)
    kw: dict[str, Any] = {}
    params = None
    if models.OUTPUT.get(spec.model) == "trace":
        params = LIFParams(tau_mem=20e-3, tau_syn=10e-3, dt=ds.dt)
        kw["duration"] = ds.duration
        if spec.model in ("fc", "recurrent"):
            kw["hidden"] = spec.hidden
    return models.build(spec.model, ds.input_shape, ds.n_classes, params=params, **kw), ds


def run(
    spec: RunSpec, out: str | Path, device: str = "cpu", resume: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Build, initialise and train one model; returns ``{"metrics", "history", "init"}``."""
    method = resolve_init(spec.init)
    model, ds = build_model(spec)
    x_init, _ = ds.sample("train", min(spec.init_samples, len(ds.train)), seed=spec.seed)
    if spec.standardize:
        x_init = standardize_mnist(x_init)
    report = initialize(model, x_init, method=method, sigma_u=spec.sigma_u, seed=spec.seed)

    def loader(split: str) -> Any:
        inner = ds.loader(split, spec.batch_size, seed=spec.seed)
        return _Standardized(inner) if spec.standardize else inner

    cfg = TrainConfig(
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        lr=spec.lr,
        optimizer=spec.optimizer,
        loss=spec.loss,
        schedule=spec.schedule,
        regularizers=_regularizers(spec),
        seed=spec.seed,
        device=device,
        progress=progress,
    )
    result = fit(
        model,
        loader("train"),
        loader("val"),
        loader("test"),
        config=cfg,
        out_dir=out,
        resume=resume,
    )
    return {
        "metrics": result.metrics(),
        "history": result.history,
        "init": report.to_dict(),
        "dataset": ds.summary(),
    }


def epochs_to_reach(history: list[dict[str, Any]], level: float, key: str = "val_acc") -> float:
    """First epoch (1-based) whose ``key`` reaches ``level``; ``nan`` if never."""
    for i, rec in enumerate(history, start=1):
        value = rec.get(key)
        if value is not None and value >= level:
            return float(i)
    return math.nan


def spec_dict(spec: RunSpec) -> dict[str, Any]:
    d = asdict(spec)
    d["hidden"] = list(spec.hidden)
    return d
