"""The audit chain: encoding, appending and verifying ``audit_log`` rows, MAC'd under a key.

Appends are serialised: SQLite transactions start with ``BEGIN IMMEDIATE`` (see
:mod:`cartrial.store.engine`); on PostgreSQL the writer takes ``SELECT ... FOR UPDATE`` on the
single ``audit_chain_head`` row before its flush touches any row. Each row stores ``prev_sha256``
(the previous row's MAC, 64 zeros for the first) and ``row_sha256 = HMAC-SHA256(key, prev_sha256 +
canonical JSON of the row)`` (schema revision 0004 on; before it a plain SHA-256, see
:func:`row_sha256`), canonical JSON being ``json.dumps(..., sort_keys=True, separators=(",",
":"))`` of the id, time (ISO 8601 UTC), user, action, table, record id, field, old and new value,
reason and previous MAC. The key lives outside the database (:mod:`cartrial.store.keys`) and
reaches the writer as the engine's ``cartrial_audit_key`` execution option; writing without it is
refused. The head row holds the last id and MAC (a database trigger advances it on every insert
into ``audit_log``) and the key's public id. Writes made with raw SQL bypass the session events of
:mod:`cartrial.store.audit`: that is what :func:`verify_chain` (and, for the data,
:mod:`cartrial.store.integrity`) detects.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import cast

from sqlalchemy import Connection, Table, select
from sqlalchemy.engine.interfaces import DBAPICursor

from cartrial.errors import AuditIntegrityError, AuditKeyMissing
from cartrial.store.base import utcnow
from cartrial.store.keys import AUDIT_KEY_FILE_ENV, AUDIT_KEY_OPTION, key_id
from cartrial.store.models import AuditChainHead, AuditLog

__all__ = [
    "ENGINE_KEY",
    "GENESIS_SHA256",
    "ChainChecker",
    "ChainReport",
    "append_rows",
    "audit_key_of",
    "audit_tuples",
    "canonical_message",
    "encode_value",
    "iso_utc",
    "lock_chain",
    "row_mac",
    "row_sha256",
    "verify_chain",
]

#: The ``audit_log`` columns, in table order (the order of tuples in the hot paths).
LOG_COLUMNS = tuple(c.name for c in cast(Table, AuditLog.__table__).c)
#: ``prev_sha256`` of the first audit row.
GENESIS_SHA256 = "0" * 64


@dataclass(frozen=True)
class ChainReport:
    """Result of :func:`verify_chain`: rows checked and every problem found (empty when intact).

    ``authenticated`` is false when no key was available: links, ids and the head were checked,
    but whoever rewrote the rows could have recomputed them (the MACs were not checked).
    """

    rows: int
    problems: tuple[str, ...] = field(default=())
    authenticated: bool = True
    last_mac: str = "0" * 64

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


#: JSON string encoder of ``json.dumps(..., ensure_ascii=False)`` (the C one when available).
_json_str = cast(Callable[[object], str], json.encoder.encode_basestring)


def _q(value: object) -> str:
    return "null" if value is None else _json_str(value)


def canonical_message(row: Sequence[object]) -> bytes:
    """The MAC'd message of an audit row given as a tuple in :data:`LOG_COLUMNS` order.

    Exactly ``prev_sha256 + json.dumps(row without row_sha256, sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)`` with every value but ``id`` encoded by
    :func:`encode_value` (``occurred_at`` given as its ISO text), written out key by key: this is
    the hot path of every write and of verification (tests/store/test_chain_encoding.py checks
    the equality with ``json.dumps``).
    """
    rid, occurred, username, action, table, record_id, field, old, new, reason, prev = row[:11]
    q = _q
    return (
        f'{prev}{{"action":{q(action)},"field":{q(field)},"id":{rid},"new_value":{q(new)},'
        f'"occurred_at":{q(occurred)},"old_value":{q(old)},"prev_sha256":{q(prev)},'
        f'"reason":{q(reason)},"record_id":"{record_id}","table_name":{q(table)},'
        f'"username":{q(username)}}}'
    ).encode()


def _message(row: dict[str, object]) -> bytes:
    """:func:`canonical_message` of an audit row given as a dict of its columns."""
    values = [row[c] for c in LOG_COLUMNS[:11]]
    values[1] = encode_value(values[1])
    return canonical_message(values)


def row_sha256(row: dict[str, object]) -> str:
    """Plain SHA-256 of an audit row (the unkeyed chain of schema revisions 0002-0003).

    Kept to verify an old chain before :mod:`0004 <cartrial.store.migrations>` re-chains it.
    ``row`` holds the ``audit_log`` columns; ``occurred_at`` may be a datetime or its ISO text.
    """
    return hashlib.sha256(_message(row)).hexdigest()


def row_mac(row: dict[str, object], key: bytes) -> str:
    """HMAC-SHA256 under ``key`` of an audit row: previous MAC + canonical JSON of the row."""
    return hmac.new(key, _message(row), hashlib.sha256).hexdigest()


def audit_key_of(connection: Connection) -> bytes | None:
    """The audit key the connection's engine carries (see :func:`cartrial.store.make_engine`)."""
    key = connection.get_execution_options().get(AUDIT_KEY_OPTION)
    return key if isinstance(key, bytes) else None


@dataclass(frozen=True)
class _ChainSql:
    """The two statements of an append, in the driver's own parameter style.

    Appends run on the DBAPI cursor of the session's connection (same transaction), skipping
    SQLAlchemy's statement machinery: this is the hot path of every write.
    """

    read_head: str
    set_key_id: str
    insert_rows: str
    sqlite: bool

    @classmethod
    def for_dialect(cls, name: str) -> _ChainSql:
        lock = "" if name == "sqlite" else " FOR UPDATE"
        marker = "?" if name == "sqlite" else "%s"
        return cls(
            read_head=(
                f"SELECT last_id, last_sha256, key_id FROM audit_chain_head WHERE id = 1{lock}"
            ),
            set_key_id=f"UPDATE audit_chain_head SET key_id = {marker} WHERE id = 1",
            insert_rows=(
                f"INSERT INTO audit_log ({', '.join(LOG_COLUMNS)}) "
                f"VALUES ({', '.join([marker] * len(LOG_COLUMNS))})"
            ),
            sqlite=name == "sqlite",
        )


_SQL = {name: _ChainSql.for_dialect(name) for name in ("sqlite", "postgresql")}


def _chain_sql(connection: Connection) -> _ChainSql:
    name = connection.dialect.name
    return _SQL.get(name) or _ChainSql.for_dialect(name)


def _read_head(cursor: DBAPICursor, sql: _ChainSql) -> tuple[int, str, str | None]:
    cursor.execute(sql.read_head)
    head = cursor.fetchone()
    if head is None:
        raise AuditIntegrityError("audit_chain_head row is missing: run `cartrial db upgrade`")
    return int(head[0]), str(head[1]), head[2]


def _writer_key(connection: Connection) -> bytes:
    """The key to MAC new rows with; refused when absent or not the key the chain was begun with."""
    key = audit_key_of(connection)
    if key is None:
        raise AuditKeyMissing(
            "writing to the trial database needs the audit key: set "
            f"{AUDIT_KEY_FILE_ENV} to the key file (created by `cartrial study init`)"
        )
    return key


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
        key = _writer_key(connection)
        last_id, prev, chain_key_id = _read_head(cursor, sql)
        mine = key_id(key)
        if chain_key_id is None:
            cursor.execute(sql.set_key_id, (mine,))
        elif chain_key_id != mine:
            raise AuditKeyMissing(
                f"this database's audit chain is keyed with key {chain_key_id}; the configured "
                f"key is {mine}: set {AUDIT_KEY_FILE_ENV} to the database's own key file"
            )
        mac = hmac.new(key, digestmod=hashlib.sha256)
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
            one = mac.copy()
            one.update(_message(row))
            prev = one.hexdigest()
            row["row_sha256"] = prev
            values.append(tuple(stored_at if c == "occurred_at" else row[c] for c in LOG_COLUMNS))
        # a trigger moves the chain head along; one row (every insert) needs no executemany
        if len(values) == 1:
            cursor.execute(sql.insert_rows, values[0])
        else:
            cursor.executemany(sql.insert_rows, values)
    finally:
        cursor.close()


#: Default of ``key`` parameters: the key the connection's engine carries.
ENGINE_KEY: bytes = b""


class ChainChecker:
    """Checks audit rows fed in id order: contiguous ids, links and (with a key) every MAC.

    :func:`verify_chain` feeds it the whole log; :mod:`cartrial.store.integrity` feeds it the
    same rows it replays, so that the trail is read once.
    """

    def __init__(self, key: bytes | None) -> None:
        self.key = key
        self.rows = 0
        self.prev = GENESIS_SHA256
        self.problems: list[str] = []
        self._expected_id = 1

    def feed(self, row: Sequence[object]) -> None:
        """Check one row: a tuple in :data:`LOG_COLUMNS` order, ``occurred_at`` as ISO text
        (as :func:`audit_tuples` yields them)."""
        self.rows += 1
        rid = row[0]
        mac = row[11]
        if rid != self._expected_id:
            self.problems.append(f"audit row {rid}: expected id {self._expected_id} (rows missing)")
        if row[10] != self.prev:
            self.problems.append(f"audit row {rid}: link to the previous row is broken")
        key = self.key
        if key is not None and hmac.digest(key, canonical_message(row), "sha256").hex() != mac:
            self.problems.append(
                f"audit row {rid}: content does not match its MAC (edited, forged or "
                "re-chained without the key)"
            )
        self.prev = str(mac)
        self._expected_id = int(cast(int, rid)) + 1

    def finish(self, connection: Connection) -> ChainReport:
        """Compare the chain head with the last row fed; return the report."""
        head_table = AuditChainHead.__table__
        head = connection.execute(
            select(head_table.c.last_id, head_table.c.last_sha256, head_table.c.key_id).where(
                head_table.c.id == 1
            )
        ).one_or_none()
        last = self._expected_id - 1
        if head is None:
            self.problems.append("audit_chain_head row is missing")
        else:
            if int(head.last_id) != last or head.last_sha256 != self.prev:
                self.problems.append(
                    f"chain head says last row {head.last_id}, the log ends at row {last} "
                    "(rows removed or added at the end)"
                )
            if self.key is not None and head.key_id is not None and head.key_id != key_id(self.key):
                self.problems.append(
                    f"the chain was written under key {head.key_id}, not under the key given "
                    f"({key_id(self.key)})"
                )
        return ChainReport(
            rows=self.rows,
            problems=tuple(self.problems),
            authenticated=self.key is not None,
            last_mac=self.prev,
        )


def iso_utc(stored: object) -> str:
    """``occurred_at`` as read by the driver -> the ISO text the writer MAC'd (aware UTC)."""
    if isinstance(stored, str):  # SQLite: naive UTC text "YYYY-MM-DD HH:MM:SS.ffffff"
        if len(stored) == 26 and stored[10] == " " and stored[19] == ".":
            fraction = "" if stored.endswith(".000000") else stored[19:]
            return f"{stored[:10]}T{stored[11:19]}{fraction}+00:00"
        stored = datetime.fromisoformat(stored)
    moment = cast(datetime, stored)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC).isoformat()
    return moment.astimezone(UTC).isoformat()


def audit_tuples(connection: Connection, *, batch_size: int = 5000) -> Iterator[tuple[object, ...]]:
    """Every ``audit_log`` row in id order, as a tuple in :data:`LOG_COLUMNS` order with
    ``occurred_at`` as ISO text: read straight from the driver, streamed (the hot path of
    verification)."""
    result = connection.execution_options(
        stream_results=True, yield_per=batch_size
    ).exec_driver_sql(f"SELECT {', '.join(LOG_COLUMNS)} FROM audit_log ORDER BY id")
    for row in result:
        yield (row[0], iso_utc(row[1]), *row[2:])


def verify_chain(
    connection: Connection, *, key: bytes | None = ENGINE_KEY, batch_size: int = 5000
) -> ChainReport:
    """Check the whole audit chain: ids contiguous, every MAC recomputes, links and head match.

    Parameters
    ----------
    connection
        An open connection to the trial database.
    key
        The audit key; by default the one the connection's engine carries. ``None``: check ids,
        links and head only, and report the chain as not authenticated.
    batch_size
        Rows fetched per round trip.

    Returns
    -------
    ChainReport
        Rows checked and each problem (edited row, missing row, broken link, head mismatch).
    """
    checker = ChainChecker(audit_key_of(connection) if key is ENGINE_KEY else key)
    for row in audit_tuples(connection, batch_size=batch_size):
        checker.feed(row)
    return checker.finish(connection)
