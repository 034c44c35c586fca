"""Fixtures: the web application on a fresh copy of the services' test trial (SQLite).

The trial (study, sites S01/S02, one user per role) is the one of ``tests/services``
(``service_support.build_trial``); authentication uses a fake clock so that session expiry is
tested without sleeping.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import argon2.profiles
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from service_support import PASSWORD, STUDY, Trial, build_trial  # noqa: E402

from cartrial.services import AuthSettings  # noqa: E402
from cartrial.store import auth, make_engine, session_factory  # noqa: E402
from cartrial.store.migrate import upgrade  # noqa: E402
from cartrial.web import WebSettings, create_app  # noqa: E402
from cartrial.web.security import CSRF_FIELD  # noqa: E402

__all__ = ["PASSWORD", "STUDY", "Clock", "Web"]


@dataclass
class Clock:
    """A settable UTC clock for :class:`AuthSettings`."""

    now: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Web:
    """The app of one test: its client, trial database and clock."""

    client: TestClient
    trial: Trial
    clock: Clock

    def csrf(self) -> str:
        """The CSRF token of the client (fetched from the login page when it has none)."""
        token = self.client.cookies.get("cartrial_csrf")
        if not token:
            self.client.get("/login")
            token = self.client.cookies.get("cartrial_csrf")
        assert token
        return token

    def post(self, url: str, data: dict[str, str] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        """Post a form with the CSRF token."""
        return self.client.post(url, data={CSRF_FIELD: self.csrf(), **(data or {})}, **kwargs)  # type: ignore[arg-type]

    def login(self, user: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
        """Log in through the login form."""
        return self.post("/login", {"username": user, "password": password}, follow_redirects=False)


@pytest.fixture(scope="session")
def web_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite trial with staff, copied by each test."""
    path = tmp_path_factory.mktemp("web-template") / "trial.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "PASSWORD_PROFILE", argon2.profiles.CHEAPEST)
        trial = build_trial(url)
    trial.engine.dispose()
    return path


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
