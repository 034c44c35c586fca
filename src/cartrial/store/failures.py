"""Driver and operating-system failures as cartrial's own errors, the same on SQLite and PostgreSQL.

Every engine made by :func:`cartrial.store.make_engine` passes its driver errors through
:func:`translate` (SQLAlchemy's ``handle_error`` event), so a use case, a report or a migration
sees one error whatever the backend:

==========================================  ========================================================
driver error (SQLite message / PostgreSQL)  cartrial error
==========================================  ========================================================
unique constraint failed / SQLSTATE 23505   :class:`~cartrial.errors.ValidationFailed` naming the
                                            table and columns (two writers racing on one key get
                                            the same error as one writer repeating a key)
database is locked / 55P03, 40P01, 57014    :class:`~cartrial.errors.DatabaseUnavailable` ``busy``
cannot connect / class 08, 57P0x, 3D000     ``unreachable``
permission denied / 42501, 28xxx            ``permission``
readonly database / 25006                   ``read-only``
database or disk is full / class 53         ``disk-full``
file is not a database / —                  ``not-a-database``
==========================================  ========================================================

Other integrity errors (check and foreign-key constraints: a program error, not user input) keep
SQLAlchemy's ``IntegrityError``. :func:`check_database` tells whether a URL holds a cartrial
database before anything is opened, so that no command but ``cartrial study init`` creates one.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from cartrial.errors import CartrialError, DatabaseUnavailable, ValidationFailed

__all__ = [
    "SQLITE_HEADER",
    "SUPPORTED_BACKENDS",
    "check_database",
    "display_url",
    "parse_url",
    "translate",
    "translate_event",
]

#: The 16 bytes every SQLite 3 database file starts with (https://sqlite.org/fileformat.html).
SQLITE_HEADER = b"SQLite format 3\x00"
#: Backends cartrial runs on (SQLAlchemy backend names).
SUPPORTED_BACKENDS = ("sqlite", "postgresql")

#: SQLite messages (lower case) -> (reason, plain message).
_SQLITE_MESSAGES: tuple[tuple[str, str, str], ...] = (
    (
        "database is locked",
        "busy",
        "database is locked: another writer (e.g. a large import) held it longer than the busy "
        "timeout; nothing was written, try again when it has finished",
    ),
    (
        "database table is locked",
        "busy",
        "a table is locked by another connection; nothing was written, try again",
    ),
    (
        "readonly database",
        "read-only",
        "cannot write: the file (or its directory, which must hold the -wal and -shm files) is "
        "read-only or immutable",
    ),
    ("disk is full", "disk-full", "the disk is full; nothing was written"),
    ("disk i/o error", "disk-full", "disk I/O error (full or failing disk); nothing was written"),
    (
        "unable to open database file",
        "permission",
        "cannot open the file (no permission, or its directory is missing or read-only)",
    ),
    ("file is not a database", "not-a-database", "the file is not a SQLite database"),
    ("database disk image is malformed", "not-a-database", "the database file is corrupt"),
)

#: PostgreSQL SQLSTATE prefixes (longest first) -> (reason, plain message).
_POSTGRES_STATES: tuple[tuple[str, str, str], ...] = (
    ("55P03", "busy", "a row or table is locked by another transaction; nothing was written"),
    ("40P01", "busy", "deadlock with another transaction; nothing was written, try again"),
    ("40001", "busy", "concurrent update (serialization failure); nothing was written, try again"),
    ("57014", "busy", "the statement was cancelled (timeout); nothing was written"),
    ("3D000", "unreachable", "the database does not exist on the server"),
    ("57P", "unreachable", "the server is shutting down or not accepting connections"),
    ("08", "unreachable", "cannot connect to the server"),
    ("28", "permission", "the server refused the login (user or password)"),
    ("42501", "permission", "the database user lacks the privilege for this"),
    ("25006", "read-only", "the connection is read-only"),
    ("53", "disk-full", "the server is out of disk space or memory; nothing was written"),
)


def display_url(url: str) -> str:
    """``url`` for messages: a SQLite file as its path, other URLs without their password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<unparseable database URL>"
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return parsed.database
    return parsed.render_as_string(hide_password=True)


def parse_url(url: str) -> str:
    """The backend name of ``url``, or :class:`DatabaseUnavailable` (``bad-url``) if cartrial
    cannot use it (unparseable, an unsupported backend, or a driver that is not installed)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(
            "<database URL>",
            "bad-url",
            f"cannot parse the database URL {url[:80]!r}: expected a SQLite file path, "
            "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DATABASE",
        ) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise DatabaseUnavailable(
            parsed.render_as_string(hide_password=True),
            "bad-url",
            f"cartrial runs on SQLite or PostgreSQL, not {backend!r}",
        )
    try:
        parsed.get_dialect().import_dbapi()
    except (ImportError, NoSuchModuleError):
        raise DatabaseUnavailable(
            parsed.render_as_string(hide_password=True),
            "bad-url",
            f"the database driver {parsed.drivername!r} is not installed (use "
            "postgresql+psycopg://..., installed with the 'postgres' extra)",
        ) from None
    return backend


def translate(error: BaseException, url: str) -> CartrialError | None:
    """The cartrial error for a driver or OS error on the database at ``url`` (``None``: keep it).

    ``error`` is a DBAPI exception (``sqlite3`` or ``psycopg``), SQLAlchemy's wrapper of one, or
    an ``OSError``.
    """
    original = error.orig if isinstance(error, DBAPIError) else error
    if original is None:
        return None
    where = display_url(url)
    if isinstance(original, sqlite3.Error):
        return _sqlite(original, where)
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if isinstance(state, str):
        return _postgres(original, state, where)
    if type(original).__module__.startswith("psycopg") and "connect" in str(original).lower():
        return DatabaseUnavailable(
            where, "unreachable", f"cannot reach the database server: {_first_line(original)}"
        )
    if isinstance(original, OSError):
        return _os_error(original, where)
    return None


def translate_event(url: str) -> Callable[[ExceptionContext], None]:
    """A ``handle_error`` listener raising :func:`translate`'s error for the engine of ``url``."""

    def on_error(context: ExceptionContext) -> None:
        translated = translate(context.original_exception, url)
        if translated is not None:
            raise translated from context.original_exception

    return on_error


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _sqlite(error: sqlite3.Error, where: str) -> CartrialError | None:
    text = str(error)
    if isinstance(error, sqlite3.IntegrityError):
        match = re.match(r"UNIQUE constraint failed: (.+)", text)
        if match is None:
            return None
        columns = [c.strip() for c in match.group(1).split(",")]
        table = columns[0].split(".")[0]
        return _duplicate(table, [c.split(".")[-1] for c in columns])
    lowered = text.lower()
    for needle, reason, message in _SQLITE_MESSAGES:
        if needle in lowered:
            return DatabaseUnavailable(where, reason, message)
    if isinstance(error, sqlite3.OperationalError) and "no such table" in lowered:
        return DatabaseUnavailable(
            where, "not-a-database", f"{text}: this is not a cartrial database at the newest schema"
        )
    return None


def _postgres(error: BaseException, state: str, where: str) -> CartrialError | None:
    if state == "23505":
        diag = getattr(error, "diag", None)
        table = getattr(diag, "table_name", None) or "record"
        detail = getattr(diag, "message_detail", None) or ""
        match = re.search(r"Key \((.+?)\)=", detail)
        columns = [c.strip() for c in match.group(1).split(",")] if match else ["key"]
        return _duplicate(table, columns)
    for prefix, reason, message in _POSTGRES_STATES:
        if state.startswith(prefix):
            return DatabaseUnavailable(where, reason, f"{message} ({_first_line(error)})")
    return None


def _duplicate(table: str, columns: list[str]) -> ValidationFailed:
    shown = [c for c in columns if c not in ("study_id", "id")] or columns
    return ValidationFailed(
        f"{table}.{shown[-1]}",
        f"a {table} record with the same {', '.join(columns)} already exists (perhaps added by "
        "someone else at the same moment); nothing was written",
    )


def _os_error(error: OSError, where: str) -> DatabaseUnavailable | None:
    if isinstance(error, PermissionError):
        return DatabaseUnavailable(where, "permission", f"permission denied ({error.strerror})")
    if error.errno == 28:  # ENOSPC
        return DatabaseUnavailable(where, "disk-full", "the disk is full; nothing was written")
    if error.errno == 30:  # EROFS
        return DatabaseUnavailable(where, "read-only", "the file system is read-only")
    return None


def check_database(engine: Engine, url: str, head: str | None) -> None:
    """Raise :class:`DatabaseUnavailable` unless ``url`` holds a cartrial database at ``head``.

    A SQLite file is checked on disk (its directory, the path, its first 16 bytes) and then read
    through a read-only connection, so that nothing is created or changed (an engine connection
    would switch a foreign SQLite file to WAL mode); a server database is read through
    ``engine``. Its schema version table must hold ``head``; the message says what was found.
    """
    parsed = make_url(url)
    where = display_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(str(parsed.database))
        _check_sqlite_file(path, where)
        tables, revision = _sqlite_schema(path, where)
    else:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            revision = None
            if "alembic_version" in tables:
                query = "SELECT version_num FROM alembic_version"
                revision = connection.exec_driver_sql(query).scalar()
    if "alembic_version" not in tables:
        found = ", ".join(sorted(tables)[:8]) or "no tables at all"
        raise DatabaseUnavailable(
            where,
            "not-a-database",
            f"this is not a cartrial database (found: {found}); create one with "
            "`cartrial study init`",
        )
    if revision != head:
        raise DatabaseUnavailable(
            where,
            "outdated",
            f"the database schema is at revision {revision}, this cartrial uses {head}: "
            "run `cartrial db upgrade` (after a backup)",
        )


def _sqlite_schema(path: Path, where: str) -> tuple[set[str], str | None]:
    """The tables of the SQLite file and its schema revision, read without writing anything."""
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise _sqlite(exc, where) or DatabaseUnavailable(where, "failed", str(exc)) from None
    try:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = {str(name) for (name,) in rows}
        revision = None
        if "alembic_version" in tables:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = None if row is None else str(row[0])
    except sqlite3.Error as exc:
        raise _sqlite(exc, where) or DatabaseUnavailable(where, "failed", str(exc)) from None
    finally:
        connection.close()
    return tables, revision


def _check_sqlite_file(path: Path, where: str) -> None:
    if not path.parent.is_dir():
        raise DatabaseUnavailable(
            where, "missing", f"the directory {path.parent} does not exist (no database there)"
        )
    if not path.exists():
        raise DatabaseUnavailable(
            where,
            "missing",
            "no database at this path; check --db or $CARTRIAL_DATABASE_URL, or create one "
            "with `cartrial study init`",
        )
    if path.is_dir():
        raise DatabaseUnavailable(where, "not-a-database", "this is a directory, not a database")
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise _os_error(exc, where) or DatabaseUnavailable(where, "failed", str(exc)) from None
    if not header:
        raise DatabaseUnavailable(
            where, "not-a-database", "this is an empty file, not a cartrial database"
        )
    if header != SQLITE_HEADER:
        raise DatabaseUnavailable(
            where,
            "not-a-database",
            f"this is not a SQLite database (it starts with {header[:16]!r})",
        )
