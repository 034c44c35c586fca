"""Shared pieces of the hostile-input tests: where the corpus lives, a database and its counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from service_support import STUDY

from cartrial.services import ServiceContext, authenticate, trial_data
from cartrial.store import make_engine, session_factory, verify_database

HERE = Path(__file__).parent
D0 = dt.date(2026, 3, 2)


@dataclass(frozen=True)
class Counts:
    """What a failed command must leave unchanged."""

    labs: int
    lesions: int
    kinetics: int
    audit_rows: int


@dataclass
class HostileDb:
    """A copy of the template database: its path, URL and a reader of its counts."""

    path: Path
    #: CLI access tokens ($CARTRIAL_TOKEN) of the users ``dm``, ``inv`` and ``admin``
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def context(self, user: str) -> ServiceContext:
        return ServiceContext(session_factory(make_engine(self.url)), user, STUDY)

    def touch(self, user: str) -> None:
        """Use ``user``'s token once now, so that the CLI's use within a minute writes nothing.

        (Authentication records a token's last use at most once a minute: an audited write that
        is not the command's.)
        """
        engine = make_engine(self.url)
        try:
            authenticate(session_factory(engine), self.tokens[user], source="hostile test")
        finally:
            engine.dispose()

    def counts(self) -> Counts:
        """Rows of the study's tables (the services' export) and of the audit trail."""
        engine = make_engine(self.url)
        try:
            data = trial_data(session_factory(engine), STUDY)
        finally:
            engine.dispose()
        return Counts(
            labs=len(data.labs),
            lesions=len(data.lesions),
            kinetics=len(data.kinetics),
            audit_rows=verify_database(self.url).rows,
        )
