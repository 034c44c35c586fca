"""The layers stay honest: every check is derived from the one table in docs/architecture.md.

* Each package under ``src/cartrial`` has a row; a file imports only the cartrial packages and the
  gated libraries its package's row allows (every import in the file, lazy ones included).
* No import cycle between modules, counting the imports a module runs when it is loaded (module
  level, outside ``if TYPE_CHECKING:``).
* Each sub-package's ``__all__`` is exactly its public names: the names its ``__init__`` binds that
  do not start with ``_`` (``import x`` of a library is not an export). STYLE.md: a small, guarded
  public API (httpx ``tests/test_exported_members.py``).
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import cartrial

SRC = Path(cartrial.__file__).resolve().parent
ARCHITECTURE = SRC.parents[1] / "docs" / "architecture.md"
TABLE_HEADER = "| package | what it holds | may import | libraries |"

#: Imports that break a rule of the table today, each removed by named work in progress. An
#: allowance that no longer matches an import fails the test too: delete it when the work lands.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}
#: Names public in a sub-package's ``__init__`` but missing from its ``__all__`` today.
KNOWN_ALL_DRIFT: dict[str, tuple[frozenset[str], str]] = {}


@dataclass(frozen=True)
class Layer:
    """One row of the table."""

    package: str
    planned: bool
    may_import: frozenset[str]
    libraries: frozenset[str]


def _names(cell: str) -> frozenset[str]:
    return frozenset(re.findall(r"`([^`]+)`", cell))


def read_layers(text: str) -> dict[str, Layer]:
    """The rows of the import table in ``docs/architecture.md``."""
    lines = text.splitlines()
    start = lines.index(TABLE_HEADER)
    layers: dict[str, Layer] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        package, _, may_import, libraries = (c.strip() for c in line.strip("|").split("|"))
        (name,) = _names(package)
        layers[name] = Layer(name, "(planned)" in package, _names(may_import), _names(libraries))
    return layers


LAYERS = read_layers(ARCHITECTURE.read_text(encoding="utf-8"))
GATED = frozenset().union(*(layer.libraries for layer in LAYERS.values()))


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _source_files() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if p != SRC / "__init__.py")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module an ``import from`` names, relative imports resolved."""
    if node.level == 0:
        return node.module or ""
    base = _module_name(path).split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _imported_modules(source: str, path: Path) -> Iterator[str]:
    """Every module named by an import anywhere in ``source`` (the text of ``path``)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield _absolute(node, path)


def test_the_table_names_every_package_once() -> None:
    present = {_package_of(p) for p in _source_files()}
    assert present - set(LAYERS) == set(), "packages without a row in docs/architecture.md"
    for layer in LAYERS.values():
        assert layer.planned or layer.package in present, f"{layer.package}: no such package"
        assert not layer.planned or layer.package not in present, f"{layer.package} exists now"
        assert layer.may_import <= set(LAYERS), f"{layer.package}: unknown packages"
        assert layer.package not in layer.may_import


def test_the_table_keeps_clients_off_the_database() -> None:
    for client in ("cli", "demo", "web"):
        assert "store" not in LAYERS[client].may_import
        assert not {"sqlalchemy", "alembic"} & LAYERS[client].libraries
    assert not {"store", "services", "analysis", "report"} & LAYERS["virtual"].may_import
    for core in ("rules", "designs", "analysis", "simulation", "protocol", "vocab", "errors"):
        assert not LAYERS[core].libraries, core


def _violations(path: Path, source: str | None = None) -> set[tuple[str, str]]:
    """``(file, package or library)`` for each import the file's row does not allow."""
    layer = LAYERS[_package_of(path)]
    text = path.read_text(encoding="utf-8") if source is None else source
    found: set[tuple[str, str]] = set()
    for module in _imported_modules(text, path):
        parts = module.split(".")
        if parts[0] == "cartrial" and len(parts) > 1:
            target = parts[1]
            if target != layer.package and target not in layer.may_import:
                found.add((str(path.relative_to(SRC)), target))
        elif parts[0] in GATED and parts[0] not in layer.libraries:
            found.add((str(path.relative_to(SRC)), parts[0]))
    return found


@pytest.mark.parametrize("package", sorted(p for p, layer in LAYERS.items() if not layer.planned))
def test_package_imports_only_what_its_row_allows(package: str) -> None:
    files = [p for p in _source_files() if _package_of(p) == package]
    found = set().union(*(_violations(p) for p in files))
    allowed = {key for key in KNOWN_VIOLATIONS if key[0].split("/")[0] == package}
    forbidden = sorted(found - allowed)
    assert not forbidden, "imports docs/architecture.md does not allow:\n" + "\n".join(
        f"{file} imports {target}" for file, target in forbidden
    )
    stale = sorted(allowed - found)
    assert not stale, f"delete these KNOWN_VIOLATIONS (the work landed): {stale}"


def test_a_forbidden_import_is_caught() -> None:
    """The check itself, on made-up files: each line breaks its package's row."""
    cases = {
        "rules/probe.py": ("from cartrial.store import live\n", "store"),
        "cli/probe.py": ("def lazy() -> None:\n    import sqlalchemy.orm\n", "sqlalchemy"),
        "virtual/probe.py": ("from ..services import record_ae\n", "services"),
        "designs/probe.py": ("from cartrial.protocol import Protocol\n", "protocol"),
    }
    for file, (source, target) in cases.items():
        assert _violations(SRC / file, source) == {(file, target)}
    assert _violations(SRC / "services/probe.py", "from sqlalchemy import select\n") == set()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _load_time_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports run when the module is loaded: module level, in ``if``/``try`` blocks, but not
    under ``if TYPE_CHECKING:`` nor inside functions or classes."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            pending[:0] = [*node.body, *node.orelse]
        elif isinstance(node, ast.Try):
            handlers = [s for h in node.handlers for s in h.body]
            pending[:0] = [*node.body, *handlers, *node.orelse, *node.finalbody]


def module_graph() -> dict[str, set[str]]:
    """Module -> the cartrial modules it imports at load time (``from pkg import sub`` counts
    the submodule when ``sub`` is one, else the package's ``__init__``)."""
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges: set[str] = set()
        for node in _load_time_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in files}
                continue
            module = _absolute(node, path)
            if module in files:
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    edges.add(sub if sub in files else module)
        graph[name] = edges - {name}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_no_import_cycle_between_modules() -> None:
    cycles = find_cycles(module_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycles(graph) == [["a", "b", "c"]]


def _public_names(init: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            names |= {alias.asname or alias.name for alias in node.names}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


def _subpackages() -> list[str]:
    """Every package below ``cartrial`` (``cartrial.rules.cart_tox`` included)."""
    return sorted(_module_name(p) for p in SRC.rglob("__init__.py") if p != SRC / "__init__.py")


@pytest.mark.parametrize("name", _subpackages())
def test_all_is_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing attributes: {missing}"
    public = _public_names(SRC.joinpath(*name.split(".")[1:], "__init__.py"))
    drift, _ = KNOWN_ALL_DRIFT.get(name, (frozenset(), ""))
    assert public - set(exported) == drift, f"{name}: public names not in __all__"
    assert set(exported) - public == set(), f"{name}: __all__ names not bound in __init__"
