"""Every snippet of docs/interop.md runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

DOC = Path(__file__).resolve().parents[1] / "docs" / "interop.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
NEEDS = ["snntorch", "norse", "spikingjelly"]


def test_three_snippets() -> None:
    assert len(BLOCKS) == 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_snippet_runs(index: int) -> None:
    pytest.importorskip(NEEDS[index])
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        exec(compile(BLOCKS[index], f"interop.md[{index}]", "exec"), {})
    finally:
        torch.set_num_threads(n)
