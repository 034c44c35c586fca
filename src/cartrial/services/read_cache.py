"""A per-process cache of whole-study reads, valid while the audit trail shows no change to them.

Building the analysis read model (:func:`~cartrial.services.read_model.trial_data`) reads every
record of the study (about 0.3 s on the demo study); the web application's pages need it on
almost every request. :class:`ReadCache` keeps the last build and rebuilds only when the database
has changed in a way that matters, which it learns from the audit trail every write appends to:

* the **mark** of the database is the audit chain head (``audit_chain_head``: last audit id and
  its MAC), one primary-key read. Every committed write advances it in the same transaction as
  the change (:mod:`cartrial.store.chain`), so any process — another web worker, the CLI, an
  import — that writes is seen by every other process at its next read;
* a build records the tables it read (the SQL it sent, :func:`_recording`). When the mark has
  moved, one range read of the new audit rows (``audit_log.id`` between the two marks, the
  primary key) tells whether any of them touched one of those tables; if none did (a data query
  was raised, a user added, a session opened), the entry stays valid under the new mark.
  Which queries a build sends can only depend on rows it has read (and on the date, part of the
  key), so a table it did not read cannot change what it returns;
* if the trail is not the one the entry was built on (the audit row at the entry's mark has
  another MAC: a restored backup), or the date (UTC) has changed, the entry is rebuilt.

The mark is read *before* a build starts, so a cached value is never older than its mark: a
request that starts after a write was acknowledged reads a mark at or after that write and gets
a value that includes it (read-your-writes across processes). One build runs at a time per key;
requests arriving meanwhile wait and reuse it when it is still valid for them.

Cached values are shared between threads: callers must not modify them (the site filter of
:func:`cartrial.services.visible_sites` is applied afterwards, on copies).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from cartrial.analysis import TrialData
from cartrial.services.context import SessionFactory
from cartrial.services.read_model import trial_data
from cartrial.store import AuditChainHead, AuditLog, Base, read_only

__all__ = ["ReadCache", "read_cache"]

T = TypeVar("T")

#: One alternation of every table name of the schema, to find the tables a statement reads.
_TABLE_NAMES = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, Base.metadata.tables), key=len, reverse=True)) + r")\b"
)
_recorder = threading.local()


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


class ReadCache:
    """Whole-study reads of one database, kept while the audit trail shows they are current.

    Parameters
    ----------
    session_factory
        The database the reads come from.
    max_entries
        Distinct reads kept (least recently used dropped first).

    Examples
    --------
    >>> cache = ReadCache(factory)  # doctest: +SKIP
    >>> data = cache.trial_data("CLDN18-PDL1-CART-01")  # doctest: +SKIP
    >>> cache.trial_data("CLDN18-PDL1-CART-01") is data  # until a write changes it  # doctest: +SKIP
    True
    """

    def __init__(self, session_factory: SessionFactory, max_entries: int = 8) -> None:
        self.session_factory = session_factory
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self.builds = 0

    def trial_data(self, study_id: str, data_cutoff: dt.date | None = None) -> TrialData:
        """:func:`~cartrial.services.read_model.trial_data` of ``study_id``, from the cache."""
        return self.read(
            ("trial_data", study_id, data_cutoff),
            lambda: trial_data(self.session_factory, study_id, data_cutoff),
        )

    def read(self, key: Hashable, build: Callable[[], T]) -> T:
        """The value of ``build()`` for ``key``, rebuilt only when the database changed for it.

        ``build`` must read the database through this cache's session factory, in the calling
        thread, and depend on nothing but the database, ``key`` and the date (UTC).
        """
        entry = self._entries.get(key)
        if entry is not None and self._current(key, entry) is not None:
            return entry.value  # type: ignore[return-value]
        with self._lock_of(key):
            entry = self._entries.get(key)
            if entry is not None and self._current(key, entry) is not None:
                return entry.value  # type: ignore[return-value]
            return self._build(key, build)

    def _lock_of(self, key: Hashable) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _current(self, key: Hashable, entry: _Entry) -> _Entry | None:
        """``entry`` (under today's mark) if nothing it read has changed since, else ``None``."""
        if entry.day != _today():
            return None
        with read_only(self.session_factory) as session:
            mark = _mark(session)
            if mark == entry.mark:
                return entry
            if mark.last_id < entry.mark.last_id:
                return None
            if entry.mark.last_id:
                at_mark = session.scalar(
                    select(AuditLog.row_sha256).where(AuditLog.id == entry.mark.last_id)
                )
                if at_mark != entry.mark.last_sha256:
                    return None  # another trail: a restored database
            touched = session.scalar(
                select(AuditLog.id)
                .where(
                    AuditLog.id > entry.mark.last_id,
                    AuditLog.id <= mark.last_id,
                    AuditLog.table_name.in_(sorted(entry.tables)),
                )
                .limit(1)
            )
        if touched is not None:
            return None
        moved = _Entry(entry.value, mark, entry.tables, entry.day)
        self._store(key, moved)
        return moved

    def _build(self, key: Hashable, build: Callable[[], T]) -> T:
        day = _today()
        with read_only(self.session_factory) as session:
            mark = _mark(session)  # before the build: the value is at least as new as the mark
        engine = self.session_factory.kw["bind"]
        with _recording(engine) as statements:
            value = build()
        tables = frozenset(name for sql in statements for name in _TABLE_NAMES.findall(sql))
        self.builds += 1
        self._store(key, _Entry(value, mark, tables, day))
        return value

    def _store(self, key: Hashable, entry: _Entry) -> None:
        with self._guard:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


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
