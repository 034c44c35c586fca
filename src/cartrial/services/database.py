"""Opening a trial database for a client (CLI, demo, web app) without touching the store.

:func:`open_database` resolves the location, brings the schema to the newest Alembic revision and
returns the session factory that every :class:`~cartrial.services.ServiceContext` carries.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import sessionmaker

from cartrial.store import AuditedSession, database_url, make_engine, session_factory
from cartrial.store.migrate import upgrade

__all__ = ["open_database"]


def open_database(
    db: str | Path | None = None, *, migrate: bool = True
) -> sessionmaker[AuditedSession]:
    """The session factory of the trial database ``db``, its schema migrated first.

    Parameters
    ----------
    db
        A SQLite file path or a SQLAlchemy URL; ``None``: ``$CARTRIAL_DATABASE_URL`` or
        ``./cartrial.db`` (:func:`cartrial.store.database_url`, read at call time).
    migrate
        Upgrade the schema to the newest revision first (creates the tables of a new file).
    """
    url = database_url(db)
    if migrate:
        upgrade(url)
    return session_factory(make_engine(url))
