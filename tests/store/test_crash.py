"""Crash safety: a writer killed mid-transaction leaves a consistent database."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from cartrial.store import (
    AuditedSession,
    AuditLog,
    LabResult,
    Subject,
    make_engine,
    session_factory,
    unit_of_work,
    verify_chain,
)

from .conftest import MiniTrial

_ROWS = 300


def _killed_importer(url: str, subject_id: int, flushed: multiprocessing.synchronize.Event) -> None:
    """Import lab rows in one transaction, flush them (and their audit rows), then hang."""
    factory = session_factory(make_engine(url))
    start = datetime(2026, 3, 2, tzinfo=UTC)
    with unit_of_work(factory, "importer", "enrolment recorded by import") as session:
        for i in range(_ROWS):
            session.add(
                LabResult(
                    subject_id=subject_id,
                    collected_at=start + timedelta(hours=i),
                    lbtestcd="PLAT",
                    value=150.0 + i,
                    unit="10^9/L",
                )
            )
        subject = session.get(Subject, subject_id)
        assert subject is not None
        subject.status = "enrolled"
        session.flush()
        flushed.set()
        time.sleep(120)  # killed before commit


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        labs = connection.scalar(select(func.count()).select_from(LabResult))
        audit = connection.scalar(select(func.count()).select_from(AuditLog))
    return int(labs or 0), int(audit or 0)


def test_killed_writer_leaves_nothing_half_written(
    migrated_db_url: str,
    engine: Engine,
    sessions: sessionmaker[AuditedSession],
    mini_trial: MiniTrial,
) -> None:
    labs_before, audit_before = _counts(engine)
    context = multiprocessing.get_context("fork")
    flushed = context.Event()
    writer = context.Process(
        target=_killed_importer, args=(migrated_db_url, mini_trial.subject_id, flushed)
    )
    writer.start()
    assert flushed.wait(timeout=60), "the writer never reached its flush"
    assert writer.pid is not None
    os.kill(writer.pid, signal.SIGKILL)
    writer.join(timeout=30)
    assert writer.exitcode == -signal.SIGKILL

    engine.dispose()  # new connections: SQLite recovers from the WAL, PostgreSQL has rolled back
    assert _counts(engine) == (labs_before, audit_before)
    with engine.connect() as connection:
        assert verify_chain(connection).ok
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    with sessions() as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        assert (subject.status, subject.version) == ("screening", 1)
    # The write lock died with the writer: the next use case goes through at once.
    with unit_of_work(sessions, "crc1", "enrolled") as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        subject.status = "enrolled"
    with engine.connect() as connection:
        report = verify_chain(connection)
    assert report.ok
    assert report.rows == audit_before + 1
