"""The audit hash chain: encoding, appending and verifying ``audit_log`` rows.

Appends are serialised: SQLite transactions start with ``BEGIN IMMEDIATE`` (see
:mod:`cartrial.store.engine`); on PostgreSQL the writer takes ``SELECT ... FOR UPDATE`` on the
single ``audit_chain_head`` row before its flush touches any row. Each row stores ``prev_sha256``
(the previous row's hash, 64 zeros for the first) and ``row_sha256 = SHA-256(prev_sha256 +
canonical JSON of the row)``, canonical JSON being ``json.dumps(..., sort_keys=True,
separators=(",", ":"))`` of the id, time (ISO 8601 UTC), user, action, table, record id, field, old
and new value, reason and previous hash. The head row holds the last id and hash (a database
trigger advances it on every insert into ``audit_log``), so removing the last rows is detected too.
Writes made with raw SQL bypass the session events of :mod:`cartrial.store.audit`: that is what
:func:`verify_chain` detects.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import cast

from sqlalchemy import Connection, Table, select
from sqlalchemy.engine.interfaces import DBAPICursor

from cartrial.errors import AuditIntegrityError
from cartrial.store.base import utcnow
from cartrial.store.models import AuditChainHead, AuditLog

__all__ = [
    "GENESIS_SHA256",
    "ChainReport",
    "append_rows",
    "encode_value",
    "lock_chain",
    "row_sha256",
    "verify_chain",
]

#: ``prev_sha256`` of the first audit row.
GENESIS_SHA256 = "0" * 64


@dataclass(frozen=True)
class ChainReport:
    """Result of :func:`verify_chain`: rows checked and every problem found (empty when intact)."""

    rows: int
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when the chain verifies."""
        return not self.problems

    def raise_if_broken(self) -> None:
        """Raise :class:`~cartrial.errors.AuditIntegrityError` listing the problems, if any."""
        if self.problems:
            shown = "\n  ".join(self.problems[:20])
            raise AuditIntegrityError(f"audit trail does not verify ({self.rows} rows):\n  {shown}")


def encode_value(value: object) -> str | None:
    """Encode a column value as the text stored in ``old_value``/``new_value``."""
    if value is None or type(value) is str:  # the common cases first (hot path)
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else json.dumps(value)  # as json.dumps writes
    return str(value)


def row_sha256(row: dict[str, object]) -> str:
    """SHA-256 of an audit row: previous hash + canonical JSON of the row (without its own hash).

    ``row`` holds the ``audit_log`` columns; ``occurred_at`` may be a datetime or its ISO text.
    """
    payload = {k: encode_value(v) if k != "id" else v for k, v in row.items() if k != "row_sha256"}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    prev = str(row["prev_sha256"])
    return hashlib.sha256((prev + canonical).encode("utf-8")).hexdigest()


_LOG_COLUMNS = tuple(c.name for c in cast(Table, AuditLog.__table__).c)


@dataclass(frozen=True)
class _ChainSql:
    """The two statements of an append, in the driver's own parameter style.

    Appends run on the DBAPI cursor of the session's connection (same transaction), skipping
    SQLAlchemy's statement machinery: this is the hot path of every write.
    """

    read_head: str
    insert_rows: str
    sqlite: bool

    @classmethod
    def for_dialect(cls, name: str) -> _ChainSql:
        lock = "" if name == "sqlite" else " FOR UPDATE"
        marker = "?" if name == "sqlite" else "%s"
        return cls(
            read_head=f"SELECT last_id, last_sha256 FROM audit_chain_head WHERE id = 1{lock}",
            insert_rows=(
                f"INSERT INTO audit_log ({', '.join(_LOG_COLUMNS)}) "
                f"VALUES ({', '.join([marker] * len(_LOG_COLUMNS))})"
            ),
            sqlite=name == "sqlite",
        )


_SQL = {name: _ChainSql.for_dialect(name) for name in ("sqlite", "postgresql")}


def _chain_sql(connection: Connection) -> _ChainSql:
    name = connection.dialect.name
    return _SQL.get(name) or _ChainSql.for_dialect(name)


def _read_head(cursor: DBAPICursor, sql: _ChainSql) -> tuple[int, str]:
    cursor.execute(sql.read_head)
    head = cursor.fetchone()
    if head is None:
        raise AuditIntegrityError("audit_chain_head row is missing: run `cartrial db upgrade`")
    return int(head[0]), str(head[1])


def lock_chain(connection: Connection) -> None:
    """Take the chain lock BEFORE the flush touches any row (PostgreSQL).

    Every audited writer then locks in the same order (chain head first, then rows), so two use
    cases editing the same records wait for each other instead of deadlocking. SQLite needs no
    lock here: ``BEGIN IMMEDIATE`` already serialised the whole transaction.
    """
    sql = _chain_sql(connection)
    if not sql.sqlite:
        cursor = connection.connection.cursor()
        try:
            _read_head(cursor, sql)
        finally:
            cursor.close()


def append_rows(connection: Connection, rows: list[dict[str, object]]) -> None:
    """Chain ``rows`` (audit_log columns except id, time and hashes) after the head and insert."""
    sql = _chain_sql(connection)
    cursor = connection.connection.cursor()
    try:
        last_id, prev = _read_head(cursor, sql)
        occurred_at = utcnow()
        # stored as UTCDateTime stores it: naive UTC text on SQLite, timestamptz on PostgreSQL
        stored_at: object = (
            occurred_at.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
            if sql.sqlite
            else occurred_at
        )
        values = []
        for row in rows:
            last_id += 1
            row["id"] = last_id
            row["occurred_at"] = occurred_at
            row["prev_sha256"] = prev
            prev = row_sha256(row)
            row["row_sha256"] = prev
            values.append(tuple(stored_at if c == "occurred_at" else row[c] for c in _LOG_COLUMNS))
        # a trigger moves the chain head along; one row (every insert) needs no executemany
        if len(values) == 1:
            cursor.execute(sql.insert_rows, values[0])
        else:
            cursor.executemany(sql.insert_rows, values)
    finally:
        cursor.close()


def verify_chain(connection: Connection, *, batch_size: int = 5000) -> ChainReport:
    """Check the whole audit chain: ids contiguous, every hash recomputes, links and head match.

    Parameters
    ----------
    connection
        An open connection to the trial database.
    batch_size
        Rows fetched per round trip.

    Returns
    -------
    ChainReport
        Rows checked and each problem (edited row, missing row, broken link, head mismatch).
    """
    table = AuditLog.__table__
    columns = [c for c in table.c]
    problems: list[str] = []
    prev = GENESIS_SHA256
    expected_id = 1
    count = 0
    result = connection.execution_options(yield_per=batch_size).execute(
        select(*columns).order_by(table.c.id)
    )
    for raw in result:
        row = dict(raw._mapping)
        count += 1
        rid = int(row["id"])
        if rid != expected_id:
            problems.append(f"audit row {rid}: expected id {expected_id} (rows missing)")
        if row["prev_sha256"] != prev:
            problems.append(f"audit row {rid}: link to the previous row is broken")
        if row_sha256(row) != row["row_sha256"]:
            problems.append(f"audit row {rid}: content does not match its hash (edited)")
        prev = str(row["row_sha256"])
        expected_id = rid + 1
    head_table = AuditChainHead.__table__
    head = connection.execute(
        select(head_table.c.last_id, head_table.c.last_sha256).where(head_table.c.id == 1)
    ).one_or_none()
    if head is None:
        problems.append("audit_chain_head row is missing")
    elif int(head.last_id) != expected_id - 1 or head.last_sha256 != prev:
        problems.append(
            f"chain head says last row {head.last_id}, the log ends at row {expected_id - 1} "
            "(rows removed or added at the end)"
        )
    return ChainReport(rows=count, problems=tuple(problems))
