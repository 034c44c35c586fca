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

from service_support import (
    PASSWORD,
    REGIMEN,
    STUDY,
    Trial,
    build_trial,
    screening,
    template_database,
)

from cartrial.web.security import CSRF_FIELD

__all__ = [
    "D1",
    "PASSWORD",
    "STUDY",
    "Clock",
    "Trial",
    "Web",
    "approval_form",
    "build_trial",
    "day",
    "dlt_ae_form",
    "lymphodepletion_forms",
    "screening_form",
    "template_database",
]

#: The infusion day of the journeys' first cohort.
D1 = dt.date(2026, 1, 12)


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


def day(n: int) -> str:
    """The date ``n`` days after :data:`D1` (ISO)."""
    return (D1 + dt.timedelta(days=n)).isoformat()


def screening_form(subject: str) -> dict[str, str]:
    """An eligible subject's screening form at site S01, 20 days before :data:`D1`."""
    values = screening(subject, "S01", D1 - dt.timedelta(days=20)).model_dump(mode="json")
    return {k: ("on" if v is True else str(v)) for k, v in values.items() if v is not False}


def lymphodepletion_forms(subject: str) -> list[dict[str, str]]:
    """The protocol regimen (fludarabine and cyclophosphamide) on days -5, -4 and -3."""
    return [
        {
            "subject_id": subject,
            "agent": agent,
            "dose": str(dose),
            "unit": "mg/m2",
            "day": str(n),
            "administered_date": day(n),
        }
        for n in (-5, -4, -3)
        for agent, dose in REGIMEN
    ]


def dlt_ae_form(subject: str) -> dict[str, str]:
    """Grade 3 gastritis, probably related, on day 10 (in the DLT window): the packaged
    protocol's DLT rule fires ``criterion:gastric_mucosal_injury``."""
    return {
        "subject_id": subject,
        "term": "Gastritis",
        "grade": "3",
        "onset_at": f"{day(10)}T09:00",
        "resolved_at": f"{day(20)}T09:00",
        "serious": "on",
        "attribution": "probable",
        "outcome": "recovered",
    }


def approval_form(decision_id: str) -> dict[str, str]:
    """The e-signature form approving dose decision ``decision_id`` (the test password)."""
    return {
        "record": "dose_decision",
        "record_id": decision_id,
        "meaning": "approval",
        "password": PASSWORD,
    }
