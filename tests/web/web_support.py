"""Shared pieces of the web tests: the client wrapper with CSRF-aware posts and a fake clock.

The trial (study, sites S01/S02, one user per role) is the one of ``tests/services``
(``service_support.build_trial``); authentication uses a fake clock so that session expiry is
tested without sleeping.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from service_support import PASSWORD, STUDY, Trial, build_trial, template_database

from cartrial.web.security import CSRF_FIELD

__all__ = ["PASSWORD", "STUDY", "Clock", "Trial", "Web", "build_trial", "template_database"]


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
