"""The architecture's size figures at one or more git revisions, as a markdown table (issue 26).

Per revision, from the files of ``src/spikeinit`` (``git show REV:PATH``; the
working tree is not touched):

* modules over 500 lines;
* functions (and methods, nested ones included) over 80 lines, from the
  ``def`` line to the last line of the body (``ast`` line numbers);
* the parameters of :func:`spikeinit.initialize` (all of them, and the
  keyword-only ones), and of the functions it passes them on to (the native
  path ``_initialize_native`` and the foreign path ``initialize_foreign``);
* import circles: strongly connected components of more than one module in the
  graph of every import between spikeinit modules (module level, inside
  functions and under ``if TYPE_CHECKING:``), except ``from . import
  __version__`` (a constant the package root sets before it imports anything),
  as ``tests/test_architecture.py`` counts them;
* the lines of README.md.

    python -m benchmarks.architecture_stats 14fabce HEAD [--list]

``--list`` also lists the modules and functions over the limits.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .module_table import Snapshot as _Graph
from .module_table import _module_name, _targets

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "src/spikeinit/"
MODULE_LIMIT = 500
FUNCTION_LIMIT = 80
#: where initialize passes its arguments on (name -> module), at any revision
PATHS = {
    "initialize": "spikeinit.init.model",
    "_initialize_native": "spikeinit.init.model",
    "initialize_foreign": "spikeinit.init.foreign",
}


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


@dataclass
class Stats:
    """The figures of one revision."""

    rev: str
    big_modules: list[tuple[str, int]] = field(default_factory=list)
    long_functions: list[tuple[str, int]] = field(default_factory=list)
    params: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (all, kw-only)
    circles: list[list[str]] = field(default_factory=list)
    readme_lines: int = 0


def _functions(tree: ast.AST, prefix: str) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            assert node.end_lineno is not None
            out.append((f"{prefix}.{node.name}", node.end_lineno - node.lineno + 1))
    return out


def _params(tree: ast.Module, name: str) -> tuple[int, int] | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            a = node.args
            total = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs)
            return total, len(a.kwonlyargs)
    return None


def _edges(module: str, is_package: bool, tree: ast.AST, modules: set[str]) -> set[tuple[str, str]]:
    out = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        for alias in node.names:
            if alias.name == "__version__":
                continue
            one = node.__class__(**{**node.__dict__, "names": [alias]})
            for target in _targets(module, is_package, one, modules):
                if target != module and target in modules:
                    out.add((module, target))
    return out


def measure(rev: str) -> Stats:
    """The figures of ``rev`` (a commit, branch or tag)."""
    paths = [
        p
        for p in _git("ls-tree", "-r", "--name-only", rev, PREFIX).splitlines()
        if p.endswith(".py")
    ]
    modules = {_module_name(p) for p in paths}
    stats = Stats(rev)
    graph = _Graph(rev)
    for path in paths:
        text = _git("show", f"{rev}:{path}")
        module = _module_name(path)
        lines = len(text.splitlines())
        graph.lines[module] = lines
        if lines > MODULE_LIMIT:
            stats.big_modules.append((module, lines))
        tree = ast.parse(text)
        stats.long_functions += [f for f in _functions(tree, module) if f[1] > FUNCTION_LIMIT]
        for name, home in PATHS.items():
            found = _params(tree, name) if module == home else None
            if found is not None:
                stats.params[name] = found
        graph.edges |= _edges(module, path.endswith("__init__.py"), tree, modules)
    stats.circles = graph.cycles()
    stats.readme_lines = len(_git("show", f"{rev}:README.md").splitlines())
    stats.big_modules.sort(key=lambda m: -m[1])
    stats.long_functions.sort(key=lambda f: -f[1])
    return stats


def _param_cell(s: Stats, name: str) -> str:
    if name not in s.params:
        return "-"
    total, kw = s.params[name]
    return f"{total} ({kw} keyword-only)"


def table(stats: list[Stats]) -> str:
    rows = [
        (f"modules over {MODULE_LIMIT} lines", [str(len(s.big_modules)) for s in stats]),
        (f"functions over {FUNCTION_LIMIT} lines", [str(len(s.long_functions)) for s in stats]),
        ("`initialize`'s parameters", [_param_cell(s, "initialize") for s in stats]),
        ("parameters of the native path", [_param_cell(s, "_initialize_native") for s in stats]),
        ("parameters of the foreign path", [_param_cell(s, "initialize_foreign") for s in stats]),
        (
            "import circles",
            [
                str(len(s.circles))
                + (" (" + "; ".join(" <-> ".join(c) for c in s.circles) + ")" if s.circles else "")
                for s in stats
            ],
        ),
        ("README.md lines", [str(s.readme_lines) for s in stats]),
    ]
    head = "| | " + " | ".join(s.rev for s in stats) + " |"
    sep = "|---" * (len(stats) + 1) + "|"
    body = ["| " + name + " | " + " | ".join(cells) + " |" for name, cells in rows]
    return "\n".join([head, sep, *body])


def listing(s: Stats) -> str:
    mods = ", ".join(f"{m} {n}" for m, n in s.big_modules)
    funcs = ", ".join(f"{f} {n}" for f, n in s.long_functions)
    return (
        f"{s.rev}: modules over {MODULE_LIMIT}: {mods}\n"
        f"{s.rev}: functions over {FUNCTION_LIMIT}: {funcs}"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("revs", nargs="+", help="git revisions, e.g. 14fabce HEAD")
    ap.add_argument("--list", action="store_true", help="also list what is over the limits")
    args = ap.parse_args(argv)
    stats = [measure(r) for r in args.revs]
    print(table(stats))
    if args.list:
        for s in stats:
            print()
            print(listing(s))


if __name__ == "__main__":
    main()
