"""Opening the trial database for a client: an existing one, or a new one for ``study init`` only.

A client (the CLI, the demo, a web application) names its database as ``--db PATH`` or a URL,
else ``$CARTRIAL_DATABASE_URL``, else ``./cartrial.db``, and never reaches the store itself:

- :func:`open_database` opens a cartrial database that already exists and refuses anything else
  (a missing file or directory, a directory, an empty or non-SQLite file, a database without
  cartrial's schema, an unreachable server), saying what it found; nothing is created.
- :func:`create_database` creates the database (or migrates an existing one to the newest
  schema): the one use of it is setting up a study (``cartrial study init``).

Both raise :class:`~cartrial.errors.DatabaseUnavailable`; driver errors met later (a busy
database, a full disk, a unique key taken by a concurrent writer) arrive as cartrial errors too
(:mod:`cartrial.store.failures`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from cartrial.errors import DatabaseUnavailable
from cartrial.store import AuditedSession, database_url, open_engine, session_factory, upgrade
from cartrial.store.failures import display_url, parse_url

__all__ = ["create_database", "database_name", "open_database"]


def database_name(db: str | Path | None = None) -> str:
    """The database ``db`` resolves to, for messages (a file path, or a URL without password)."""
    return display_url(database_url(db))


def open_database(db: str | Path | None = None) -> sessionmaker[AuditedSession]:
    """The session factory of the existing cartrial database ``db``; never creates one.

    Parameters
    ----------
    db
        A SQLite file path or a SQLAlchemy URL; ``None``: ``$CARTRIAL_DATABASE_URL``, else
        ``./cartrial.db``.

    Raises
    ------
    cartrial.errors.DatabaseUnavailable
        Naming the database and what was found there instead of a cartrial database.
    """
    return session_factory(open_engine(database_url(db)))


def create_database(db: str | Path | None = None) -> sessionmaker[AuditedSession]:
    """Create the cartrial database ``db`` (or migrate it to the newest schema); its sessions.

    A SQLite file is created only in an existing directory and only where nothing else lives:
    a directory or a file that is not a SQLite database is refused, not overwritten.
    """
    url = database_url(db)
    if parse_url(url) == "sqlite":
        _check_new_sqlite_path(url)
    upgrade(url)
    return session_factory(open_engine(url))


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
