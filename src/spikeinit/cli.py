"""The ``spikeinit`` command-line tool.

The arguments of every sub-command are defined in :mod:`spikeinit.cli_args`,
which does not import torch: ``--help`` and usage errors answer at once. Only
after the arguments parsed does :func:`main` import the command's module under
:mod:`spikeinit.experiments` (and with it torch) and call its ``run(args) -> int``
through :func:`spikeinit.cli_run.run_command`. Every command takes ``--out``,
``--seed`` and ``--device`` (see :func:`add_common_arguments`).

User errors (bad arguments, invalid values, missing files) end with a one-line
reason on stderr and exit code 2, never a traceback. ``--out`` is checked before
any work (it must be, or be creatable as, a writable directory) and locked for
the command's whole run, so a second command into the same ``--out`` refuses; an
``--out`` holding another command's run (:func:`spikeinit._rundir.run_owner`) is
refused too.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

from .cli_args import COMMANDS, UserError, add_common_arguments

__all__ = ["UserError", "add_common_arguments", "build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``spikeinit`` parser with every sub-command (no torch import)."""
    parser = _Parser(
        prog="spikeinit", description="Initialise spiking neural networks so that they train."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in COMMANDS.values():
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # only now the heavy part: the command's module, torch, and the run-time error handling
    module = importlib.import_module(args.command_module)
    del args.command_module
    args.func = module.run
    runner = importlib.import_module("spikeinit.cli_run")
    return int(runner.run_command(args))


if __name__ == "__main__":
    raise SystemExit(main())
