"""Alembic environment of the trial database: runs migrations on cartrial's configured engine.

The connection (or URL) comes from :mod:`cartrial.store.migrate` through ``config.attributes``;
SQLite uses batch mode so that ``ALTER`` operations work.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from cartrial.store.base import Base
from cartrial.store.engine import database_url, make_engine


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run(connection)
        return
    url = str(config.attributes.get("url") or database_url())
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


_main()
