"""Benchmarks of the fused LIF kernel against snnTorch, Norse and a GEMM-only floor.

Run everything with ``python -m benchmarks`` (``--quick`` for small repeat counts,
``--out DIR`` to write one JSON file per benchmark), or one module, e.g.
``python -m benchmarks.lif --out lif.json``.
"""
