"""Optimistic locking: a stale edit raises :class:`~cartrial.errors.Conflict` naming both versions.

Two paths lead to a conflict. A use case that received the version the user read calls
:func:`check_version` before changing anything; and when two transactions race, SQLAlchemy's
``version_id_col`` makes the second ``UPDATE ... WHERE version = <read>`` match no row
(``StaleDataError``), which :func:`conflict_from_stale` turns into the same error.
"""

from __future__ import annotations

from sqlalchemy import Engine, column, select, table
from sqlalchemy.orm import Session

from cartrial.errors import Conflict
from cartrial.store.audit import expected_versions
from cartrial.store.base import Regulated

__all__ = ["check_version", "conflict_from_stale"]


def _name(record_table: str, record_id: int | None) -> str:
    return f"{record_table} {record_id}"


def check_version(record: Regulated, expected_version: int) -> None:
    """Refuse to edit ``record`` unless it is still at the version the user read.

    Raises
    ------
    cartrial.errors.Conflict
        ``expected_version`` (what the user edited) differs from ``record.version`` (database).
    """
    if record.version != expected_version:
        name = _name(record.__table__.name, record.id)  # type: ignore[attr-defined]
        raise Conflict(name, expected_version, record.version)


def conflict_from_stale(session: Session, engine: Engine) -> Conflict:
    """Build the :class:`Conflict` for a flush that failed with ``StaleDataError``.

    Looks up, in a fresh connection, the current version of each record the failed flush tried to
    update and reports the first one whose stored version differs from the version read.
    """
    attempted = expected_versions(session)
    with engine.connect() as connection:
        for record_table, record_id, read_version in attempted:
            tbl = table(record_table, column("id"), column("version"))
            current = connection.scalar(select(tbl.c.version).where(tbl.c.id == record_id))
            if current is None or int(current) != read_version:
                return Conflict(_name(record_table, record_id), read_version, int(current or 0))
    first = attempted[0] if attempted else ("record", 0, 0)
    return Conflict(_name(first[0], first[1]), first[2], first[2])
