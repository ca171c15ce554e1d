"""The command line's arguments, built without importing torch.

Every sub-command's parser is defined here, from the torch-free name lists of
:mod:`spikeinit.catalog`, so that ``spikeinit CMD --help`` and a usage error
answer at once; :mod:`spikeinit.cli` imports the command's module (and torch)
only after the arguments parsed. Each ``add_<command>(sub)`` registers one
sub-command and records, as the parser default ``command_module``, the module
whose ``run(args) -> int`` carries it out.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from .catalog import (
    DATASETS,
    LOSSES,
    MICHELI_INPUT_WIDTH,
    MODELS,
    OPTIMIZERS,
    OUTPUTS,
    PROPAGATION_BIASES,
    PROPAGATION_INPUTS,
    PROPAGATION_NEURONS,
    RESET_FORMS,
    init_names,
)
from .entry_points import absolute, is_entry_point

__all__ = [
    "COMMANDS",
    "ENGINES",
    "SWEEP_PARAMETERS",
    "UserError",
    "add_common_arguments",
    "add_engine_arguments",
    "add_micheli_arguments",
    "add_training_arguments",
    "choice_list",
    "float_in",
    "float_list",
    "int_list",
    "positive_int",
]


class UserError(Exception):
    """An error caused by the user's input: shown as one line, exit code 2."""


# -- argparse types: a bad value gives one line and exit code 2 ----------------------------
def positive_int(upper: int | None = None) -> Any:
    """An argparse ``type`` for an integer in ``[1, upper]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
        if value < 1 or (upper is not None and value > upper):
            bound = f"between 1 and {upper}" if upper is not None else ">= 1"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


#: bounds of the training commands' sizes: far beyond any run that ends, and small
#: enough that no integer overflows on the way to the allocation (``--steps 1e30``)
MAX_EPOCHS = 1_000_000
MAX_STEPS = 1_000_000
MAX_SIZE = 100_000_000


#: the largest ``--seed`` (numpy's seed range, 2**32 - 1)
MAX_SEED = 2**32 - 1


def int_in(lo: int, hi: int | None = None) -> Any:
    """An argparse ``type`` for an integer in ``[lo, hi]`` (``>= lo`` without ``hi``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    return parse


def int_list(upper: int | None = None) -> Any:
    """An argparse ``type`` for a comma-separated list of positive integers (``100,1000``)."""
    one = positive_int(upper)

    def parse(text: str) -> list[int]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return [one(t) for t in items]

    return parse


def choice_list(choices: Sequence[str]) -> Any:
    """An argparse ``type`` for a comma-separated list drawn from ``choices``."""

    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if not items or bad:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(map(repr, bad)) or 'empty list'}; choose from "
                f"{', '.join(choices)}"
            )
        return list(dict.fromkeys(items))

    return parse


def float_in(lo: float, hi: float, *, lo_open: bool = False) -> Any:
    """An argparse ``type`` for a finite float in ``[lo, hi]`` (``(lo, hi]`` if ``lo_open``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and value <= hi
        if not ok:
            left = "(" if lo_open else "["
            raise argparse.ArgumentTypeError(f"must be in {left}{lo:g}, {hi:g}], got {text}")
        return value

    return parse


def float_list(lo: float, hi: float) -> Any:
    """An argparse ``type`` for a comma-separated list of floats in ``[lo, hi]``."""
    one = float_in(lo, hi)

    def parse(text: str) -> list[float]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return [one(t) for t in items]

    return parse


# -- options shared by several commands ------------------------------------------------------
def add_common_arguments(p: argparse.ArgumentParser, out: str) -> None:
    """``--out``, ``--seed`` and ``--device``, shared by every command."""
    p.add_argument("--out", default=out, help="output directory (default: %(default)s)")
    p.add_argument(
        "--seed", type=int_in(0, MAX_SEED), default=0, help="random seed (default: %(default)s)"
    )
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")


def model_name(text: str) -> str:
    """A zoo model, or a user's factory ``FILE.py:FUNCTION`` (its file made absolute)."""
    if text in MODELS:
        return text
    if is_entry_point(text):
        return absolute(text, "--model")
    raise argparse.ArgumentTypeError(
        f"expected a zoo model ({', '.join(MODELS)}) or FILE.py:FUNCTION, got {text!r}"
    )


def data_name(text: str) -> str:
    """A user's data factory ``FILE.py:FUNCTION`` returning ``(train, val[, test])``."""
    if is_entry_point(text):
        return absolute(text, "--data")
    raise argparse.ArgumentTypeError(
        f"expected FILE.py:FUNCTION or package.module:FUNCTION returning (train, val[, test]) "
        f"loaders, got {text!r} (built-in datasets: --dataset)"
    )


def loss_name(text: str) -> str:
    """A loss name, ``auto`` (the tutorials' loss for the output) or ``FILE.py:FUNCTION``."""
    if text in LOSSES or text == "auto":
        return text
    if is_entry_point(text):
        return absolute(text, "--loss")
    raise argparse.ArgumentTypeError(
        f"expected one of {', '.join(LOSSES)}, auto or FILE.py:FUNCTION, got {text!r}"
    )


READOUT_RULES: tuple[str, ...] = ("auto", "spikes", "membrane", "fluctuation", "normal", "keep")


def readout_rule(text: str) -> str | float:
    """An output-layer rule (:data:`READOUT_RULES`) or a target sigma_U / theta > 0."""
    if text in READOUT_RULES:
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"expected one of {', '.join(READOUT_RULES)} or a number > 0, got {text!r}"
        )
    return value


def keyword_arguments(text: str) -> dict[str, Any]:
    """``KEY=VALUE,KEY=VALUE`` (values read as JSON where they parse, else as text)."""
    out: dict[str, Any] = {}
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        key, eq, raw = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE pairs, got {item!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        out[key.strip()] = value
    return out


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by ``train``, ``compare`` and ``sweep`` (unset values keep the preset)."""
    p.add_argument("--dataset", default="randman", choices=DATASETS)
    p.add_argument(
        "--model",
        type=model_name,
        help="zoo model (default: the preset's) or your own: FILE.py:FUNCTION returning an "
        "nn.Module (snnTorch, Norse, SpikingJelly, spikeinit); needs --data",
    )
    add_user_arguments(p)
    p.add_argument("--epochs", type=positive_int(MAX_EPOCHS), help="default: the preset's")
    p.add_argument("--batch-size", type=positive_int(MAX_SIZE), help="default: the preset's")
    p.add_argument("--lr", type=float, help="learning rate (default: the preset's)")
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument(
        "--loss",
        type=loss_name,
        help=f"{', '.join(LOSSES)}, auto (a model of your own: the tutorials' loss for its "
        "output) or FILE.py:FUNCTION(trace [T, B, C], y)",
    )
    p.add_argument("--sigma-u", type=float, help="fluctuation target sigma_U / theta")
    p.add_argument("--steps", type=positive_int(MAX_STEPS), help="time steps T (image datasets)")
    p.add_argument("--samples-per-class", type=positive_int(MAX_SIZE), help="Randman size")
    p.add_argument("--hidden", help="hidden widths for fc/recurrent, e.g. 128 or 128,128")


def add_user_arguments(p: argparse.ArgumentParser) -> None:
    """``--data``, ``--model-kw``, ``--data-kw``, ``--output``, ``--repeat-steps``."""
    p.add_argument(
        "--data",
        type=data_name,
        help="your own data: FILE.py:FUNCTION returning (train, val) or (train, val, test) "
        "loaders of (x, y) batches",
    )
    p.add_argument("--model-kw", type=keyword_arguments, help="KEY=VALUE,... for --model")
    p.add_argument("--data-kw", type=keyword_arguments, help="KEY=VALUE,... for --data")
    p.add_argument(
        "--output",
        choices=OUTPUTS,
        help="which part of your model's output is decoded: auto (the spikes of a "
        "(spikes, membrane) pair), spikes or membrane",
    )
    p.add_argument(
        "--readout",
        type=readout_rule,
        help="rule for the output layer(s): auto (default: decode-aware for a model of your "
        "own, the reference rule for a zoo model), fluctuation (as hidden layers), normal, "
        "keep, or a target sigma_U / theta (a number, models of your own)",
    )
    p.add_argument(
        "--diagnose-every",
        type=positive_int(),
        help="diagnose the layers (sigma_U, rate, silent fraction) on a fixed batch every N "
        "epochs while training: metrics.jsonl and a figure in the report",
    )
    p.add_argument(
        "--repeat-steps",
        type=positive_int(MAX_STEPS),
        help="feed a static batch this many steps to a one-step model (snnTorch init_hidden)",
    )


def add_micheli_arguments(p: argparse.ArgumentParser) -> None:
    """``--form`` and ``--standardize`` of ``train`` and ``compare`` (Micheli's set-up)."""
    p.add_argument(
        "--form",
        choices=RESET_FORMS,
        help="micheli_reset's form: covariance (default) or the public code's",
    )
    p.add_argument(
        "--standardize",
        action=argparse.BooleanOptionalAction,
        help="standardise MNIST pixels (mnist5k preset: on; --no-standardize: Micheli's "
        "[0, 1] pixels)",
    )


#: the engines of ``spikeinit sweep`` and ``compare``
ENGINES: tuple[str, ...] = ("ray", "inprocess")
#: what ``spikeinit sweep --grid`` sweeps (the keys of ``experiments.sweep.PARAMETERS``)
SWEEP_PARAMETERS: tuple[str, ...] = (
    "sigma_u",
    "mu_u",
    "xi",
    "lr",
    "seed",
    "epochs",
    "batch_size",
    "steps",
    "samples_per_class",
    "hidden",
    "init",
    "model",
    "dataset",
    "optimizer",
    "loss",
    "schedule",
    "readout",
    "model_kw",
    "data_kw",
    "output",
    "repeat_steps",
    "diagnose_every",
)


def add_engine_arguments(p: argparse.ArgumentParser, engine: str) -> None:
    """``--engine``, ``--address``, ``--max-concurrent``, ... (``sweep`` and ``compare``)."""
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=engine,
        help="ray (Ray Tune) or inprocess (one after another; default: %(default)s)",
    )
    p.add_argument(
        "--address",
        help="Ray cluster to join (HOST:PORT or auto); default: start Ray embedded on this machine",
    )
    p.add_argument(
        "--max-concurrent",
        type=positive_int(),
        help="at most this many trials at once (default: as many as the CPUs allow)",
    )
    p.add_argument(
        "--num-cpus", type=positive_int(), help="CPUs of the embedded Ray (default: all)"
    )
    p.add_argument(
        "--threads",
        type=positive_int(64),
        default=1,
        help="torch threads (and Ray CPUs) per trial (default: %(default)s)",
    )
    p.add_argument(
        "--max-failures",
        type=int_in(0),
        default=2,
        help="retries of a trial that fails or whose worker dies (default: %(default)s)",
    )


def _command(p: argparse.ArgumentParser, module: str) -> None:
    p.set_defaults(command_module=f"spikeinit.experiments.{module}")


# -- the commands, in the order ``--help`` lists them ----------------------------------------
def add_demo(sub: Any) -> None:
    p = sub.add_parser("demo", help="the main job: a short tour on embedded data")
    add_common_arguments(p, "runs/demo")
    p.add_argument(
        "--epochs",
        type=positive_int(1000),
        default=20,
        help="training epochs per init (default: %(default)s)",
    )
    p.add_argument(
        "--samples-per-class",
        type=positive_int(),
        default=1000,
        help="Randman samples per class (default: %(default)s)",
    )
    _command(p, "demo")


def add_propagation(sub: Any) -> None:
    inits = init_names(model_only=False)
    p = sub.add_parser(
        "propagation",
        help="Micheli et al.'s deep activity-propagation experiment",
        description="``spikeinit propagation``: Micheli et al.'s deep activity-propagation "
        "experiment.",
    )
    p.add_argument("--depth", type=positive_int(100), default=100, help="LIF layers (1..100)")
    p.add_argument(
        "--width", type=int_list(100_000), default=[1000], help="width(s), e.g. 100,1000"
    )
    p.add_argument("--steps", type=positive_int(10_000), default=10, help="time steps T")
    p.add_argument(
        "--inits",
        "--init",
        dest="inits",
        type=choice_list(inits),
        default=["default", "kaiming", "micheli"],
        help=f"comma list from {', '.join(inits)} (default: default,kaiming,micheli)",
    )
    p.add_argument(
        "--input",
        choices=PROPAGATION_INPUTS,
        default="static",
        help="static: Micheli's static N(0,1) image into a 784-wide input LIF layer (default); "
        "gaussian: fresh N(0,1) current each step; poisson: Bernoulli trains",
    )
    p.add_argument(
        "--input-width",
        type=positive_int(100_000),
        default=MICHELI_INPUT_WIDTH,
        help="width of the input LIF layer with --input static (default: %(default)s)",
    )
    p.add_argument(
        "--neuron",
        choices=PROPAGATION_NEURONS,
        default="snntorch",
        help="snntorch: snnTorch Leaky, undecayed subtract reset (Micheli's, default); "
        "reference: spikeinit's LIF, decayed subtract reset",
    )
    p.add_argument(
        "--bias",
        choices=PROPAGATION_BIASES,
        default="default",
        help="default: nn.Linear's default bias U(+-1/sqrt(n)) (Micheli's); none: no bias",
    )
    p.add_argument(
        "--form",
        choices=RESET_FORMS,
        default="covariance",
        help="micheli_reset's form: covariance (default) or the public code's",
    )
    p.add_argument("--reset", choices=("subtract", "zero"), default="subtract")
    p.add_argument("--beta", type=float_in(0.0, 0.999, lo_open=True), default=0.5)
    p.add_argument("--threshold", type=float_in(0.0, 10.0, lo_open=True), default=1.0)
    p.add_argument("--batch", type=positive_int(100_000), default=64)
    add_common_arguments(p, "runs/propagation")
    _command(p, "propagation")


def add_theory(sub: Any) -> None:
    p = sub.add_parser(
        "theory",
        help="fluctuation-driven theory vs simulation over a grid of targets",
        description="``spikeinit theory``: fluctuation-driven theory against simulation.",
    )
    p.add_argument(
        "--sigmas", type=float_list(0.01, 10.0), default=[0.25, 0.5, 0.75, 1.0, 1.5, 2.0]
    )
    p.add_argument("--mus", type=float_list(-5.0, 0.99), default=[-1.0, -0.5, 0.0, 0.25, 0.5])
    p.add_argument("--n-inputs", type=positive_int(100_000), default=700)
    p.add_argument("--nu", type=float_in(0.0, 1000.0, lo_open=True), default=15.8, help="Hz")
    p.add_argument("--neurons", type=positive_int(100_000), default=256)
    p.add_argument("--batch", type=positive_int(10_000), default=4)
    p.add_argument("--steps", type=positive_int(1_000_000), default=1000)
    p.add_argument("--burn-in", type=int, default=100)
    p.add_argument("--dt", type=float_in(0.0, 0.01, lo_open=True), default=2e-3, help="s")
    p.add_argument("--tau-mem", type=float_in(0.0, 10.0, lo_open=True), default=20e-3)
    p.add_argument("--tau-syn", type=float_in(0.0, 10.0, lo_open=True), default=10e-3)
    p.add_argument("--threshold", type=float_in(0.0, 100.0, lo_open=True), default=1.0)
    p.add_argument("--reset", choices=("zero", "subtract"), default="zero")
    add_common_arguments(p, "runs/theory")
    _command(p, "theory_check")


def add_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train one model with one initialisation")
    add_common_arguments(p, "runs/train")
    add_training_arguments(p)
    add_micheli_arguments(p)
    p.add_argument("--init", default="fluctuation", choices=sorted(init_names(aliases=True)))
    p.add_argument("--resume", action="store_true", help="continue from --out/last.pt")
    _command(p, "train_cmd")


def add_compare(sub: Any) -> None:
    p = sub.add_parser("compare", help="compare initialisations over seeds")
    add_common_arguments(p, "runs/compare")
    add_training_arguments(p)
    add_micheli_arguments(p)
    p.add_argument(
        "--inits",
        type=choice_list(sorted(init_names(aliases=True))),
        default=["fluctuation", "kaiming", "default"],
    )
    p.add_argument("--seeds", type=positive_int(100), default=3, help="number of seeds")
    p.add_argument("--resume", action="store_true", help="resume/skip finished runs in --out")
    add_engine_arguments(p, "inprocess")
    _command(p, "compare")


def add_sweep(sub: Any) -> None:
    p = sub.add_parser("sweep", help="grid / random search of training runs on Ray Tune")
    add_common_arguments(p, "runs/sweep")
    add_training_arguments(p)
    add_micheli_arguments(p)
    p.add_argument("--init", choices=sorted(init_names(aliases=True)), help="default: fluctuation")
    p.add_argument(
        "--grid",
        nargs="+",
        metavar="NAME=V1,V2",
        default=[],
        help=f"swept values; names: {', '.join(SWEEP_PARAMETERS)}",
    )
    p.add_argument("--config", help="TOML file with [grid], [fixed], seeds, random")
    p.add_argument("--seeds", type=positive_int(1000), help="seeds per grid point (default 1)")
    p.add_argument(
        "--random",
        type=positive_int(),
        metavar="N",
        help="random search: N grid points drawn without replacement",
    )
    p.add_argument("--axes", help="the two heatmap axes, e.g. mu_u,sigma_u (default: auto)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="skip finished trials, continue interrupted ones from their last checkpoint",
    )
    add_engine_arguments(p, "ray")
    # unset, so that a --config file's value is used unless the command line gives one
    p.set_defaults(dataset=None, seed=None)
    _command(p, "sweep")


def add_diagnose(sub: Any) -> None:
    p = sub.add_parser("diagnose", help="per-layer activity of a trained or fresh model")
    add_common_arguments(p, "runs/diagnose")
    p.add_argument("checkpoint", nargs="?", help="a `spikeinit train` --out dir or its .pt file")
    p.add_argument("--dataset", choices=DATASETS, help="default: the run's, or randman")
    p.add_argument(
        "--model",
        type=model_name,
        help="fresh model (no checkpoint): a zoo model or FILE.py:FUNCTION (needs --data)",
    )
    add_user_arguments(p)
    p.add_argument(
        "--init",
        choices=sorted(init_names(aliases=True)),
        default="default",
        help="initialisation of a fresh model (default: %(default)s)",
    )
    p.add_argument("--samples", type=positive_int(), default=128, help="samples to run")
    _command(p, "diagnose_cmd")


#: ``{command: add_<command>}``, in the order ``--help`` lists them
COMMANDS: dict[str, Callable[[Any], None]] = {
    "demo": add_demo,
    "propagation": add_propagation,
    "theory": add_theory,
    "train": add_train,
    "compare": add_compare,
    "sweep": add_sweep,
    "diagnose": add_diagnose,
}
