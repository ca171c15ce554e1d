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
NEEDS = ["snntorch", "norse", "spikingjelly"]


def test_three_snippets() -> None:
    assert len(BLOCKS) == 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_snippet_runs(index: int) -> None:
    pytest.importorskip(NEEDS[index])
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        exec(compile(BLOCKS[index], f"README.md interop[{index}]", "exec"), {})
    finally:
        torch.set_num_threads(n)
