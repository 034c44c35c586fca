"""Fixtures: a migrated trial database with one study, two sites and a user for every role."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_support import Trial, template_database

from cartrial.store import make_engine, session_factory


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with the study and staff, copied by each test."""
    return template_database(tmp_path_factory.mktemp("template"))


@pytest.fixture
def trial(template_db: Path, tmp_path: Path) -> Iterator[Trial]:
    """A fresh copy of the template database for one test."""
    path = tmp_path / "trial.db"
    shutil.copy(template_db, path)
    engine = make_engine(f"sqlite:///{path}")
    yield Trial(engine=engine, factory=session_factory(engine))
    engine.dispose()
