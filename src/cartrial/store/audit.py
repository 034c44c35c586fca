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
The rows are hash-chained and verified by :mod:`cartrial.store.chain` (re-exported here:
:func:`verify_chain`, :class:`ChainReport`, :func:`row_sha256`, :data:`GENESIS_SHA256`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.orm.attributes import NO_VALUE, instance_state

from cartrial.errors import PermissionDenied, ValidationFailed
from cartrial.store.base import Base, Regulated, utcnow
from cartrial.store.chain import (
    GENESIS_SHA256,
    ChainReport,
    append_rows,
    encode_value,
    lock_chain,
    row_sha256,
    verify_chain,
)

__all__ = [
    "AUDIT_CONTEXT_KEY",
    "GENESIS_SHA256",
    "INSERT_FIELD",
    "READ_ONLY_KEY",
    "REDACTED_PREFIX",
    "AuditContext",
    "AuditedSession",
    "ChainReport",
    "audit_context",
    "expected_versions",
    "redacted_digest",
    "row_sha256",
    "soft_delete",
    "verify_chain",
]

AUDIT_CONTEXT_KEY = "cartrial.audit_context"
#: ``session.info`` flag of a read-only session (:func:`cartrial.store.read_only`).
READ_ONLY_KEY = "cartrial.read_only"
_PENDING_KEY = "cartrial.audit_pending"
_EXPECTED_VERSIONS_KEY = "cartrial.expected_versions"
#: Bookkeeping columns not logged field by field (the version is implied by the row sequence).
_NOT_LOGGED = frozenset({"id", "version"})
#: Also not logged on insert: the audit row itself records who and when.
_NOT_LOGGED_ON_INSERT = _NOT_LOGGED | {"created_at", "created_by"}
#: Prefix of a redacted value in the trail: ``sha256:<hex>`` of the value, so that the data check
#: (:mod:`cartrial.store.integrity`) can compare it without the trail holding it in clear.
REDACTED_PREFIX = "sha256:"
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
        Reason for change; required when a flush updates or soft-deletes a record, logged with
        inserts too when given (e.g. the source document).
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
    if session.info.get(READ_ONLY_KEY):
        raise PermissionDenied("this session is read-only: write through unit_of_work()")
    ctx = _require_context(session)
    now = utcnow()
    changes: list[_Change] = []
    for record in new:
        record.created_by = record.created_by or ctx.user
        record.created_at = record.created_at or now
        changes.append(_Change(record, "insert"))
    for record in dirty:
        session.info[_EXPECTED_VERSIONS_KEY].append(
            (record.__table__.name, record.id, record.version)  # type: ignore[attr-defined]
        )
        change = _capture_update(session, record)
        if change is not None:
            _require_reason(ctx, change)
            changes.append(change)
    if (changes or dirty) and session.get_bind().dialect.name != "sqlite":
        lock_chain(session.connection())  # SQLite: BEGIN IMMEDIATE already holds the lock
    session.info[_PENDING_KEY] = changes


def redacted_digest(value: object) -> str:
    """How a redacted column's value appears in the trail: ``sha256:`` + SHA-256 of its text."""
    text = encode_value(value) or ""
    return REDACTED_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _redacted(key: str, value: object, redact: frozenset[str]) -> object:
    return redacted_digest(value) if key in redact and value is not None else value


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
                key: encode_value(_redacted(key, stored[key], redact))
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
                    "old_value": encode_value(_redacted(key, old, redact)),
                    "new_value": encode_value(_redacted(key, new, redact)),
                }
            )
    return rows


def _change_reason(ctx: AuditContext, change: _Change) -> str | None:
    """The reason logged: the deletion reason for a soft delete, else the context's (optional
    for inserts, required for updates and deletes)."""
    if change.action == "delete" and change.record.deleted_reason:
        return change.record.deleted_reason
    return ctx.reason


def _require_reason(ctx: AuditContext, change: _Change) -> None:
    if not (_change_reason(ctx, change) or "").strip():
        raise ValidationFailed(
            "reason", f"changing {_describe(change.record)} needs a reason for change"
        )


def _changes_made_by_the_flush(session: Session, captured: list[_Change]) -> list[_Change]:
    """Column changes the flush itself made (foreign keys set from a many-to-one relationship).

    ``subject.site = other_site`` changes ``site_id`` only while flushing; the column history still
    holds the old and new value in ``after_flush``.
    """
    seen = {id(c.record): {f[0] for f in c.fields} for c in captured}
    late: list[_Change] = []
    for record in session.dirty:
        if not isinstance(record, Regulated) or record in session.new:
            continue
        state = instance_state(record)
        known = seen.get(id(record), set())
        fields = [
            (key, history.deleted[0], history.added[0])
            for key in _column_keys(record)
            if key not in _NOT_LOGGED and key not in known
            for history in (state.attrs[key].history,)
            if history.added and history.deleted and history.added[0] != history.deleted[0]
        ]
        if fields:
            late.append(_Change(record, "update", tuple(fields)))
    return late


@event.listens_for(AuditedSession, "after_flush")
def _after_flush(session: Session, _flush_context: UOWTransaction) -> None:
    changes: list[_Change] = session.info.pop(_PENDING_KEY, [])
    if session.dirty:
        late = _changes_made_by_the_flush(session, changes)
        if late:
            ctx = _require_context(session)
            for change in late:
                _require_reason(ctx, change)  # raising here rolls the whole flush back
            changes = [*changes, *late]
    if not changes:
        return
    rows = _audit_rows(_require_context(session), changes)
    if rows:
        append_rows(session.connection(), rows)


@event.listens_for(AuditedSession, "do_orm_execute")
def _refuse_bulk_writes(execute_state: ORMExecuteState) -> None:
    """Refuse INSERT/UPDATE/DELETE statements on trial tables run through ``session.execute``.

    They would change rows without passing through the flush, hence without audit rows.
    """
    if not (execute_state.is_insert or execute_state.is_update or execute_state.is_delete):
        return
    table = getattr(execute_state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in _guarded_tables():
        raise PermissionDenied(
            f"bulk {type(execute_state.statement).__name__.upper()} on {name} would bypass the "
            "audit trail: add, change or soft_delete() the records through the session"
        )


@functools.cache
def _guarded_tables() -> frozenset[str]:
    names = {
        m.local_table.description for m in Base.registry.mappers if issubclass(m.class_, Regulated)
    }
    return frozenset(names | {"audit_log", "audit_chain_head"})


def expected_versions(session: Session) -> list[tuple[str, int, int]]:
    """``(table, id, version read)`` of every record the last flush tried to update."""
    return list(session.info.get(_EXPECTED_VERSIONS_KEY, []))
