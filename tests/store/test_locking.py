"""Optimistic locking: a stale edit raises Conflict naming both versions; several processes."""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.synchronize
import threading
import time

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import sessionmaker

from cartrial.errors import Conflict
from cartrial.store import (
    AdverseEvent,
    AuditedSession,
    AuditLog,
    Subject,
    check_version,
    make_engine,
    session_factory,
    unit_of_work,
    verify_chain,
)

from .conftest import T0, MiniTrial

_WORKERS = 4
_EDITS = 12


def test_check_version_names_both_versions(
    sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    with unit_of_work(sessions, "crc1", "age") as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        subject.age_years = 60
    with pytest.raises(Conflict) as caught, unit_of_work(sessions, "crc2", "age") as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        check_version(subject, 1)  # the form was filled in on version 1; the database has 2
        subject.age_years = 61
    assert (caught.value.expected_version, caught.value.actual_version) == (1, 2)
    assert caught.value.record == f"subjects {mini_trial.subject_id}"
    assert "version 1" in str(caught.value) and "version 2" in str(caught.value)


def test_stale_update_of_a_detached_record_is_a_conflict(
    sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    with unit_of_work(sessions, "crc1") as session:
        stale = session.get(Subject, mini_trial.subject_id)  # read at version 1, kept
    assert stale is not None
    with unit_of_work(sessions, "crc2", "ECOG from source") as session:
        fresh = session.get(Subject, mini_trial.subject_id)
        assert fresh is not None
        fresh.ecog = 1
    with pytest.raises(Conflict) as caught, unit_of_work(sessions, "crc1", "ECOG") as session:
        session.add(stale)
        stale.ecog = 2  # UPDATE ... WHERE version = 1 matches no row
    assert (caught.value.expected_version, caught.value.actual_version) == (1, 2)
    with sessions() as session:
        kept = session.get(Subject, mini_trial.subject_id)
        assert kept is not None
        assert (kept.ecog, kept.version) == (1, 2)  # never silently overwritten


def _editor(
    url: str,
    subject_id: int,
    worker: int,
    start: multiprocessing.synchronize.Barrier,
    results: multiprocessing.Queue,
) -> None:
    """Edit the subject _EDITS times; even workers check the form version, odd ones rely on the
    database's ``WHERE version = ...`` (a detached record)."""
    engine = make_engine(url)
    factory = session_factory(engine)
    done = conflicts = 0
    start.wait(timeout=60)  # all editors begin together
    for i in range(_EDITS):
        with unit_of_work(factory, f"reader{worker}") as session:
            seen = session.get(Subject, subject_id)
        assert seen is not None
        time.sleep(0.01)  # the user "thinks": others may save meanwhile
        try:
            with unit_of_work(factory, f"worker{worker}", f"edit {i}") as session:
                if worker % 2 == 0:
                    subject = session.get(Subject, subject_id)
                    assert subject is not None
                    check_version(subject, seen.version)
                else:
                    subject = session.merge(seen, load=False)
                subject.age_years = worker * 1000 + i
            done += 1
        except Conflict:
            conflicts += 1
    engine.dispose()
    results.put((worker, done, conflicts))


def test_processes_editing_one_subject_lose_no_update(
    migrated_db_url: str, engine: Engine, mini_trial: MiniTrial
) -> None:
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = context.Queue()
    start = context.Barrier(_WORKERS)
    workers = [
        context.Process(
            target=_editor, args=(migrated_db_url, mini_trial.subject_id, w, start, results)
        )
        for w in range(_WORKERS)
    ]
    for process in workers:
        process.start()
    outcome = [results.get(timeout=120) for _ in workers]
    for process in workers:
        process.join(timeout=30)
        assert process.exitcode == 0
    done = sum(o[1] for o in outcome)
    conflicts = sum(o[2] for o in outcome)
    assert done + conflicts == _WORKERS * _EDITS  # every attempt either saved or was reported
    assert conflicts > 0  # with 4 concurrent editors some edits must have been stale
    with sessionmaker(bind=engine)() as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        assert subject.version == 1 + done
        updates = list(
            session.scalars(
                select(AuditLog)
                .where(AuditLog.table_name == "subjects", AuditLog.field == "age_years")
                .order_by(AuditLog.id)
            )
        )
    assert len(updates) == done
    # No lost update: each saved edit started from the value the previous saved edit wrote.
    assert updates[0].old_value is None
    for previous, current in itertools.pairwise(updates):
        assert current.old_value == previous.new_value
    assert updates[-1].new_value == str(subject.age_years)
    with engine.connect() as connection:
        assert verify_chain(connection).ok


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: BEGIN IMMEDIATE
def test_postgres_writers_queue_on_the_chain_instead_of_deadlocking(
    engine: Engine, sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    outcome: dict[str, object] = {}

    def editor_a() -> None:
        try:
            with unit_of_work(sessions, "crc-a", "age from source") as session:
                subject = session.get(Subject, mini_trial.subject_id)  # reads version 1
                assert subject is not None
                backend = session.connection().exec_driver_sql("SELECT pg_backend_pid()")
                outcome["pid"] = backend.scalar()
                subject.age_years = 40  # the flush must wait for B's chain lock first
            outcome["a"] = "saved"
        except Conflict as exc:
            outcome["a"] = exc

    with unit_of_work(sessions, "crc-b", "age corrected") as session:
        session.add(
            AdverseEvent(
                subject_id=mini_trial.subject_id,
                term="Pyrexia",
                soc="General disorders and administration site conditions",
                grade=1,
                onset_at=T0,
                attribution="possible",
            )
        )
        session.flush()  # B holds the chain lock until it commits
        thread = threading.Thread(target=editor_a)
        thread.start()
        deadline = time.monotonic() + 30
        while not _waits_for_a_lock(engine, outcome.get("pid")):  # A queued on the chain head
            assert time.monotonic() < deadline, "editor A never queued on the chain lock"
            time.sleep(0.05)
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        subject.age_years = 41  # A has not touched the row: no deadlock
    thread.join(timeout=30)
    conflict = outcome["a"]
    assert isinstance(conflict, Conflict)
    assert (conflict.expected_version, conflict.actual_version) == (1, 2)


def _waits_for_a_lock(engine: Engine, pid: object) -> bool:
    """True once the PostgreSQL backend ``pid`` (editor A's connection) waits for a lock."""
    if pid is None:
        return False
    with engine.connect() as connection:
        waiting = connection.scalar(
            text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        )
    return waiting == "Lock"
