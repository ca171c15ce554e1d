"""The README's interop snippets run as printed, and do what their comments say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("snntorch")
pytest.importorskip("spikingjelly")

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks() -> list[str]:
    text = README.read_text()
    return re.findall(r"<!-- tested: tests/test_readme.py -->\n```python\n(.*?)```", text, re.S)


def test_there_are__blocks() -> None:
    assert len(_blocks()) == 2


@pytest.mark.parametrize("index", [0, 1])
def test_block_runs_and_hits_the_target(index: int, one_thread: None) -> None:
    import spikeinit as si

    scope: dict[str, object] = {}
    exec(compile(_blocks()[index], f"README block {index}", "exec"), scope)  # noqa: S102
    report = scope["report"]
    assert isinstance(report, si.InitReport)
    spiking = [layer for layer in report.layers if not layer.is_readout]
    assert spiking and all(abs(layer.sigma_u_theta - 1.0) < 0.01 for layer in spiking)
