"""Two writers at once: the same clear error on SQLite and PostgreSQL, nothing written.

* A unique key taken between a use case's check and its insert (two data managers adding site
  S09 at the same moment) gives :class:`ValidationFailed` naming the key on both backends, where
  PostgreSQL used to raise a raw ``IntegrityError (UniqueViolation)``.
* A SQLite database held by another writer past the busy timeout says so plainly (exit 2).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cartrial.cli import app
from cartrial.errors import ValidationFailed
from cartrial.services import AddSite, ServiceContext, add_site, open_database
from cartrial.store import AuditLog, Site
from cartrial.store import engine as engine_module

from .support import new_study

STUDY = "CLDN18-PDL1-CART-01"


@pytest.fixture
def study_url(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database (SQLite, or PostgreSQL in CI) set up with the packaged study.

    ``ada``'s session is the credential of the writing commands (``$CARTRIAL_TOKEN``).
    """
    monkeypatch.setenv("CARTRIAL_TOKEN", new_study(db_url))
    yield db_url


def _counts(url: str) -> tuple[int, int]:
    factory = open_database(url)
    try:
        with factory() as session:
            sites = session.scalar(select(func.count(Site.id))) or 0
            audit = session.scalar(select(func.count(AuditLog.id))) or 0
    finally:
        factory.kw["bind"].dispose()
    return sites, audit


def _other_writer_adds_s09(url: str, session: Session) -> None:
    """Insert site S09 as another writer would, after the use case checked the code was free."""
    insert = text(
        "INSERT INTO sites (study_id, code, name, created_at, created_by, version) "
        "SELECT id, 'S09', 'Raced', created_at, created_by, 1 FROM studies LIMIT 1"
    )
    if make_url(url).get_backend_name() == "sqlite":
        # SQLite serialises writers (BEGIN IMMEDIATE): the only way the key can be taken in
        # between is on the use case's own connection.
        session.connection().execute(insert)
        return
    other = create_engine(url)
    try:
        with other.begin() as connection:  # committed before the use case inserts
            connection.execute(insert)
    finally:
        other.dispose()


@contextmanager
def _racing(url: str) -> Iterator[list[bool]]:
    """While open, the first flush adding a site finds S09 taken by another writer."""
    raced: list[bool] = []

    def race(session: Session, _context: object, _instances: object) -> None:
        if not raced and any(isinstance(obj, Site) for obj in session.new):
            raced.append(True)
            _other_writer_adds_s09(url, session)

    event.listen(Session, "before_flush", race)
    try:
        yield raced
    finally:
        event.remove(Session, "before_flush", race)


def test_a_unique_key_taken_by_a_concurrent_writer_is_a_clear_validation_error(
    study_url: str,
) -> None:
    sites_before, audit_before = _counts(study_url)
    with _racing(study_url) as raced:
        factory = open_database(study_url)
        with pytest.raises(ValidationFailed) as caught:
            add_site(ServiceContext(factory, "ada", STUDY), AddSite(code="S09", name="Mine"))
        factory.kw["bind"].dispose()
    assert raced == [True]
    assert caught.value.field == "sites.code"
    assert "already exists" in str(caught.value)
    assert "IntegrityError" not in str(caught.value)
    sites_after, audit_after = _counts(study_url)
    # PostgreSQL: the other writer's S09 was committed; the use case wrote nothing at all.
    # SQLite: the raced insert shared the use case's transaction, so it was rolled back too.
    expected_sites = sites_before + (0 if study_url.startswith("sqlite") else 1)
    assert (sites_after, audit_after) == (expected_sites, audit_before)


def test_the_cli_reports_a_raced_unique_key_as_exit_2(study_url: str) -> None:
    with _racing(study_url) as raced:
        args = ["study", "add-site", "S09", "Mine", "--user", "ada", "--db", study_url, "--json"]
        result = CliRunner().invoke(app, args)
    assert raced == [True]
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert '"type": "ValidationFailed"' in result.output
    assert '"field": "sites.code"' in result.output


def test_a_database_locked_past_the_busy_timeout_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "trial.db"
    monkeypatch.setenv("CARTRIAL_TOKEN", new_study(str(db)))
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    sites_before = _counts(f"sqlite:///{db}")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")  # e.g. a large import in progress
    try:
        args = ["study", "add-site", "S09", "Site nine", "--user", "ada", "--db", str(db)]
        result = CliRunner().invoke(app, args)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "database is locked" in result.output and "busy timeout" in result.output
    assert _counts(f"sqlite:///{db}") == sites_before
