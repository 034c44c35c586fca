"""Online backup and restore (SQLite backup API; pg_dump/pg_restore for PostgreSQL)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import sessionmaker

from cartrial.errors import BackupFailed
from cartrial.store import AuditedSession, Subject, unit_of_work
from cartrial.store.backup import backup
from cartrial.store.restore import restore

from .conftest import MiniTrial


def _subject_codes(sessions: sessionmaker[AuditedSession]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(Subject.subject_code).order_by(Subject.id)))


def _add_subject(sessions: sessionmaker[AuditedSession], trial: MiniTrial, code: str) -> None:
    with unit_of_work(sessions, "crc1") as session:
        session.add(Subject(study_id=trial.study_id, site_id=trial.site_id, subject_code=code))


def test_backup_then_restore_round_trip(
    migrated_db_url: str,
    engine: Engine,
    sessions: sessionmaker[AuditedSession],
    mini_trial: MiniTrial,
    tmp_path: Path,
) -> None:
    if engine.dialect.name == "postgresql" and shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is required to test PostgreSQL backups")
    target = backup(migrated_db_url, tmp_path / "backup.bak")
    assert target.stat().st_size > 0
    _add_subject(sessions, mini_trial, "001-002")
    assert _subject_codes(sessions) == ["001-001", "001-002"]
    engine.dispose()
    report = restore(migrated_db_url, target, user="dm1", force=True)
    assert report.restored.ok and report.discarded_writes == 1, report
    engine.dispose()
    assert _subject_codes(sessions) == ["001-001"]
    _add_subject(sessions, mini_trial, "001-003")  # the restored database takes writes
    assert _subject_codes(sessions) == ["001-001", "001-003"]


def test_sqlite_backup_is_consistent_while_a_writer_is_open(
    sqlite_sessions: tuple[str, sessionmaker[AuditedSession], MiniTrial], tmp_path: Path
) -> None:
    url, sessions, trial = sqlite_sessions
    with unit_of_work(sessions, "crc1") as session:
        session.add(Subject(study_id=trial.study_id, site_id=trial.site_id, subject_code="open"))
        session.flush()  # uncommitted while the backup runs
        target = backup(url, tmp_path / "online.db")
    copy = create_engine(f"sqlite:///{target}")
    with copy.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Subject)) == 1  # committed only
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "delete"
    copy.dispose()


def test_backup_refuses_to_overwrite(migrated_db_url: str, tmp_path: Path) -> None:
    existing = tmp_path / "exists.bak"
    existing.write_text("keep me")
    with pytest.raises(BackupFailed, match="exists"):
        backup(migrated_db_url, existing)
    assert existing.read_text() == "keep me"


def test_restore_refuses_a_tampered_sqlite_backup(
    sqlite_sessions: tuple[str, sessionmaker[AuditedSession], MiniTrial], tmp_path: Path
) -> None:
    url, sessions, _trial = sqlite_sessions
    target = backup(url, tmp_path / "b.db")
    with sqlite3.connect(target) as raw:
        raw.execute("DROP TRIGGER audit_log_no_update")
        raw.execute("UPDATE audit_log SET username = 'mallory' WHERE id = 1")
    with pytest.raises(BackupFailed, match="does not verify"):
        restore(url, target, user="dm1")
    assert _subject_codes(sessions) == ["001-001"]


def test_missing_pg_dump_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(BackupFailed, match="pg_dump is not installed"):
        backup("postgresql+psycopg://u@127.0.0.1:1/db", tmp_path / "x.dump")
