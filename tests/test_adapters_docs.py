"""Every snippet of docs/frameworks.md ("Use it with snnTorch / Norse / SpikingJelly") runs.

The page marks them ``<!-- run by tests/test_adapters_docs.py -->``; test_docs_site.py
leaves blocks with that mark to this test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from spikeinit.init.outputs import OUTPUT_SIGMA_U

PAGE = Path(__file__).resolve().parents[1] / "docs" / "frameworks.md"
MARK = "<!-- run by tests/test_adapters_docs.py -->"
BLOCKS = re.findall(re.escape(MARK) + r"\n```python\n(.*?)```", PAGE.read_text(), flags=re.S)
NEEDS = ["spikingjelly", "snntorch"]


def test_two_snippets() -> None:
    assert len(BLOCKS) == 2
    assert PAGE.read_text().count("```python") == 2  # every python block of the page is marked


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_snippet_runs(index: int) -> None:
    pytest.importorskip(NEEDS[index])
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    scope: dict[str, object] = {}
    try:
        exec(compile(BLOCKS[index], f"docs/frameworks.md [{index}]", "exec"), scope)
    finally:
        torch.set_num_threads(n)
    # what the snippets' comments say: hidden layers at sigma_U = 1 theta, the output layer
    # (its spikes are what the model returns) at the decode-aware target
    report = scope["report"]
    spiking = [layer for layer in report.layers if not layer.is_readout]  # type: ignore[attr-defined]
    hidden = [layer for layer in spiking if layer.output is None]
    outputs = [layer for layer in spiking if layer.output is not None]
    assert hidden and all(abs(layer.sigma_u_theta - 1.0) < 0.02 for layer in hidden)  # joint BN
    assert [layer.name for layer in outputs] == [spiking[-1].name]
    assert abs(outputs[0].sigma_u_theta - OUTPUT_SIGMA_U) < 0.01 * OUTPUT_SIGMA_U
