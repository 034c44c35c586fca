"""Reading the audit trail: the change history of a table or of one record; chain verification."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from cartrial.store.chain import ChainReport, verify_chain
from cartrial.store.engine import make_engine
from cartrial.store.models import AuditLog

__all__ = ["AuditEntry", "read_database_log", "read_log", "verify_database"]


@dataclass(frozen=True)
class AuditEntry:
    """One audit row: who changed which field of which record, when (UTC), from what, and why."""

    id: int
    occurred_at: datetime
    username: str
    action: str
    table_name: str
    record_id: int
    field: str
    old_value: str | None
    new_value: str | None
    reason: str | None


def read_log(
    connection: Connection,
    *,
    table_name: str | None = None,
    record_id: int | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """Audit rows in chain order, optionally for one table and record; ``limit`` keeps the last.

    Parameters
    ----------
    connection
        An open connection to the trial database.
    table_name, record_id
        Restrict to one table, and to one record of it.
    limit
        Keep only the newest ``limit`` rows (still returned oldest first).
    """
    query = select(
        AuditLog.id,
        AuditLog.occurred_at,
        AuditLog.username,
        AuditLog.action,
        AuditLog.table_name,
        AuditLog.record_id,
        AuditLog.field,
        AuditLog.old_value,
        AuditLog.new_value,
        AuditLog.reason,
    )
    if table_name is not None:
        query = query.where(AuditLog.table_name == table_name)
    if record_id is not None:
        query = query.where(AuditLog.record_id == record_id)
    query = query.order_by(AuditLog.id.desc())
    if limit is not None:
        query = query.limit(limit)
    rows = [AuditEntry(**row._mapping) for row in connection.execute(query)]
    rows.reverse()
    return rows


@contextmanager
def _connect(url: str) -> Iterator[Connection]:
    """A connection to the database at ``url`` on an engine of its own, disposed afterwards."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def read_database_log(
    url: str,
    *,
    table_name: str | None = None,
    record_id: int | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """:func:`read_log` on the database at ``url`` (opens and closes its own engine)."""
    with _connect(url) as connection:
        return read_log(connection, table_name=table_name, record_id=record_id, limit=limit)


def verify_database(url: str) -> ChainReport:
    """:func:`~cartrial.store.chain.verify_chain` on the database at ``url`` (own engine)."""
    with _connect(url) as connection:
        return verify_chain(connection)
