"""The documentation site builds with ``--strict``, and the guide's code runs.

A fenced ``python`` block in ``docs/`` is executed unless it is marked as not
runnable: an info string with a title that starts with "needs" (```` ```python
title="needs SHD" ````), or the comment ``<!-- not run -->`` on the line before
it. A block marked ``<!-- run by tests/test_X.py -->`` is run by that test
instead (docs/frameworks.md: test_adapters_docs.py). The blocks of one page run in
order in one namespace, as a reader would run them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# the info string, then the body of a fenced python block
FENCE = re.compile(r"(?P<before>[^\n]*)\n```python(?P<info>[^\n]*)\n(?P<code>.*?)\n```", re.S)
OPTIONAL = {"snntorch", "norse", "spikingjelly"}


def _blocks(page: Path) -> list[tuple[str, bool]]:
    """``(code, runnable)`` for every python block of ``page``."""
    out = []
    for m in FENCE.finditer("\n" + page.read_text()):
        skip = re.search(r'title="needs', m.group("info")) is not None
        skip = skip or "<!-- not run -->" in m.group("before")
        skip = skip or "<!-- run by tests/" in m.group("before")  # run by that test
        out.append((m.group("code"), not skip))
    return out


PAGES = sorted(p for p in DOCS.rglob("*.md") if any(run for _, run in _blocks(p)))


def test_guide_pages_have_runnable_examples():
    names = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert {"getting-started.md", "guide/your-model.md"} <= names
    # docs/frameworks.md's blocks are run (and checked) by test_adapters_docs.py alone
    assert "frameworks.md" not in names
    assert not any(run for _, run in _blocks(DOCS / "frameworks.md"))
    # the marker is honoured: the SHD example is shown but not run
    shd = [code for code, run in _blocks(DOCS / "guide" / "your-model.md") if not run]
    assert len(shd) == 1 and 'load("shd")' in shd[0]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_code_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # anything an example writes stays in tmp_path
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    scope: dict[str, object] = {"__name__": "__docs__"}
    try:
        for i, (code, runnable) in enumerate(_blocks(page)):
            if not runnable:
                continue
            try:
                exec(compile(code, f"{page.relative_to(ROOT)} [block {i}]", "exec"), scope)
            except ModuleNotFoundError as exc:
                if exc.name in OPTIONAL:
                    pytest.skip(f"{exc.name} is not installed (the [interop] extra)")
                raise
    finally:
        torch.set_num_threads(threads)


def test_site_builds_strict(tmp_path: Path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("material")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for page in ("index.html", "science/index.html", "api/theory/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    # the API reference is generated from the docstrings
    theory = (tmp_path / "site" / "api" / "theory" / "index.html").read_text()
    assert "psp_integrals" in theory and "siegert_rate" in theory
