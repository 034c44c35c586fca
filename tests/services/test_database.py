"""The database facade (:mod:`cartrial.services.database`): key creation, backups recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from cartrial.errors import AuditKeyMissing
from cartrial.services.database import (
    backup_database,
    init_database,
    upgrade_database,
    verify_database,
)
from cartrial.store import DatabaseEvent, Site, Study, unit_of_work, upgrade


def _add_study(factory: object) -> None:
    with unit_of_work(factory, "admin") as session:  # type: ignore[arg-type]
        study = Study(
            study_code="S", title="t", protocol_version="1", protocol_yaml="x", protocol_sha256="0"
        )
        session.add(study)
        session.flush()
        session.add(Site(study_id=study.id, code="S01", name="one"))


def test_init_creates_the_key_beside_the_file_and_writes_need_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CARTRIAL_AUDIT_KEY_FILE")
    db = tmp_path / "trial.db"
    upgrade(f"sqlite:///{db}")  # an existing database without a key: writes are refused
    bare = upgrade_database(db)
    assert bare.key_file == tmp_path / "trial.db.audit-key" and not bare.key_file.exists()
    with pytest.raises(AuditKeyMissing, match="CARTRIAL_AUDIT_KEY_FILE"):
        _add_study(bare.session_factory)
    ready = init_database(db)
    assert ready.key_file is not None and ready.key_file.stat().st_mode & 0o777 == 0o600
    key = ready.key_file.read_text()
    _add_study(ready.session_factory)
    assert init_database(db).key_file.read_text() == key  # never replaced
    report = verify_database(db)
    assert report.ok and report.authenticated and report.records == 2


def test_a_backup_is_recorded_with_its_hash_and_checkpointed(tmp_path: Path) -> None:
    db = tmp_path / "trial.db"
    ready = init_database(db)
    _add_study(ready.session_factory)
    done = backup_database(db, tmp_path / "b.db", user="dm")
    assert done.audit_rows == 2 and done.checkpoint is not None
    assert done.checkpoint.parent == tmp_path / "checkpoints"  # $CARTRIAL_CHECKPOINT_DIR (tests)
    with ready.session_factory() as session:
        event = session.scalars(select(DatabaseEvent)).one()
    assert (event.kind, event.sha256, event.created_by) == ("backup", done.sha256, "dm")
    assert verify_database(db, checkpoints=tmp_path / "checkpoints").ok
