"""Driver errors as cartrial errors, the same on SQLite and PostgreSQL (``store.failures``)."""

from __future__ import annotations

import errno
import sqlite3
from dataclasses import dataclass

import pytest

from cartrial.errors import DatabaseUnavailable, ValidationFailed
from cartrial.store.failures import translate

SQLITE = "sqlite:////data/trial.db"
POSTGRES = "postgresql+psycopg://clerk:s3cret@db:5432/trial"


@dataclass
class _Diag:
    table_name: str | None = None
    message_detail: str | None = None


class _PostgresError(Exception):
    """Stands for a psycopg error: what ``translate`` reads is ``sqlstate`` and ``diag``."""

    def __init__(self, sqlstate: str, message: str, diag: _Diag | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.diag = diag or _Diag()


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("database is locked", "busy"),
        ("attempt to write a readonly database", "read-only"),
        ("database or disk is full", "disk-full"),
        ("disk I/O error", "disk-full"),
        ("unable to open database file", "permission"),
        ("file is not a database", "not-a-database"),
    ],
)
def test_sqlite_messages(message: str, reason: str) -> None:
    error = translate(sqlite3.OperationalError(message), SQLITE)
    assert isinstance(error, DatabaseUnavailable)
    assert (error.reason, error.database) == (reason, "/data/trial.db")


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ("55P03", "busy"),
        ("40P01", "busy"),
        ("08006", "unreachable"),
        ("57P03", "unreachable"),
        ("3D000", "unreachable"),
        ("28P01", "permission"),
        ("42501", "permission"),
        ("25006", "read-only"),
        ("53100", "disk-full"),
    ],
)
def test_postgres_states(state: str, reason: str) -> None:
    error = translate(_PostgresError(state, "server says no"), POSTGRES)
    assert isinstance(error, DatabaseUnavailable)
    assert error.reason == reason
    assert "s3cret" not in str(error)


def test_a_unique_violation_is_the_same_validation_error_on_both_backends() -> None:
    on_sqlite = translate(
        sqlite3.IntegrityError("UNIQUE constraint failed: sites.study_id, sites.code"), SQLITE
    )
    detail = "Key (study_id, code)=(1, S09) already exists."
    on_postgres = translate(
        _PostgresError("23505", "duplicate key", _Diag("sites", detail)), POSTGRES
    )
    assert isinstance(on_sqlite, ValidationFailed) and isinstance(on_postgres, ValidationFailed)
    assert on_sqlite.field == on_postgres.field == "sites.code"
    assert str(on_sqlite) == str(on_postgres)


def test_other_integrity_errors_and_os_errors() -> None:
    assert translate(sqlite3.IntegrityError("CHECK constraint failed: grade"), SQLITE) is None
    full = translate(OSError(errno.ENOSPC, "No space left on device"), SQLITE)
    assert isinstance(full, DatabaseUnavailable) and full.reason == "disk-full"
    denied = translate(PermissionError(errno.EACCES, "Permission denied"), SQLITE)
    assert isinstance(denied, DatabaseUnavailable) and denied.reason == "permission"
