"""The ``spikeinit`` command-line tool.

User errors (bad arguments, invalid values, missing files) end with a one-line
reason on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch


class UserError(Exception):
    """An error caused by the user's input: shown as one line, exit code 2."""


def _add_common(p: argparse.ArgumentParser, out: str) -> None:
    p.add_argument("--out", default=out, help="output directory (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikeinit", description="Initialise spiking neural networks so that they train."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="the main job: a short tour on embedded data")
    _add_common(demo, "runs/demo")
    return parser


def _device(name: str) -> torch.device:
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise UserError(f"--device: unknown device {name!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was requested but no CUDA GPU is available")
    return dev


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        device = _device(args.device)
        if args.command == "demo":
            from .experiments.demo import run_demo

            run_demo(out=args.out, seed=args.seed, device=device)
        return 0
    except (UserError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"spikeinit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
