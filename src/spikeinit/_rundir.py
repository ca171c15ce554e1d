"""Run directories: check ``--out`` before any work, and lock it against a second run.

:func:`check_out_dir` refuses an output path that is a file, lies below a file or
is not writable, without creating anything. :func:`lock_run_dir` holds an
exclusive ``fcntl.flock`` on ``<dir>/.lock`` for as long as the context is open
(the kernel releases it when the process ends, even on SIGKILL), so two runs
never write into one directory. The lock is re-entrant within one process (the
CLI and the :class:`~spikeinit.train.Trainer` both take it). Where ``fcntl`` is
missing (Windows) no lock is taken. :func:`check_out_owner` refuses a directory
that holds another command's run (named by its ``results.json``), and
:func:`check_resumable` a ``--resume`` into run files without ``last.pt``.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"
#: the file every command writes last; its ``"command"`` says whose run a directory holds
RESULTS_NAME = "results.json"
#: what a :class:`~spikeinit.train.Trainer` writes into its run directory
TRAINER_FILES = ("last.pt", "best.pt", "metrics.jsonl")
#: the report every command writes beside ``results.json``
REPORT_NAME = "report.md"

_held: dict[str, tuple[int, int]] = {}  # resolved dir -> (fd, depth)
_guard = threading.Lock()


class RunDirLocked(ValueError):
    """Another process is writing into the same run directory."""


def check_out_dir(path: str | os.PathLike[str], name: str = "--out") -> Path:
    """``path`` as a ``Path`` if a directory can be written there, else ``ValueError``.

    Nothing is created: an existing path must be a writable directory; a missing
    one must have a writable directory as its nearest existing ancestor.
    """
    p = Path(path)
    if str(path) == "":
        raise ValueError(f"{name} must be a directory path, got ''")
    _check_no_dangling_link(p, name)
    if p.exists():
        if not p.is_dir():
            raise ValueError(f"{name} {p} exists and is not a directory")
        if not os.access(p, os.W_OK | os.X_OK):
            raise ValueError(f"{name} {p} is not writable")
        for file in (RESULTS_NAME, REPORT_NAME, *TRAINER_FILES):
            if (p / file).is_dir():
                raise ValueError(
                    f"{name} {p} holds a directory {file!r} where the run writes a file: "
                    "remove it or choose another --out"
                )
        return p
    parent = p.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"{name} {p} lies below {parent}, which is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {p} cannot be created: {parent} is not writable")
    return p


def _check_no_dangling_link(p: Path, name: str) -> None:
    """``ValueError`` if ``p`` or one of its ancestors is a symbolic link that leads
    nowhere (a loop, or a missing target): ``mkdir`` would fail with ELOOP / EEXIST."""
    for q in (p, *p.absolute().parents):
        if q.is_symlink() and not q.exists():
            why = "a loop of links or a missing target"
            try:
                q.resolve(strict=True)
            except RuntimeError:  # Python < 3.13 reports a loop this way
                why = "a loop of links"
            except OSError as exc:
                why = "a loop of links" if exc.errno == 40 else "its target does not exist"
            raise ValueError(f"{name} {p}: {q} is a symbolic link that leads nowhere ({why})")


def run_owner(path: str | os.PathLike[str]) -> str | None:
    """The command whose run ``path`` holds, or ``None`` for a directory without one.

    Read from ``results.json`` (``"command"``); a sweep that has not finished yet is
    known by its ``trials/`` folder. ``ValueError`` for a ``results.json`` that is not
    a spikeinit run's (it would be replaced).
    """
    p = Path(path)
    results = p / RESULTS_NAME
    if results.is_file():
        try:
            command = json.loads(results.read_text()).get("command")
        except (OSError, UnicodeDecodeError, ValueError, AttributeError):
            command = None
        if not isinstance(command, str):
            raise ValueError(
                f"--out {p} holds a {RESULTS_NAME} that no spikeinit command wrote; "
                "choose another --out"
            )
        return command
    if (p / "trials").is_dir():
        return "sweep"
    return None


def check_out_owner(path: str | os.PathLike[str], command: str) -> None:
    """``ValueError`` if ``path`` holds another command's run, which ``command`` would
    overwrite (its ``results.json`` and ``report.md``)."""
    owner = run_owner(path)
    if owner is not None and owner != command:
        raise ValueError(
            f"--out {path} holds a `spikeinit {owner}` run, which `spikeinit {command}` "
            "would overwrite; choose another --out"
        )


def check_resumable(path: str | os.PathLike[str]) -> None:
    """``ValueError`` if ``path`` holds a training run but no ``last.pt`` to resume from
    (``resume`` would start afresh and replace ``best.pt`` and ``metrics.jsonl``)."""
    p = Path(path)
    if (p / "last.pt").exists():
        return
    found = [n for n in (*TRAINER_FILES, RESULTS_NAME) if (p / n).exists()]
    if found:
        raise ValueError(
            f"--resume: {p} holds {', '.join(found)} but no last.pt to continue from; "
            "leave out --resume to start afresh (it replaces them) or choose another --out"
        )


@contextlib.contextmanager
def lock_run_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the run directory ``path`` (created if missing) for this process.

    A directory this call created is removed again if the run wrote nothing in it
    (a usage error found by the command), so that a refused command leaves no trace.

    Raises:
        RunDirLocked: another process holds it.
    """
    directory = Path(path)
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield directory
        return
    key = str(directory.resolve())
    with _guard:
        if key in _held:
            fd, depth = _held[key]
            _held[key] = (fd, depth + 1)
        else:
            fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                try:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
                finally:
                    os.close(fd)
                who = f" (pid {holder})" if holder.isdigit() else ""
                raise RunDirLocked(
                    f"{directory} is in use by another spikeinit run{who}; wait for it to "
                    "finish or choose another --out"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            _held[key] = (fd, 1)
    try:
        yield directory
    finally:
        with _guard:
            fd, depth = _held[key]
            if depth > 1:
                _held[key] = (fd, depth - 1)
            else:
                del _held[key]
                if created and [p.name for p in directory.iterdir()] == [LOCK_NAME]:
                    # the run wrote nothing (a usage error): leave nothing behind
                    (directory / LOCK_NAME).unlink()
                    directory.rmdir()
                os.close(fd)  # releases the flock
