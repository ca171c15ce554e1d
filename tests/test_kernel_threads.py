"""numba kernels must not change torch's thread count (they share the OpenMP runtime)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("numba")

SCRIPT = """
import torch, spikeinit as si
torch.set_num_threads(1)
x = (torch.rand(20, 4, 300) < 0.03).float()
layer = si.nn.SpikingLinear(300, 16, sparse_input=True)
layer(x).sum().backward()                       # LIF kernel + event-driven input kernels
si.lif_sequence(torch.randn(10, 3, 5), si.LIFParams(), return_mem=True)[1].sum()
print(torch.get_num_threads())
"""


def test_numba_kernels_keep_torchs_thread_count() -> None:
    # a fresh process: the first parallel launch is the one that used to reset it
    env = {"NUMBA_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "1"
