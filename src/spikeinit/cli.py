"""The ``spikeinit`` command-line tool.

Each sub-command lives in its own module under :mod:`spikeinit.experiments`
and provides ``add_parser(subparsers)``, which registers the sub-command and
sets ``func=run`` where ``run(args) -> int``. Every command takes ``--out``,
``--seed`` and ``--device`` (see :func:`add_common_arguments`).

User errors (bad arguments, invalid values, missing files) end with a one-line
reason on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import torch

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"spikeinit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"spikeinit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
