"""Audit trail: who/when/what/why for every change, refusal rules, and tamper detection."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, Executable, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from cartrial.errors import AuditIntegrityError, PermissionDenied, ValidationFailed
from cartrial.store import (
    AuditContext,
    AuditedSession,
    AuditLog,
    Site,
    Subject,
    soft_delete,
    unit_of_work,
    verify_chain,
)
from cartrial.store.audit import AUDIT_CONTEXT_KEY, GENESIS_SHA256, INSERT_FIELD, redacted_digest
from cartrial.store.auth import create_user
from cartrial.store.chain import row_mac
from cartrial.store.keys import load_audit_key

from .conftest import MiniTrial


def _log(engine: Engine, table: str | None = None) -> list[AuditLog]:
    with sessionmaker(bind=engine)() as session:
        query = select(AuditLog).order_by(AuditLog.id)
        if table is not None:
            query = query.where(AuditLog.table_name == table)
        return list(session.scalars(query))


def _report(engine: Engine) -> tuple[int, tuple[str, ...]]:
    with engine.connect() as connection:
        report = verify_chain(connection)
    return report.rows, report.problems


@contextmanager
def _behind_the_systems_back(engine: Engine) -> Iterator[None]:
    """Disable the append-only triggers, as an attacker with database access would."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER audit_log_no_update"))
            connection.execute(text("DROP TRIGGER audit_log_no_delete"))
    yield


@pytest.fixture
def trail(sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial) -> int:
    """The mini trial plus three audited updates: an audit trail of 6 rows."""
    for age in (50, 51, 52):
        with unit_of_work(sessions, "crc1", f"age {age} from source") as session:
            subject = session.get(Subject, mini_trial.subject_id)
            assert subject is not None
            subject.age_years = age
    return 6


def test_insert_logs_one_row_with_every_non_null_field(
    engine: Engine, mini_trial: MiniTrial
) -> None:
    [row] = _log(engine, "subjects")
    assert (row.action, row.username, row.record_id, row.field) == (
        "insert",
        "setup",
        mini_trial.subject_id,
        INSERT_FIELD,
    )
    assert (row.old_value, row.reason) == (None, None)
    assert json.loads(row.new_value or "") == {
        "study_id": str(mini_trial.study_id),
        "site_id": str(mini_trial.site_id),
        "subject_code": "001-001",
        "status": "screening",  # the column default is logged as stored
    }
    assert row.occurred_at.utcoffset() is not None


def test_update_logs_old_and_new_value_with_reason(
    engine: Engine, sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    with unit_of_work(sessions, "crc1", "ECOG transcribed from source") as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        subject.ecog = 1
    with unit_of_work(sessions, "crc2", "transcription error, source says 0") as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        session.expire(subject, ["ecog"])  # the old value must be read from the database
        subject.ecog = 0
        subject.age_years = 64
    updates = [(r.username, r.field, r.old_value, r.new_value, r.reason) for r in _log(engine)]
    assert updates[-3:] == [
        ("crc1", "ecog", None, "1", "ECOG transcribed from source"),
        # fields of one update are logged in column order
        ("crc2", "age_years", None, "64", "transcription error, source says 0"),
        ("crc2", "ecog", "1", "0", "transcription error, source says 0"),
    ]


def test_update_without_reason_is_refused_and_nothing_written(
    engine: Engine, sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    before = len(_log(engine))
    with pytest.raises(ValidationFailed) as caught, unit_of_work(sessions, "crc1") as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        subject.ecog = 2
    assert caught.value.field == "reason"
    assert len(_log(engine)) == before
    with sessions() as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        assert (subject.ecog, subject.version) == (None, 1)


def test_soft_delete_keeps_the_row_and_logs_a_delete(
    engine: Engine, sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    with unit_of_work(sessions, "dm1") as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        with pytest.raises(ValidationFailed):
            soft_delete(session, subject)  # no reason anywhere
        soft_delete(session, subject, "duplicate registration")
    with sessions() as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        assert subject.is_deleted
        assert (subject.deleted_by, subject.deleted_reason) == ("dm1", "duplicate registration")
    deletes = [r for r in _log(engine) if r.action == "delete"]
    assert {r.field for r in deletes} == {"deleted_at", "deleted_by", "deleted_reason"}
    assert {r.reason for r in deletes} == {"duplicate registration"}


def test_hard_delete_is_refused(
    sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    refused = pytest.raises(PermissionDenied, match="never deleted")
    with refused, unit_of_work(sessions, "dm1", "cleanup") as session:
        subject = session.get(Subject, mini_trial.subject_id)
        session.delete(subject)
    with sessions() as session:
        assert session.get(Subject, mini_trial.subject_id) is not None


def test_write_without_audit_context_is_refused(
    sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    with sessions() as session, pytest.raises(PermissionDenied, match="AuditContext"):
        session.add(
            Subject(study_id=mini_trial.study_id, site_id=mini_trial.site_id, subject_code="2")
        )
        session.flush()


def test_password_hash_never_enters_the_audit_trail(
    engine: Engine, sessions: sessionmaker[AuditedSession]
) -> None:
    with unit_of_work(sessions, "admin") as session:
        user = create_user(session, "mon1", "M. Onitor", "correct horse battery", ["monitor"])
        real_hash = user.password_hash
    [row] = _log(engine, "users")
    # only a digest of the hash (so that the data check can compare it), never the hash itself
    assert json.loads(row.new_value or "")["password_hash"] == redacted_digest(real_hash)
    assert all(real_hash not in (r.new_value or "") for r in _log(engine))


def test_chain_links_and_recomputes(engine: Engine, trail: int) -> None:
    rows = _log(engine)
    assert [r.id for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_sha256 == GENESIS_SHA256
    for previous, row in itertools.pairwise(rows):
        assert row.prev_sha256 == previous.row_sha256
    for row in rows:
        columns = {c.key: getattr(row, c.key) for c in AuditLog.__mapper__.column_attrs}
        assert row_mac(columns, load_audit_key(str(engine.url)) or b"") == row.row_sha256
    assert _report(engine) == (len(rows), ())


def test_append_only_trigger_rejects_update_and_delete(engine: Engine, trail: int) -> None:
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET username = 'mallory' WHERE id = 1"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(delete(AuditLog).where(AuditLog.id == 1))
    assert _report(engine)[1] == ()


def test_edit_behind_the_systems_back_is_detected(engine: Engine, trail: int) -> None:
    with _behind_the_systems_back(engine), engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET new_value = '999' WHERE id = 3"))
    problems = _report(engine)[1]
    assert problems == (
        "audit row 3: content does not match its MAC (edited, forged or re-chained without the "
        "key)",
    )
    with engine.connect() as connection, pytest.raises(AuditIntegrityError, match="row 3"):
        verify_chain(connection).raise_if_broken()


def test_edit_with_recomputed_hash_is_detected(engine: Engine, trail: int) -> None:
    rows = _log(engine)
    forged = {c.key: getattr(rows[2], c.key) for c in AuditLog.__mapper__.column_attrs}
    forged["username"] = "mallory"
    new_hash = row_mac(forged, load_audit_key(str(engine.url)) or b"")
    with _behind_the_systems_back(engine), engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_log SET username = 'mallory', row_sha256 = :h WHERE id = 3"),
            {"h": new_hash},
        )
    assert _report(engine)[1] == ("audit row 4: link to the previous row is broken",)


def test_removal_in_the_middle_is_detected(engine: Engine, trail: int) -> None:
    with _behind_the_systems_back(engine), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE id = 2"))
    problems = _report(engine)[1]
    assert "audit row 3: expected id 2 (rows missing)" in problems
    assert "audit row 3: link to the previous row is broken" in problems


def test_removal_at_the_end_is_detected(engine: Engine, trail: int) -> None:
    last = len(_log(engine))
    with _behind_the_systems_back(engine), engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": last})
    problems = _report(engine)[1]
    assert len(problems) == 1
    assert problems[0].startswith(
        f"chain head says last row {last}, the log ends at row {last - 1}"
    )


def test_reordering_is_detected(engine: Engine, trail: int) -> None:
    with _behind_the_systems_back(engine), engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET id = -1 WHERE id = 2"))
        connection.execute(text("UPDATE audit_log SET id = 2 WHERE id = 3"))
        connection.execute(text("UPDATE audit_log SET id = 3 WHERE id = -1"))
    problems = _report(engine)[1]
    assert "audit row 2: link to the previous row is broken" in problems
    assert "audit row 3: link to the previous row is broken" in problems


def test_audit_rows_belong_to_the_same_transaction(
    engine: Engine, sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    before = len(_log(engine))
    with pytest.raises(RuntimeError), unit_of_work(sessions, "crc1", "age") as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        subject.age_years = 70
        session.flush()  # audit rows written ...
        raise RuntimeError("use case failed after the flush")  # ... and rolled back with it
    assert len(_log(engine)) == before
    assert _report(engine) == (before, ())


def test_audit_context_on_a_plain_session(
    engine: Engine, sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    with sessions() as session:
        session.info[AUDIT_CONTEXT_KEY] = AuditContext("crc1", "age from source")
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        subject.age_years = 58
        session.commit()
    assert _log(engine)[-1].new_value == "58"


def test_foreign_key_changed_through_a_relationship_is_audited(
    engine: Engine, sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    with unit_of_work(sessions, "admin") as session:
        second = Site(study_id=mini_trial.study_id, code="S02", name="Second site")
        session.add(second)
        session.flush()
        second_id = second.id
    refused = pytest.raises(ValidationFailed, match="reason")
    with refused, unit_of_work(sessions, "crc1") as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        subject.site = session.get(Site, second_id)  # site_id changes only inside the flush
    with unit_of_work(sessions, "crc1", "transferred to site S02") as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None
        subject.site = session.get(Site, second_id)
    last = _log(engine)[-1]
    assert (last.action, last.table_name, last.record_id, last.field) == (
        "update",
        "subjects",
        mini_trial.subject_id,
        "site_id",
    )
    assert (last.old_value, last.new_value) == (str(mini_trial.site_id), str(second_id))
    assert last.reason == "transferred to site S02"
    assert _report(engine)[1] == ()


@pytest.mark.parametrize(
    "statement",
    [
        update(Subject).values(ecog=3),
        delete(Subject),
        insert(Subject).values(study_id=1, site_id=1, subject_code="X", version=1),
        update(AuditLog).values(reason="x"),
    ],
    ids=["update", "delete", "insert", "audit-update"],
)
def test_bulk_statements_through_the_session_are_refused(
    engine: Engine,
    sessions: sessionmaker[AuditedSession],
    mini_trial: MiniTrial,
    statement: Executable,
) -> None:
    before = [r.row_sha256 for r in _log(engine)]
    refused = pytest.raises(PermissionDenied, match="bypass the audit trail")
    with refused, unit_of_work(sessions, "dm1", "bulk fix") as session:
        session.execute(statement)
    assert [r.row_sha256 for r in _log(engine)] == before
    with sessions() as session:
        subject = session.get(Subject, mini_trial.subject_id)
        assert subject is not None and subject.ecog is None


def test_reason_given_for_an_insert_is_logged(
    engine: Engine, sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    with unit_of_work(sessions, "crc1", "screening log p. 3") as session:
        session.add(
            Subject(study_id=mini_trial.study_id, site_id=mini_trial.site_id, subject_code="002")
        )
    last = _log(engine)[-1]
    assert (last.action, last.field, last.reason) == ("insert", INSERT_FIELD, "screening log p. 3")
