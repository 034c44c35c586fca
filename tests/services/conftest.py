"""Fixtures: a migrated trial database with one study, two sites and a user for every role."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import argon2.profiles
import pytest
from service_support import Trial, build_trial

from cartrial.store import auth, make_engine, session_factory
from cartrial.store.migrate import upgrade


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with the study and staff, copied by each test."""
    path = tmp_path_factory.mktemp("template") / "trial.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    with pytest.MonkeyPatch.context() as patch:
        # the cheap argon2 profile of tests/conftest.py, also for this session-wide template
        patch.setattr(auth, "PASSWORD_PROFILE", argon2.profiles.CHEAPEST)
        trial = build_trial(url)
    trial.engine.dispose()
    return path


@pytest.fixture
def trial(template_db: Path, tmp_path: Path) -> Iterator[Trial]:
    """A fresh copy of the template database for one test."""
    path = tmp_path / "trial.db"
    shutil.copy(template_db, path)
    engine = make_engine(f"sqlite:///{path}")
    yield Trial(engine=engine, factory=session_factory(engine))
    engine.dispose()
