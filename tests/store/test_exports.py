"""The public API of ``cartrial.store`` is declared and complete (httpx-style export guard)."""

from __future__ import annotations

import importlib
import pkgutil

import cartrial.store
from cartrial.store import models


def test_every_exported_name_exists() -> None:
    for name in cartrial.store.__all__:
        assert hasattr(cartrial.store, name), name
    assert sorted(cartrial.store.__all__) == list(cartrial.store.__all__)


def test_every_table_class_is_exported() -> None:
    assert set(models.__all__) <= set(cartrial.store.__all__)


def test_every_module_declares_all() -> None:
    for info in pkgutil.iter_modules(cartrial.store.__path__):
        if info.ispkg:
            continue
        module = importlib.import_module(f"cartrial.store.{info.name}")
        assert isinstance(getattr(module, "__all__", None), list), info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"
