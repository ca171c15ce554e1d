"""``si.compare`` and ``si.sweep``: the experiment commands, called from Python.

They run exactly what ``spikeinit compare`` / ``spikeinit sweep`` run (the same
argument checks, engine, files: ``results.json``, figures, ``report.md`` in
``out``) and return the per-trial records. The model and the data are a user's
factories, given as functions or as ``"FILE.py:FUNCTION"`` text::

    # my_net.py
    def build(hidden=1000): ...            # returns the snnTorch / Norse / SpikingJelly model
    def loaders(batch_size=128): ...       # returns (train, val) or (train, val, test)

    import spikeinit as si
    from my_net import build, loaders
    records = si.compare(build, loaders, inits=["fluctuation", "default"], seeds=3,
                         epochs=5, out="runs/cmp")
    records = si.sweep(build, loaders, grid={"sigma_u": [0.5, 1, 2]}, epochs=5,
                       out="runs/sweep", engine="inprocess")

A function is passed on by where it is defined (its file and name), because
each trial imports it afresh, in this process or on a Ray worker: it must be
defined at the top level of a file (not a lambda or a nested function). Errors
are ``ValueError`` / ``TypeError`` with the message the command would print.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._rundir import check_out_dir, lock_run_dir
from .cli import build_parser
from .entry_points import is_entry_point

__all__ = ["compare", "sweep"]


def factory_reference(fn: Callable[..., Any] | str, option: str) -> str:
    """``"FILE.py:FUNCTION"`` for a top-level function (or the text itself)."""
    if isinstance(fn, str):
        if not is_entry_point(fn):
            raise ValueError(f"{option}: expected FILE.py:FUNCTION or a function, got {fn!r}")
        return fn
    if not callable(fn):
        raise TypeError(f"{option}: expected a function or FILE.py:FUNCTION, got {fn!r}")
    name = getattr(fn, "__qualname__", "")  # "<lambda>", "outer.<locals>.f": not importable
    try:
        path = inspect.getsourcefile(fn)
    except TypeError:
        path = None
    if not name.isidentifier() or path is None or not Path(path).is_file():
        raise TypeError(
            f"{option}: {fn!r} must be a function defined at the top level of a file "
            "(each trial imports it again by file and name), not a lambda, a nested "
            "function or a method"
        )
    return f"{Path(path).resolve()}:{name}"


def _kw_text(kw: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={json.dumps(v)}" for k, v in kw.items())


class _ArgumentError(ValueError):
    pass


def _keyword(match: re.Match[str]) -> str:
    return match.group(1)[2:].replace("-", "_")


def _check_strings(**values: Any) -> None:
    """``TypeError`` naming a keyword that must be a string (or a list of strings)."""
    for name, value in values.items():
        items = [value] if name != "inits" else value
        if name == "inits" and (isinstance(value, str) or not isinstance(value, Sequence)):
            raise TypeError(f"inits must be a list of method names, got {value!r}")
        if not items or not all(isinstance(v, str) and v for v in items):
            raise TypeError(
                f"{name} must be {'names' if name == 'inits' else 'a name'}, got {value!r}"
            )


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()

    def fail(message: str) -> NoReturn:
        # the command's words for the API's: "argument --max-failures" -> "max_failures"
        message = re.sub(r"argument (--[a-z][a-z-]*)(/[-a-z]+)?", _keyword, message)
        raise _ArgumentError(message)

    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for sub in action.choices.values():  # type: ignore[union-attr]
            sub.error = fail  # type: ignore[method-assign]
    parser.error = fail  # type: ignore[method-assign]
    return parser.parse_args(argv)


def _options(options: Mapping[str, Any]) -> list[str]:
    """Keyword arguments as command-line options (``None`` leaves the default)."""
    argv: list[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif key in ("model_kw", "data_kw"):
            argv += [flag, _kw_text(value)]
        elif isinstance(value, (list, tuple)):
            argv += [flag, ",".join(str(v) for v in value)]
        else:
            argv += [flag, str(value)]
    return argv


def _run(argv: list[str], out: str | Path) -> dict[str, Any]:
    args = _parse(argv)
    module = importlib.import_module(args.command_module)
    del args.command_module
    check_out_dir(out)
    with lock_run_dir(out):
        module.run(args)
    return json.loads((Path(out) / "results.json").read_text())


def compare(
    model: Callable[..., Any] | str,
    data: Callable[..., Any] | str,
    inits: Sequence[str] = ("fluctuation", "default"),
    seeds: int = 3,
    epochs: int | None = None,
    *,
    out: str | Path = "runs/compare",
    engine: str = "inprocess",
    **options: Any,
) -> list[dict[str, Any]]:
    """``spikeinit compare --model MODEL --data DATA ...``; the per-trial records.

    ``options`` are the command's other options by name (``model_kw``, ``data_kw``,
    ``lr``, ``optimizer``, ``loss``, ``batch_size``, ``output``, ``repeat_steps``,
    ``readout``, ``sigma_u``, ``seed``, ``device``, ``resume``, ``address``,
    ``max_concurrent``, ``threads``, ...): ``spikeinit compare --help``.
    """
    _check_strings(inits=inits, engine=engine)
    argv = [
        "compare", "--model", factory_reference(model, "model"),
        "--data", factory_reference(data, "data"), "--inits", ",".join(inits),
        "--seeds", str(seeds), "--out", str(out), "--engine", engine,
    ]  # fmt: skip
    argv += _options({"epochs": epochs, **options})
    return list(_run(argv, out)["trials"])


def sweep(
    model: Callable[..., Any] | str,
    data: Callable[..., Any] | str,
    grid: Mapping[str, Sequence[Any]],
    *,
    seeds: int | None = None,
    epochs: int | None = None,
    out: str | Path = "runs/sweep",
    engine: str = "ray",
    **options: Any,
) -> list[dict[str, Any]]:
    """``spikeinit sweep --model MODEL --data DATA --grid NAME=V1,V2 ...``; the records.

    ``grid`` maps sweep parameters (``sigma_u``, ``mu_u``, ``xi``, ``lr``, ``readout``,
    ...: ``spikeinit sweep --help``) to their values; ``options`` as for :func:`compare`.
    """
    _check_strings(engine=engine)
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty {parameter: [values]} mapping")
    items = []
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TypeError(f"grid[{name!r}] must be a list of values, got {values!r}")
        items.append(f"{name}={','.join(str(v) for v in values)}")
    argv = [
        "sweep", "--model", factory_reference(model, "model"),
        "--data", factory_reference(data, "data"), "--out", str(out), "--engine", engine,
        "--grid", *items,
    ]  # fmt: skip
    argv += _options({"seeds": seeds, "epochs": epochs, **options})
    return list(_run(argv, out)["trials"])
