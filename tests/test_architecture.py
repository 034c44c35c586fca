"""The layers stay honest and every sub-package guards its public API.

DEVELOPERS.md: ``rules``, ``designs`` and ``analysis`` never touch the database or the web; the
CLI never touches SQL directly. STYLE.md: each sub-package declares ``__all__`` and a test keeps it
from drifting (every name in ``__all__`` exists).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import cartrial

SRC = Path(cartrial.__file__).parent

# package -> module prefixes it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "protocol": ("sqlalchemy", "alembic", "fastapi", "cartrial.store", "cartrial.services"),
    "rules": ("sqlalchemy", "alembic", "fastapi", "cartrial.store", "cartrial.services"),
    "designs": ("sqlalchemy", "alembic", "fastapi", "cartrial.store", "cartrial.services"),
    "analysis": ("sqlalchemy", "alembic", "fastapi", "cartrial.store", "cartrial.services"),
    "simulation": ("sqlalchemy", "alembic", "fastapi", "cartrial.store", "cartrial.services"),
    "cli": ("sqlalchemy",),
    "virtual": (
        "sqlalchemy",
        "cartrial.store",
        "cartrial.services",
        "cartrial.analysis",
        "cartrial.report",
        "cartrial.demo",
    ),
    "demo": ("sqlalchemy", "alembic", "cartrial.store"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_does_not_import_what_it_must_not(package: str) -> None:
    root = SRC / package
    files = [root] if root.suffix else sorted(root.rglob("*.py"))
    offenders = [
        f"{file.relative_to(SRC)} imports {name}"
        for file in files
        for name in _imports(file)
        if name.startswith(FORBIDDEN[package])
    ]
    assert not offenders, "\n".join(offenders)


def _packages() -> list[str]:
    return sorted(
        f"cartrial.{info.name}" for info in pkgutil.iter_modules([str(SRC)]) if info.ispkg
    )


@pytest.mark.parametrize("name", _packages())
def test_subpackage_declares_all_and_every_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names missing attributes: {missing}"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
