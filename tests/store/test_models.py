"""Model round trips and the database-level rules of the schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import sessionmaker

from cartrial.errors import DatabaseUnavailable, ValidationFailed
from cartrial.store import (
    AdverseEvent,
    AuditedSession,
    Base,
    Regulated,
    Subject,
    database_url,
    make_engine,
    unit_of_work,
)

from .conftest import T0, MiniTrial


def test_every_regulated_table_round_trips(
    every_table: dict[type[Regulated], dict[str, object]], sessions: sessionmaker[AuditedSession]
) -> None:
    regulated = {m.class_ for m in Base.registry.mappers if issubclass(m.class_, Regulated)}
    assert set(every_table) == regulated, "build_every_table must cover every regulated table"
    with sessions() as session:
        for cls, written in every_table.items():
            loaded = session.get(cls, written["id"])
            assert loaded is not None
            read = {c.key: getattr(loaded, c.key) for c in loaded.__mapper__.column_attrs}
            assert read == written, cls.__name__
            assert loaded.version == 1
            assert loaded.created_by == "setup"


def test_timestamps_come_back_aware_utc(
    sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    cet = timezone(timedelta(hours=1))
    with unit_of_work(sessions, "inv1") as session:
        ae = AdverseEvent(
            subject_id=mini_trial.subject_id,
            term="Pyrexia",
            soc="General disorders and administration site conditions",
            grade=1,
            onset_at=datetime(2026, 3, 2, 10, 30, tzinfo=cet),
            attribution="probable",
        )
        session.add(ae)
    with sessions() as session:
        loaded = session.get(AdverseEvent, ae.id)
        assert loaded is not None
        # 10:30 at UTC+1 is 09:30 UTC.
        assert loaded.onset_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
        assert loaded.onset_at.utcoffset() == timedelta(0)


def test_naive_datetime_is_refused(
    sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    with (
        pytest.raises(StatementError, match="naive datetime"),
        unit_of_work(sessions, "inv1") as session,
    ):
        session.add(
            AdverseEvent(
                subject_id=mini_trial.subject_id,
                term="Pyrexia",
                soc="General disorders and administration site conditions",
                grade=1,
                onset_at=datetime(2026, 3, 2, 10, 30),
                attribution="probable",
            )
        )
    with sessions() as session:
        assert session.scalars(select(AdverseEvent)).all() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("grade", 6),
        ("attribution", "likely"),
        ("outcome", "cured"),
        ("alternative_cause", "weather"),
        ("resolved_at", T0 - timedelta(hours=1)),
    ],
)
def test_check_constraints_reject_bad_values(
    sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial, field: str, value: object
) -> None:
    fields: dict[str, object] = {
        "subject_id": mini_trial.subject_id,
        "term": "Pyrexia",
        "soc": "General disorders and administration site conditions",
        "grade": 2,
        "onset_at": T0,
        "attribution": "possible",
        field: value,
    }
    with pytest.raises(IntegrityError), unit_of_work(sessions, "inv1") as session:
        session.add(AdverseEvent(**fields))
    with sessions() as session:
        assert session.scalars(select(AdverseEvent)).all() == []


def test_foreign_keys_are_enforced(sessions: sessionmaker[AuditedSession]) -> None:
    with pytest.raises(IntegrityError), unit_of_work(sessions, "inv1") as session:
        session.add(Subject(study_id=999, site_id=999, subject_code="X"))


def test_duplicate_subject_code_is_refused(
    sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    # A unique violation is the same ValidationFailed on SQLite and PostgreSQL (store.failures).
    with (
        pytest.raises(ValidationFailed, match=r"subjects\.subject_code: .* already exists"),
        unit_of_work(sessions, "inv1") as session,
    ):
        session.add(
            Subject(
                study_id=mini_trial.study_id, site_id=mini_trial.site_id, subject_code="001-001"
            )
        )


@pytest.mark.parametrize(("setting", "level"), [(None, 1), ("full", 2), ("NORMAL", 1)])
def test_sqlite_connection_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, level: int
) -> None:
    if setting is None:
        monkeypatch.delenv("CARTRIAL_SQLITE_SYNCHRONOUS", raising=False)
    else:
        monkeypatch.setenv("CARTRIAL_SQLITE_SYNCHRONOUS", setting)
    engine = make_engine(database_url(tmp_path / "pragmas.db"))
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # NORMAL is 1, FULL is 2 (https://sqlite.org/pragma.html#pragma_synchronous)
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == level
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    engine.dispose()


def test_bad_synchronous_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARTRIAL_SQLITE_SYNCHRONOUS", "OFF")
    with pytest.raises(DatabaseUnavailable, match="NORMAL or FULL"):
        make_engine("sqlite://")


def test_dates_round_trip(sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial) -> None:
    with unit_of_work(sessions, "inv1", "screening date recorded") as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        subject.screened_date = date(2026, 1, 31)
    with sessions() as session:
        loaded = session.get(Subject, mini_trial.subject_id)
        assert loaded is not None
        assert loaded.screened_date == date(2026, 1, 31)
        assert loaded.version == 2
