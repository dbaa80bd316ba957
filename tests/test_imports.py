"""The import graph of memrl: no cycles, counting imports inside functions too, so every
module has a place in one order from the records and helpers up to the command line. (That
`memrl plot` imports neither torch nor the games is run, not read: tests/test_analysis.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "memrl"


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the memrl modules it imports (a name imported from a package counts as the
    submodule when there is one)."""
    names = module_names()

    def owner(dotted: str) -> str:
        while dotted not in names:
            dotted = dotted.rpartition(".")[0]
        return dotted

    graph = {}
    for name, path in names.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("memrl"):
                targets |= {owner(f"{node.module}.{alias.name}") for alias in node.names}
            elif isinstance(node, ast.Import):
                targets |= {owner(a.name) for a in node.names if a.name.startswith("memrl")}
        graph[name] = targets - {name}
    return graph


def test_no_import_cycle():
    graph = import_graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(module):]
                                                                + [module]))
        if module not in done:
            for target in sorted(graph[module]):
                visit(target, [*path, module])
            done.add(module)

    for module in sorted(graph):
        visit(module, [])

