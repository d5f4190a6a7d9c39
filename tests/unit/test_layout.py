"""The house's rules, held: imports go one way (no circle anywhere in function/, TYPE_CHECKING imports
included), no module of the fakes past 700 lines, and no lazily exported name shadowed by a module."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

FUNCTION = Path(__file__).resolve().parents[2] / "function"


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in FUNCTION.rglob("*.py"):
        parts = list(path.relative_to(FUNCTION).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


def _imports(name: str, path: Path, package: bool, modules: dict[str, tuple[Path, bool]]) -> set[str]:
    """The package's modules ``name`` imports at its top level (under ``if TYPE_CHECKING`` too)."""
    here = name if package else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom):
                base = here.split(".")[: len(here.split(".")) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    found.add(full if full in modules else target)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    # Importing a submodule runs its parent packages first (other than one's own).
    for target in list(found):
        parts = target.split(".")
        for end in range(1, len(parts)):
            parent = ".".join(parts[:end])
            if parent in modules and not name.startswith(parent + "."):
                found.add(parent)
    return {target for target in found if target in modules and target != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                strong(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            strong(node)
    return found


def test_no_import_circle_anywhere_in_function() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, package, modules) for name, (path, package) in modules.items()}
    assert len(graph) > 90
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_no_module_of_the_fakes_is_over_700_lines() -> None:
    sizes = {
        path.relative_to(FUNCTION).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in (FUNCTION / "ebs_failover" / "testing").rglob("*.py")
    }
    assert len(sizes) > 20
    assert {name: size for name, size in sizes.items() if size > 700} == {}


def test_the_lazily_imported_actions_are_functions_after_every_module_is_imported() -> None:
    for module in (
        "drills",
        "drill_report",
        "failover",
        "checks",
        "verify",
        "preflight",
        "explain",
        "records",
    ):
        importlib.import_module(f"ebs_failover.act.{module}")
    from ebs_failover import act

    assert callable(act.drill)
    assert act.drill.__name__ == "drill"
    assert callable(act.fail_over)
    assert act.fail_over.__name__ == "fail_over"
