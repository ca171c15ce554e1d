"""Adversarial pass (issue 28): hostile inputs to the command line and the Python API.

Every input is run and its outcome classified:

* **clear**: the CLI exits 2 with one line on stderr (no traceback), or exits 0
  on a valid input (a run); the API raises ``ValueError`` / ``TypeError`` whose
  message names the parameter, or returns on a valid input;
* **unclear**: a raw traceback (an exception escaping ``main``), another
  exception type from the API, a message that does not name the parameter, or a
  valid input refused;
* **silent**: nonsense accepted (exit 0 / a return for an input the oracle
  calls invalid), or a hang (more than :data:`HANG_S` seconds).

The inputs come from hypothesis (``derandomize=True``, so every run draws the same
ones): command-line options x hostile values (negative, zero, nan, inf, 1e308,
huge integers, empty strings, unicode, paths to directories / missing files /
symbolic-link loops), keyword fuzzing of ``si.initialize``, ``si.diagnose``, the
``LIFParams.from_*`` conversions, ``si.data.randman`` and ``si.compare`` /
``si.sweep``; and hand-written cases for what a strategy does not reach (TOML
files, damaged run directories). An oracle gives each input's expected outcome
(``refuse``, ``run`` or ``any``), from the documented range of each parameter.

Run::

    python -m benchmarks.adversarial_pass            # the full pass (a few minutes)
    python -m benchmarks.adversarial_pass --quick    # the inputs that are refused fast

It prints the counts per class and every input that is not clear.
``tests/test_adversarial.py`` runs the quick part.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

#: an input that runs longer than this is a hang (silent)
HANG_S = 60

# -- the hostile values -----------------------------------------------------------------------

HUGE_INT = 10**30
CLI_NUMBERS = ["-1", "0", "-0", "0.5", "1", "2", "1e-320", "1e308", str(HUGE_INT),
               "nan", "inf", "-inf", "", " ", "σ", "1,2", "0x10", "1e23"]  # fmt: skip
API_VALUES: list[Any] = [-1, 0, -0.0, 1e-300, 0.5, 1, 2, 1e308, HUGE_INT, math.nan, math.inf,
                         -math.inf, "", "0.5", "σ", None, True, [1], ()]  # fmt: skip


# -- outcomes ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    cls: str  # clear / unclear / silent
    why: str


@dataclass
class Case:
    """One hostile input: ``run(tmp)`` performs it in a fresh directory ``tmp``."""

    surface: str  # "cli" or "api"
    label: str
    param: str
    expect: str  # "refuse", "run" or "any"
    run: Callable[[Path], tuple[str, Any]] = field(repr=False)
    slow: bool = False  # may train or measure (not in the quick part)


class _Hang(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: int):
    def fire(*_: Any) -> None:
        raise _Hang

    old = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _cli(argv: list[str]) -> Callable[[Path], tuple[str, Any]]:
    def run(tmp: Path) -> tuple[str, Any]:
        from spikeinit.cli import main

        args = [a.replace("{tmp}", str(tmp)) for a in argv]
        if "--out" not in args:
            args += ["--out", str(tmp / "out")]
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(args)
        except SystemExit as exc:
            code = exc.code
        except _Hang:
            raise
        except BaseException as exc:  # noqa: BLE001 - a traceback is what is classified
            return "traceback", f"{type(exc).__name__}: {str(exc)[:160]}"
        return "exit", (code, err.getvalue())

    return run


def _api(call: Callable[[], Any]) -> Callable[[Path], tuple[str, Any]]:
    def run(tmp: Path) -> tuple[str, Any]:
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                call()
        except _Hang:
            raise
        except Exception as exc:  # noqa: BLE001 - the exception is what is classified
            return "raise", exc
        return "return", None

    return run


def classify(case: Case, kind: str, value: Any) -> Outcome:
    """The class of one case's outcome (module docstring)."""
    if kind == "hang":
        return Outcome("silent", f"hang > {HANG_S} s")
    if kind == "traceback":
        return Outcome("unclear", f"traceback {value}")
    if kind == "exit":
        code, err = value
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        one = len(lines) == 1 and "Traceback" not in err and "error" in lines[0]
        if code == 0:
            if case.expect == "refuse":
                return Outcome("silent", "accepted (exit 0)")
            return Outcome("clear", "ran")
        if code == 2 and one:
            if case.expect == "run":
                return Outcome("unclear", f"valid input refused: {lines[0][:160]}")
            return Outcome("clear", lines[0][:160])
        if code == 1 and lines and "failed" in lines[-1] and "Traceback" not in err:
            return Outcome("clear", f"trials recorded as failed: {lines[-1][:120]}")
        return Outcome("unclear", f"exit {code}: {' | '.join(lines)[-200:]}")
    if kind == "return":
        if case.expect == "refuse":
            return Outcome("silent", "accepted (returned)")
        return Outcome("clear", "returned")
    exc = value
    text = f"{type(exc).__name__}: {str(exc)[:160]}"
    if not isinstance(exc, (ValueError, TypeError)):
        return Outcome("unclear", f"raw {text}")
    if case.expect == "run":
        return Outcome("unclear", f"valid input refused: {text}")
    if case.param and case.param not in str(exc):
        return Outcome("unclear", f"does not name {case.param}: {text}")
    return Outcome("clear", text)


def run_case(case: Case) -> Outcome:
    with tempfile.TemporaryDirectory() as d, _deadline(HANG_S):
        old = os.getcwd()
        os.chdir(d)
        try:
            kind, value = case.run(Path(d))
        except _Hang:
            kind, value = "hang", None
        finally:
            os.chdir(old)
    return classify(case, kind, value)


# -- the oracle ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    """A number in ``[lo, hi]`` (open ends, integers only, ``None`` allowed)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False
    none: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.none
        if isinstance(value, str):
            try:
                value = int(value) if self.integer else float(value)
            except ValueError:
                return False
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return not (self.hi is not None and (value >= self.hi if self.hi_open else value > self.hi))


def _expect(spec: Num | None, value: Any) -> str:
    if spec is None:
        return "any"
    return "run" if spec.accepts(value) else "refuse"


# -- the command line ----------------------------------------------------------------------------

TRAIN = ["train", "--dataset", "randman", "--samples-per-class", "20", "--batch-size", "50",
         "--hidden", "8", "--epochs", "1"]  # fmt: skip
PROPAGATION = ["propagation", "--depth", "2", "--width", "10", "--steps", "5", "--batch", "4",
               "--inits", "kaiming"]  # fmt: skip
THEORY = ["theory", "--steps", "60", "--burn-in", "10", "--neurons", "8", "--batch", "2",
          "--sigmas", "0.5", "--mus", "0.0", "--n-inputs", "20"]  # fmt: skip
SWEEP = ["sweep", "--dataset", "randman", "--samples-per-class", "20", "--batch-size", "50",
         "--hidden", "8", "--epochs", "1", "--engine", "inprocess"]  # fmt: skip

#: ``(command base, option, oracle)``: a number option of a command and its documented range
CLI_OPTIONS: list[tuple[list[str], str, Num | None]] = [
    (TRAIN, "--epochs", Num(1, 100_000, integer=True)),
    (TRAIN, "--batch-size", Num(1, 100_000, integer=True)),
    (TRAIN, "--lr", None),  # a huge lr may diverge (exit 2) or run
    (TRAIN, "--sigma-u", Num(0, 10, lo_open=True)),
    (TRAIN, "--steps", Num(2, 10_000, integer=True)),  # T = 1 has no temporal variance
    (TRAIN, "--samples-per-class", Num(20, 10_000, integer=True)),  # 10 classes in val
    (TRAIN, "--seed", Num(0, 2**32 - 1, integer=True)),
    (TRAIN, "--diagnose-every", Num(1, 100_000, integer=True)),
    (TRAIN, "--hidden", Num(1, 100_000, integer=True)),
    (PROPAGATION, "--depth", Num(1, 100, integer=True)),
    (PROPAGATION, "--width", Num(1, 100_000, integer=True)),
    (PROPAGATION, "--beta", Num(math.exp(-1), 0.999, lo_open=True)),
    (PROPAGATION, "--threshold", Num(0, 10, lo_open=True)),
    (PROPAGATION, "--batch", Num(1, 100_000, integer=True)),
    (THEORY, "--nu", Num(0, 1000, lo_open=True)),
    (THEORY, "--dt", Num(2e-7, 0.01)),  # tau_mem (20 ms) at most 1e5 steps of dt
    (THEORY, "--tau-mem", None),  # in range but too close to dt: refused either way
    (THEORY, "--threshold", Num(0, 100, lo_open=True)),
    (THEORY, "--burn-in", Num(0, 59, integer=True)),  # 0 <= burn-in < --steps (60)
    (THEORY, "--sigmas", Num(0.01, 10)),
    (SWEEP, "--seeds", Num(1, 1000, integer=True)),
    (SWEEP, "--random", Num(1, 1, integer=True)),  # the grid below has one point
    (SWEEP, "--threads", Num(1, 64, integer=True)),
    (SWEEP, "--max-failures", Num(0, None, integer=True)),
]

#: a value that is valid but would run for hours (as asked): counted as ``run`` only if small
_LONG = {"--epochs": 3, "--batch-size": 10_000, "--steps": 200, "--samples-per-class": 100,
         "--diagnose-every": 10**9, "--hidden": 256, "--width": 1000, "--batch": 1000,
         "--depth": 100, "--seeds": 3, "--threads": 64}  # fmt: skip

CHOICE_OPTIONS: list[tuple[list[str], str, tuple[str, ...]]] = [
    (TRAIN, "--device", ("cpu",)),
    (TRAIN, "--init", ("fluctuation", "kaiming", "default")),
    (TRAIN, "--optimizer", ("adam", "sgd")),
    (TRAIN, "--readout", ("auto", "fluctuation", "normal", "keep")),
    (TRAIN, "--out", ()),
    (TRAIN, "--model", ("fc",)),
    (TRAIN, "--data", ()),
    (TRAIN, "--loss", ()),
    (SWEEP, "--grid", ()),
    (SWEEP, "--axes", ()),
    (SWEEP, "--config", ()),
    (["diagnose", "--samples", "8"], "checkpoint", ()),
]
TEXT_VALUES = ["", " ", "σ", "cpu", "cuda:99", "meta", "mps", "..", "/", "/dev/null", "{tmp}",
               "{tmp}/missing.py:f", "{tmp}/loop", "{tmp}/dir", "{tmp}/file.txt", "nan",
               "sigma_u=", "sigma_u=nan", "sigma_u=1,1", "bogus=1", "sigma_u=σ",
               "hidden=0", "lr=-1", "mu_u=0.5,0.5", "x,y", "mu_u,mu_u"]  # fmt: skip


def _prepare(tmp: Path) -> None:
    """The paths a text value may name: a directory, a file, a symbolic-link loop."""
    (tmp / "dir").mkdir(exist_ok=True)
    (tmp / "file.txt").write_text("not what you expect\n")
    if not (tmp / "loop").is_symlink():
        (tmp / "loop").symlink_to(tmp / "loop2")
        (tmp / "loop2").symlink_to(tmp / "loop")


def _with_paths(argv: list[str]) -> Callable[[Path], tuple[str, Any]]:
    inner = _cli(argv)

    def run(tmp: Path) -> tuple[str, Any]:
        _prepare(tmp)
        return inner(tmp)

    return run


def _number_case(base: list[str], option: str, spec: Num | None, value: str) -> Case:
    argv = list(base)
    if option in argv:  # replace the base's value
        i = argv.index(option)
        del argv[i : i + 2]
    if base is SWEEP and option != "--grid":
        argv += ["--grid", "sigma_u=1"]
    expect = _expect(spec, value)
    if expect == "run" and option in _LONG:
        v = float(value)
        if v > _LONG[option]:
            expect = "any"  # as asked, but long: only a traceback counts against it
    return Case("cli", f"{' '.join(base[:1])} {option} {value!r}", option.lstrip("-"), expect,
                _cli([*argv, option, value]), slow=expect != "refuse")  # fmt: skip


def _text_case(base: list[str], option: str, valid: tuple[str, ...], value: str) -> Case:
    argv = list(base)
    if option in argv:
        i = argv.index(option)
        del argv[i : i + 2]
    if base is SWEEP and option != "--grid":
        argv += ["--grid", "sigma_u=1"]
    expect = "run" if value in valid else ("any" if not valid else "refuse")
    if option == "checkpoint":
        return Case("cli", f"diagnose {value!r}", "", "refuse",
                    _with_paths([*argv, value]), slow=False)  # fmt: skip
    if option in ("--out",) and value in ("{tmp}/dir", "{tmp}"):
        expect = "run"
    if option == "--grid" and value == "sigma_u=1,1":
        expect = "refuse"
    return Case("cli", f"{base[0]} {option} {value!r}", option.lstrip("-"), expect,
                _with_paths([*argv, option, value]), slow=expect != "refuse")  # fmt: skip


# -- the Python API --------------------------------------------------------------------------------


def _own_model() -> Any:
    import spikeinit as si

    params = si.LIFParams(dt=2e-3)
    return si.models.build("fc", (20,), 5, params=params, hidden=(16,), duration=0.2)


def _snn_model() -> Any:
    import snntorch as snn
    import torch
    from torch import nn

    class TwoLeaky(nn.Module):  # snnTorch tutorial 5's loop, two layers
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.lif1 = nn.Linear(20, 32), snn.Leaky(beta=0.9)
            self.fc2, self.lif2 = nn.Linear(32, 5), snn.Leaky(beta=0.9)

        def forward(self, x: Any) -> Any:
            m1, m2, out = self.lif1.init_leaky(), self.lif2.init_leaky(), []
            for t in range(x.shape[0]):
                s1, m1 = self.lif1(self.fc1(x[t]), m1)
                s2, m2 = self.lif2(self.fc2(s1), m2)
                out.append(s2)
            return torch.stack(out)

    return TwoLeaky()


def _spikes(t: int = 60, b: int = 16) -> Any:
    import torch

    g = torch.Generator().manual_seed(0)
    return (torch.rand(t, b, 20, generator=g) < 0.1).float()


MAX_TARGET = 10.0  # init.model.MAX_TARGET
INIT_KEYWORDS: dict[str, Num | None] = {
    "sigma_u": Num(0, MAX_TARGET, lo_open=True, none=True),
    "mu_u": Num(-MAX_TARGET, MAX_TARGET),
    "xi": None,  # valid range depends on mu_u
    "alpha": Num(0, 1, lo_open=True),
    "tol": Num(0, 1, lo_open=True, hi_open=True),
    "max_iter": Num(0, None, integer=True),
    "max_samples": Num(1, None, integer=True, none=True),
    "seed": Num(None, None, integer=True, none=True),
    "nu": Num(0, None, lo_open=True, none=True),
}
DIAGNOSE_KEYWORDS: dict[str, Num | None] = {
    "saturation": Num(0, 1, lo_open=True),
    "max_samples": Num(1, None, integer=True, none=True),
}
CHOICE_KEYWORDS: dict[str, tuple[Any, ...]] = {
    "method": ("fluctuation", "kaiming", "default"),
    "readout": ("auto", "fluctuation", "normal", "keep"),
    "variance": ("auto", "temporal", "total"),
    "form": ("covariance", "public"),
    "time_dim": ("auto", 0),
    "batch_first": (None, True, False),
}
CONVERSIONS: dict[str, dict[str, Num | None]] = {
    "from_snntorch": {"beta": Num(math.exp(-1), math.exp(-1e-5), lo_open=True),
                      "threshold": Num(0, None, lo_open=True),
                      "alpha": Num(math.exp(-1), math.exp(-1e-5), lo_open=True, none=True),
                      "dt": None},
    "from_norse": {"tau_mem_inv": Num((1 - math.exp(-1e-5)) / 1e-3, (1 - math.exp(-1)) / 1e-3,
                                      hi_open=True),
                   "tau_syn_inv": Num((1 - math.exp(-1e-5)) / 1e-3, (1 - math.exp(-1)) / 1e-3,
                                      hi_open=True, none=True),
                   "v_th": Num(0, None, lo_open=True),
                   "dt": None},
    "from_spikingjelly": {"tau": Num(1 / (1 - math.exp(-1)), 1 / (1 - math.exp(-1e-5)),
                                     lo_open=True),
                          "v_threshold": Num(0, None, lo_open=True),
                          "dt": None},
}  # fmt: skip
RANDMAN_KEYWORDS: dict[str, Num | None] = {
    "n_classes": Num(2, 1000, integer=True),
    "n_units": Num(1, 1000, integer=True),
    "n_steps": Num(1, 1000, integer=True),
    "alpha": Num(0, None, lo_open=True),
    "samples_per_class": Num(1, 1000, integer=True),
    "step_frac": Num(0, 1, lo_open=True),
    "dt": Num(0, None, lo_open=True),
    "dim_manifold": Num(1, 10, integer=True),
}
_RANDMAN_LARGE = {"n_classes": 20, "n_units": 200, "n_steps": 500, "samples_per_class": 50,
                  "dim_manifold": 3}  # fmt: skip


def _init_case(which: str, name: str, value: Any) -> Case:
    import spikeinit as si

    make = _own_model if which == "own" else _snn_model
    spec = INIT_KEYWORDS.get(name)
    expect = _expect(spec, value) if name in INIT_KEYWORDS else (
        "run" if value in CHOICE_KEYWORDS[name] else "refuse")  # fmt: skip
    if which == "snntorch" and name == "nu" and value is not None:
        expect = "refuse"  # nu applies to spikeinit's own layers
    if name in ("seed",) and isinstance(value, int) and abs(value) >= 2**64:
        expect = "refuse"
    if name == "max_iter" and expect == "run" and value > 50:
        expect = "any"  # as asked; long only with calibrate=True
    if name == "time_dim" and value == 0 and which == "own":
        expect = "run"

    def call() -> None:
        si.initialize(make(), _spikes(), **{name: value})

    return Case("api", f"si.initialize({which}, {name}={value!r})", name, expect, _api(call),
                slow=expect != "refuse")  # fmt: skip


def _diagnose_case(name: str, value: Any) -> Case:
    import spikeinit as si

    expect = _expect(DIAGNOSE_KEYWORDS[name], value)

    def call() -> None:
        si.diagnose(_snn_model(), _spikes(), **{name: value})

    return Case("api", f"si.diagnose({name}={value!r})", name, expect, _api(call),
                slow=expect != "refuse")  # fmt: skip


def _conversion_case(fn: str, name: str, value: Any) -> Case:
    import spikeinit as si

    expect = _expect(CONVERSIONS[fn][name], value)
    if name == "dt":
        expect = "run" if Num(0, 1e-3).accepts(value) and value >= 1e-7 else "any"
        if not Num(0, None, lo_open=True).accepts(value):
            expect = "refuse"

    def call() -> None:
        base = {"beta": 0.9} if fn == "from_snntorch" and name != "beta" else {}
        getattr(si.LIFParams, fn)(**base, **{name: value})

    return Case("api", f"LIFParams.{fn}({name}={value!r})", name, expect, _api(call))


def _randman_case(name: str, value: Any) -> Case:
    import spikeinit as si

    expect = _expect(RANDMAN_KEYWORDS[name], value)
    if expect == "run" and value > _RANDMAN_LARGE.get(name, math.inf):
        expect = "any"
    if name == "alpha" and expect == "run" and value > 100:
        expect = "any"

    def call() -> None:
        kw = {"samples_per_class": 50, "n_steps": 20, "n_classes": 2, name: value}
        si.data.randman(**kw)

    return Case("api", f"si.data.randman({name}={value!r})", name, expect, _api(call),
                slow=expect != "refuse")  # fmt: skip


def _experiment_case(fn: str, name: str, value: Any) -> Case:
    """``si.compare`` / ``si.sweep`` keywords: hostile values that must be refused up front
    (the model and data factories raise if they are ever reached)."""
    import spikeinit as si

    def run(tmp: Path) -> tuple[str, Any]:
        ref = tmp / "user.py"
        ref.write_text("def build():\n    raise RuntimeError('never built')\n"
                       "def data():\n    raise RuntimeError('never loaded')\n")  # fmt: skip

        def call() -> None:
            kw: dict[str, Any] = {name: value}
            if fn == "compare":
                si.compare(f"{ref}:build", f"{ref}:data", out=str(tmp / "out"), **kw)
            else:
                grid = kw.pop("grid", {"sigma_u": [1.0]})
                si.sweep(f"{ref}:build", f"{ref}:data", grid, out=str(tmp / "out"),
                         engine="inprocess", **kw)  # fmt: skip

        return _api(call)(tmp)

    param = next(iter(value), name) if isinstance(value, dict) and value else name
    return Case("api", f"si.{fn}({name}={value!r})", param, "refuse", run)


EXPERIMENT_KEYWORDS: dict[str, list[Any]] = {
    "seeds": [0, -1, HUGE_INT, "x", 1.5],
    "epochs": [0, -1, "x", math.nan],
    "lr": [0, -1, math.nan, math.inf, "x"],
    "engine": ["x", "", None, 3],
    "inits": [["nope"], [], "σ"],
    "max_failures": [-1, "x"],
    "threads": [0, -1, 65],
    "grid": [{}, {"nope": [1]}, {"sigma_u": []}, {"sigma_u": "1"}, {"sigma_u": [math.nan]},
             {"sigma_u": [-1]}, []],
}  # fmt: skip


# -- hand-written cases ---------------------------------------------------------------------------


def _toml_case(text: str, label: str, param: str) -> Case:
    def run(tmp: Path) -> tuple[str, Any]:
        (tmp / "s.toml").write_text(text)
        return _cli([*SWEEP, "--config", str(tmp / "s.toml")])(tmp)

    return Case("cli", f"sweep --config <{label}>", param, "refuse", run)


TOMLS = [
    ("grid = 5\n", "grid = 5", "grid"),
    ("[grid]\nsigma_u = 1\n", "grid value not a list", "sigma_u"),
    ("[grid]\nsigma_u = []\n", "empty list", "sigma_u"),
    ("[grid]\nsigma_u = [1]\nsigma-u = [2]\n", "two spellings", "sigma_u"),
    ("[grid]\nsigma_u = [1]\n[fixed]\nseed = 3\n", "[fixed] seed", "seed"),
    ("seeds = 1000000000\n[grid]\nsigma_u = [1]\n", "seeds 1e9", "seeds"),
    ("seed = -1\n[grid]\nsigma_u = [1]\n", "negative seed", "seed"),
    ("seed = 100000000000000000000\n[grid]\nsigma_u = [1]\n", "huge seed", "seed"),
    ("[grid]\nsigma_u = [nan]\n", "nan value", "sigma_u"),
    ("[grid]\nsigma_u = [inf]\n", "inf value", "sigma_u"),
    ("[grid]\nsigma_u = [true]\n", "bool value", "sigma_u"),
    ("[grid]\nbogus = [1]\n", "unknown name", "bogus"),
    ("random = 5\n[grid]\nsigma_u = [1]\n", "random beyond the grid", "random"),
    ("[grid\nsigma_u = [1]\n", "not TOML", "config"),
    ("extra = 1\n[grid]\nsigma_u = [1]\n", "unknown key", "extra"),
    ("[grid]\nsigma_u = [1]\n[fixed]\nepochs = 0\n", "epochs 0", "epochs"),
    ("[grid]\nsigma_u = [1]\n[fixed]\nlr = -1\n", "lr -1", "lr"),
    ("[grid]\nsigma_u = [1]\n[fixed]\nhidden = 'σ'\n", "hidden unicode", "hidden"),
    ("[grid]\nsigma_u = [1]\nmu_u = [0]\nxi = [1]\n", "three targets", "xi"),
    ("[grid]\nxi = [2]\n[fixed]\nmu_u = 1\n", "xi with mu_u = 1", "xi"),
]


def _damaged_run_case(kind: str) -> Case:
    """A finished tiny train run whose files were damaged, then resumed / diagnosed."""

    def run(tmp: Path) -> tuple[str, Any]:
        from spikeinit.cli import main

        out = tmp / "run"
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            assert main([*TRAIN, "--out", str(out)]) == 0
        if kind == "last.pt garbage":
            (out / "last.pt").write_bytes(b"garbage")
            argv = [*TRAIN, "--epochs", "2", "--resume", "--out", str(out)]
        elif kind == "last.pt missing":
            (out / "last.pt").unlink()
            argv = [*TRAIN, "--epochs", "2", "--resume", "--out", str(out)]
        elif kind == "results.json list":
            (out / "results.json").write_text("[1, 2]")
            argv = ["diagnose", str(out), "--out", str(tmp / "d")]
        elif kind == "diagnose into the run":
            argv = ["diagnose", str(out), "--out", str(out)]
        else:  # train into another command's run
            argv = ["sweep", *SWEEP[1:], "--grid", "sigma_u=1", "--out", str(out)]
        return _cli(argv)(tmp)

    return Case("cli", f"damaged run: {kind}", "", "refuse", run, slow=True)


DAMAGED = ["last.pt garbage", "last.pt missing", "results.json list", "diagnose into the run",
           "sweep into a train run"]  # fmt: skip


def _tensor_cases() -> list[Case]:
    """Hostile data for si.initialize / si.diagnose (shapes, dtypes, values)."""
    import torch

    import spikeinit as si

    def x_of(kind: str) -> Any:
        x = _spikes()
        return {
            "nan": x.masked_fill(x > 0, math.nan),
            "inf": x.masked_fill(x > 0, math.inf),
            "int": x.long(),
            "bool": x.bool(),
            "empty": x[:0],
            "1-D": x[:, 0, 0],
            "T=1,B=1": x[:1, :1],
            "wrong width": torch.rand(60, 16, 7),
            "list": [1, 2, 3],
            "string": "data",
            "meta": x.to("meta"),
            "zeros": torch.zeros_like(x),
        }[kind]

    cases = []
    kinds = ["nan", "inf", "int", "bool", "empty", "1-D", "T=1,B=1", "wrong width", "list",
             "string", "meta", "zeros"]  # fmt: skip
    for fn in ("initialize", "diagnose"):
        for kind in kinds:
            if fn == "diagnose" and kind == "zeros":
                continue  # a silent network is what diagnose reports

            def call(fn: str = fn, kind: str = kind) -> None:
                getattr(si, fn)(_snn_model(), x_of(kind))

            cases.append(Case("api", f"si.{fn}(snntorch, data={kind})", "", "refuse",
                              _api(call), slow=True))  # fmt: skip
    return cases


# -- drawing the inputs with hypothesis ----------------------------------------------------------


def _draw(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """``n`` examples of ``strategy`` as hypothesis draws them (derandomised: the same
    every run), without repeats."""
    seen: list[Any] = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def collect(value: Any) -> None:
        if value not in seen:
            seen.append(value)

    collect()
    return seen


def cases(scale: float = 1.0) -> list[Case]:
    """Every case of the pass (``scale`` multiplies the number of drawn examples)."""
    out: list[Case] = []
    numbers = st.tuples(st.sampled_from(range(len(CLI_OPTIONS))), st.sampled_from(CLI_NUMBERS))
    for i, value in _draw(numbers, max(1, round(120 * scale))):
        base, option, spec = CLI_OPTIONS[i]
        out.append(_number_case(base, option, spec, value))
    texts = st.tuples(st.sampled_from(range(len(CHOICE_OPTIONS))), st.sampled_from(TEXT_VALUES))
    for i, value in _draw(texts, max(1, round(60 * scale))):
        base, option, valid = CHOICE_OPTIONS[i]
        out.append(_text_case(base, option, valid, value))
    init_kw = st.tuples(st.sampled_from(["own", "snntorch"]),
                        st.sampled_from(sorted(INIT_KEYWORDS) + sorted(CHOICE_KEYWORDS)),
                        st.sampled_from(range(len(API_VALUES))))  # fmt: skip
    for which, name, j in _draw(init_kw, max(1, round(60 * scale))):
        out.append(_init_case(which, name, API_VALUES[j]))
    diag_kw = st.tuples(st.sampled_from(sorted(DIAGNOSE_KEYWORDS)),
                        st.sampled_from(range(len(API_VALUES))))  # fmt: skip
    for name, j in _draw(diag_kw, max(1, round(12 * scale))):
        out.append(_diagnose_case(name, API_VALUES[j]))
    conv = st.sampled_from([(fn, name) for fn, kws in CONVERSIONS.items() for name in kws])
    for (fn, name), j in _draw(st.tuples(conv, st.sampled_from(range(len(API_VALUES)))),
                               max(1, round(40 * scale))):  # fmt: skip
        out.append(_conversion_case(fn, name, API_VALUES[j]))
    rm = st.tuples(st.sampled_from(sorted(RANDMAN_KEYWORDS)),
                   st.sampled_from(range(len(API_VALUES))))  # fmt: skip
    for name, j in _draw(rm, max(1, round(30 * scale))):
        out.append(_randman_case(name, API_VALUES[j]))
    for fn in ("compare", "sweep"):
        for name, values in EXPERIMENT_KEYWORDS.items():
            if fn == "compare" and name == "grid":
                continue
            for value in values:
                out.append(_experiment_case(fn, name, value))
    out += [_toml_case(*t) for t in TOMLS]
    out += [_damaged_run_case(k) for k in DAMAGED]
    out += _tensor_cases()
    return out


def run_pass(selected: Iterable[Case], show: bool = True) -> dict[str, list[tuple[Case, Outcome]]]:
    """Run ``selected`` and group the outcomes by class."""
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("SPIKEINIT_NO_PROGRESS", "1")
    by: dict[str, list[tuple[Case, Outcome]]] = {"clear": [], "unclear": [], "silent": []}
    for case in selected:
        t0 = time.perf_counter()
        outcome = run_case(case)
        by[outcome.cls].append((case, outcome))
        if show:
            print(f"{outcome.cls:8s} {time.perf_counter() - t0:6.2f}s  {case.label}",
                  file=sys.stderr, flush=True)  # fmt: skip
    return by


def report(by: dict[str, list[tuple[Case, Outcome]]]) -> str:
    total = sum(len(v) for v in by.values())
    lines = [f"{total} hostile inputs: " + ", ".join(f"{k} {len(v)}" for k, v in by.items())]
    for cls in ("silent", "unclear"):
        for case, outcome in by[cls]:
            lines.append(f"  {cls}: [{case.surface}] {case.label} -> {outcome.why}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the inputs refused fast")
    parser.add_argument("--json", help="also write the outcomes to this file")
    args = parser.parse_args(argv)
    selected = [c for c in cases() if not (args.quick and c.slow)]
    by = run_pass(selected)
    print(report(by))
    if args.json:
        rows = [{"class": k, "surface": c.surface, "input": c.label, "expect": c.expect,
                 "why": o.why} for k, v in by.items() for c, o in v]  # fmt: skip
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
