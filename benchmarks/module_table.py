"""Module sizes and import edges of ``src/spikeinit`` at one or more git revisions.

For each revision: the number of modules, their lines, the import edges between
spikeinit modules (at module level and inside function bodies, the hidden kind;
imports under ``if TYPE_CHECKING:`` are not run and not counted),
and the import cycles (strongly connected components of more than one module in
the graph of all edges). With ``--modules`` also the per-module line counts.

    python -m benchmarks.module_table b39f197 HEAD [--modules]

Reads the files with ``git show REV:PATH``; the working tree is not touched.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "src/spikeinit/"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def _module_name(path: str) -> str:
    parts = path[len("src/") : -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@dataclass
class Snapshot:
    """The package's modules at one revision."""

    rev: str
    lines: dict[str, int] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)
    hidden_edges: set[tuple[str, str]] = field(default_factory=set)

    def cycles(self) -> list[list[str]]:
        """Strongly connected components with more than one module (Tarjan)."""
        graph: dict[str, set[str]] = {m: set() for m in self.lines}
        for a, b in self.edges | self.hidden_edges:
            graph.setdefault(a, set()).add(b)
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        out: list[list[str]] = []

        def visit(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in graph.get(v, ()):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))

        for v in sorted(graph):
            if v not in index:
                visit(v)
        return out


def _targets(module: str, is_package: bool, node: ast.AST, modules: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "spikeinit"]
    assert isinstance(node, ast.ImportFrom)
    if node.level == 0:
        base = node.module or ""
    else:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    if base.split(".")[0] != "spikeinit":
        return []
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def _type_checking_only(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return name == "TYPE_CHECKING"


def snapshot(rev: str) -> Snapshot:
    """Read every module of ``src/spikeinit`` at ``rev``."""
    paths = [
        p
        for p in _git("ls-tree", "-r", "--name-only", rev, PREFIX).splitlines()
        if p.endswith(".py")
    ]
    sources = {p: _git("show", f"{rev}:{p}") for p in paths}
    modules = {_module_name(p) for p in paths}
    snap = Snapshot(rev)
    for path, text in sources.items():
        module = _module_name(path)
        snap.lines[module] = len(text.splitlines())
        is_package = path.endswith("__init__.py")

        def walk(
            node: ast.AST, in_function: bool, module: str = module, is_package: bool = is_package
        ) -> None:
            for child in ast.iter_child_nodes(node):
                if _type_checking_only(child):
                    continue  # imports for annotations are not run
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    for target in _targets(module, is_package, child, modules):
                        if target != module and target in modules:
                            edge = (module, target)
                            (snap.hidden_edges if in_function else snap.edges).add(edge)
                inner = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                walk(child, in_function or inner)

        walk(ast.parse(text), False)
    return snap


def summary_table(snaps: list[Snapshot]) -> str:
    rows = [
        ("modules", [len(s.lines) for s in snaps]),
        ("lines", [sum(s.lines.values()) for s in snaps]),
        ("largest module (lines)", [max(s.lines.values()) for s in snaps]),
        ("modules over 500 lines", [sum(v > 500 for v in s.lines.values()) for s in snaps]),
        ("import edges at module level", [len(s.edges) for s in snaps]),
        ("import edges inside functions", [len(s.hidden_edges) for s in snaps]),
        (
            "import cycles (modules in them)",
            [f"{len(s.cycles())} ({sum(len(c) for c in s.cycles())})" for s in snaps],
        ),
    ]
    head = "| | " + " | ".join(s.rev for s in snaps) + " |"
    sep = "|---" * (len(snaps) + 1) + "|"
    body = ["| " + name + " | " + " | ".join(str(v) for v in vals) + " |" for name, vals in rows]
    return "\n".join([head, sep, *body])


def module_table(snaps: list[Snapshot]) -> str:
    names = sorted(set().union(*(s.lines for s in snaps)))
    head = "| module | " + " | ".join(s.rev for s in snaps) + " |"
    sep = "|---" * (len(snaps) + 1) + "|"
    body = [f"| {n} | " + " | ".join(str(s.lines.get(n, "")) for s in snaps) + " |" for n in names]
    return "\n".join([head, sep, *body])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("revs", nargs="+", help="git revisions, e.g. b39f197 HEAD")
    ap.add_argument("--modules", action="store_true", help="also the lines of every module")
    ap.add_argument("--cycles", action="store_true", help="also list the modules of each cycle")
    args = ap.parse_args()
    snaps = [snapshot(r) for r in args.revs]
    print(summary_table(snaps))
    if args.cycles:
        for s in snaps:
            print(f"\n{s.rev}: " + "; ".join(" <-> ".join(c) for c in s.cycles()))
    if args.modules:
        print()
        print(module_table(snaps))


if __name__ == "__main__":
    main()
