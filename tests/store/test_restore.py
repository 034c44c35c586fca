"""Restore you can trust: verified first, never silently losing writes, itself audited; races."""

from __future__ import annotations

import importlib
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import sessionmaker

from cartrial.errors import BackupFailed, CartrialError
from cartrial.store import (
    AuditedSession,
    AuditLog,
    DatabaseEvent,
    Subject,
    make_engine,
    restore_postgres,
    session_factory,
    unit_of_work,
)
from cartrial.store.backup import backup
from cartrial.store.restore import restore

from .conftest import MiniTrial

#: The module (``cartrial.store.restore`` the attribute is the function it exports).
restore_module = importlib.import_module("cartrial.store.restore")


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
    with pytest.raises(BackupFailed, match=r"2 audited writes newer than backup.*--force"):
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


class _Writer(threading.Thread):
    """Adds subjects one per transaction until stopped; keeps the codes acknowledged to it."""

    def __init__(self, url: str, trial: MiniTrial, prefix: str, limit: int = 400) -> None:
        super().__init__(daemon=True)
        self.engine = make_engine(url)
        self.trial, self.prefix, self.limit = trial, prefix, limit
        self.acknowledged: list[str] = []
        self.refused: list[str] = []
        self.first = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        factory = session_factory(self.engine)
        for n in range(self.limit):
            if self.stop.is_set():
                break
            code = f"{self.prefix}-{n:03d}"
            try:
                _add_subject(factory, self.trial, code)
            except CartrialError as busy:  # not acknowledged: allowed to be absent
                self.refused.append(f"{code}: {busy}")
            else:
                self.acknowledged.append(code)
            self.first.set()

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=120)
        self.engine.dispose()


def test_a_writer_racing_a_restore_loses_no_acknowledged_write(
    migrated_db_url: str,
    engine: Engine,
    sessions: sessionmaker[AuditedSession],
    mini_trial: MiniTrial,
    tmp_path: Path,
) -> None:
    """Whoever wins the writers' lock, every write acknowledged to the writer is in the database.

    The restore counts newer writes and copies in ONE transaction holding the writers' lock
    (SQLite ``BEGIN IMMEDIATE``; PostgreSQL the chain head ``FOR UPDATE``): a write committed
    before it is counted (and the restore refused without force); a write waiting for it
    commits afterwards onto the restored data.
    """
    _needs_pg_tools(engine)
    copy = backup(migrated_db_url, tmp_path / "b.bak")
    engine.dispose()
    outcomes: list[str] = []
    for attempt in range(3):
        writer = _Writer(migrated_db_url, mini_trial, f"9{attempt:02d}")
        writer.start()
        if attempt:
            writer.first.wait(timeout=60)  # at least one acknowledged write before the restore
        try:
            restore(migrated_db_url, copy, user="dm1")
            outcomes.append("restored")
        except BackupFailed as refused:
            assert "newer than backup" in str(refused)
            outcomes.append("refused")
        writer.finish()
        present = set(_codes(sessions))
        assert set(writer.acknowledged) <= present, sorted(set(writer.acknowledged) - present)
        engine.dispose()
        restore(migrated_db_url, copy, user="dm1", force=True)  # back to the backup
        engine.dispose()
    assert outcomes[1:] == ["refused", "refused"]  # rounds that began after a write: refused


def test_a_writer_waiting_for_a_restore_writes_onto_the_restored_data(
    migrated_db_url: str,
    engine: Engine,
    sessions: sessionmaker[AuditedSession],
    mini_trial: MiniTrial,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A write started while the restore holds the lock waits, then lands after the restore.

    The writer is started from inside the restore's locked transaction (when it counts the newer
    writes); if the lock did not hold, its write would commit first and then be overwritten by
    the copy, or be counted and refuse the restore.
    """
    _needs_pg_tools(engine)
    copy = backup(migrated_db_url, tmp_path / "b.bak")
    engine.dispose()
    writer = _Writer(migrated_db_url, mini_trial, "950", limit=1)
    postgres = engine.dialect.name == "postgresql"
    module, name = (
        (restore_postgres, "newer_writes") if postgres else (restore_module, "_newer_writes")
    )
    counted = getattr(module, name)

    def count_then_let_the_writer_in(*args: object) -> int:
        writer.start()
        writer.first.wait(timeout=1.0)  # it cannot finish while the lock is held
        assert writer.acknowledged == []
        return int(counted(*args))

    monkeypatch.setattr(module, name, count_then_let_the_writer_in)
    report = restore(migrated_db_url, copy, user="dm1")
    writer.finish()
    engine.dispose()
    assert report.discarded_writes == 0 and writer.acknowledged == ["950-000"]
    assert _codes(sessions) == ["001-001", "950-000"]
    with sessions() as session:
        trail = [
            (row.table_name, row.action)
            for row in session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(2))
        ]
    assert trail == [("subjects", "insert"), ("database_events", "insert")]  # after the restore
