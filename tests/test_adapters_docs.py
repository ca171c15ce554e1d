"""Every snippet of the README's "Use it with snnTorch / Norse / SpikingJelly" section runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = README.read_text().split("## Use it with snnTorch / Norse / SpikingJelly", 1)[1]
SECTION = SECTION.split("\n## ", 1)[0]
BLOCKS = re.findall(r"```python\n(.*?)```", SECTION, flags=re.S)
NEEDS = ["spikingjelly", "snntorch"]


def test_two_snippets() -> None:
    assert len(BLOCKS) == 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_snippet_runs(index: int) -> None:
    pytest.importorskip(NEEDS[index])
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    scope: dict[str, object] = {}
    try:
        exec(compile(BLOCKS[index], f"README.md interop[{index}]", "exec"), scope)
    finally:
        torch.set_num_threads(n)
    # what the snippets' comments say: every spiking layer at sigma_U = 1 theta
    report = scope["report"]
    spiking = [layer for layer in report.layers if not layer.is_readout]  # type: ignore[attr-defined]
    assert spiking and all(abs(layer.sigma_u_theta - 1.0) < 0.01 for layer in spiking)
