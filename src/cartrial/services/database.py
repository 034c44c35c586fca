"""The database as a whole: migrate, back up, restore, verify, checkpoint, read the trail.

The facade through which the CLI (``cartrial db``, ``cartrial audit``, ``cartrial study init``),
the demo and a future web application reach the system of record's maintenance functions, so that
none of them imports :mod:`cartrial.store`. ``db`` is a SQLite file, a full SQLAlchemy URL, or
``None`` (``$CARTRIAL_DATABASE_URL``, else ``./cartrial.db``).

Keys and checkpoints (see :mod:`cartrial.store.keys`): the audit key file is
``$CARTRIAL_AUDIT_KEY_FILE``, else ``<database file>.audit-key``; automatic checkpoints go to
``$CARTRIAL_CHECKPOINT_DIR``, else ``<database file>.checkpoints/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from cartrial.errors import ValidationFailed
from cartrial.store import (
    AuditedSession,
    AuditEntry,
    backup,
    database_url,
    display_url,
    head_revision,
    make_engine,
    read_database_log,
    restore,
    session_factory,
    unit_of_work,
    upgrade,
)
from cartrial.store.checkpoints import checkpoint_engine
from cartrial.store.integrity import Finding, IntegrityReport, verify_integrity
from cartrial.store.keys import audit_key_path, checkpoint_dir, create_audit_key
from cartrial.store.restore import RestoreReport, database_event, file_sha256, verify_backup

__all__ = [
    "AuditEntry",
    "BackupWritten",
    "DatabaseReady",
    "Finding",
    "IntegrityReport",
    "RestoreReport",
    "audit_log",
    "backup_database",
    "checkpoint_after_write",
    "checkpoint_directory",
    "init_database",
    "restore_database",
    "upgrade_database",
    "verify_backup_file",
    "verify_database",
    "write_checkpoint",
]


@dataclass(frozen=True)
class DatabaseReady:
    """A database at the newest schema: where it is (for messages), revision, key file."""

    location: str
    revision: str | None
    newest: str | None
    key_file: Path | None
    session_factory: sessionmaker[AuditedSession]


@dataclass(frozen=True)
class BackupWritten:
    """A backup file, its SHA-256, the trail length it holds and the checkpoint written."""

    file: Path
    sha256: str
    audit_rows: int
    checkpoint: Path | None


def _ready(url: str, revision: str | None) -> DatabaseReady:
    return DatabaseReady(
        location=display_url(url),
        revision=revision,
        newest=head_revision(),
        key_file=audit_key_path(url),
        session_factory=session_factory(make_engine(url)),
    )


def upgrade_database(db: str | Path | None = None) -> DatabaseReady:
    """Create the database or migrate it to the newest schema (an older trail is re-chained
    under the audit key by migration 0004, which creates the key file if there is none)."""
    url = database_url(db)
    return _ready(url, upgrade(url))


def init_database(db: str | Path | None = None) -> DatabaseReady:
    """:func:`upgrade_database`, and the audit key file created if absent (``study init``)."""
    url = database_url(db)
    revision = upgrade(url)
    create_audit_key(url)
    return _ready(url, revision)


def verify_database(
    db: str | Path | None = None, *, checkpoints: Path | None = None
) -> IntegrityReport:
    """Check every regulated row against the trail, the chain under the key, and checkpoints.

    Parameters
    ----------
    db
        The database.
    checkpoints
        A directory of checkpoints (``cartrial audit checkpoint --out DIR``) to check the trail
        against; ``None`` checks none.
    """
    engine = make_engine(database_url(db))
    try:
        with engine.connect() as connection:
            return verify_integrity(connection, checkpoints=checkpoints)
    finally:
        engine.dispose()


def write_checkpoint(db: str | Path | None = None, out: Path | None = None) -> Path:
    """Write a checkpoint of the chain head to ``out`` (default: the configured directory)."""
    url = database_url(db)
    engine = make_engine(url)
    try:
        written = checkpoint_engine(engine, out)
    finally:
        engine.dispose()
    if written is None:
        raise ValidationFailed(
            "out", "no checkpoint directory: give --out DIR or set CARTRIAL_CHECKPOINT_DIR"
        )
    return written


def checkpoint_after_write(factory: sessionmaker[AuditedSession]) -> Path | None:
    """Write an automatic checkpoint of the database behind ``factory`` (after a data lock)."""
    bind = factory.kw.get("bind")
    if bind is None:
        return None
    return checkpoint_engine(bind)


def backup_database(
    db: str | Path | None, file: Path, *, user: str, overwrite: bool = False
) -> BackupWritten:
    """Back up the database to ``file``, record the backup in the trail, write a checkpoint.

    The record (a ``database_events`` row: file, SHA-256, trail length, who, when) is written to
    the live database after the copy, so the backup itself holds the trail up to just before it.
    """
    url = database_url(db)
    target = backup(url, file, overwrite=overwrite)
    digest = file_sha256(target)
    held = verify_backup(url, target)
    engine = make_engine(url)
    try:
        with unit_of_work(session_factory(engine), user, "database backed up") as session:
            session.add(database_event("backup", target, digest, held.audit_rows))
        checkpoint = checkpoint_engine(engine)
    finally:
        engine.dispose()
    return BackupWritten(target, digest, held.audit_rows, checkpoint)


def verify_backup_file(
    db: str | Path | None, file: Path, *, checkpoints: Path | None = None
) -> IntegrityReport:
    """Verify a backup file under the audit key of ``db`` without restoring it."""
    return verify_backup(database_url(db), file, checkpoints)


def restore_database(
    db: str | Path | None,
    file: Path,
    *,
    user: str,
    force: bool = False,
    checkpoints: Path | None = None,
) -> RestoreReport:
    """Restore a verified backup (see :func:`cartrial.store.restore`); the restore is audited.

    When ``checkpoints`` is None the configured checkpoint directory is NOT used: its newest
    checkpoints describe the live database, which is longer than any older backup.
    """
    return restore(database_url(db), file, user=user, force=force, checkpoints=checkpoints)


def audit_log(
    db: str | Path | None = None,
    *,
    table: str | None = None,
    record: int | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """The audit trail, newest ``limit`` rows (oldest first), optionally for one table/record."""
    return read_database_log(database_url(db), table_name=table, record_id=record, limit=limit)


def checkpoint_directory(db: str | Path | None = None) -> Path | None:
    """The configured directory of automatic checkpoints of ``db`` (``None``: not configured)."""
    return checkpoint_dir(database_url(db))
