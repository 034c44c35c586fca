"""Restore you can trust: verified first, never silently losing writes, itself audited; races."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import sessionmaker

from cartrial.errors import BackupFailed
from cartrial.store import (
    AuditedSession,
    AuditLog,
    DatabaseEvent,
    Subject,
    make_engine,
    session_factory,
    unit_of_work,
)
from cartrial.store.backup import backup
from cartrial.store.restore import restore

from .conftest import MiniTrial


def _needs_pg_tools(engine: Engine) -> None:
    if engine.dialect.name == "postgresql" and shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is required to test PostgreSQL backups")


def _add_subject(sessions: sessionmaker[AuditedSession], trial: MiniTrial, code: str) -> None:
    with unit_of_work(sessions, "crc1") as session:
        session.add(Subject(study_id=trial.study_id, site_id=trial.site_id, subject_code=code))


def _codes(sessions: sessionmaker[AuditedSession]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(Subject.subject_code).order_by(Subject.id)))


def test_newer_writes_are_not_discarded_without_force(
    migrated_db_url: str,
    engine: Engine,
    sessions: sessionmaker[AuditedSession],
    mini_trial: MiniTrial,
    tmp_path: Path,
) -> None:
    _needs_pg_tools(engine)
    copy = backup(migrated_db_url, tmp_path / "b.bak")
    _add_subject(sessions, mini_trial, "001-002")
    _add_subject(sessions, mini_trial, "001-003")
    engine.dispose()
    newer = "2 audited writes" if engine.dialect.name == "sqlite" else "audited writes"
    with pytest.raises(BackupFailed, match=f"{newer}.*--force"):
        restore(migrated_db_url, copy, user="dm1")
    assert _codes(sessions) == ["001-001", "001-002", "001-003"]  # nothing changed
    report = restore(migrated_db_url, copy, user="dm1", force=True)
    engine.dispose()
    assert report.discarded_writes == 2
    assert _codes(sessions) == ["001-001"]
    assert report.restored.ok, report.restored.findings


def test_the_restore_is_an_audited_event_of_the_restored_database(
    migrated_db_url: str,
    engine: Engine,
    sessions: sessionmaker[AuditedSession],
    mini_trial: MiniTrial,
    tmp_path: Path,
) -> None:
    _needs_pg_tools(engine)
    copy = backup(migrated_db_url, tmp_path / "b.bak")
    engine.dispose()
    report = restore(migrated_db_url, copy, user="dm1", force=True)
    engine.dispose()
    with sessions() as session:
        event = session.scalars(select(DatabaseEvent)).one()
        audit = session.scalars(
            select(AuditLog).where(AuditLog.table_name == "database_events")
        ).one()
    assert (event.kind, event.created_by, event.audit_rows) == ("restore", "dm1", 3)
    assert len(event.sha256 or "") == 64
    assert (audit.username, audit.reason) == ("dm1", "database restored from backup")
    assert report.restored.ok and report.restored.audit_rows == 4


@pytest.mark.parametrize(
    "tampering",
    [
        "UPDATE subjects SET subject_code = '666-666'",  # data edited, trail untouched
        "UPDATE audit_log SET username = 'mallory' WHERE id = 1",  # trail edited
    ],
    ids=["data-edited", "trail-edited"],
)
def test_a_tampered_sqlite_backup_is_refused(
    sqlite_sessions: tuple[str, sessionmaker[AuditedSession], MiniTrial],
    tmp_path: Path,
    tampering: str,
) -> None:
    url, sessions, _trial = sqlite_sessions
    copy = backup(url, tmp_path / "b.db")
    with sqlite3.connect(copy) as raw:
        raw.execute("DROP TRIGGER audit_log_no_update")
        raw.execute(tampering)
    with pytest.raises(BackupFailed, match="does not verify; nothing restored"):
        restore(url, copy, user="dm1", force=True)
    assert _codes(sessions) == ["001-001"]


def test_a_backup_of_a_tampered_database_is_refused(
    migrated_db_url: str,
    engine: Engine,
    sessions: sessionmaker[AuditedSession],
    mini_trial: MiniTrial,
    tmp_path: Path,
) -> None:
    """A backup made after a row was removed behind the trail's back is refused (both engines)."""
    _needs_pg_tools(engine)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM subjects"))
    copy = backup(migrated_db_url, tmp_path / "b.bak")
    engine.dispose()
    with pytest.raises(BackupFailed, match=r"\[missing\] subjects"):
        restore(migrated_db_url, copy, user="dm1", force=True)


def test_a_writer_racing_a_restore_loses_no_acknowledged_write(
    sqlite_sessions: tuple[str, sessionmaker[AuditedSession], MiniTrial], tmp_path: Path
) -> None:
    """Whoever wins the write lock, every write acknowledged to the writer is in the database.

    The restore counts newer writes and copies in ONE transaction holding the write lock: a write
    committed before it is counted (and the restore refused without force); a write waiting for
    it commits afterwards onto the restored data.
    """
    url, _sessions, trial = sqlite_sessions
    copy = backup(url, tmp_path / "b.db")
    acknowledged: list[str] = []
    outcomes: list[str] = []
    engine = make_engine(url)
    factory = session_factory(engine)
    started = threading.Event()

    def write() -> None:
        for n in range(60):
            code = f"900-{n:03d}"
            _add_subject(factory, trial, code)
            acknowledged.append(code)
            started.set()

    for attempt in range(3):
        acknowledged.clear()
        started.clear()
        writer = threading.Thread(target=write)
        writer.start()
        if attempt:
            started.wait(timeout=60)
        try:
            restore(url, copy, user="dm1")
            outcomes.append("restored")
        except BackupFailed as refused:
            assert "newer than backup" in str(refused)
            outcomes.append("refused")
        writer.join()
        present = set(_codes(factory))
        assert set(acknowledged) <= present, sorted(set(acknowledged) - present)
        restore(url, copy, user="dm1", force=True)  # back to the backup for the next round
    engine.dispose()
    assert "refused" in outcomes  # the rounds that started after a write were refused
