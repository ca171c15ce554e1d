"""``initialize`` and the foreign path ask the registry for a rule's hooks and
capabilities; nothing in ``src/spikeinit/init/`` outside the registry compares a
method name (issue 26).

The scan reads the source with :mod:`ast` (no import): a comparison (``==``,
``!=``, ``in``, ``not in``, ``is``), a ``match`` case, a ``str.startswith`` /
``endswith`` test or a dict-literal look-up against a rule's name or alias from
:data:`spikeinit.catalog.INIT_RULES`, or a membership test against the
registry's name lists (``DATA_DEPENDENT``, ``METHODS``, ``init_names()``), is a
dispatch on the name. Strings that only *label* (a report's ``"fluctuation(filtered)"``)
are not comparisons and pass.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import spikeinit as si
from spikeinit import catalog
from spikeinit.init import registry

ROOT = Path(__file__).resolve().parents[1]
INIT = ROOT / "src" / "spikeinit" / "init"
#: the one place that may turn a name into a rule
ALLOWED = {INIT / "registry.py"}
#: the registry's views of the names: testing membership in them is a dispatch on the name
NAME_LISTS = {"DATA_DEPENDENT", "METHODS", "ALIASES", "init_names", "init_aliases"}

NAMES = {e.name for e in catalog.INIT_RULES} | {a for e in catalog.INIT_RULES for a in e.aliases}


def _is_name(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in NAMES


def _names_in(node: ast.AST) -> bool:
    """A rule name, a literal collection holding one, or one of the registry's name lists."""
    if _is_name(node):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_is_name(e) for e in node.elts)
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id in NAME_LISTS
    if isinstance(node, ast.Attribute):
        return node.attr in NAME_LISTS
    return False


def name_dispatches(source: str) -> Iterator[tuple[int, str]]:
    """``(line, code)`` of every dispatch on a rule's name in ``source``."""
    for node in ast.walk(ast.parse(source)):
        hit = False
        if isinstance(node, ast.Compare):
            hit = any(_names_in(n) for n in [node.left, *node.comparators])
        elif isinstance(node, ast.match_case):
            hit = any(
                isinstance(p, ast.MatchValue) and _is_name(p.value) for p in ast.walk(node.pattern)
            )
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            hit = node.func.attr in ("startswith", "endswith") and any(
                _names_in(a) for a in node.args
            )
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Dict):
            hit = any(k is not None and _is_name(k) for k in node.value.keys)
        if hit:
            where = node.pattern if isinstance(node, ast.match_case) else node
            yield where.lineno, ast.unparse(where)[:80]


def test_the_scan_sees_name_dispatches():
    # each form of dispatch on a name, as the code before issue 26 had them
    probe = (
        'if method == "fluctuation":\n    pass\n'
        'a = method != "fluctuation" or x\n'
        "b = method in DATA_DEPENDENT\n"
        "c = method not in init_names()\n"
        'd = m in ("kaiming", "he")\n'
        "e = name in registry.METHODS\n"
        'f = rule.startswith("micheli")\n'
        'g = {"glorot": 1, "default": 2}[method]\n'
        'match method:\n    case "perez_nieves":\n        pass\n'
    )
    found = [line for line, _ in name_dispatches(probe)]
    assert sorted(found) == [1, 3, 4, 5, 6, 7, 8, 9, 11], found
    # labels and other comparisons pass
    clean = (
        'rule = "fluctuation(filtered)"\n'
        'if readout == "keep":\n    pass\n'
        'x = rule.foreign == "measured"\n'
        "y = registry.get(method).fn\n"
    )
    assert list(name_dispatches(clean)) == []


def test_scan_sees_the_init_package():
    files = _files()
    assert INIT / "model.py" in files and INIT / "foreign.py" in files
    assert any(p.parent.name == "rules" for p in files)


def _files() -> list[Path]:
    return sorted(p for p in INIT.rglob("*.py") if p not in ALLOWED)


def test_no_method_name_comparison_outside_the_registry():
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {code}"
        for path in _files()
        for line, code in name_dispatches(path.read_text())
    ]
    assert not problems, "dispatch on a rule's name outside the registry:\n" + "\n".join(problems)


# -- the capabilities the dispatch asks for, against what each rule does --------------------


def test_capabilities_follow_the_catalog():
    for name, rule in registry.rules(model_only=False).items():
        entry = next(e for e in catalog.INIT_RULES if e.name == name)
        assert rule.data_dependent == entry.data_dependent
        # a data-independent rule goes to a foreign model tensor by tensor
        if not rule.data_dependent:
            assert rule.foreign == "tensor" and rule.takes_foreign and not rule.measured
    assert registry.get("fluctuation").measured
    assert not registry.get("perez_nieves").takes_foreign


def _snn_model() -> torch.nn.Module:
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(30, 20),
        snn.Leaky(beta=0.9, init_hidden=True),
        torch.nn.Linear(20, 4),
        snn.Leaky(beta=0.9, init_hidden=True, output=True),
    )


def test_a_new_measured_rule_is_measured_on_foreign_models(monkeypatch):
    # a rule declared "measured" under a new name takes the foreign path's measured rule:
    # the dispatch reads the capability, not the name "fluctuation"
    from spikeinit.init.rules.fluctuation import FLUCTUATION

    entry = catalog.RuleEntry(
        "fluct_copy", "spikeinit.init.rules.fluctuation:FLUCTUATION", data_dependent=True
    )
    monkeypatch.setattr(catalog, "INIT_RULES", (*catalog.INIT_RULES, entry))
    assert registry.get("fluct_copy").hooks is FLUCTUATION
    x = (torch.rand(40, 8, 30, generator=torch.Generator().manual_seed(1)) < 0.1).float()
    a, b = _snn_model(), _snn_model()
    si.initialize(a, x, method="fluctuation", seed=2, time_dim=0)
    si.initialize(b, x, method="fluct_copy", seed=2, time_dim=0)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_a_refused_capability_is_refused_for_foreign_models(monkeypatch):
    entry = catalog.RuleEntry(
        "pn_copy", "spikeinit.init.rules.perez_nieves:PEREZ_NIEVES", data_dependent=True
    )
    monkeypatch.setattr(catalog, "INIT_RULES", (*catalog.INIT_RULES, entry))
    x = (torch.rand(40, 8, 30, generator=torch.Generator().manual_seed(1)) < 0.1).float()
    with pytest.raises(ValueError, match="method='pn_copy' applies to spikeinit's own layers"):
        si.initialize(_snn_model(), x, method="pn_copy", time_dim=0)
