"""The database as a whole, for clients: open, create, migrate, back up, restore, verify, audit.

The facade through which the CLI (``cartrial db``, ``cartrial audit``, ``cartrial study init`` and
every command that reads or writes the trial), the demo and the web application reach the system
of record, so that none of them imports :mod:`cartrial.store`. ``db`` is a SQLite file, a full
SQLAlchemy URL, or ``None`` (``$CARTRIAL_DATABASE_URL``, else ``./cartrial.db``).

- :func:`open_database` opens a cartrial database that already exists and refuses anything else
  (a missing file or directory, a directory, an empty or non-SQLite file, a database without
  cartrial's schema, an unreachable server), saying what it found; nothing is created.
- :func:`init_database` / :func:`create_database` create the database (or migrate an existing
  one to the newest schema) and its audit key: the one use of them is setting up a study
  (``cartrial study init``) or the demo.

Both raise :class:`~cartrial.errors.DatabaseUnavailable`; driver errors met later (a busy
database, a full disk, a unique key taken by a concurrent writer) arrive as cartrial errors too
(:mod:`cartrial.store.failures`).

Keys and checkpoints (see :mod:`cartrial.store.keys`): the audit key file is
``$CARTRIAL_AUDIT_KEY_FILE``, else ``<database file>.audit-key``; automatic checkpoints go to
``$CARTRIAL_CHECKPOINT_DIR``, else ``<database file>.checkpoints/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from cartrial.errors import DatabaseUnavailable, ValidationFailed
from cartrial.services.context import ServiceContext, SessionFactory, use_case
from cartrial.store import (
    AuditedSession,
    AuditEntry,
    backup,
    database_url,
    display_url,
    head_revision,
    make_engine,
    open_engine,
    read_database_log,
    restore,
    session_factory,
    upgrade,
)
from cartrial.store.checkpoints import checkpoint_engine
from cartrial.store.failures import parse_url
from cartrial.store.integrity import Finding, IntegrityReport, verify_integrity
from cartrial.store.keys import audit_key_path, checkpoint_dir, create_audit_key
from cartrial.store.restore import (
    RestoreReport,
    create_from_backup,
    database_event,
    file_sha256,
    verify_backup,
)
from cartrial.store.roles import RolePrivileges, harden

__all__ = [
    "BACKUP_ROLES",
    "RESTORE_ROLES",
    "AuditEntry",
    "BackupWritten",
    "DatabaseReady",
    "Finding",
    "IntegrityReport",
    "RestoreReport",
    "RolePrivileges",
    "audit_log",
    "backup_database",
    "checkpoint_after_write",
    "checkpoint_directory",
    "create_database",
    "database_name",
    "harden_database",
    "init_database",
    "open_database",
    "restore_database",
    "restore_database_with",
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


def database_name(db: str | Path | None = None) -> str:
    """The database ``db`` resolves to, for messages (a file path, or a URL without password)."""
    return display_url(database_url(db))


def open_database(db: str | Path | None = None) -> sessionmaker[AuditedSession]:
    """The session factory of the existing cartrial database ``db``; never creates one.

    Raises
    ------
    cartrial.errors.DatabaseUnavailable
        Naming the database and what was found there instead of a cartrial database.
    """
    return session_factory(open_engine(database_url(db)))


def _ready(url: str, revision: str | None) -> DatabaseReady:
    return DatabaseReady(
        location=display_url(url),
        revision=revision,
        newest=head_revision(),
        key_file=audit_key_path(url),
        session_factory=session_factory(open_engine(url)),
    )


def upgrade_database(db: str | Path | None = None) -> DatabaseReady:
    """Migrate an existing database to the newest schema (an older trail is re-chained under
    the audit key by migration 0004, which creates the key file if there is none).

    Raises
    ------
    cartrial.errors.DatabaseUnavailable
        When ``db`` is a SQLite path where no file exists (only ``study init`` creates one).
    """
    url = database_url(db)
    database = make_url(url).database if parse_url(url) == "sqlite" else None
    if database not in (None, "", ":memory:") and not Path(str(database)).is_file():
        raise DatabaseUnavailable(
            str(database), "missing", "no database file here; `cartrial study init` creates one"
        )
    return _ready(url, upgrade(url))


def init_database(db: str | Path | None = None) -> DatabaseReady:
    """Create the database (or migrate it) and its audit key file if absent (``study init``).

    A SQLite file is created only in an existing directory and only where nothing else lives:
    a directory or a file that is not a SQLite database is refused, not overwritten.
    """
    url = database_url(db)
    if parse_url(url) == "sqlite":
        _check_new_sqlite_path(url)
    revision = upgrade(url)
    create_audit_key(url)
    return _ready(url, revision)


def create_database(db: str | Path | None = None) -> sessionmaker[AuditedSession]:
    """:func:`init_database`, returning the new database's session factory."""
    return init_database(db).session_factory


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
    engine = open_engine(database_url(db))
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


#: Roles that may back up the database (study-wide).
BACKUP_ROLES = ("admin", "data_manager")
#: Roles that may restore it (study-wide): a restore replaces every record.
RESTORE_ROLES = ("admin",)


def _url_of(ctx: ServiceContext) -> str:
    bind = ctx.session_factory.kw.get("bind")
    if not isinstance(bind, Engine):
        raise DatabaseUnavailable("(session factory)", "missing", "no engine behind the context")
    return bind.url.render_as_string(hide_password=False)


def _require(ctx: ServiceContext, roles: tuple[str, ...]) -> None:
    """Refuse unless the context's person holds one of ``roles`` study-wide (nothing written)."""
    with use_case(ctx, *roles, read_only=True):
        pass


def backup_database(ctx: ServiceContext, file: Path, *, overwrite: bool = False) -> BackupWritten:
    """Back up the database of ``ctx`` to ``file``, record the backup in the trail, checkpoint.

    The acting person needs a credential (the context from
    :func:`cartrial.services.auth.context_for`) and a study-wide role of :data:`BACKUP_ROLES`.
    The record (a ``database_events`` row: file, SHA-256, trail length, who, when) is written to
    the live database after the copy, so the backup itself holds the trail up to just before it.

    Raises
    ------
    cartrial.errors.PermissionDenied
        The person may not back up the database (nothing is written).
    cartrial.errors.BackupFailed
        The copy failed, or ``file`` exists and ``overwrite`` is false.
    """
    _require(ctx, BACKUP_ROLES)
    url = _url_of(ctx)
    target = backup(url, file, overwrite=overwrite)
    digest = file_sha256(target)
    held = verify_backup(url, target)
    with use_case(ctx, *BACKUP_ROLES, reason="database backed up") as uc:
        uc.session.add(database_event("backup", target, digest, held.audit_rows))
    checkpoint = checkpoint_after_write(ctx.session_factory)
    return BackupWritten(target, digest, held.audit_rows, checkpoint)


def verify_backup_file(
    db: str | Path | None, file: Path, *, checkpoints: Path | None = None
) -> IntegrityReport:
    """Verify a backup file under the audit key of ``db`` without restoring it."""
    return verify_backup(database_url(db), file, checkpoints)


def restore_database(
    ctx: ServiceContext,
    file: Path,
    *,
    force: bool = False,
    checkpoints: Path | None = None,
) -> RestoreReport:
    """Restore a verified backup into the database of ``ctx`` (:func:`cartrial.store.restore`).

    The acting person needs a credential and a study-wide role of :data:`RESTORE_ROLES`; the
    restore is recorded, as theirs, in the restored trail. When ``checkpoints`` is None the
    configured checkpoint directory is NOT used: its newest checkpoints describe the live
    database, which is longer than any older backup.

    Raises
    ------
    cartrial.errors.PermissionDenied
        The person may not restore (nothing is changed).
    cartrial.errors.BackupFailed
        The backup does not verify, or newer audited writes would be lost without ``force``.
    """
    _require(ctx, RESTORE_ROLES)
    url = _url_of(ctx)
    return restore(url, file, user=ctx.user, force=force, checkpoints=checkpoints)


def restore_database_with(
    db: str | Path | None,
    file: Path,
    credential: Callable[[SessionFactory], ServiceContext],
    *,
    force: bool = False,
    checkpoints: Path | None = None,
) -> RestoreReport:
    """:func:`restore_database` into ``db``, authenticating with ``credential`` first.

    ``credential`` turns the database's session factory into the person's context (the CLI:
    its session file or ``$CARTRIAL_TOKEN``, :func:`cartrial.services.auth.context_for`).
    A SQLite file that does not exist yet is created as a copy of the verified backup and the
    person is authenticated against the accounts it holds; if that fails, the file is removed.
    """
    url = database_url(db)
    created: Path | None = None
    if parse_url(url) == "sqlite":
        database = make_url(url).database
        if database not in (None, "", ":memory:") and not Path(str(database)).exists():
            _check_new_sqlite_path(url)
            create_from_backup(url, file, checkpoints)
            created = Path(str(database))
    factory = open_database(db)
    try:
        return restore_database(credential(factory), file, force=force, checkpoints=checkpoints)
    except BaseException:
        if created is not None:
            factory.kw["bind"].dispose()
            for leftover in (created, *(created.with_name(created.name + s) for s in _SIDECARS)):
                leftover.unlink(missing_ok=True)
        raise


#: Files SQLite keeps beside a database in WAL mode.
_SIDECARS = ("-wal", "-shm", "-journal")


def harden_database(db: str | Path | None, app_role: str) -> RolePrivileges:
    """PostgreSQL: let ``app_role`` append to the audit trail, never rewrite it.

    The privileges are those of :mod:`cartrial.store.roles`. Run as the tables' owner (the role
    ``cartrial db upgrade`` ran as); the application then connects as ``app_role``, which can
    append to the audit trail but not change, delete or truncate it, nor disable or drop its
    triggers.
    """
    engine = open_engine(database_url(db))
    try:
        with engine.begin() as connection:
            return harden(connection, app_role)
    finally:
        engine.dispose()


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


def _check_new_sqlite_path(url: str) -> None:
    database = make_url(url).database
    if database in (None, "", ":memory:"):
        return
    path = Path(str(database))
    if not path.parent.is_dir():
        raise DatabaseUnavailable(
            str(path), "missing", f"the directory {path.parent} does not exist: create it first"
        )
    if path.is_dir():
        raise DatabaseUnavailable(str(path), "not-a-database", "this is a directory")
