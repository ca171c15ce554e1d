"""A user's own model, data or loss, named on the command line as ``FILE.py:FUNCTION``.

``spikeinit compare --model my_net.py:build --data my_net.py:loaders`` (and
``package.module:FUNCTION`` for an importable module) names a *factory*: a
function that returns the thing when called with the keyword arguments given
(``--model-kw``/``--data-kw`` on the command line, ``model_kw``/``data_kw`` in
Python or a sweep's TOML). The text is what travels: each trial, in this process
or on a Ray worker, imports the file again, so a worker needs the file at the same
path (a filesystem the nodes share, like ``--out``).

* a model factory returns an ``nn.Module`` (spikeinit layers, snnTorch, Norse,
  SpikingJelly: what :func:`spikeinit.initialize` takes);
* a data factory returns ``(train, val)`` or ``(train, val, test)``: iterables of
  ``(x, y)`` batches (DataLoaders, lists of pairs), ``x`` as the model's own forward
  takes it and ``y`` class indices;
* a loss factory *is* the loss: ``loss(trace [T, B, C], y [B]) -> scalar``.

Everything that can go wrong (no such file, function, a factory that raises or
returns the wrong type) is a ``ValueError`` / ``TypeError`` that names the option.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "absolute",
    "call_data_factory",
    "call_model_factory",
    "is_entry_point",
    "load_entry_point",
]


def is_entry_point(text: Any) -> bool:
    """``FILE.py:FUNCTION`` or ``package.module:FUNCTION`` (not a zoo or preset name)."""
    if not isinstance(text, str) or text.count(":") < 1:
        return False
    where, _, func = text.rpartition(":")
    return bool(where) and func.isidentifier()


def _split(spec: str, option: str) -> tuple[str, str]:
    if not is_entry_point(spec):
        raise ValueError(
            f"{option}: expected FILE.py:FUNCTION or package.module:FUNCTION, got {spec!r}"
        )
    where, _, func = spec.rpartition(":")
    return where, func


def _is_file(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def absolute(spec: str, option: str = "--model") -> str:
    """``spec`` with its file made absolute (so that it means the same in any cwd)."""
    where, func = _split(spec, option)
    if not _is_file(where):
        return spec
    return f"{Path(where).expanduser().resolve()}:{func}"


def _import_file(path: Path, option: str) -> ModuleType:
    if not path.is_file():
        raise ValueError(f"{option}: file {str(path)!r} does not exist")
    name = "spikeinit_user_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{option}: {str(path)!r} cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ValueError(
            f"{option}: importing {str(path)!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def load_entry_point(spec: str, option: str = "--model") -> Callable[..., Any]:
    """The function ``spec`` names (the file imported afresh each call)."""
    where, func = _split(spec, option)
    if _is_file(where):
        module = _import_file(Path(where).expanduser().resolve(), option)
    else:
        try:
            module = importlib.import_module(where)
        except Exception as exc:
            raise ValueError(
                f"{option}: cannot import module {where!r}: {type(exc).__name__}: {exc}"
            ) from exc
    if not hasattr(module, func):
        found = sorted(
            n
            for n, v in vars(module).items()
            if callable(v)
            and not n.startswith("_")
            and getattr(v, "__module__", None) == module.__name__
        )
        raise ValueError(
            f"{option}: {where!r} has no function {func!r}"
            + (f"; it defines {', '.join(found[:12])}" if found else "")
        )
    fn = getattr(module, func)
    if not callable(fn):
        raise TypeError(f"{option}: {spec!r} is a {type(fn).__name__}, not a function")
    return fn


def _call(spec: str, option: str, kwargs: Mapping[str, Any] | None) -> Any:
    fn = load_entry_point(spec, option)
    try:
        return fn(**dict(kwargs or {}))
    except Exception as exc:
        raise ValueError(f"{option}: {spec} raised {type(exc).__name__}: {exc}") from exc


def call_model_factory(spec: str, kwargs: Mapping[str, Any] | None = None) -> Any:
    """``spec(**kwargs)``, checked to be an ``nn.Module``."""
    from torch import nn

    model = _call(spec, "--model", kwargs)
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"--model: {spec} must return a torch.nn.Module, got {type(model).__name__}"
        )
    return model


def call_data_factory(
    spec: str, kwargs: Mapping[str, Any] | None = None
) -> tuple[Iterable[Any], Iterable[Any], Iterable[Any] | None]:
    """``(train, val, test)`` from ``spec(**kwargs)``; ``test`` is ``None`` for a pair."""
    result = _call(spec, "--data", kwargs)
    if not isinstance(result, (tuple, list)) or len(result) not in (2, 3):
        raise TypeError(
            f"--data: {spec} must return (train, val) or (train, val, test) loaders, got "
            + (f"a sequence of {len(result)}" if isinstance(result, (tuple, list))
               else type(result).__name__)
        )  # fmt: skip
    parts = list(result) + [None] * (3 - len(result))
    for name, part in zip(("train", "val", "test"), parts, strict=True):
        if part is None and name == "test":
            continue
        if not isinstance(part, Iterable):
            raise TypeError(
                f"--data: {spec} returned a {type(part).__name__} as the {name} loader; "
                "expected an iterable of (x, y) batches (e.g. a DataLoader)"
            )
    return parts[0], parts[1], parts[2]
