"""docs/where-things-live.md names files that exist, and names inside them that exist.

A path is a backticked repository path (``src/...``, ``tests/...``, ``docs/...``,
``benchmarks/...`` or a root file such as ``pyproject.toml``); ``path::NAME`` also
names something defined or used in that file (a registry, a function, a test).
Templates with a placeholder (``<framework>``) name files to be written and are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "where-things-live.md"
# a backticked path, optionally followed by ::NAME
REF = re.compile(r"`((?:src|tests|docs|benchmarks)/[\w./<>-]+|pyproject\.toml)(?:::(\w+))?`")


def _references() -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(2)) for m in REF.finditer(PAGE.read_text())]


def test_the_page_names_the_three_registries():
    refs = set(_references())
    assert ("src/spikeinit/catalog.py", "INIT_RULES") in refs
    assert ("src/spikeinit/adapters/find.py", "BUILTIN") in refs
    assert ("src/spikeinit/neuron.py", "KERNEL_BACKENDS") in refs
    assert len(refs) > 40  # the pattern sees the page's references


def test_every_named_path_and_name_exists():
    problems = []
    for path, name in _references():
        if "<" in path:  # a file to be written: its directory must exist
            target = (ROOT / path).parent
            if "<" in str(target) or not target.is_dir():
                problems.append(f"{path}: no directory {target.relative_to(ROOT)}")
            continue
        target = ROOT / path
        if not target.exists():
            problems.append(f"{path} does not exist")
        elif name is not None and not re.search(rf"\b{name}\b", target.read_text()):
            problems.append(f"{path} has no {name}")
    assert not problems, "\n".join(problems)


def test_the_page_is_in_the_site_navigation():
    assert "where-things-live.md" in (ROOT / "mkdocs.yml").read_text()
