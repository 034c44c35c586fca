"""The audit trail: every insert, update and soft delete of a regulated record, hash-chained.

How it works
------------
A session of :class:`AuditedSession` carries an :class:`AuditContext` (who acts, and the reason for
change) in ``session.info``. Two session events do the bookkeeping inside the flush, hence in the
same transaction as the change itself:

* ``before_flush`` refuses anonymous writes, hard deletes, and updates or soft deletes without a
  reason; it fills ``created_by``/``created_at`` and captures every changed field's old and new
  value (loading an old value from the database when it was never loaded);
* ``after_flush`` (when new rows have their ids) appends the ``audit_log`` rows: an insert writes
  ONE row (``field="*"``, ``new_value`` = canonical JSON of every non-null initial value;
  ``created_at/by`` are the audit row's own time and user); an update writes one row per changed
  field with old and new value; a soft delete does the same with ``action="delete"``.

Chain
-----
Appends are serialised: SQLite transactions start with ``BEGIN IMMEDIATE`` (see
:mod:`cartrial.store.engine`); on PostgreSQL the writer takes ``SELECT ... FOR UPDATE`` on the
single ``audit_chain_head`` row. Each row stores ``prev_sha256`` (the previous row's hash, 64 zeros
for the first) and ``row_sha256 = SHA-256(prev_sha256 + canonical JSON of the row)``, canonical JSON
being ``json.dumps(..., sort_keys=True, separators=(",", ":"))`` of the id, time (ISO 8601 UTC),
user, action, table, record id, field, old and new value, reason and previous hash. The head row
holds the last id and hash (a database trigger advances it on every insert into ``audit_log``), so
removing the last rows is detected too. Writes made with raw SQL bypass the session events: that
is what :func:`verify_chain` detects.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, cast

from sqlalchemy import Connection, Table, event, select
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import NO_VALUE, instance_state

from cartrial.errors import AuditIntegrityError, PermissionDenied, ValidationFailed
from cartrial.store.base import Regulated, utcnow
from cartrial.store.models import AuditChainHead, AuditLog

__all__ = [
    "AUDIT_CONTEXT_KEY",
    "GENESIS_SHA256",
    "INSERT_FIELD",
    "AuditContext",
    "AuditedSession",
    "ChainReport",
    "audit_context",
    "expected_versions",
    "row_sha256",
    "soft_delete",
    "verify_chain",
]

AUDIT_CONTEXT_KEY = "cartrial.audit_context"
_PENDING_KEY = "cartrial.audit_pending"
_EXPECTED_VERSIONS_KEY = "cartrial.expected_versions"
#: ``prev_sha256`` of the first audit row.
GENESIS_SHA256 = "0" * 64
#: Bookkeeping columns not logged field by field (the version is implied by the row sequence).
_NOT_LOGGED = frozenset({"id", "version"})
#: Also not logged on insert: the audit row itself records who and when.
_NOT_LOGGED_ON_INSERT = _NOT_LOGGED | {"created_at", "created_by"}
_REDACTED = "<redacted>"
#: ``field`` of the single audit row of an insert; its ``new_value`` is the record as JSON.
INSERT_FIELD = "*"

Action = Literal["insert", "update", "delete"]


@dataclass(frozen=True)
class AuditContext:
    """Who is acting and why, for every change flushed by a session.

    Parameters
    ----------
    user
        Username of the person responsible (``"system"`` for automated jobs).
    reason
        Reason for change; required when a flush updates or soft-deletes a record.
    """

    user: str
    reason: str | None = None


class AuditedSession(Session):
    """A session whose flushes write the audit trail (see the module docstring)."""


def audit_context(session: Session) -> AuditContext | None:
    """Return the audit context attached to ``session`` (``None`` when absent)."""
    ctx = session.info.get(AUDIT_CONTEXT_KEY)
    return ctx if isinstance(ctx, AuditContext) else None


def soft_delete(session: Session, record: Regulated, reason: str | None = None) -> None:
    """Mark ``record`` deleted (never removed): time, user and reason are stored and audited.

    Parameters
    ----------
    session
        The session holding ``record``, with an :class:`AuditContext`.
    record
        A regulated record not yet deleted.
    reason
        Reason for the deletion; defaults to the context's reason. One of them is required.
    """
    ctx = _require_context(session)
    why = (reason or ctx.reason or "").strip()
    if not why:
        raise ValidationFailed("reason", f"deleting {_describe(record)} needs a reason")
    if record.deleted_at is not None:
        raise ValidationFailed("deleted_at", f"{_describe(record)} is already deleted")
    record.deleted_at = utcnow()
    record.deleted_by = ctx.user
    record.deleted_reason = why


@dataclass(frozen=True)
class _Change:
    record: Regulated
    action: Action
    fields: tuple[tuple[str, object, object], ...] = ()  # (field, old, new) for updates


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


# --------------------------------------------------------------------------- value encoding


def _encode(value: object) -> str | None:
    """Encode a column value as the text stored in ``old_value``/``new_value``."""
    if value is None:
        return None
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
    payload = {k: _encode(v) if k != "id" else v for k, v in row.items() if k != "row_sha256"}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    prev = str(row["prev_sha256"])
    return hashlib.sha256((prev + canonical).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- session events


def _describe(record: Regulated) -> str:
    table = record.__table__.name  # type: ignore[attr-defined]
    return f"{table} {record.id if record.id is not None else '(new)'}"


def _require_context(session: Session) -> AuditContext:
    ctx = audit_context(session)
    if ctx is None or not ctx.user.strip():
        raise PermissionDenied(
            "writes to the trial database need an AuditContext(user, reason) on the session "
            "(use cartrial.store.unit_of_work)"
        )
    return ctx


def _column_keys(record: Regulated) -> list[str]:
    return [prop.key for prop in instance_state(record).mapper.column_attrs]


def _old_value(session: Session, record: Regulated, key: str, deleted: Sequence[object]) -> object:
    if deleted:
        return deleted[0]
    state = instance_state(record)
    if state.committed_state.get(key, None) is NO_VALUE or key not in state.committed_state:
        # Assigned without having been loaded: read the stored value before it is overwritten.
        column = state.mapper.columns[key]
        table = state.mapper.local_table
        return session.connection().scalar(select(column).where(table.c.id == record.id))
    return state.committed_state[key]


def _capture_update(session: Session, record: Regulated) -> _Change | None:
    state = instance_state(record)
    fields: list[tuple[str, object, object]] = []
    for key in _column_keys(record):
        if key in _NOT_LOGGED:
            continue
        history = state.attrs[key].history
        if not history.added:
            continue
        old = _old_value(session, record, key, history.deleted)
        new = history.added[0]
        if old != new:
            fields.append((key, old, new))
    if not fields:
        return None
    keys = {f[0] for f in fields}
    action: Action = "update"
    if "deleted_at" in keys and record.deleted_at is not None:
        action = "delete"
    return _Change(record, action, tuple(fields))


@event.listens_for(AuditedSession, "before_flush")
def _before_flush(
    session: Session, _flush_context: UOWTransaction, _instances: Iterable[object] | None
) -> None:
    removed = [o for o in session.deleted if isinstance(o, Regulated)]
    if removed:
        raise PermissionDenied(
            f"{_describe(removed[0])}: trial records are never deleted; use soft_delete()"
        )
    new = [o for o in session.new if isinstance(o, Regulated)]
    dirty = [
        o
        for o in session.dirty
        if isinstance(o, Regulated) and session.is_modified(o, include_collections=False)
    ]
    session.info[_PENDING_KEY] = []
    session.info[_EXPECTED_VERSIONS_KEY] = []
    if not new and not dirty:
        return
    ctx = _require_context(session)
    now = utcnow()
    changes: list[_Change] = []
    for record in new:
        record.created_by = record.created_by or ctx.user
        record.created_at = record.created_at or now
        changes.append(_Change(record, "insert"))
    for record in dirty:
        change = _capture_update(session, record)
        if change is None:
            continue
        if not (_change_reason(ctx, change) or "").strip():
            raise ValidationFailed(
                "reason", f"changing {_describe(record)} needs a reason for change"
            )
        changes.append(change)
        session.info[_EXPECTED_VERSIONS_KEY].append(
            (record.__table__.name, record.id, record.version)  # type: ignore[attr-defined]
        )
    if changes:
        _lock_chain(session.connection())
    session.info[_PENDING_KEY] = changes


def _redacted(key: str, value: object, redact: frozenset[str]) -> object:
    return _REDACTED if key in redact and value is not None else value


def _canonical(values: Mapping[str, str | None]) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _audit_rows(ctx: AuditContext, changes: Sequence[_Change]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for change in changes:
        record = change.record
        redact = type(record).__audit_redact__
        base = {
            "username": ctx.user,
            "action": change.action,
            "table_name": record.__table__.name,  # type: ignore[attr-defined]
            "record_id": record.id,
            "reason": _change_reason(ctx, change),
        }
        if change.action == "insert":
            stored = instance_state(record).dict  # values as flushed (defaults included)
            initial = {
                key: _encode(_redacted(key, stored[key], redact))
                for key in _column_keys(record)
                if key not in _NOT_LOGGED_ON_INSERT and stored.get(key) is not None
            }
            rows.append(
                base | {"field": INSERT_FIELD, "old_value": None, "new_value": _canonical(initial)}
            )
            continue
        for key, old, new in change.fields:
            rows.append(
                base
                | {
                    "field": key,
                    "old_value": _encode(_redacted(key, old, redact)),
                    "new_value": _encode(_redacted(key, new, redact)),
                }
            )
    return rows


def _change_reason(ctx: AuditContext, change: _Change) -> str | None:
    if change.action == "insert":
        return None
    if change.action == "delete" and change.record.deleted_reason:
        return change.record.deleted_reason
    return ctx.reason


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


def _read_head(connection: Connection) -> tuple[_ChainSql, int, str]:
    sql = _ChainSql.for_dialect(connection.dialect.name)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql.read_head)
        head = cursor.fetchone()
    finally:
        cursor.close()
    if head is None:
        raise AuditIntegrityError("audit_chain_head row is missing: run `cartrial db upgrade`")
    return sql, int(head[0]), str(head[1])


def _lock_chain(connection: Connection) -> None:
    """Take the chain lock BEFORE the flush touches any row (PostgreSQL).

    Every audited writer then locks in the same order (chain head first, then rows), so two use
    cases editing the same records wait for each other instead of deadlocking. SQLite needs no
    lock here: ``BEGIN IMMEDIATE`` already serialised the whole transaction.
    """
    if connection.dialect.name != "sqlite":
        _read_head(connection)


def _append(connection: Connection, rows: list[dict[str, object]]) -> None:
    sql, last_id, prev = _read_head(connection)
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
    cursor = connection.connection.cursor()
    try:
        # a trigger moves the chain head to the last row
        cursor.executemany(sql.insert_rows, values)
    finally:
        cursor.close()


@event.listens_for(AuditedSession, "after_flush")
def _after_flush(session: Session, _flush_context: UOWTransaction) -> None:
    changes: list[_Change] = session.info.pop(_PENDING_KEY, [])
    if not changes:
        return
    ctx = _require_context(session)
    rows = _audit_rows(ctx, changes)
    if rows:
        _append(session.connection(), rows)


def expected_versions(session: Session) -> list[tuple[str, int, int]]:
    """``(table, id, version read)`` of every record the last flush tried to update."""
    return list(session.info.get(_EXPECTED_VERSIONS_KEY, []))


# --------------------------------------------------------------------------- verification


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
