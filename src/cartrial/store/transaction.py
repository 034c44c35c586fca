"""One transaction per use case: :func:`unit_of_work` (writes) and :func:`read_only` (reads)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, cast

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from cartrial.store.audit import AUDIT_CONTEXT_KEY, READ_ONLY_KEY, AuditContext, AuditedSession
from cartrial.store.engine import READ_ONLY_OPTION
from cartrial.store.locking import conflict_from_stale
from cartrial.store.models import User

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import _ExecuteOptions

__all__ = ["one_transaction", "read_only", "unit_of_work"]


@contextmanager
def unit_of_work(
    factory: sessionmaker[AuditedSession], user: str | User, reason: str | None = None
) -> Iterator[AuditedSession]:
    """Run one use case in one transaction, audited as ``user`` with ``reason``.

    Commits when the block ends normally; rolls back (nothing written) on any exception. A stale
    optimistic-locking update is re-raised as :class:`~cartrial.errors.Conflict`.

    Parameters
    ----------
    factory
        From :func:`cartrial.store.session_factory`.
    user
        The acting user (username or :class:`~cartrial.store.models.User`).
    reason
        Reason for change; required if the block updates or soft-deletes records.

    Examples
    --------
    >>> with unit_of_work(factory, "alice", "typo in onset date") as session:  # doctest: +SKIP
    ...     ae = session.get(AdverseEvent, 7)
    ...     ae.onset_at = corrected
    """
    username = user.username if isinstance(user, User) else user
    session = factory()
    session.info[AUDIT_CONTEXT_KEY] = AuditContext(username, reason)
    try:
        with session.begin():
            yield session
    except StaleDataError as exc:
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        raise conflict_from_stale(session, engine) from exc
    finally:
        session.close()


@contextmanager
def read_only(factory: sessionmaker[AuditedSession]) -> Iterator[AuditedSession]:
    """A session for reading only (reports, exports, analysis datasets).

    On SQLite its transaction begins deferred: in WAL mode it reads a consistent snapshot without
    taking the write lock, so it neither blocks nor waits for writers. On PostgreSQL the transaction
    is ``READ ONLY``. Any attempt to flush a change raises
    :class:`~cartrial.errors.PermissionDenied`; the transaction is rolled back at the end.
    """
    session = factory()
    session.info[READ_ONLY_KEY] = True
    try:
        options = {READ_ONLY_OPTION: True, "postgresql_readonly": True}
        session.connection(execution_options=cast("_ExecuteOptions", options))
        yield session
    finally:
        session.rollback()
        session.close()


@contextmanager
def one_transaction(
    factory: sessionmaker[AuditedSession],
) -> Iterator[sessionmaker[AuditedSession]]:
    """A session factory whose units of work all run inside ONE database transaction.

    Each session it makes joins the transaction as a savepoint
    (``join_transaction_mode="create_savepoint"``): a unit of work that fails is rolled back to
    its savepoint while the others stay, and nothing reaches the database unless the block ends
    normally (then everything commits at once); any exception rolls everything back. Bulk
    imports use it to run the ordinary use cases row by row, all or nothing.
    """
    engine = factory.kw["bind"]
    with engine.connect() as connection, connection.begin():
        yield sessionmaker(
            bind=connection,
            class_=AuditedSession,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
        )
