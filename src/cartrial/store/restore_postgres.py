"""Restoring a PostgreSQL backup in ONE transaction that holds the writers' lock from start to end.

The ``pg_dump`` archive is first restored into a scratch database (``CREATEDB`` privilege
needed) and verified there (:func:`~cartrial.store.integrity.verify_integrity` under the audit
key, and the checkpoints when given); a backup that does not verify is refused. Then, in one
transaction on the live database:

1. the audit chain head is locked (``SELECT ... FOR UPDATE``, :func:`~cartrial.store.chain.
   lock_chain`): the lock every audited writer takes before its flush touches a row, so a writer
   already under way finishes first and every later one waits for the restore to commit (and then
   writes onto the restored data, chained after the restored trail);
2. the audited writes the live database holds beyond the backup are counted (rows after the
   longest prefix the two chains share, backup and restore records aside) and, without
   ``force``, the restore is refused saying how many;
3. every table's rows are replaced by the backup's (``DELETE`` then ``COPY`` streamed from the
   scratch database; the append-only triggers disabled and re-enabled inside the transaction,
   which needs the tables' owner: run restores as the owner role, see docs/audit.md); the chain
   head row is updated in place so that a writer waiting for it reads the restored head;
4. the restore is recorded as an audited :class:`~cartrial.store.models.DatabaseEvent` chained
   onto the restored trail, and everything commits at once. Any failure rolls everything back.

Sequences are only ever moved forward (``setval`` is not transactional): after a failed restore
they may have skipped ids, never reused one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from cartrial.errors import BackupFailed
from cartrial.store.backup import pg_command, run_tool
from cartrial.store.base import Base
from cartrial.store.chain import lock_chain
from cartrial.store.engine import make_engine, session_factory
from cartrial.store.integrity import IntegrityReport, verify_integrity
from cartrial.store.keys import load_audit_key
from cartrial.store.models import DatabaseEvent
from cartrial.store.transaction import unit_of_work

__all__ = [
    "copy_tables",
    "newer_writes",
    "replace_in_one_transaction",
    "replace_postgres",
    "scratch_copy",
    "verify_scratch",
]

#: The single-row chain head: updated in place (writers waiting for its lock then read it).
_HEAD = "audit_chain_head"
#: Not copied: both databases must already be at the same revision.
_VERSION = "alembic_version"


@contextmanager
def scratch_copy(url: str, origin: Path) -> Iterator[Engine]:
    """The archive ``origin`` restored into a scratch database beside ``url``'s, dropped after."""
    parsed = make_url(url)
    scratch = f"cartrial_restore_{secrets.token_hex(6)}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{scratch}"')
        try:
            args, env = pg_command("pg_restore", parsed)
            run_tool([*args, "--dbname", scratch, str(origin)], env, "pg_restore (verification)")
            engine = create_engine(parsed.set(database=scratch))
            try:
                yield engine
            finally:
                engine.dispose()
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{scratch}"')
    finally:
        admin.dispose()


def newer_writes(live: Connection, backup: Connection) -> int:
    """Audited writes of ``live`` after the longest prefix its chain shares with ``backup``'s.

    Backup and restore records (``database_events``) hold no trial data and are not counted.
    The common case (the backup's trail is a prefix of the live one) is one lookup of the
    backup's last MAC; otherwise both chains are read in id order up to the first difference.
    """
    last = backup.execute(
        text("SELECT id, row_sha256 FROM audit_log ORDER BY id DESC LIMIT 1")
    ).first()
    common = 0
    if last is not None:
        same = live.scalar(
            text("SELECT count(*) FROM audit_log WHERE id = :id AND row_sha256 = :mac"),
            {"id": last.id, "mac": last.row_sha256},
        )
        if same:
            common = int(last.id)
        else:
            ordered = text("SELECT id, row_sha256 FROM audit_log ORDER BY id")
            theirs = backup.execute(ordered.execution_options(yield_per=5000))
            ours = live.execute(ordered.execution_options(yield_per=5000))
            for mine, other in zip(ours, theirs, strict=False):
                if tuple(mine) != tuple(other):
                    break
                common = int(mine.id)
            theirs.close()
            ours.close()
    newer = live.scalar(
        text(
            "SELECT count(*) FROM audit_log WHERE id > :common AND table_name <> 'database_events'"
        ),
        {"common": common},
    )
    return int(newer or 0)


def _tables(connection: Connection) -> list[str]:
    """The schema's tables, parents before children (the models' order), others after."""
    present = set(
        connection.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        )
    )
    ordered = [t.name for t in Base.metadata.sorted_tables if t.name in present]
    return ordered + sorted(present - set(ordered) - {_VERSION})


def _columns(connection: Connection, table: str) -> list[str]:
    return list(
        connection.scalars(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = :t "
                "ORDER BY ordinal_position"
            ),
            {"t": table},
        )
    )


def _stream(live: Connection, backup: Connection, table: str, columns: list[str]) -> None:
    """``COPY`` the backup's rows of ``table`` into the live table, block by block."""
    names = ", ".join(f'"{c}"' for c in columns)
    source = backup.connection.dbapi_connection
    target = live.connection.dbapi_connection
    assert source is not None and target is not None
    with (
        source.cursor() as reader,  # type: ignore[attr-defined]
        target.cursor() as writer,  # type: ignore[attr-defined]
        reader.copy(f'COPY "{table}" ({names}) TO STDOUT') as rows,
        writer.copy(f'COPY "{table}" ({names}) FROM STDIN') as into,
    ):
        for block in rows:
            into.write(block)


def _update_head(live: Connection, backup: Connection) -> None:
    head = backup.execute(text(f"SELECT last_id, last_sha256, key_id FROM {_HEAD}")).first()
    if head is None:
        raise BackupFailed("the backup has no audit chain head row")
    live.execute(
        text(f"UPDATE {_HEAD} SET last_id = :i, last_sha256 = :s, key_id = :k WHERE id = 1"),
        {"i": head.last_id, "s": head.last_sha256, "k": head.key_id},
    )


def _advance_sequence(live: Connection, table: str) -> None:
    sequence = live.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": f'"{table}"'})
    if sequence is None:
        return
    highest = live.scalar(text(f'SELECT max(id) FROM "{table}"'))
    current = live.scalar(text(f"SELECT last_value FROM {sequence}"))
    if highest is not None and int(highest) > int(current or 0):
        live.execute(text("SELECT setval(:s, :v)"), {"s": sequence, "v": int(highest)})


def copy_tables(live: Connection, backup: Connection) -> None:
    """Replace every table's rows with the backup's, in ``live``'s open transaction."""
    revisions = [c.scalar(text(f"SELECT version_num FROM {_VERSION}")) for c in (live, backup)]
    if revisions[0] != revisions[1]:
        raise BackupFailed(
            f"the backup is at schema revision {revisions[1]}, the database at {revisions[0]}: "
            "restore into a new database, then run `cartrial db upgrade`"
        )
    tables = _tables(live)
    triggered = list(
        live.scalars(
            text(
                "SELECT DISTINCT c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
                "WHERE NOT g.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
            )
        )
    )
    for table in triggered:
        live.exec_driver_sql(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
    for table in reversed(tables):
        if table != _HEAD:
            live.exec_driver_sql(f'DELETE FROM "{table}"')
    for table in tables:
        if table == _HEAD:
            _update_head(live, backup)
            continue
        _stream(live, backup, table, _columns(live, table))
        _advance_sequence(live, table)
    for table in triggered:
        live.exec_driver_sql(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')


def replace_in_one_transaction(
    engine: Engine,
    event: DatabaseEvent,
    *,
    user: str,
    force: bool,
    what: str,
    count: Callable[[Connection], int],
    copy: Callable[[Connection], None],
) -> int:
    """Lock, count the newer writes, copy the backup and record ``event``: one transaction.

    The writers' lock is taken first (SQLite: ``BEGIN IMMEDIATE`` when the session's
    connection begins; PostgreSQL: :func:`~cartrial.store.chain.lock_chain`), so that
    ``count`` and ``copy`` see no concurrent write. Returns the number of newer audited writes
    discarded (only with ``force``; otherwise a :class:`BackupFailed` says how many and nothing
    changes).
    """
    with unit_of_work(session_factory(engine), user, "database restored from backup") as s:
        live = s.connection()
        lock_chain(live)  # writers wait from here to the commit
        discarded = count(live)
        if discarded and not force:
            raise BackupFailed(
                f"the database holds {discarded} audited writes newer than {what}: "
                "restoring would discard them; nothing restored (use --force to discard them)"
            )
        copy(live)
        event.detail = f"{discarded} newer audited writes discarded" if discarded else None
        s.add(event)
    return discarded


def replace_postgres(
    url: str, backup: Connection, event: DatabaseEvent, *, user: str, force: bool, what: str
) -> int:
    """:func:`replace_in_one_transaction` of the PostgreSQL database ``url`` with ``backup``."""
    engine = make_engine(url)
    try:
        return replace_in_one_transaction(
            engine,
            event,
            user=user,
            force=force,
            what=what,
            count=lambda live: newer_writes(live, backup),
            copy=lambda live: copy_tables(live, backup),
        )
    finally:
        engine.dispose()


def verify_scratch(url: str, scratch: Engine, checkpoints: Path | None) -> IntegrityReport:
    """Verify the restored archive under the audit key of ``url``."""
    key = load_audit_key(url)
    with scratch.connect() as connection:
        return verify_integrity(connection, key=key, checkpoints=checkpoints)
