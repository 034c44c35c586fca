"""The database facade (:mod:`cartrial.services.database`): key creation, backups recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from service_support import PASSWORD, STUDY, Trial, build_trial
from sqlalchemy import select

from cartrial.errors import AuditKeyMissing, AuthenticationFailed, PermissionDenied
from cartrial.services import LogIn, ServiceContext, context_for, login
from cartrial.services.context import SessionFactory
from cartrial.services.database import (
    backup_database,
    init_database,
    restore_database,
    restore_database_with,
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


def _signed_in(trial: Trial, username: str) -> ServiceContext:
    """The context of a real login (password checked, session token authenticated)."""
    token = login(trial.factory, LogIn(username=username, password=PASSWORD, source="test")).token
    return context_for(trial.factory, token, STUDY, source="test")


@pytest.fixture
def staffed(migrated_db_url: str) -> Iterator[Trial]:
    trial = build_trial(migrated_db_url)
    yield trial
    trial.engine.dispose()


def test_a_backup_is_recorded_with_its_hash_and_checkpointed(
    staffed: Trial, tmp_path: Path
) -> None:
    rows = staffed.audit_rows()
    done = backup_database(_signed_in(staffed, "dm"), tmp_path / "b.bak")
    assert done.audit_rows == rows + 1  # the trail as backed up: + the login session
    assert done.checkpoint is not None
    assert done.checkpoint.parent == tmp_path / "checkpoints"  # $CARTRIAL_CHECKPOINT_DIR (tests)
    with staffed.factory() as session:
        event = session.scalars(select(DatabaseEvent)).one()
    assert (event.kind, event.sha256, event.created_by) == ("backup", done.sha256, "dm")
    url = staffed.engine.url.render_as_string(hide_password=False)
    assert verify_database(url, checkpoints=tmp_path / "checkpoints").ok


@pytest.mark.parametrize(("who", "may_back_up"), [("mon", False), ("inv", False), ("dm", True)])
def test_backup_and_restore_need_a_study_wide_role(
    trial: Trial, tmp_path: Path, who: str, may_back_up: bool
) -> None:
    """Backups: administrators and data managers; restores: administrators only."""
    ctx = _signed_in(trial, who)
    copy = tmp_path / "b.db"
    if not may_back_up:
        with pytest.raises(PermissionDenied, match=f"{who!r} needs one of the roles admin"):
            backup_database(ctx, copy)
        assert not copy.exists()
        copy = backup_database(_signed_in(trial, "admin"), copy).file
    else:
        backup_database(ctx, copy)
    before = trial.audit_rows()
    with pytest.raises(PermissionDenied, match=f"{who!r} needs one of the roles admin"):
        restore_database(ctx, copy, force=True)
    assert trial.audit_rows() == before  # nothing restored, nothing written
    report = restore_database(_signed_in(trial, "admin"), copy, force=True)
    with trial.factory() as session:
        event = session.scalars(select(DatabaseEvent).order_by(DatabaseEvent.id.desc())).first()
    assert event is not None and (event.kind, event.created_by) == ("restore", "admin")
    assert report.restored.ok


def test_restoring_into_a_new_file_authenticates_against_the_backup(
    trial: Trial, tmp_path: Path
) -> None:
    admin = _signed_in(trial, "admin")
    token = login(trial.factory, LogIn(username="dm", password=PASSWORD, source="test")).token
    copy = backup_database(admin, tmp_path / "b.db").file
    fresh = tmp_path / "fresh" / "trial.db"
    fresh.parent.mkdir()

    def as_dm(factory: SessionFactory) -> ServiceContext:
        return context_for(factory, token, STUDY, source="test")

    with pytest.raises(PermissionDenied, match="'dm' needs one of the roles admin"):
        restore_database_with(fresh, copy, as_dm)
    assert list(fresh.parent.iterdir()) == []  # the copy made to authenticate is gone
    with pytest.raises(AuthenticationFailed):
        restore_database_with(fresh, copy, lambda f: context_for(f, "cts_x", STUDY, source="t"))
    assert list(fresh.parent.iterdir()) == []
    admin_token = login(
        trial.factory, LogIn(username="admin", password=PASSWORD, source="test")
    ).token
    newer = backup_database(admin, tmp_path / "newer.db", overwrite=True).file
    report = restore_database_with(
        fresh, newer, lambda f: context_for(f, admin_token, STUDY, source="test")
    )
    assert report.discarded_writes == 0 and report.restored.ok
    assert verify_database(fresh).ok
