"""The ``spikeinit`` command-line tool.

Each sub-command lives in its own module under :mod:`spikeinit.experiments`
and provides ``add_parser(subparsers)``, which registers the sub-command and
sets ``func=run`` where ``run(args) -> int``. Every command takes ``--out``,
``--seed`` and ``--device`` (see :func:`add_common_arguments`).

User errors (bad arguments, invalid values, missing files) end with a one-line
reason on stderr and exit code 2, never a traceback. ``--out`` is checked before
any work (it must be, or be creatable as, a writable directory) and locked for
the command's whole run, so a second command into the same ``--out`` refuses.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import torch

from ._rundir import check_out_dir, lock_run_dir
from .data import DatasetUnavailableError
from .train import TrainingDiverged

#: sub-command modules, in the order ``--help`` lists them
COMMAND_MODULES = [
    "demo",
    "propagation",
    "theory_check",
    "train_cmd",
    "compare",
    "sweep",
    "diagnose_cmd",
]


class UserError(Exception):
    """An error caused by the user's input: shown as one line, exit code 2."""


def add_common_arguments(p: argparse.ArgumentParser, out: str) -> None:
    """``--out``, ``--seed`` and ``--device``, shared by every command."""
    p.add_argument("--out", default=out, help="output directory (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")


def resolve_device(name: str) -> torch.device:
    """A ``torch.device`` for ``--device``, or a :class:`UserError`."""
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"--device: unknown device {name!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was requested but no CUDA GPU is available")
    return dev


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="spikeinit", description="Initialise spiking neural networks so that they train."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"spikeinit.experiments.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"spikeinit.experiments.{name}":
                continue  # command not shipped in this build
            raise
        module.add_parser(sub)
    return parser


_NO_MEMORY = "not enough memory for the sizes asked for: reduce the batch, width or steps"


def _fail(command: str, message: str) -> int:
    """Print ``message`` as one line on stderr; exit code 2."""
    line = " ".join(message.split())
    print(f"spikeinit {command}: error: {line}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        out = getattr(args, "out", None)
        if out is None:
            return int(args.func(args) or 0)
        check_out_dir(out)  # before any work: a file, or not writable
        with lock_run_dir(out):  # a second run into the same --out refuses
            return int(args.func(args) or 0)
    except (UserError, ValueError, TypeError, FileNotFoundError) as exc:
        return _fail(args.command, str(exc))
    except MemoryError:
        return _fail(args.command, _NO_MEMORY)
    except RuntimeError as exc:
        # the dataset is not on disk and cannot be downloaded (offline), training
        # diverged, or an allocation for the sizes asked for failed
        text = str(exc)
        if isinstance(exc, (DatasetUnavailableError, TrainingDiverged)):
            return _fail(args.command, text)
        if isinstance(exc, torch.OutOfMemoryError) or any(
            s in text for s in ("can't allocate memory", "out of memory", "Cannot allocate")
        ):
            return _fail(args.command, f"{_NO_MEMORY} ({text.splitlines()[0][:200]})")
        raise
    except KeyboardInterrupt:
        print(f"spikeinit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
