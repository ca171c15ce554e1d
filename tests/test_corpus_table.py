"""benchmarks/corpus_table.py: its rows are what si.initialize and si.diagnose give."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("snntorch")
pytest.importorskip("norse.torch")
pytest.importorskip("spikingjelly.activation_based")

from benchmarks import corpus_table  # noqa: E402

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.filterwarnings("ignore")]


def test_cases_are_the_second_corpus_at_least() -> None:
    names = {c.name for c in corpus_table.cases()}
    assert "snntorch_leaky_parallel_docstring" in names and len(names) >= 21


def test_rows_landed_and_refused() -> None:
    by_name = {c.name: c for c in corpus_table.cases()}
    landed = corpus_table.row(by_name["snntorch_leaky_parallel_docstring"])
    refused = corpus_table.row(by_name["snntorch_slstm_docstring"])
    assert landed["default"]["layers"] == 2
    assert landed["default"]["worst"] <= 0.10 and landed["calibrated"]["worst"] <= 0.02
    assert "SLSTM" in refused["default"]["refused"] and refused["calibrated"] is None
    table = corpus_table.markdown([landed, refused])
    assert "| snntorch_leaky_parallel_docstring | snntorch |" in table
    assert "refused: module 'slstm1' (snntorch SLSTM)" in table
    assert "2 networks: 1 land within 10 % by default (1 within 2 % calibrated), 1 refused" in (
        table
    )
    assert torch.get_num_threads() == 1
