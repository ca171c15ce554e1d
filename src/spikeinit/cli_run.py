"""Running a parsed ``spikeinit`` command: the device, the ``--out`` lock, and errors.

:func:`spikeinit.cli.main` parses the arguments without torch and then calls
:func:`run_command` here: ``--out`` is checked before any work and locked for
the command's run, and every user-facing failure (invalid values, a dataset not
available offline, a diverged training, an allocation failure for the sizes
asked for) ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import errno
import sys

import torch

from ._rundir import check_out_dir, check_out_owner, lock_run_dir
from .cli_args import UserError
from .data import DatasetUnavailableError
from .train import TrainingDiverged

__all__ = ["os_error_line", "resolve_device", "run_command"]

_NO_MEMORY = "not enough memory for the sizes asked for: reduce the batch, width or steps"


def resolve_device(name: str) -> torch.device:
    """A ``torch.device`` for ``--device``, or a :class:`~spikeinit.cli_args.UserError`."""
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"--device: unknown device {name!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was requested but no CUDA GPU is available")
    if dev.type == "meta":
        raise UserError("--device meta holds no data and cannot run a model: use cpu or cuda")
    try:  # mps without Apple silicon, xpu without its runtime, cuda:7 on a one-GPU machine
        torch.empty(1, device=dev)
    except (RuntimeError, AssertionError, AttributeError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise UserError(f"--device {name} is not available on this machine ({first})") from None
    return dev


def os_error_line(exc: OSError) -> str:
    """One line for an ``OSError``: what failed, on which path."""
    if exc.strerror is None:  # raised with a message of ours (FileNotFoundError("..."))
        return str(exc)
    where = f" {exc.filename!r}" if exc.filename is not None else ""
    also = f" -> {exc.filename2!r}" if exc.filename2 is not None else ""
    hint = {
        errno.ENOSPC: ": the disk is full; free space and rerun (with --resume where it exists)",
        errno.EFBIG: ": a file-size limit (ulimit -f) was reached",
        errno.EDQUOT: ": the disk quota is exhausted",
        errno.ENAMETOOLONG: ": shorten the path or the swept values",
    }.get(exc.errno or 0, "")
    return f"cannot access{where}{also}: {exc.strerror}{hint}"


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
    except (UserError, ValueError, TypeError) as exc:
        return _fail(args.command, str(exc))
    except OSError as exc:
        # a full disk (ENOSPC), a file-size limit (EFBIG), a name too long, a path that
        # is a directory, a missing file: the files already written are whole (written
        # atomically), nothing half-written is left
        return _fail(args.command, os_error_line(exc))
    except MemoryError:
        return _fail(args.command, _NO_MEMORY)
    except OverflowError as exc:  # a size beyond what a C integer or a float holds
        return _fail(args.command, f"a value is too large to compute with ({exc})")
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
