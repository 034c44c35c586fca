"""A per-process cache of whole-study reads, valid while the audit trail shows no change to them.

Building the analysis read model (:func:`~cartrial.services.read_model.trial_data`) reads every
record of the study (about 0.3 s on the demo study); the web application's pages need it on
almost every request. :class:`ReadCache` keeps each part of it
(:data:`~cartrial.services.read_model.PARTS`: the subjects, each record table, the decisions) and
reads a part again only when the database has changed in a way that matters for it, which it
learns from the audit trail every write appends to:

* the **mark** of the database is the audit chain head (``audit_chain_head``: last audit id and
  its MAC), one primary-key read. Every committed write advances it in the same transaction as
  the change (:mod:`cartrial.store.chain`), so any process — another web worker, the CLI, an
  import — that writes is seen by every other process at its next read;
* reading a part records the tables it read (the SQL it sent, :func:`_recording`). When the mark
  has moved, one range read of the new audit rows (``audit_log.id`` between the two marks, the
  primary key) gives the tables written since; a part none of whose tables were written (a data
  query was raised: no part; a laboratory value: the laboratory table only) is kept. Which
  queries a read sends can only depend on rows it has read (and on the date, checked too), so a
  table it did not read cannot change what it returns;
* a part found current at a later mark is stamped with it, so that the next check reads the
  audit trail from that mark on (one short range read per write, not a range growing with
  every write since the part was read);
* a part that is the rows of one table in id order (the laboratory values:
  :data:`~cartrial.services.read_model.APPENDABLE`) whose tables saw nothing but inserts into
  that table reads the new rows alone and appends them (and the laboratory record table is
  extended the same way), instead of reading the whole table again after each new value; an
  update, a deletion, or ids committed out of order read it again;
* if the trail is not the one the entry was built on (the audit row at the entry's mark has
  another MAC: a restored backup), or the date (UTC) has changed, the entry is rebuilt.

A request reads the mark first, then, in the same read-only transaction, any part it must read
again, so a cached part is never older than its mark: a request that starts after a write was
acknowledged reads a mark at or after that write and gets parts that include it
(read-your-writes across processes). One read of a part runs at a time; requests arriving
meanwhile wait and reuse it when it is current for them.

Cached values are shared between threads: callers must not modify them (the site filter of
:func:`cartrial.services.visible_sites` is applied afterwards, on copies).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from cartrial.analysis import TrialData
from cartrial.services.context import SessionFactory, find_study, protocol_of
from cartrial.services.read_model import (
    APPENDABLE,
    PARTS,
    assemble,
    latest_recorded_date,
    read_new_rows,
    read_part,
    record_table,
)
from cartrial.services.study_calendar import study_today
from cartrial.store import AuditChainHead, AuditLog, Base, Study, read_only

__all__ = ["ReadCache", "read_cache"]

T = TypeVar("T")
#: How a cached value takes records newly inserted into one table: (the table, a function of the
#: value and the new records' ids returning the extended value, or ``None`` to read it again).
_Extension = tuple[str, Callable[[T, frozenset[int]], T | None]]

#: One alternation of every table name of the schema, to find the tables a statement reads.
_TABLE_NAMES = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, Base.metadata.tables), key=len, reverse=True)) + r")\b"
)
_recorder = threading.local()
_LISTENING = threading.Lock()


@dataclass(frozen=True)
class _Mark:
    """Where the audit trail stands: the last audit id and its MAC (0 and "" on an empty one)."""

    last_id: int
    last_sha256: str


@dataclass(frozen=True)
class _Entry:
    value: object
    mark: _Mark
    tables: frozenset[str]
    day: dt.date


def _record_statement(
    conn: object, cursor: object, statement: str, *args: object, **kwargs: object
) -> None:
    statements: list[str] | None = getattr(_recorder, "statements", None)
    if statements is not None:
        statements.append(statement)


@contextmanager
def _recording(engine: Engine) -> Iterator[list[str]]:
    """Collect the SQL this thread sends to ``engine`` inside the block."""
    with _LISTENING:
        if not event.contains(engine, "before_cursor_execute", _record_statement):
            event.listen(engine, "before_cursor_execute", _record_statement)
    statements: list[str] = []
    _recorder.statements = statements
    try:
        yield statements
    finally:
        _recorder.statements = None


def _mark(session: Session) -> _Mark:
    head = session.execute(
        select(AuditChainHead.last_id, AuditChainHead.last_sha256).where(AuditChainHead.id == 1)
    ).one_or_none()
    return _Mark(int(head[0]), str(head[1])) if head is not None else _Mark(0, "")


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class _Check:
    """Whether cached entries are current at the mark read by one request (queries memoised)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.mark = _mark(session)
        self.day = _today()
        self._touched: dict[int, frozenset[str]] = {}
        self._same_trail: dict[_Mark, bool] = {}

    def same_trail(self, mark: _Mark) -> bool:
        """Whether the audit row at ``mark`` is still the one the entry saw (not a restore)."""
        if not mark.last_id or mark == self.mark:
            return True
        if mark not in self._same_trail:
            found = self.session.scalar(
                select(AuditLog.row_sha256).where(AuditLog.id == mark.last_id)
            )
            self._same_trail[mark] = found == mark.last_sha256
        return self._same_trail[mark]

    def touched_since(self, last_id: int) -> frozenset[str]:
        """The tables written between audit id ``last_id`` and this request's mark."""
        if last_id not in self._touched:
            names = self.session.scalars(
                select(AuditLog.table_name)
                .where(AuditLog.id > last_id, AuditLog.id <= self.mark.last_id)
                .distinct()
            )
            self._touched[last_id] = frozenset(names)
        return self._touched[last_id]

    def inserted(self, last_id: int, tables: frozenset[str], table: str) -> frozenset[int] | None:
        """The ids of the records inserted into ``table`` between audit id ``last_id`` and this
        request's mark, if that is all that was written to ``tables`` (else ``None``)."""
        changes = self.session.execute(
            select(AuditLog.table_name, AuditLog.action, AuditLog.record_id)
            .where(
                AuditLog.id > last_id,
                AuditLog.id <= self.mark.last_id,
                AuditLog.table_name.in_(sorted(tables)),
            )
            .distinct()
        ).all()
        if any(name != table or action != "insert" for name, action, _ in changes):
            return None
        return frozenset(int(record_id) for _, _, record_id in changes)

    def current(self, entry: _Entry) -> bool:
        """``entry`` holds what the database holds now for it (or something newer)."""
        if entry.day != self.day or not self.same_trail(entry.mark):
            return False
        if entry.mark.last_id >= self.mark.last_id:
            return True  # built at this mark, or by a request that started later
        return not entry.tables & self.touched_since(entry.mark.last_id)


class ReadCache:
    """Whole-study reads of one database, kept while the audit trail shows they are current.

    The read model is cached part by part (:data:`~cartrial.services.read_model.PARTS`): a new
    laboratory value reads that value alone and appends it to the laboratory part
    (:data:`~cartrial.services.read_model.APPENDABLE`), a new data query reads nothing.

    Parameters
    ----------
    session_factory
        The database the reads come from.
    max_entries
        Parts kept (least recently used dropped first).

    Examples
    --------
    >>> cache = ReadCache(factory)  # doctest: +SKIP
    >>> data = cache.trial_data("CLDN18-PDL1-CART-01")  # doctest: +SKIP
    >>> cache.trial_data("CLDN18-PDL1-CART-01") is data  # doctest: +SKIP
    True
    """

    def __init__(self, session_factory: SessionFactory, max_entries: int = 64) -> None:
        self.session_factory = session_factory
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self._assembled: dict[Hashable, tuple[tuple[object, ...], TrialData]] = {}
        self._tables: dict[str, tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]] = {}
        #: The last part extended with new rows (:meth:`_appender`), with the part it extended.
        self._appended: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
        #: Parts read from the database so far, and parts extended with new rows instead (for
        #: tests and benchmarks).
        self.builds = 0
        self.extensions = 0

    def trial_data(self, study_id: str, data_cutoff: dt.date | None = None) -> TrialData:
        """:func:`~cartrial.services.read_model.trial_data` of ``study_id``, from the cache.

        Only the parts whose tables were written since they were read are read again; the
        result is the same object as long as no part changed.
        """
        with read_only(self.session_factory) as session:
            check = _Check(session)
            study = find_study(session, study_id)
            study_row = frozenset({"studies"})  # read above: the protocol and the phase
            cutoff = data_cutoff or self._read(
                check,
                # the default cut-off is today in the study's zone: a new local day, a new key
                ("cutoff", study.id, study_today(protocol_of(study).study.time_zone)),
                lambda: latest_recorded_date(session, study.id),
                study_row,
            )
            parts = {
                name: self._read(
                    check,
                    ("part", study.id, cutoff, name),
                    lambda name=name: read_part(session, study, cutoff, name),  # type: ignore[misc]
                    study_row,
                    self._appender(session, study, cutoff, name),
                )
                for name in PARTS
            }
            protocol = protocol_of(study)
        values = tuple(parts.values())
        key = (study_id, data_cutoff)
        assembled = self._assembled.get(key)
        if assembled is not None and all(a is b for a, b in zip(assembled[0], values, strict=True)):
            return assembled[1]
        data = assemble(parts, protocol, cutoff, self._record_table)
        self._assembled[key] = (values, data)
        return data

    def _record_table(
        self, name: str, part: pd.DataFrame, subjects: pd.DataFrame, infusions: pd.DataFrame
    ) -> pd.DataFrame:
        """:func:`~cartrial.services.read_model.record_table`, reused while its inputs are."""
        made = self._tables.get(name)
        if made is not None and made[1] is subjects and made[2] is infusions:
            if made[0] is part:
                return made[3]
            appended, base = self._appended.get(name, (None, None))
            if appended is part and base is made[0]:  # only new rows: make the table of those
                tail = record_table(name, part.iloc[len(base) :], subjects, infusions)
                table = pd.concat([made[3], tail], ignore_index=True) if len(made[3]) else tail
                self._tables[name] = (part, subjects, infusions, table)
                return table
        table = record_table(name, part, subjects, infusions)
        self._tables[name] = (part, subjects, infusions, table)
        return table

    def read(
        self,
        session: Session,
        key: Hashable,
        build: Callable[[], T],
        depends_on: Iterable[str] = (),
    ) -> T:
        """The value of ``build()`` for ``key``, read again only when its tables were written.

        For a use case's read (e.g. :func:`~cartrial.services.escalation_state`): ``session`` is
        the use case's, ``build`` reads through it, and ``key`` names everything else the value
        depends on (study, date, options). ``depends_on`` names the tables of rows read *before*
        the call that the value depends on (e.g. ``"studies"``: the protocol and the phase).
        """
        return self._read(_Check(session), key, build, frozenset(depends_on))

    def _read(
        self,
        check: _Check,
        key: Hashable,
        build: Callable[[], T],
        depends_on: frozenset[str] = frozenset(),
        extend: _Extension[T] | None = None,
    ) -> T:
        """The value of ``build()`` for ``key``, rebuilt only when its tables were written.

        ``build`` reads through ``check.session`` (the request's, opened before the mark was
        read) and depends on nothing but the database, ``key`` and the date (UTC). With
        ``extend`` (a table, a function), a value whose tables saw nothing but new records of
        that table is extended with them (``extend(value, ids)``; ``None``: build it again).
        """
        entry = self._entries.get(key)
        if entry is not None and check.current(entry):
            self._advance(key, entry, check.mark)
            return entry.value  # type: ignore[return-value]
        with self._lock_of(key):
            entry = self._entries.get(key)
            if entry is not None and check.current(entry):
                self._advance(key, entry, check.mark)
                return entry.value  # type: ignore[return-value]
            if entry is not None and extend is not None:
                extended = self._extended(check, entry, extend)
                if extended is not None:
                    self._store(key, _Entry(extended, check.mark, entry.tables, check.day))
                    self.extensions += 1
                    return extended
            engine = self.session_factory.kw["bind"]
            with _recording(engine) as statements:
                value = build()
            tables = depends_on | {name for sql in statements for name in _TABLE_NAMES.findall(sql)}
            self._store(key, _Entry(value, check.mark, tables, check.day))
            self.builds += 1
            return value

    @staticmethod
    def _extended(check: _Check, entry: _Entry, extend: _Extension[T]) -> T | None:
        """``entry``'s value with the records inserted since, if that is its only change."""
        table, add = extend
        if entry.day != check.day or not check.same_trail(entry.mark):
            return None
        ids = check.inserted(entry.mark.last_id, entry.tables, table)
        return add(entry.value, ids) if ids is not None else None  # type: ignore[arg-type]

    def _appender(
        self, session: Session, study: Study, cutoff: dt.date, name: str
    ) -> _Extension[pd.DataFrame] | None:
        """How part ``name`` takes new rows of its table (:data:`APPENDABLE`), if it can."""
        table = APPENDABLE.get(name)
        if table is None:
            return None

        def append(part: pd.DataFrame, ids: frozenset[int]) -> pd.DataFrame | None:
            new = read_new_rows(session, study, cutoff, name, ids)
            if new.empty:
                return part  # e.g. dated after the cut-off: the part is unchanged
            if len(part) and new.index.min() <= part.index.max():
                return None  # committed out of id order: read the part again, in order
            appended = pd.concat([part, new]) if len(part) else new
            self._appended[name] = (appended, part)
            return appended

        return table, append

    def _advance(self, key: Hashable, entry: _Entry, mark: _Mark) -> None:
        """Stamp ``entry``, found current at the later ``mark``, with that mark.

        None of its tables was written between the two marks, so it holds what the database
        held at ``mark``; the next request's check reads the audit trail from there on, not
        from where it was built (a range that would grow with every write of other tables).
        """
        if entry.mark.last_id >= mark.last_id:
            return
        with self._guard:
            if self._entries.get(key) is entry:  # not rebuilt meanwhile by another request
                self._entries[key] = dataclasses.replace(entry, mark=mark)

    def _lock_of(self, key: Hashable) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _store(self, key: Hashable, entry: _Entry) -> None:
        with self._guard:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                dropped, _ = self._entries.popitem(last=False)
                self._locks.pop(dropped, None)


_CACHES: weakref.WeakKeyDictionary[Any, ReadCache] = weakref.WeakKeyDictionary()
_CACHES_GUARD = threading.Lock()


def read_cache(session_factory: SessionFactory) -> ReadCache:
    """The process's :class:`ReadCache` of ``session_factory`` (made on first use, dropped with it).

    Every reader of the same database in a process shares it, e.g. the pages and API of one web
    worker.
    """
    with _CACHES_GUARD:
        cache = _CACHES.get(session_factory)
        if cache is None:
            cache = _CACHES[session_factory] = ReadCache(session_factory)
        return cache
