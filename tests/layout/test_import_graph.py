"""The tree keeps the shape DESIGN.md draws: no import circles, no upward imports.

Read with the standard library's `ast`, so the check sees every import a module makes —
at the top, inside a function, or under `TYPE_CHECKING` — without importing anything.
A circle is still a circle when one side is only for type hints: the two modules can no
longer be read, tested or moved apart.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ENGINE = SRC / "smscast" / "engine"

#: Which top-level packages each layer may import (DESIGN.md, "Layers"); a layer may
#: always import itself. `config` is the one typed configuration, read by all but core.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "config": frozenset(),
    "store": frozenset({"core", "config"}),
    "channels": frozenset({"core", "config"}),
    "engine": frozenset({"core", "store", "channels", "config"}),
    "api": frozenset({"engine", "core", "store", "channels", "config"}),
    "web": frozenset({"engine", "api", "core", "channels", "config"}),
    "cli": frozenset({"engine", "api", "web", "core", "store", "channels", "config"}),
}

#: Libraries that do I/O or hold connections: `core` is pure and may import none of them.
IO_LIBRARIES = frozenset(
    {"sqlalchemy", "psycopg", "httpx", "socket", "asyncio", "fastapi", "starlette", "uvicorn"}
)


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # the smscast module (or outside package) imported
    names: tuple[str, ...]  # the names taken with `from … import`
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def imports_of(name: str, path: Path, known: dict[str, Path]) -> Iterator[Import]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, _known(alias.name, known), (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in known:  # `from package import module`
                    yield Import(name, target, (), node.lineno)
                else:
                    yield Import(name, _known(base, known), (alias.name,), node.lineno)


def _known(target: str, known: dict[str, Path]) -> str:
    """The smscast module a dotted name lands in; outside names are kept as they are."""
    if not target.startswith("smscast"):
        return target
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target


def all_imports() -> list[Import]:
    known = modules()
    return [edge for name, path in known.items() for edge in imports_of(name, path, known)]


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(edges.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def smscast_edges(found: list[Import]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in modules()}
    for edge in found:
        if edge.target.startswith("smscast") and edge.target != edge.importer:
            edges[edge.importer].add(edge.target)
    return edges


def test_no_module_of_smscast_imports_itself_round_a_circle() -> None:
    assert circles(smscast_edges(all_imports())) == []


def test_the_circle_finder_sees_a_circle_through_three_modules() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(edges) == [["a", "b", "c"]]


def test_no_layer_imports_a_layer_above_it() -> None:
    upward = [
        f"{edge.importer}:{edge.line} imports {edge.target}"
        for edge in all_imports()
        if edge.target.startswith("smscast.")
        and layer(edge.importer) in MAY_IMPORT
        and layer(edge.target) != layer(edge.importer)
        and layer(edge.target) not in MAY_IMPORT[layer(edge.importer)]
    ]
    assert upward == []


def test_core_imports_no_library_that_does_io() -> None:
    impure = [
        f"{edge.importer}:{edge.line} imports {edge.target}"
        for edge in all_imports()
        if layer(edge.importer) == "core" and edge.target.split(".")[0] in IO_LIBRARIES
    ]
    assert impure == []


def engine_package(module: str) -> str | None:
    """`smscast.engine.inbound.tickets` -> `inbound`; None for a top-level engine module."""
    parts = module.split(".")
    if len(parts) > 3 and parts[1] == "engine":
        return parts[2]
    return None


def home(module: str) -> str:
    """The package a module's private names belong to."""
    package = engine_package(module)
    if package is not None:
        return f"smscast.engine.{package}"
    return module.rpartition(".")[0]


def test_no_one_takes_a_private_name_from_another_engine_package() -> None:
    """Callers use a package's public use cases; `_helpers` stay inside their package."""
    private = [
        f"{edge.importer}:{edge.line} takes {name} from {edge.target}"
        for edge in all_imports()
        if layer(edge.target) == "engine"
        for name in edge.names
        if name.startswith("_")
        and home(edge.importer) != home(edge.target)
    ]
    assert private == []


def engine_docstring() -> str:
    return ast.get_docstring(ast.parse((ENGINE / "__init__.py").read_text())) or ""


def test_every_module_at_the_engines_top_has_its_reason_in_the_engine_docstring() -> None:
    docstring = engine_docstring()
    top = [path.stem for path in ENGINE.glob("*.py") if path.stem != "__init__"]
    assert len(top) <= 12, top
    unexplained = [stem for stem in top if f"`{stem}`" not in docstring]
    assert unexplained == []


@pytest.mark.parametrize(
    "package", sorted(p.name for p in ENGINE.iterdir() if (p / "__init__.py").exists())
)
def test_each_engine_package_names_its_public_use_cases(package: str) -> None:
    """Its docstring says what it owns, what it may call, and names the functions callers
    use — each of which exists in one of its modules."""
    init = ENGINE / package / "__init__.py"
    docstring = ast.get_docstring(ast.parse(init.read_text())) or ""
    assert "May call:" in docstring, f"{init} does not say what it may call"
    tokens = (word.rstrip(",.;:") for word in docstring.split())
    named = {token[1:-3] for token in tokens if token.startswith("`") and token.endswith("()`")}
    assert named, f"{init} names no public use case"
    defined = {
        node.name
        for path in (ENGINE / package).glob("*.py")
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    assert named - defined == set()
    callers = {
        edge.importer
        for edge in all_imports()
        if engine_package(edge.target) == package and engine_package(edge.importer) != package
    }
    assert callers, f"no one outside engine.{package} uses it"
