"""Is the data what the audit trail says it is? Replaying the trail against every regulated row.

A chain that verifies proves only that nobody rewrote the trail; an auditor also needs to know
that nobody changed the DATA behind the trail's back. :func:`verify_integrity` reads the trail
once, in id order, and:

1. checks the chain (:class:`~cartrial.store.chain.ChainChecker`: ids, links, MACs under the key,
   head) and the external checkpoints (:mod:`cartrial.store.checkpoints`);
2. replays it: an insert row gives a record's initial values, each update or delete row one
   field's new value, so the replay ends with the after-image of every record's latest entry;
3. compares every live row of every regulated table (trial data, users, roles, sites, the study,
   signatures, locks, decisions, backups: every :class:`~cartrial.store.base.Regulated` table)
   with its after-image, field by field; ``created_by`` must be the user of the insert row, and a
   redacted column (a password hash) must match its ``sha256:`` digest;
4. reports rows the trail does not know (inserted behind its back, or the trail was cut) and
   records the trail knows that are gone (rows are never deleted, only marked deleted).

Each problem is a :class:`Finding` naming the table, record, field, the value the trail expects
and the value found. Not compared: ``id`` (the key), ``version`` (a counter implied by the row
sequence) and ``created_at`` (the writer's clock at flush, not logged).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from sqlalchemy import Boolean, Connection, String, Table
from sqlalchemy.types import TypeEngine

from cartrial.store.audit import INSERT_FIELD, REDACTED_PREFIX, redacted_digest
from cartrial.store.base import Base, Regulated, UTCDateTime
from cartrial.store.chain import (
    ENGINE_KEY,
    ChainChecker,
    audit_key_of,
    audit_tuples,
    encode_value,
    iso_utc,
)
from cartrial.store.checkpoints import CheckpointCheck

__all__ = ["Finding", "IntegrityReport", "regulated_tables", "verify_integrity"]

#: Columns never compared (see the module docstring).
_NOT_COMPARED = frozenset({"id", "version", "created_at"})
#: How a redacted value appeared in the trail before revision 0004 (cannot be compared).
_LEGACY_REDACTED = "<redacted>"


@dataclass(frozen=True)
class Finding:
    """One way the database differs from what its audit trail proves.

    ``kind`` is one of ``chain`` (the trail itself), ``checkpoint`` (the trail against a checkpoint
    kept outside the database), ``edited`` (a field differs from the trail's after-image),
    ``not-in-trail`` (a row the trail never recorded), ``missing`` (a record the trail knows is
    gone without a recorded deletion), ``unknown-table`` (the trail names a table that is not
    regulated).
    """

    kind: str
    message: str
    table: str | None = None
    record_id: int | None = None
    field: str | None = None
    expected: str | None = None
    found: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.table is not None:
            where = f"{self.table} {self.record_id}"
            where += f" {self.field}" if self.field else ""
            where += ": "
        values = ""
        if self.kind == "edited":
            values = f" (trail: {self.expected!r}, database: {self.found!r})"
        return f"[{self.kind}] {where}{self.message}{values}"


@dataclass(frozen=True)
class IntegrityReport:
    """Result of :func:`verify_integrity`.

    ``authenticated`` is false when no audit key was available: the data was checked against the
    trail and the chain's links, but the MACs could not be checked, so a trail rewritten together
    with its chain would go unnoticed (the checkpoints still catch a rewrite before them).
    """

    audit_rows: int
    records: int
    authenticated: bool
    checkpoints: int
    findings: tuple[Finding, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings

    def kinds(self) -> set[str]:
        """The kinds of the findings (tests and summaries)."""
        return {f.kind for f in self.findings}


def regulated_tables() -> dict[str, Table]:
    """Every regulated table of the schema, by name."""
    tables = [
        cast(Table, mapper.local_table)
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, Regulated)
    ]
    return {table.name: table for table in tables}


def _redacted_columns() -> dict[str, frozenset[str]]:
    return {
        cast(Table, mapper.local_table).name: mapper.class_.__audit_redact__
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, Regulated)
    }


@dataclass
class _Replay:
    """After-images by table and record id, and who inserted each record."""

    images: dict[str, dict[int, dict[str, str | None]]] = field(default_factory=dict)
    inserted_by: dict[tuple[str, int], str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def feed(self, row: Sequence[object]) -> None:
        """Apply one audit row (a tuple in ``LOG_COLUMNS`` order)."""
        table = cast(str, row[4])
        record_id = cast(int, row[5])
        records = self.images.get(table)
        if records is None:
            records = self.images[table] = {}
        if row[6] == INSERT_FIELD:
            records[record_id] = json.loads(cast(str, row[8]))
            self.inserted_by[(table, record_id)] = cast(str, row[2])
            return
        image = records.get(record_id)
        if image is None:
            self.findings.append(
                Finding(
                    "chain",
                    f"audit row {row[0]} changes a record whose insertion is not in the trail "
                    "(the trail was cut or the row forged)",
                    table,
                    record_id,
                )
            )
            image = records[record_id] = {}
        image[cast(str, row[6])] = cast("str | None", row[8])


def _same(expected: str | None, found: str | None) -> bool:
    """Whether two encodings of a non-text value denote the same value (a time given with another
    offset, an int stored in a float column, 0/1 for a boolean)."""
    if expected == found:
        return True
    if expected is None or found is None:
        return False
    for parse in (dt.datetime.fromisoformat, float):
        try:
            return bool(parse(expected) == parse(found))
        except (ValueError, TypeError):
            continue
    booleans = {"1": "true", "0": "false"}
    return booleans.get(expected, expected) == booleans.get(found, found)


def _is_text(column_type: TypeEngine[object]) -> bool:
    """Whether a column holds text (compared exactly, never as a number or a time).

    ``String`` is SQLAlchemy's base of every text type (``Text``, ``Unicode``, ``Enum``).
    """
    return isinstance(column_type, String)


def _boolean(value: object) -> str:
    return "true" if value else "false"


def _timestamp(value: object) -> str:
    try:
        return iso_utc(value)
    except (ValueError, TypeError):  # not a time (written behind the trail's back): as found
        return str(value)


def _encoder(column_type: TypeEngine[object]) -> Callable[[object], str | None]:
    """How a value read straight from the driver is encoded as the trail encodes it.

    SQLite returns booleans as 0/1 and timestamps as naive UTC text; the trail holds
    ``true``/``false`` and ISO 8601 with the offset (:func:`~cartrial.store.chain.encode_value`
    of the values SQLAlchemy would have returned). Text values are compared as read.
    """
    if isinstance(column_type, Boolean):
        return _boolean
    if isinstance(column_type, UTCDateTime):
        return _timestamp
    return encode_value


def _edited(
    name: str, record_id: int, column: str, expected: str | None, found: str | None
) -> Finding:
    if expected is not None and expected.startswith(REDACTED_PREFIX):
        expected, found = "<digest in trail>", "<a different value>"
    return Finding(
        "edited", "differs from its latest audit entry", name, record_id, column, expected, found
    )


def _compare_table(
    connection: Connection,
    name: str,
    table: Table,
    replay: _Replay,
    redact: frozenset[str],
    findings: list[Finding],
) -> int:
    expected_records = replay.images.pop(name, {})
    columns = [c.name for c in table.c if c.name not in _NOT_COMPARED]
    textual = {c.name for c in table.c if _is_text(c.type)}
    # (position in the row, column); created_by and redacted columns are compared apart
    plain = [
        (i, c) for i, c in enumerate(columns, start=1) if c != "created_by" and c not in redact
    ]
    hidden = [(i, c) for i, c in enumerate(columns, start=1) if c in redact]
    author = columns.index("created_by") + 1
    encoders = {c.name: _encoder(c.type) for c in table.c}
    plain_encoded = [(i, c, encoders[c]) for i, c in plain]
    count = 0
    names = ", ".join(f'"{c}"' for c in ["id", *columns])
    result = connection.execution_options(stream_results=True, yield_per=5000).exec_driver_sql(
        f'SELECT {names} FROM "{name}" ORDER BY id'
    )
    for row in result:
        count += 1
        record_id = int(row[0])
        image = expected_records.pop(record_id, None)
        if image is None:
            findings.append(
                Finding(
                    "not-in-trail",
                    "this row has no insertion in the audit trail (written behind the trail's "
                    "back, or the trail was cut)",
                    name,
                    record_id,
                )
            )
            continue
        expected_of = image.get
        for i, column, encode in plain_encoded:
            value = row[i]
            found = None if value is None else encode(value)
            expected = expected_of(column)
            if expected != found and (column in textual or not _same(expected, found)):
                findings.append(_edited(name, record_id, column, expected, found))
        inserter = replay.inserted_by.get((name, record_id))
        if row[author] != inserter:
            findings.append(_edited(name, record_id, "created_by", inserter, row[author]))
        for i, column in hidden:
            expected = expected_of(column)
            if row[i] is None or expected == _LEGACY_REDACTED:
                if row[i] is None and expected is not None:
                    findings.append(_edited(name, record_id, column, expected, None))
                continue
            if redacted_digest(row[i]) != expected:
                findings.append(_edited(name, record_id, column, expected, "<value>"))
    for record_id in expected_records:
        findings.append(
            Finding(
                "missing",
                "the trail records this row and no deletion of it, but it is gone",
                name,
                record_id,
            )
        )
    return count


def verify_integrity(
    connection: Connection,
    *,
    key: bytes | None = ENGINE_KEY,
    checkpoints: Iterable[Path] | Path | None = None,
    tables: Iterable[str] | None = None,
) -> IntegrityReport:
    """Check the trail (chain, checkpoints) and every regulated row against it.

    Parameters
    ----------
    connection
        An open connection to the trial database.
    key
        The audit key; by default the one the connection's engine carries; ``None`` checks the
        data and the chain's links without authenticating the chain.
    checkpoints
        A checkpoint directory, or checkpoint files (:mod:`cartrial.store.checkpoints`).
    tables
        Restrict the data comparison to these tables (default: every regulated table).

    Returns
    -------
    IntegrityReport
        Rows read and every :class:`Finding`.
    """
    chain = ChainChecker(audit_key_of(connection) if key is ENGINE_KEY else key)
    marks = CheckpointCheck.load(checkpoints, chain.key)
    replay = _Replay()
    for row in audit_tuples(connection):
        chain.feed(row)
        marks.feed(cast(int, row[0]), cast(str, row[11]))
        replay.feed(row)
    report = chain.finish(connection)
    findings = [Finding("chain", problem) for problem in report.problems]
    findings += [Finding("checkpoint", problem) for problem in marks.finish(report.rows)]
    findings += replay.findings
    regulated = regulated_tables()
    redacted = _redacted_columns()
    records = 0
    for name in sorted(regulated if tables is None else set(tables)):
        records += _compare_table(
            connection, name, regulated[name], replay, redacted[name], findings
        )
    if tables is None:
        for name, expected in replay.images.items():
            findings.append(
                Finding(
                    "unknown-table",
                    f"the trail records {len(expected)} rows of a table that is not regulated",
                    name,
                )
            )
    return IntegrityReport(
        audit_rows=report.rows,
        records=records,
        authenticated=report.authenticated,
        checkpoints=marks.count,
        findings=tuple(findings),
    )
