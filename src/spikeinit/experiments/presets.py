"""Run presets: one training run from names (dataset + model + init + seed) -> metrics, on disk.

Shared by ``spikeinit train`` (:mod:`spikeinit.experiments.train_cmd`, the
command), ``spikeinit compare``, ``sweep`` and ``demo``; the training loop itself
is the library's :mod:`spikeinit.train` (``Trainer``, ``fit``). Formerly
``spikeinit.experiments.training`` (still importable, with a DeprecationWarning).
Each dataset has a preset (docs/science.md, section 'Reference experiments');
every field can be overridden.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .. import models
from .._memory import check_fits
from ..catalog import init_aliases, init_names
from ..catalog import resolve_init as _resolve_init
from ..data import load as load_dataset
from ..diagnostics import diagnose
from ..entry_points import is_entry_point
from ..init.model import initialize
from ..params import LIFParams
from ..regularizers import ActivityRegularizer
from ..train import TrainConfig, fit
from .common import activity_probe, spec_dict
from .user_runs import user_run

#: views of the registry of rules (spikeinit.catalog.INIT_RULES): aliases, and names + aliases
INIT_ALIASES = init_aliases()
INIT_NAMES = init_names(aliases=True)


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
    sigma_u: float | None = 1.0  # None: initialize's default (1, or 0.5 for a static input)
    mu_u: float = 0.0
    hidden: tuple[int, ...] = (128,)
    dataset_kw: dict[str, Any] = field(default_factory=dict)
    regularize: bool = True
    standardize: bool = False
    init_samples: int = 256
    readout: str | float = "auto"
    form: str = "covariance"
    # a user's model and data (--model / --data FILE.py:FUNCTION, experiments/user_runs.py):
    # the factories' keyword arguments (the data factory's are dataset_kw), which part of
    # the output is the trace, and how many steps a one-step model sees a static batch
    model_kw: dict[str, Any] = field(default_factory=dict)
    output: str = "auto"
    repeat_steps: int | None = None
    # diagnose the layers on the initialisation samples every this many epochs (0: never)
    diagnose_every: int = 0

    @property
    def user(self) -> bool:
        """The model or the data is a user's factory (``FILE.py:FUNCTION``)."""
        return is_entry_point(self.model) or is_entry_point(self.dataset)


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
    # Micheli et al.'s MLP on real MNIST images (models.micheli_mlp: snnTorch's Leaky with
    # its undecayed subtract reset, nn.Linear's default bias), the image as a static current
    # at every step, T = 1; pixels standardised (with Micheli's [0, 1] pixels and theta = 1
    # the input layer cannot fire at t = 0, so at T = 1 no input reaches the network)
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
    # stork's recurrent convolutional SHD notebook (docs/science.md, section
    # 'Reference experiments'): 200 epochs, batch 400,
    # SMORMS3 5e-3, max-over-time loss, upper-bound homeostasis 0.01 / 7 spikes averaged
    # over units, readout N(0, 1/fan_in); the 83.5 % / 82.7 % reference result
    "shd": RunSpec(
        dataset="shd",
        model="recurrent_conv_shd",
        epochs=200,
        batch_size=400,
        lr=5e-3,
        optimizer="smorms3",
        loss="max",
    ),
}

# readout rule by model (docs/science.md, section 'Reference experiments'):
# fluctuation-initialised in the Randman and
# SHD feed-forward runs, N(0, 1/fan_in) in the convolutional, Dale and DVS runs
_NORMAL_READOUT = ("recurrent_conv_shd", "dale_shd", "dvs_conv")


def resolve_init(name: str) -> str:
    """The rule's canonical name for ``--init`` (an alias or a name)."""
    return _resolve_init(name)


#: a user's model on a user's data: trained as the frameworks' tutorials train (Adam,
#: 1e-3, the tutorials' loss for the model's output), no homeostasis
USER = RunSpec(
    dataset="", model="", epochs=10, batch_size=128, lr=1e-3, optimizer="adam", loss="auto",
    regularize=False, sigma_u=None,
)  # fmt: skip


def preset(dataset: str, **overrides: Any) -> RunSpec:
    """The preset for ``dataset`` (Randman's set-up for others), with overrides.

    A user's data or model (``FILE.py:FUNCTION``) starts from :data:`USER`.
    """
    if is_entry_point(dataset) or is_entry_point(overrides.get("model")):
        if not (is_entry_point(dataset) and is_entry_point(overrides.get("model"))):
            raise ValueError(
                "a model of your own (--model FILE.py:FUNCTION) needs data of your own "
                "(--data FILE.py:FUNCTION) and the other way round"
            )
        base = replace(USER, dataset=dataset)
    else:
        base = PRESETS.get(dataset, replace(PRESETS["randman"], dataset=dataset))
    clean = {k: v for k, v in overrides.items() if v is not None}
    if "dataset_kw" in clean:
        clean["dataset_kw"] = {**base.dataset_kw, **clean["dataset_kw"]}
    spec = replace(base, **clean)
    _check_used(spec, base, clean)
    return spec


#: the datasets whose pixels ``standardize`` standardises (MNIST's mean and std)
STANDARDIZED_DATASETS: tuple[str, ...] = ("mnist5k", "mnist")
#: the zoo models whose hidden widths ``hidden`` sets
MODELS_WITH_HIDDEN: tuple[str, ...] = ("fc", "recurrent")


def _check_used(spec: RunSpec, base: RunSpec, given: dict[str, Any]) -> None:
    """``ValueError`` for an option that the run of ``spec`` would silently ignore."""
    if given.get("standardize") and spec.dataset not in STANDARDIZED_DATASETS:
        raise ValueError(
            f"--standardize: only for {', '.join(STANDARDIZED_DATASETS)} (it applies MNIST's "
            f"pixel mean and std), not for dataset {spec.dataset!r}; leave it out"
        )
    if "hidden" in given and tuple(given["hidden"]) != tuple(base.hidden):
        if spec.model not in MODELS_WITH_HIDDEN:
            what = "a model of your own" if is_entry_point(spec.model) else f"model {spec.model!r}"
            raise ValueError(
                f"--hidden: only the {' and '.join(MODELS_WITH_HIDDEN)} models have hidden "
                f"widths to set, not {what} (its sizes are fixed"
                + (": pass them with --model-kw)" if is_entry_point(spec.model) else ")")
            )


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


def readout_rule(spec: RunSpec) -> str | float:
    """``spec.readout``, or with ``"auto"`` the reference rule for ``spec.model``."""
    if spec.readout != "auto":
        return spec.readout
    return "normal" if spec.model in _NORMAL_READOUT else "fluctuation"


def _regularizers(spec: RunSpec) -> tuple[ActivityRegularizer, ...]:
    """stork's homeostasis for the model (docs/science.md, section 'Homeostasis')."""
    if not spec.regularize:
        return ()
    if spec.model == "recurrent_conv_shd":  # conv SHD: upper 0.01, 7, averaged over units
        return (ActivityRegularizer(0.01, 7.0, "upper"),)
    if spec.model == "dale_shd":  # Dale: upper 0.1, 7, averaged over units
        return (ActivityRegularizer(0.1, 7.0, "upper"),)
    if spec.model == "dvs_conv":  # DVS: upper 0.01, 10
        return (ActivityRegularizer(0.01, 10.0, "upper"),)
    # Randman / SHD feed-forward: lower bound per neuron, upper averaged per sample
    upper = 7.0 if spec.dataset == "shd" else 4.0
    return (
        ActivityRegularizer(100.0, 1e-3, "lower", per_neuron=True),
        ActivityRegularizer(0.1, upper, "upper", dims=1),
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
    check_model_memory(spec, ds, params, kw)
    return models.build(spec.model, ds.input_shape, ds.n_classes, params=params, **kw), ds


def check_model_memory(
    spec: RunSpec, ds: Any, params: LIFParams | None, kw: dict[str, Any]
) -> None:
    """``ValueError`` with the figures if the model of ``spec`` cannot fit in memory.

    A lower bound, from the model built on the ``meta`` device (no memory): its
    float32 parameters and their gradients, and for ``fc`` / ``recurrent`` one float32
    ``[T, B, N]`` tensor of the hidden layers (the membrane the surrogate gradient reads
    in the backward pass).
    """
    try:  # fork_rng: the real build that follows draws the same weights as without this
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            meta = models.build(spec.model, ds.input_shape, ds.n_classes, params=params, **kw)
    except (RuntimeError, NotImplementedError):  # an operation without a meta kernel
        return
    n_params = sum(p.numel() for p in meta.parameters())
    parts = {"parameters and gradients": 2 * 4 * n_params}
    if "hidden" in kw:
        steps = int(getattr(ds, "n_steps", 1) or 1)
        neurons = sum(kw["hidden"])
        parts[f"[T, B, N] state at T={steps}, B={spec.batch_size}, N={neurons}"] = (
            4 * steps * spec.batch_size * neurons
        )
    check_fits(parts)


def build_initialized(
    spec: RunSpec, readout: str | None = None
) -> tuple[torch.nn.Module, Any, torch.Tensor, Any]:
    """``(model, dataset, x_init, InitReport)``: the model of ``spec`` initialised on
    ``init_samples`` training samples; ``readout`` overrides :func:`readout_rule`."""
    method = resolve_init(spec.init)
    model, ds = build_model(spec)
    x_init, _ = ds.sample("train", min(spec.init_samples, len(ds.train)), seed=spec.seed)
    if spec.standardize:
        x_init = standardize_mnist(x_init)
    report = initialize(
        model, x_init, method=method, sigma_u=spec.sigma_u, mu_u=spec.mu_u, seed=spec.seed,
        readout=readout or readout_rule(spec), form=spec.form,  # type: ignore[arg-type]
    )  # fmt: skip
    return model, ds, x_init, report


def run(
    spec: RunSpec,
    out: str | Path,
    device: str = "cpu",
    resume: bool = False,
    progress: bool = True,
    diagnose_init: bool = False,
    on_epoch_end: Any = None,
) -> dict[str, Any]:
    """Build, initialise and train one model; returns ``{"metrics", "history", "init"}``.

    With ``diagnose_init`` the initialised (untrained) model is also diagnosed
    (:func:`spikeinit.diagnose` on the initialisation samples) and the result
    holds ``"initial_diagnosis"``. ``on_epoch_end(epoch, record)`` is passed to
    :func:`spikeinit.train.fit`.
    """
    if spec.user:
        return user_run(spec, out, device, resume, progress, diagnose_init, on_epoch_end)
    model, ds, x_init, report = build_initialized(spec)
    diagnosis = None
    if diagnose_init:
        diagnosis = diagnose(model, x_init).to_dict()

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
        identity=run_identity(spec, ds.summary()),
        on_epoch_end=on_epoch_end,
        epoch_probe=activity_probe(spec.diagnose_every, lambda: diagnose(model, x_init)),
    )
    res = {
        "metrics": result.metrics(),
        "history": result.history,
        "init": report.to_dict(),
        "dataset": ds.summary(),
    }
    if diagnosis is not None:
        res["initial_diagnosis"] = diagnosis
    return res


def run_identity(spec: RunSpec, dataset: dict[str, Any]) -> dict[str, Any]:
    """What a run trains on, for the resume check: the spec without the fields a
    resume may change (``epochs``), and the dataset's summary (sizes, settings)."""
    d = spec_dict(spec)
    d.pop("epochs")
    return {"spec": d, "dataset": dataset}


def epochs_to_reach(history: list[dict[str, Any]], level: float, key: str = "val_acc") -> float:
    """First epoch (1-based) whose ``key`` reaches ``level``; ``nan`` if never."""
    for i, rec in enumerate(history, start=1):
        value = rec.get(key)
        if value is not None and value >= level:
            return float(i)
    return math.nan



