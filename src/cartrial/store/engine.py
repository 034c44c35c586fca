"""Engines and sessions: where the database is, and how every connection is configured.

``database_url`` resolves the database at call time (``--db PATH``, else ``CARTRIAL_DATABASE_URL``,
else ``./cartrial.db``). ``make_engine`` configures SQLite for a system of record: WAL journal,
foreign keys on, a busy timeout, and ``BEGIN IMMEDIATE`` for every writing transaction so that
writers are serialised up front (no lock-upgrade deadlocks, audit appends in order); read-only
sessions (:func:`cartrial.store.read_only`) begin deferred. Durability: ``synchronous=NORMAL`` by
default (SQLite's recommended setting for WAL: never corrupt, every committed transaction survives
an application crash, the last ones may roll back after a power cut or OS crash); set
``CARTRIAL_SQLITE_SYNCHRONOUS=FULL`` to fsync at every commit (one disk flush per transaction; see
docs/performance.md). ``session_factory`` returns a ``sessionmaker`` of
:class:`~cartrial.store.audit.AuditedSession`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from cartrial.errors import DatabaseUnavailable
from cartrial.store.audit import AuditedSession
from cartrial.store.failures import check_database, display_url, parse_url, translate_event
from cartrial.store.keys import AUDIT_KEY_OPTION, load_audit_key

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_DB_PATH",
    "READ_ONLY_OPTION",
    "SQLITE_SYNCHRONOUS_ENV",
    "database_url",
    "display_url",
    "make_engine",
    "open_engine",
    "session_factory",
    "sqlite_synchronous",
]

#: Environment variable holding a full SQLAlchemy URL (e.g. ``postgresql+psycopg://...``).
DATABASE_URL_ENV = "CARTRIAL_DATABASE_URL"
#: The SQLite file used when neither ``--db`` nor the environment names a database.
DEFAULT_DB_PATH = "cartrial.db"
#: Environment variable choosing SQLite's ``synchronous`` level (NORMAL, the default, or FULL).
SQLITE_SYNCHRONOUS_ENV = "CARTRIAL_SQLITE_SYNCHRONOUS"
#: Execution option marking a connection's transaction read-only (deferred BEGIN on SQLite).
READ_ONLY_OPTION = "cartrial_read_only"
#: Milliseconds a SQLite connection waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def database_url(db: str | Path | None = None) -> str:
    """Resolve the database URL at call time.

    Parameters
    ----------
    db
        A SQLite file path or a full SQLAlchemy URL (anything containing ``://``). When ``None``,
        ``$CARTRIAL_DATABASE_URL`` is used if set, else ``./cartrial.db``.

    Returns
    -------
    str
        A SQLAlchemy URL.
    """
    if db is None:
        env = os.environ.get(DATABASE_URL_ENV, "").strip()
        if env:
            return env
        db = DEFAULT_DB_PATH
    text = str(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def sqlite_synchronous() -> str:
    """The SQLite ``synchronous`` level: ``$CARTRIAL_SQLITE_SYNCHRONOUS`` (NORMAL or FULL)."""
    raw = os.environ.get(SQLITE_SYNCHRONOUS_ENV, "NORMAL")
    level = raw.strip().upper() or "NORMAL"
    if level not in ("NORMAL", "FULL"):
        raise DatabaseUnavailable(
            SQLITE_SYNCHRONOUS_ENV,
            "bad-setting",
            f"must be NORMAL or FULL, not {raw[:40]!r} (OFF would risk a corrupt trial database "
            "after a crash, so cartrial does not offer it)",
        )
    return level


def _sqlite_on_connect_with(synchronous: str) -> Callable[[object, ConnectionPoolEntry], None]:
    def on_connect(dbapi_connection: object, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it otherwise).
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    return on_connect


def _sqlite_begin(connection: Connection) -> None:
    # Writers take the write lock up front; read-only sessions (see cartrial.store.read_only)
    # begin deferred and, in WAL mode, never block or wait for a writer.
    read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for ``url`` with cartrial's connection settings.

    Parameters
    ----------
    url
        SQLAlchemy URL, e.g. ``sqlite:////abs/path/trial.db`` or
        ``postgresql+psycopg://user@host:5432/db``.
    echo
        Log every SQL statement (debugging).

    Returns
    -------
    sqlalchemy.Engine
        For SQLite: WAL mode, ``foreign_keys=ON``, ``synchronous`` from
        :func:`sqlite_synchronous`, 30 s busy timeout and ``BEGIN IMMEDIATE`` transactions.
        For PostgreSQL: pre-ping pooled connections. On both, driver errors become cartrial
        errors (:mod:`cartrial.store.failures`), and the engine carries the audit key
        (:func:`cartrial.store.keys.load_audit_key`, read now) for the audit writer.

    Raises
    ------
    cartrial.errors.DatabaseUnavailable
        The URL cannot be parsed, names another backend, its driver is missing, or
        ``$CARTRIAL_SQLITE_SYNCHRONOUS`` is invalid.
    """
    backend = parse_url(url)
    key = load_audit_key(url)
    options = {AUDIT_KEY_OPTION: key} if key is not None else {}
    if backend == "sqlite":
        engine = create_engine(url, echo=echo, execution_options=options)
        event.listen(engine, "connect", _sqlite_on_connect_with(sqlite_synchronous()))
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, echo=echo, pool_pre_ping=True, execution_options=options)
    event.listen(engine, "handle_error", translate_event(url))
    return engine


def open_engine(url: str) -> Engine:
    """An engine on the cartrial database that already exists at ``url``; never creates one.

    Raises
    ------
    cartrial.errors.DatabaseUnavailable
        Naming what was found instead: no file or directory, a directory, an empty or
        non-SQLite file, a database without cartrial's schema or at another schema revision,
        an unreachable server.
    """
    from cartrial.store.migrate import head_revision

    engine = make_engine(url)
    try:
        check_database(engine, url, head_revision())
    except BaseException:
        engine.dispose()
        raise
    return engine


def session_factory(engine: Engine) -> sessionmaker[AuditedSession]:
    """Return the session factory bound to ``engine``.

    Sessions do not expire objects on commit, so results stay readable after a unit of work ends.
    """
    return sessionmaker(bind=engine, class_=AuditedSession, expire_on_commit=False)
