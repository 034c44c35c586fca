"""Fixtures: the web application on a fresh copy of the services' test trial (SQLite).

The trial (study, sites S01/S02, one user per role) is the one of ``tests/services``
(``service_support.build_trial``); authentication uses a fake clock (:class:`web_support.Clock`)
so that session expiry is tested without sleeping, and locks an account after 3 failures.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_support import STUDY, Clock, Trial, Web, build_trial, template_database

from cartrial.services import AuthSettings
from cartrial.store import make_engine, session_factory
from cartrial.web import WebSettings, create_app


@pytest.fixture(scope="session")
def web_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite trial with staff, copied by each test."""
    return template_database(tmp_path_factory.mktemp("web-template"))


@pytest.fixture
def web(web_template: Path, tmp_path: Path) -> Iterator[Web]:
    """The web application on a fresh copy of the template trial."""
    path = tmp_path / "trial.db"
    shutil.copy(web_template, path)
    engine = make_engine(f"sqlite:///{path}")
    factory = session_factory(engine)
    clock = Clock()
    settings = WebSettings(auth=AuthSettings(clock=clock, max_failures=3))
    with TestClient(create_app(factory, STUDY, settings), base_url="http://testserver") as client:
        yield Web(client=client, trial=Trial(engine=engine, factory=factory), clock=clock)
    engine.dispose()


@pytest.fixture
def web_on_each_database(migrated_db_url: str) -> Iterator[Web]:
    """The web application on a new trial in each test database (SQLite and PostgreSQL)."""
    trial = build_trial(migrated_db_url)
    clock = Clock()
    settings = WebSettings(auth=AuthSettings(clock=clock, max_failures=3))
    app = create_app(trial.factory, STUDY, settings)
    with TestClient(app, base_url="http://testserver") as client:
        yield Web(client=client, trial=trial, clock=clock)
    trial.engine.dispose()
