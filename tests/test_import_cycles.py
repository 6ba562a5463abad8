"""No two tinyedge modules import each other, directly or around a circle, at any depth of the code.

Imports inside functions count as much as those at the top: a lazy import hides a cycle from
Python's import machinery, not from the reader, who still cannot take the lower module alone.
The graph comes from the source (ast), so the test needs none of the modules' dependencies.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tinyedge"


def module_files() -> dict[str, Path]:
    files = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def imported_modules(name: str, path: Path, modules: set[str]) -> set[str]:
    """The tinyedge modules `name` imports anywhere in its code, without its own ancestor packages
    (Python runs those before the module whatever it imports, so importing one orders nothing)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in executed_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    targets = set()
    for target in found:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name and not name.startswith(target + "."):
            targets.add(target)
    return targets


def executed_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under `if TYPE_CHECKING:`, which only a type checker runs."""
    nodes, pending = [], [tree]
    while pending:
        node = pending.pop()
        nodes.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                pending.extend(child.orelse)
            else:
                pending.append(child)
    return nodes


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imported_modules(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_tinyedge_modules_import_no_cycle():
    assert cycles(import_graph()) == []


def test_the_named_floors_stay_in_order():
    """The two circles the code once had: the pipeline below the estimate and the ESP-IDF modules;
    the flash image below the flashing steps and UF2."""
    graph = import_graph()
    assert not graph["tinyedge.pipeline"] & {"tinyedge.espidf", "tinyedge.estimate", "tinyedge.xtensa"}
    assert "tinyedge.pipeline" in graph["tinyedge.estimate"]  # its calibration runs emulated compiles
    assert not graph["tinyedge.flash.image"] & {"tinyedge.flash.steps", "tinyedge.flash.uf2"}


@pytest.mark.parametrize(("source", "expected"), [
    ("from tinyedge.b import thing\n", {"tinyedge.b"}),
    ("def f():\n    from tinyedge import b\n", {"tinyedge.b"}),
    ("from . import b\nimport tinyedge.c.d\n", {"tinyedge.b", "tinyedge.c"}),
    ("from tinyedge import __version__\nimport os\n", set()),  # the package itself: already initialised
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tinyedge.b import B\n", set()),
])
def test_imports_are_found_at_any_depth(tmp_path, source, expected):
    path = tmp_path / "a.py"
    path.write_text(source)
    modules = {"tinyedge", "tinyedge.a", "tinyedge.b", "tinyedge.c"}
    assert imported_modules("tinyedge.a", path, modules) == expected


def test_a_circle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
