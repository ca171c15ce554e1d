"""Architecture rules, checked on the source text (no import of the package needed).

1. Every documentation path cited in ``src/`` exists, and every section it cites
   (``docs/science.md, section 'Name'``) is a heading of that file.
2. ``experiments/`` holds commands, not library code: no public function defined
   there is used outside ``experiments/`` (the CLI entry points aside, and the
   commands' own simulations in their own test modules).
3. No module of ``src/spikeinit`` imports another spikeinit module inside a
   function body (hidden import cycles), except the lazy loading of CLI
   commands (``importlib`` in ``cli.py``, not an import statement) and of the
   optional compiled backends in ``_kernels``.
4. No import circles: the graph of every import between spikeinit modules (at
   module level, inside functions and under ``if TYPE_CHECKING:``) has no
   strongly connected component of more than one module.
5. No upward arrows: the package's units are stacked in :data:`LAYERS` (and the
   units of ``init/`` in :data:`INIT_LAYERS`); a module imports only units of a
   lower layer (or its own unit).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PKG = SRC / "spikeinit"
EXPERIMENTS = PKG / "experiments"

# -- helpers ---------------------------------------------------------------------------------


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The spikeinit modules an import statement loads (submodules resolved)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "spikeinit"]
    if node.level == 0:
        base = node.module or ""
    else:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    if base.split(".")[0] != "spikeinit":
        return []
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def _imports(module: str, path: Path) -> Iterator[tuple[str, int, bool]]:
    """``(imported module, line, inside a function)`` for every spikeinit import."""

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[str, int, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for target in _imported(module, path, child):
                    yield target, child.lineno, in_function
            inner = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            yield from walk(child, in_function or inner)

    yield from walk(ast.parse(path.read_text(), str(path)), False)


# -- 1. cited documentation exists ------------------------------------------------------------

# a cited document: a path under docs/ (docs/science.md) or a repository-level
# upper-case name (README.md); lower-case bare names (report.md) are outputs
DOC_PATH = re.compile(r"(?<![\w/.-])(docs/(?:[\w-]+/)*[\w-]+\.md|[A-Z][A-Z_]*\.md)\b")
# a section named after a doc path: section 'Name' or section "Name"
SECTION = re.compile(r"\bsection\s+(['\"])(.+?)\1")


def _headings(doc: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", doc.read_text(), flags=re.S)
    return {m.group(1).strip() for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M)}


def _citations() -> Iterator[tuple[Path, str, str | None]]:
    """``(file, doc path, section or None)`` for every doc citation in ``src/``."""
    for path in MODULES.values():
        # one logical text: line breaks, indentation and comment markers become spaces
        text = re.sub(r"\s*\n\s*(?:#:?\s*)?", " ", path.read_text())
        hits = list(DOC_PATH.finditer(text))
        for i, hit in enumerate(hits):
            end = hits[i + 1].start() if i + 1 < len(hits) else len(text)
            segment = text[hit.end() : min(end, hit.end() + 300)]
            sections = [m.group(2) for m in SECTION.finditer(segment)]
            # a section belongs to the path when it follows in the same sentence
            sections = [s for s in sections if "." not in segment[: segment.find(s)]]
            if not sections:
                yield path, hit.group(1), None
            for section in sections:
                yield path, hit.group(1), section


def test_citations_are_found():
    # the check below must see the citations it is meant to check
    cited = {(doc, section) for _, doc, section in _citations()}
    assert ("docs/science.md", "Beyond the Poisson assumption") in cited
    assert ("docs/interop.md", None) in cited


def test_every_cited_doc_path_and_section_exists():
    problems = []
    for path, doc, section in _citations():
        where = path.relative_to(ROOT)
        target = ROOT / doc
        if not target.is_file():
            problems.append(f"{where}: cites {doc}, which does not exist")
            continue
        if section is not None and section not in _headings(target):
            problems.append(f"{where}: cites section {section!r} of {doc}: no such heading")
    assert not problems, "\n".join(problems)


# -- 2. experiments/ holds no library code ----------------------------------------------------

# what cli.py (and ``python -m``) call on a command module
ENTRY_POINTS = {"add_parser", "run", "main", "register"}
# a command's own simulation, checked by the test module of that command (or timed by
# the benchmark of that command)
COMMAND_TESTS = {
    ("propagation", "simulate"): {"test_propagation.py"},
    ("theory_check", "simulate_grid"): {"test_theory_check.py"},
    # benchmarks/epoch.py times the randman preset's own training epoch
    ("presets", "preset"): {"test_cli_train.py", "test_sweep.py", "epoch.py",
                            "test_memory_check.py"},
    ("presets", "build_model"): {"test_memory_check.py"},
    ("presets", "build_initialized"): {"epoch.py"},
    ("presets", "readout_rule"): {"test_cli_train.py"},
    ("sweep", "make_trials"): {"test_sweep.py", "test_sweep_input.py"},
    ("sweep", "load_toml"): {"test_sweep_input.py"},
    ("sweep", "run_ray"): {"test_sweep_ray_input.py"},
    ("sweep", "check_address"): {"test_sweep_ray_input.py", "test_user_models_ray.py"},
    ("sweep", "execute"): {"test_sweep.py"},
    ("sweep", "summarize"): {"test_sweep.py"},
    ("sweep", "trial_state"): {"test_sweep.py"},
    ("sweep", "comparable"): {"test_sweep.py", "test_user_models_ray.py"},
}  # fmt: skip


def _public_functions() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in sorted(EXPERIMENTS.glob("*.py")):
        tree = ast.parse(path.read_text())
        out[path.stem] = {
            n.name
            for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and not n.name.startswith("_")
        }
    return out


def _uses_of_experiments(path: Path) -> Iterator[tuple[str, str, int]]:
    """``(experiment module, name, line)`` that ``path`` takes from ``experiments/``."""
    tree = ast.parse(path.read_text(), str(path))
    aliases: dict[str, str] = {}  # local name -> experiment module
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            mod = node.module
            if mod == "spikeinit.experiments":
                for a in node.names:
                    aliases[a.asname or a.name] = a.name
            elif mod.startswith("spikeinit.experiments."):
                for a in node.names:
                    yield mod.rsplit(".", 1)[1], a.name, node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("spikeinit.experiments.") and a.asname:
                    aliases[a.asname] = a.name.rsplit(".", 1)[1]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            yield aliases[node.value.id], node.attr, node.lineno


def test_experiments_define_no_library_code():
    public = _public_functions()
    assert "simulate" in public["propagation"]  # the scan sees the commands
    files = [p for p in SRC.rglob("*.py") if EXPERIMENTS not in p.parents]
    files += sorted((ROOT / "tests").glob("*.py")) + sorted((ROOT / "benchmarks").rglob("*.py"))
    problems = []
    for path in files:
        for module, name, line in _uses_of_experiments(path):
            if name not in public.get(module, set()) or name in ENTRY_POINTS:
                continue
            if path.name in COMMAND_TESTS.get((module, name), set()):
                continue
            problems.append(
                f"{path.relative_to(ROOT)}:{line} uses experiments.{module}.{name}: "
                "library code belongs in init/, theory.py or another library module"
            )
    assert not problems, "\n".join(problems)


def test_command_test_exceptions_are_current():
    public = _public_functions()
    for (module, name), test_files in COMMAND_TESTS.items():
        assert name in public.get(module, set()), (module, name)
        for test_file in test_files:
            where = (ROOT / "tests" / test_file, ROOT / "benchmarks" / test_file)
            assert any(p.is_file() for p in where), test_file


# -- 3. no hidden import cycles ---------------------------------------------------------------

# Lazy by design: the compiled kernels are optional and may fail to import or
# initialise (no numba, no CUDA/Triton); _kernels returns None and the torch loop runs.
ALLOWED_LAZY = {
    ("spikeinit._kernels", "spikeinit._kernels.lif_numba"),
    ("spikeinit._kernels", "spikeinit._kernels.lif_triton"),
    ("spikeinit._kernels", "spikeinit._kernels.sparse_numba"),
    ("spikeinit._kernels", "spikeinit._kernels.readout_numba"),
    ("spikeinit._kernels", "spikeinit._kernels.linear_lif_numba"),
    ("spikeinit._kernels", "spikeinit._kernels.sparse_conv_numba"),
    ("spikeinit._kernels", "spikeinit._kernels.conv_numba"),
}

# Function-level imports that exist today in files being restructured elsewhere
# (issue 16: init/model.py, adapters, diagnostics.py by the lead; train.py and
# experiments/compare.py by other helpers). Each hides a cycle or a back-edge;
# remove the entry when it is fixed. Nothing may be added to this set.
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()


def _function_level_imports() -> list[tuple[str, str, int]]:
    out = []
    for module, path in MODULES.items():
        for target, line, in_function in _imports(module, path):
            if in_function and target != module:
                out.append((module, target, line))
    return out


def test_import_scan_sees_imports(tmp_path):
    # the scan resolves relative and absolute imports and submodules, and tells
    # function bodies (also methods) from module level
    src = tmp_path / "probe.py"
    src.write_text(
        "from . import theory\n"
        "from .init import functional as F\n"
        "class C:\n"
        "    def f(self):\n"
        "        import spikeinit.neuron\n"
        "        from ._kernels import lif_numba\n"
        "        return lambda: None\n"
    )
    found = set(_imports("spikeinit.probe", src))
    assert found == {
        ("spikeinit.theory", 1, False),
        ("spikeinit.init.functional", 2, False),
        ("spikeinit.neuron", 5, True),
        ("spikeinit._kernels.lif_numba", 6, True),
    }


def test_no_function_level_imports_between_spikeinit_modules():
    problems = [
        f"{MODULES[m].relative_to(ROOT)}:{line} imports {t} inside a function"
        for m, t, line in _function_level_imports()
        if (m, t) not in ALLOWED_LAZY and (m, t) not in KNOWN_EXCEPTIONS
    ]
    assert not problems, "\n".join(problems)


# -- 4. no import circles ---------------------------------------------------------------------


def _edges() -> set[tuple[str, str]]:
    """Every import edge between two spikeinit modules, of any kind (module level, inside a
    function, under ``if TYPE_CHECKING:``), except the version string: ``from . import
    __version__`` reads a constant the package root sets before it imports anything."""
    out = set()
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for alias in node.names:
                if alias.name == "__version__":
                    continue
                one = node.__class__(**{**node.__dict__, "names": [alias]})
                for target in _imported(module, path, one):
                    if target != module and target in MODULES:
                        out.add((module, target))
    return out


def _circles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_circle_scan_sees_circles():
    assert _circles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == [["a", "b", "c"]]
    assert _circles({("a", "b"), ("b", "c")}) == []
    edges = _edges()
    assert ("spikeinit.init.model", "spikeinit.init.foreign") in edges  # the scan sees imports


def test_no_import_circles():
    circles = _circles(_edges())
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


# -- 5. no upward arrows ----------------------------------------------------------------------

#: the units of ``src/spikeinit`` (a top-level module or sub-package), bottom to top; a unit
#: imports only units of a lower layer. ``spikeinit`` is the package root (the public names).
LAYERS: list[set[str]] = [
    {"_validate", "catalog", "_rundir", "_memory", "kept", "surrogate", "entry_points"},
    {"params", "cli_args", "_api_checks"},
    {"_kernels", "theory", "cli"},
    {"neuron", "sparse_input", "experiment_api"},
    {"nn", "optim", "regularizers", "losses", "data"},
    {"adapters", "models", "nir_export"},
    {"measure", "foreign_training"},  # measure: what init and diagnostics both measure with
    {"init", "diagnostics"},
    {"train"},
    {"cli_run"},
    {"spikeinit"},
    {"experiments"},
]
#: the units of ``init/``, bottom to top: the rules sit below the registry that names them,
#: and the registry below the model-level code that asks it
INIT_LAYERS: list[set[str]] = [
    {"report", "outputs"},
    {"targets", "shortcuts", "knob_check", "missed"},
    {"rules"},
    {"functional", "propagation_rules", "perez_nieves", "dale_rule"},  # names kept importable
    {"registry", "calibrate"},
    {"foreign"},
    {"model"},
    {"spikeinit.init"},
]


def _unit(module: str, package: str) -> str:
    """The unit of ``module`` inside ``package`` (its first component below it)."""
    rest = module[len(package) + 1 :] if module.startswith(package + ".") else ""
    return rest.split(".")[0] if rest else module


def _upward(
    edges: set[tuple[str, str]], package: str, layers: list[set[str]]
) -> tuple[list[str], set[str]]:
    rank = {unit: i for i, layer in enumerate(layers) for unit in layer}
    problems, unknown = [], set()
    for a, b in sorted(edges):
        if not (a == package or a.startswith(package + ".")):
            continue
        if not (b == package or b.startswith(package + ".")):
            continue
        ua, ub = _unit(a, package), _unit(b, package)
        if ua == ub:
            continue
        unknown |= {u for u in (ua, ub) if u not in rank}
        if ua in rank and ub in rank and rank[ua] <= rank[ub]:
            problems.append(f"{a} imports {b}: {ua!r} is not above {ub!r}")
    return problems, unknown


def test_upward_scan_sees_upward_arrows():
    edges = {("spikeinit.nn.layers", "spikeinit.init.model"), ("spikeinit.init.x", "spikeinit.nn")}
    problems, _ = _upward(edges, "spikeinit", LAYERS)
    want = "spikeinit.nn.layers imports spikeinit.init.model: 'nn' is not above 'init'"
    assert problems == [want]
    # siblings of one layer may not import each other either
    problems, _ = _upward({("spikeinit.diagnostics", "spikeinit.init")}, "spikeinit", LAYERS)
    assert len(problems) == 1


def test_every_unit_has_a_layer():
    units = {_unit(m, "spikeinit") for m in MODULES}
    assert units == set().union(*LAYERS)
    init_units = {_unit(m, "spikeinit.init") for m in MODULES if m.startswith("spikeinit.init")}
    assert init_units == set().union(*INIT_LAYERS)


def test_no_upward_arrows():
    edges = _edges()
    problems, unknown = _upward(edges, "spikeinit", LAYERS)
    more, unknown_init = _upward(edges, "spikeinit.init", INIT_LAYERS)
    assert not unknown and not unknown_init, (unknown, unknown_init)
    assert not problems + more, "\n".join(problems + more)
