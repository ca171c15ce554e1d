"""Deprecated on 2026-12-07, to be removed in spikeinit 0.2: moved to
``benchmarks/zoo_training.py`` (``python -m benchmarks.zoo_training``).

It times short training runs of zoo models, a benchmark rather than a command.
Importing this module warns and, in a source checkout, gives the moved ``run``
and ``main``.
"""

from __future__ import annotations

import warnings

warnings.warn(
    "spikeinit.experiments.zoo_training moved to benchmarks/zoo_training.py "
    "(python -m benchmarks.zoo_training); deprecated on 2026-12-07, to be removed in "
    "spikeinit 0.2",
    DeprecationWarning,
    stacklevel=2,
)

try:
    from benchmarks.zoo_training import main, run
except ImportError as exc:  # an installed package has no benchmarks/
    raise ImportError(
        "zoo_training moved to benchmarks/zoo_training.py: run "
        "`python -m benchmarks.zoo_training` from a source checkout"
    ) from exc

__all__ = ["main", "run"]

if __name__ == "__main__":
    main()
