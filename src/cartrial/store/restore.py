"""Restoring a backup you can trust: verified first, exclusive, never silently losing writes.

:func:`restore` refuses a backup unless it passes ``PRAGMA integrity_check`` and
:func:`~cartrial.store.integrity.verify_integrity` (its data against its trail, its chain under
the audit key, and the checkpoints when given). It then replaces the database's content in ONE
transaction that holds the write lock from start to end (SQLite ``BEGIN IMMEDIATE``: writers
wait, and commit after the restore onto the restored data): inside it, it counts the audited
writes the database holds beyond the backup (rows after the longest common prefix of the two
chains) and refuses to discard them without ``force``, saying how many; it copies every table
(the append-only triggers lifted and restored within the same transaction), and records the
restore as an audited :class:`~cartrial.store.models.DatabaseEvent` in the restored database.

PostgreSQL (:mod:`cartrial.store.restore_postgres`): the archive is restored into a scratch
database and verified there; then the same single transaction holds the writers' lock (the
audit chain head, locked ``FOR UPDATE``) while it counts the newer writes, copies every table
from the scratch database and records the restore.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from cartrial.errors import BackupFailed
from cartrial.store.backup import sqlite_check, sqlite_path
from cartrial.store.base import utcnow
from cartrial.store.engine import make_engine
from cartrial.store.integrity import IntegrityReport, verify_integrity
from cartrial.store.keys import load_audit_key
from cartrial.store.models import DatabaseEvent
from cartrial.store.restore_postgres import (
    replace_in_one_transaction,
    replace_postgres,
    scratch_copy,
    verify_scratch,
)

__all__ = [
    "RestoreReport",
    "create_from_backup",
    "database_event",
    "file_sha256",
    "restore",
    "verify_backup",
]

_ALIAS = "restored_from"


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did: the backup's verification, the writes discarded, the trail after."""

    backup: IntegrityReport
    discarded_writes: int
    restored: IntegrityReport


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def database_event(
    kind: str, file: Path, sha256: str, audit_rows: int, discarded: int = 0
) -> DatabaseEvent:
    """The record of a backup or restore of ``file`` (added to the session that writes it)."""
    return DatabaseEvent(
        kind=kind,
        file=str(file),
        sha256=sha256,
        audit_rows=audit_rows,
        occurred_at=utcnow(),
        detail=f"{discarded} newer audited writes discarded" if discarded else None,
    )


def _refuse_unless_ok(report: IntegrityReport, what: str) -> None:
    if not report.ok:
        shown = "\n  ".join(str(f) for f in report.findings[:20])
        more = f"\n  ... and {len(report.findings) - 20} more" if len(report.findings) > 20 else ""
        raise BackupFailed(f"{what} does not verify; nothing restored:\n  {shown}{more}")


def verify_backup(url: str, source: Path, checkpoints: Path | None = None) -> IntegrityReport:
    """Verify a backup file under the audit key of the database at ``url`` (read-only).

    SQLite: the file is opened read-only and checked in place. PostgreSQL: the archive is
    restored into a scratch database, checked there, and the scratch database dropped.
    """
    if make_url(url).get_backend_name() != "sqlite":
        with scratch_copy(url, source) as scratch:
            return verify_scratch(url, scratch, checkpoints)
    key = load_audit_key(url)
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as raw:
        sqlite_check(raw, f"backup {source}")
    engine = create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    )
    try:
        with engine.connect() as connection:
            return verify_integrity(connection, key=key, checkpoints=checkpoints)
    finally:
        engine.dispose()


def _newer_writes(connection: Connection, schema: str) -> int:
    """Audited writes of the live database after the longest prefix its chain shares with the
    backup's (``schema``), backup and restore records aside (they hold no trial data)."""
    common = connection.scalar(
        text(
            f"SELECT coalesce(max(m.id), 0) FROM main.audit_log m JOIN {schema}.audit_log b "
            "ON b.id = m.id AND b.row_sha256 = m.row_sha256"
        )
    )
    newer = connection.scalar(
        text(
            "SELECT count(*) FROM main.audit_log WHERE id > :common "
            "AND table_name <> 'database_events'"
        ),
        {"common": int(common or 0)},
    )
    return int(newer or 0)


def _copy_tables(connection: Connection, schema: str) -> None:
    """Replace every table's rows with the backup's, in the open transaction."""
    revisions = [
        connection.scalar(text(f"SELECT version_num FROM {where}.alembic_version"))
        for where in ("main", schema)
    ]
    if revisions[0] != revisions[1]:
        raise BackupFailed(
            f"the backup is at schema revision {revisions[1]}, the database at {revisions[0]}: "
            "restore into a new database file, then run `cartrial db upgrade`"
        )
    triggers = connection.execute(
        text("SELECT name, sql FROM main.sqlite_master WHERE type = 'trigger'")
    ).all()
    for name, _sql in triggers:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    tables = connection.scalars(
        text(
            "SELECT name FROM main.sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ).all()
    for table in tables:
        columns = ", ".join(
            f'"{row[1]}"'
            for row in connection.exec_driver_sql(f'PRAGMA main.table_info("{table}")')
        )
        connection.exec_driver_sql(f'DELETE FROM main."{table}"')
        connection.exec_driver_sql(
            f'INSERT INTO main."{table}" ({columns}) SELECT {columns} FROM {schema}."{table}"'
        )
    for _name, sql in triggers:
        connection.exec_driver_sql(sql)


def restore(
    url: str,
    source: str | Path,
    *,
    user: str,
    force: bool = False,
    checkpoints: Path | None = None,
) -> RestoreReport:
    """Replace the content of the database at ``url`` with the verified backup ``source``.

    Parameters
    ----------
    url
        The database (SQLAlchemy URL); it must exist at the backup's schema revision.
    source
        A file written by :func:`cartrial.store.backup`.
    user
        Who restores (recorded with the restore in the restored trail).
    force
        Discard the audited writes the database holds beyond the backup (refused otherwise).
    checkpoints
        A checkpoint directory the backup's trail must agree with.

    Raises
    ------
    BackupFailed
        The backup does not verify, the database holds newer writes (without ``force``), or the
        schema revisions differ; nothing is changed.
    """
    origin = Path(source).expanduser().resolve()
    if not origin.exists():
        raise BackupFailed(f"backup {origin} does not exist")
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return _restore_postgres(url, origin, user=user, force=force, checkpoints=checkpoints)
    target = sqlite_path(parsed)
    checked = verify_backup(url, origin, checkpoints)
    _refuse_unless_ok(checked, f"backup {origin}")
    if not target.exists():  # a new file: nothing to lose, nobody else can be using it
        _copy_sqlite(origin, target)
    engine = make_engine(url)

    def attach(dbapi_connection: object, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute(f"ATTACH DATABASE ? AS {_ALIAS}", (f"file:{origin}?mode=ro",))
        cursor.close()

    event.listen(engine, "connect", attach)
    record = database_event("restore", origin, file_sha256(origin), checked.audit_rows)
    try:
        discarded = replace_in_one_transaction(
            engine,
            record,
            user=user,
            force=force,
            what=f"backup {origin}",
            count=lambda live: _newer_writes(live, _ALIAS),
            copy=lambda live: _copy_tables(live, _ALIAS),
        )
    finally:
        engine.dispose()
    return RestoreReport(checked, discarded, _verify_live(url, checkpoints=None))


def _copy_sqlite(origin: Path, target: Path) -> None:
    src, dst = sqlite3.connect(f"file:{origin}?mode=ro", uri=True), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def create_from_backup(url: str, source: Path, checkpoints: Path | None = None) -> IntegrityReport:
    """Create the missing SQLite file of ``url`` as a copy of the verified backup ``source``.

    The copy holds the backup's users and credentials, so that the person restoring can be
    authenticated against it before :func:`restore` records the restore in it.

    Raises
    ------
    BackupFailed
        The backup does not verify, the database is not SQLite, or its file exists.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupFailed("only a SQLite database is created from a backup; restore into it")
    target = sqlite_path(parsed)
    if target.exists():
        raise BackupFailed(f"{target} exists: restore into it instead")
    origin = Path(source).expanduser().resolve()
    if not origin.exists():
        raise BackupFailed(f"backup {origin} does not exist")
    checked = verify_backup(url, origin, checkpoints)
    _refuse_unless_ok(checked, f"backup {origin}")
    _copy_sqlite(origin, target)
    return checked


def _verify_live(url: str, checkpoints: Path | None) -> IntegrityReport:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return verify_integrity(connection, checkpoints=checkpoints)
    finally:
        engine.dispose()


def _restore_postgres(
    url: str, origin: Path, *, user: str, force: bool, checkpoints: Path | None
) -> RestoreReport:
    digest = file_sha256(origin)
    with scratch_copy(url, origin) as scratch:
        checked = verify_scratch(url, scratch, checkpoints)
        _refuse_unless_ok(checked, f"backup {origin}")
        event = database_event("restore", origin, digest, checked.audit_rows)
        with scratch.connect() as held:
            discarded = replace_postgres(
                url, held, event, user=user, force=force, what=f"backup {origin}"
            )
    return RestoreReport(checked, discarded, _verify_live(url, None))
