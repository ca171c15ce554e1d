"""Running a parsed ``spikeinit`` command: the device, the ``--out`` lock, and errors.

:func:`spikeinit.cli.main` parses the arguments without torch and then calls
:func:`run_command` here: ``--out`` is checked before any work and locked for
the command's run, and every user-facing failure (invalid values, a dataset not
available offline, a diverged training, an allocation failure for the sizes
asked for) ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

import torch

from ._rundir import check_out_dir, check_out_owner, lock_run_dir
from .cli_args import UserError
from .data import DatasetUnavailableError
from .train import TrainingDiverged

__all__ = ["resolve_device", "run_command"]

_NO_MEMORY = "not enough memory for the sizes asked for: reduce the batch, width or steps"


def resolve_device(name: str) -> torch.device:
    """A ``torch.device`` for ``--device``, or a :class:`~spikeinit.cli_args.UserError`."""
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"--device: unknown device {name!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was requested but no CUDA GPU is available")
    return dev


def _fail(command: str, message: str) -> int:
    """Print ``message`` as one line on stderr; exit code 2."""
    line = " ".join(message.split())
    print(f"spikeinit {command}: error: {line}", file=sys.stderr)
    return 2


def run_command(args: argparse.Namespace) -> int:
    """``args.func(args)`` inside the ``--out`` lock; the exit code."""
    try:
        out = getattr(args, "out", None)
        if out is None:
            return int(args.func(args) or 0)
        check_out_dir(out)  # before any work: a file, or not writable
        with lock_run_dir(out):  # a second run into the same --out refuses
            check_out_owner(out, args.command)  # another command's run is not replaced
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
