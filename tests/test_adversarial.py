"""The fast part of the adversarial pass (benchmarks/adversarial_pass.py, issue 28).

Hostile command lines and API keywords drawn by hypothesis (derandomised, bounded:
the same inputs every run), each classified clear / unclear / silent. Only the
inputs that must be refused before any work run here (the full pass, with the
valid and the training inputs, is ``python -m benchmarks.adversarial_pass``).
"""

from __future__ import annotations

import pytest

from benchmarks import adversarial_pass as ap


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("SPIKEINIT_NO_PROGRESS", "1")


def test_every_fast_hostile_input_is_refused_clearly():
    selected = [c for c in ap.cases(scale=0.4) if not c.slow]
    assert len(selected) >= 100
    by = ap.run_pass(selected, show=False)
    bad = by["silent"] + by["unclear"]
    assert not bad, ap.report(by)


def _case(expect: str, param: str = "x") -> ap.Case:
    return ap.Case("api", "probe", param, expect, lambda tmp: ("return", None))


def test_the_classifier_can_fail():
    # the same rules that judge the pass: accepted nonsense is silent, a raw exception or
    # a message that does not name the parameter is unclear, a one-line exit 2 is clear
    assert ap.classify(_case("refuse"), "return", None).cls == "silent"
    assert ap.classify(_case("refuse"), "raise", ZeroDivisionError("x")).cls == "unclear"
    assert ap.classify(_case("refuse", "beta"), "raise", ValueError("tau_mem bad")).cls == (
        "unclear"
    )
    assert ap.classify(_case("refuse", "beta"), "raise", ValueError("beta bad")).cls == "clear"
    assert ap.classify(_case("run"), "raise", ValueError("x bad")).cls == "unclear"
    assert ap.classify(_case("refuse"), "exit", (2, "spikeinit x: error: bad\n")).cls == "clear"
    assert ap.classify(_case("refuse"), "exit", (2, "a\nb error\n")).cls == "unclear"
    assert ap.classify(_case("refuse"), "exit", (0, "")).cls == "silent"
    assert ap.classify(_case("refuse"), "traceback", "OSError").cls == "unclear"
    assert ap.classify(_case("any"), "hang", None).cls == "silent"


def test_the_oracle_reads_the_documented_ranges():
    beta = ap.CONVERSIONS["from_snntorch"]["beta"]
    assert beta.accepts(0.9) and not beta.accepts(0.2) and not beta.accepts(float("nan"))
    seed = ap.Num(0, 2**32 - 1, integer=True)
    assert seed.accepts("7") and not seed.accepts(str(10**23)) and not seed.accepts("1e23")
