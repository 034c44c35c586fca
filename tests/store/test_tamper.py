"""The tamper suite: what an auditor with database access (and without the audit key) can try.

Each case changes the database the way issue 11's table describes (and more), with nothing but
SQL and the standard library: the append-only triggers dropped or disabled, the chain recomputed
with plain SHA-256 where the attacker would, the chain head fixed. Every attempt must be found by
:func:`cartrial.store.integrity.verify_integrity`, and the finding must name what was changed
(kind, table, field). Runs on SQLite and PostgreSQL (the ``engine`` fixture).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import sessionmaker

from cartrial.store import (
    AdverseEvent,
    AuditedSession,
    AuditLog,
    Regulated,
    Subject,
    create_user,
    soft_delete,
    unit_of_work,
)
from cartrial.store.chain import GENESIS_SHA256, row_sha256
from cartrial.store.checkpoints import write_checkpoint
from cartrial.store.integrity import IntegrityReport, verify_integrity
from cartrial.store.keys import load_audit_key


@dataclass(frozen=True)
class Populated:
    """Ids of the records the tampering aims at."""

    subject_id: int
    ae_id: int


@pytest.fixture
def populated(
    every_table: dict[type[Regulated], dict[str, object]], sessions: sessionmaker[AuditedSession]
) -> Populated:
    """One record of every regulated table, two users with passwords, an update, a deletion."""
    with unit_of_work(sessions, "admin") as session:
        create_user(session, "mon1", "M. Onitor", "correct horse battery", ["monitor"])
        create_user(session, "dm1", "D. Manager", "tr0ub4dor and more", ["data_manager"])
    subject_id = int(str(every_table[Subject]["id"]))
    ae_id = int(str(every_table[AdverseEvent]["id"]))
    with unit_of_work(sessions, "crc1", "age corrected from the source document") as session:
        subject = session.get(Subject, subject_id)
        assert subject is not None
        subject.age_years = 62
    with unit_of_work(sessions, "crc1", "duplicate entry") as session:
        session.add(
            AdverseEvent(
                subject_id=subject_id,
                term="Fatigue",
                soc="General disorders and administration site conditions",
                grade=1,
                attribution="unlikely",
                onset_at=subject.created_at,
                serious=False,
            )
        )
        session.flush()
        duplicate = session.scalars(select(AdverseEvent).where(AdverseEvent.term == "Fatigue"))
        soft_delete(session, duplicate.one())
    return Populated(subject_id, ae_id)


def _verify(engine: Engine, **kwargs: object) -> IntegrityReport:
    with engine.connect() as connection:
        return verify_integrity(connection, **kwargs)  # type: ignore[arg-type]


@contextmanager
def _attacker(engine: Engine) -> Iterator[Connection]:
    """A connection with the append-only triggers out of the way, as an attacker would have."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            connection.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        yield connection


def _rechain_with_sha256(connection: Connection) -> None:
    """Recompute the whole chain with plain SHA-256 (no key) and fix the head."""
    table = AuditLog.__table__
    rows = [dict(r._mapping) for r in connection.execute(select(*table.c).order_by(table.c.id))]
    prev = GENESIS_SHA256
    for row in rows:
        row["prev_sha256"] = prev
        prev = row_sha256(row)
        connection.execute(
            text("UPDATE audit_log SET prev_sha256 = :p, row_sha256 = :h WHERE id = :id"),
            {"p": row["prev_sha256"], "h": prev, "id": row["id"]},
        )
    last = rows[-1]["id"] if rows else 0
    connection.execute(
        text("UPDATE audit_chain_head SET last_id = :i, last_sha256 = :h WHERE id = 1"),
        {"i": last, "h": prev},
    )


def _forge_row(connection: Connection, row_id: int) -> None:
    connection.execute(
        text(
            "INSERT INTO audit_log (id, occurred_at, username, action, table_name, record_id, "
            "field, old_value, new_value, reason, prev_sha256, row_sha256) VALUES (:id, "
            ":at, 'mallory', 'update', 'subjects', 1, 'age_years', '62', '40', 'typo', :z, :z)"
        ),
        {"id": row_id, "at": "2026-03-03 10:00:00", "z": GENESIS_SHA256},
    )


def _last_id(connection: Connection) -> int:
    return int(connection.scalar(text("SELECT max(id) FROM audit_log")) or 0)


# --------------------------------------------------------------------------- the attempts


def data_edited(c: Connection, p: Populated) -> None:
    """Issue 11 row 1: a lab value edited, the trail untouched."""
    c.execute(text("UPDATE lab_results SET value = 0.1"))


def username_changed_chain_recomputed(c: Connection, p: Populated) -> None:
    """Row 2: an audit row's user changed, the chain recomputed with plain SHA-256."""
    c.execute(text("UPDATE audit_log SET username = 'mallory' WHERE id = 3"))
    _rechain_with_sha256(c)


def tail_truncated(c: Connection, p: Populated) -> None:
    """Row 3: the last audit row deleted, the head reset."""
    last = _last_id(c)
    c.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": last})
    previous = c.execute(
        text("SELECT id, row_sha256 FROM audit_log WHERE id = :i"), {"i": last - 1}
    ).one()
    c.execute(
        text("UPDATE audit_chain_head SET last_id = :i, last_sha256 = :h WHERE id = 1"),
        {"i": previous.id, "h": previous.row_sha256},
    )


def lock_and_signature_deleted(c: Connection, p: Populated) -> None:
    """Row 4: the data lock, its signature and their audit rows deleted, the chain fixed."""
    c.execute(text("DELETE FROM data_locks"))
    c.execute(text("DELETE FROM signatures"))
    c.execute(text("DELETE FROM audit_log WHERE table_name IN ('data_locks', 'signatures')"))
    ids = [int(i) for i in c.scalars(text("SELECT id FROM audit_log ORDER BY id"))]
    for new_id, old_id in enumerate(ids, start=1):
        c.execute(text("UPDATE audit_log SET id = :n WHERE id = :o"), {"n": new_id, "o": old_id})
    _rechain_with_sha256(c)


def forged_row_at_end(c: Connection, p: Populated) -> None:
    """Row 5: a forged audit row appended, the chain recomputed."""
    _forge_row(c, _last_id(c) + 1)
    _rechain_with_sha256(c)


def forged_row_in_middle(c: Connection, p: Populated) -> None:
    """Row 5: a forged audit row inserted in the middle (later ids shifted), chain recomputed."""
    c.execute(text("UPDATE audit_log SET id = id + 1000000 WHERE id >= 5"))
    c.execute(text("UPDATE audit_log SET id = id - 1000000 + 1 WHERE id > 1000000"))
    _forge_row(c, 5)
    _rechain_with_sha256(c)


def role_changed(c: Connection, p: Populated) -> None:
    """Row 6: a user's role changed (a CRC made administrator)."""
    c.execute(text("UPDATE role_assignments SET role = 'admin' WHERE id = 1"))


def role_inserted(c: Connection, p: Populated) -> None:
    """Row 6: a role inserted behind the trail's back."""
    c.execute(
        text(
            "INSERT INTO role_assignments (id, user_id, role, site_id, version, created_at, "
            "created_by) VALUES (99, 1, 'admin', NULL, 1, '2026-03-03 10:00:00', 'admin')"
        )
    )


def site_inserted(c: Connection, p: Populated) -> None:
    """Row 6: a site added by the new administrator, without the trail."""
    c.execute(
        text(
            "INSERT INTO sites (id, study_id, code, name, version, created_at, created_by) "
            "VALUES (99, 1, 'S99', 'Nowhere', 1, '2026-03-03 10:00:00', 'mallory')"
        )
    )


def ae_hard_deleted(c: Connection, p: Populated) -> None:
    """Row 7: an adverse event hard-deleted (its grade history with it)."""
    c.execute(text("DELETE FROM ae_grade_changes WHERE adverse_event_id = :i"), {"i": p.ae_id})
    c.execute(text("DELETE FROM data_queries WHERE record_id = :i"), {"i": p.ae_id})
    c.execute(text("DELETE FROM adverse_events WHERE id = :i"), {"i": p.ae_id})


def password_hashes_swapped(c: Connection, p: Populated) -> None:
    """Row 7: two users' password hashes swapped."""
    rows = c.execute(text("SELECT id, password_hash FROM users ORDER BY id")).all()
    first, second = rows[-2], rows[-1]
    for row, other in ((first, second), (second, first)):
        c.execute(
            text("UPDATE users SET password_hash = :h WHERE id = :i"),
            {"h": other.password_hash, "i": row.id},
        )


def lock_released(c: Connection, p: Populated) -> None:
    """Row 7: ``data_locks.released_at`` set."""
    c.execute(text("UPDATE data_locks SET released_at = created_at, released_by = 'mallory'"))


def audit_log_emptied(c: Connection, p: Populated) -> None:
    """Row 8: DELETE FROM audit_log and the head reset."""
    c.execute(text("DELETE FROM audit_log"))
    c.execute(
        text("UPDATE audit_chain_head SET last_id = 0, last_sha256 = :z WHERE id = 1"),
        {"z": GENESIS_SHA256},
    )


def data_and_trail_edited_rechained(c: Connection, p: Populated) -> None:
    """A grade edited in the data AND in its audit row, the chain recomputed: both agree."""
    c.execute(text("UPDATE adverse_events SET grade = 2 WHERE id = :i"), {"i": p.ae_id})
    rows = c.execute(
        text(
            "SELECT id, new_value FROM audit_log "
            "WHERE table_name = 'adverse_events' AND field = '*'"
        )
    ).all()
    for row in rows:
        c.execute(
            text("UPDATE audit_log SET new_value = :v WHERE id = :i"),
            {"v": row.new_value.replace('"grade":"3"', '"grade":"2"'), "i": row.id},
        )
    _rechain_with_sha256(c)


def trail_value_edited(c: Connection, p: Populated) -> None:
    """An audit row's old value edited, nothing recomputed."""
    c.execute(text("UPDATE audit_log SET old_value = '18' WHERE field = 'age_years'"))


def soft_deletion_undone(c: Connection, p: Populated) -> None:
    """A soft-deleted adverse event brought back (``deleted_at`` cleared)."""
    c.execute(
        text(
            "UPDATE adverse_events SET deleted_at = NULL, deleted_by = NULL, deleted_reason = NULL"
        )
    )


def author_changed(c: Connection, p: Populated) -> None:
    """A record's author (``created_by``) changed."""
    c.execute(text("UPDATE subjects SET created_by = 'mallory'"))


def signature_hash_changed(c: Connection, p: Populated) -> None:
    """A signature re-pointed at another content (its record hash changed)."""
    c.execute(text("UPDATE signatures SET record_sha256 = :h"), {"h": "d" * 64})


def protocol_changed(c: Connection, p: Populated) -> None:
    """The study's protocol text replaced."""
    c.execute(text("UPDATE studies SET protocol_yaml = 'study_id: OTHER'"))


def decision_changed(c: Connection, p: Populated) -> None:
    """A signed dose decision's action changed."""
    c.execute(text("UPDATE dose_decisions SET action = 'stay'"))


def audit_rows_swapped(c: Connection, p: Populated) -> None:
    """Two audit rows' contents swapped (reordering), links kept."""
    first, second = c.execute(
        text("SELECT id, table_name, record_id, new_value FROM audit_log WHERE id IN (1, 2)")
    ).all()
    for row, other in ((first, second), (second, first)):
        c.execute(
            text(
                "UPDATE audit_log SET table_name = :t, record_id = :r, new_value = :v WHERE id = :i"
            ),
            {"t": other.table_name, "r": other.record_id, "v": other.new_value, "i": row.id},
        )


def head_key_replaced(c: Connection, p: Populated) -> None:
    """The chain re-keyed by the attacker's own key: the head's key id no longer matches."""
    c.execute(text("UPDATE audit_chain_head SET key_id = '0123456789abcdef'"))


def subject_hard_deleted(c: Connection, p: Populated) -> None:
    """A subject's whole record removed with every dependent row (foreign keys deferred)."""
    for table in (
        "eligibility_criteria",
        "eligibility_assessments",
        "enrolments",
        "dose_assignments",
        "lymphodepletions",
        "infusions",
        "ae_grade_changes",
        "lab_results",
        "crs_icans_observations",
        "lesion_measurements",
        "tumour_lesions",
        "timepoint_responses",
        "survival_followups",
        "subsequent_therapies",
        "kinetics_samples",
        "ada_results",
        "phenotype_values",
        "phenotype_panels",
        "data_queries",
        "adverse_events",
        "subjects",
    ):
        c.execute(text(f"DELETE FROM {table}"))


#: (attempt, expected finding: kind, table or None, field or None)
CASES: list[tuple[Callable[[Connection, Populated], None], str, str | None, str | None]] = [
    (data_edited, "edited", "lab_results", "value"),
    (username_changed_chain_recomputed, "chain", None, None),
    (tail_truncated, "edited", "adverse_events", "deleted_reason"),
    (lock_and_signature_deleted, "chain", None, None),
    (forged_row_at_end, "chain", None, None),
    (forged_row_in_middle, "chain", None, None),
    (role_changed, "edited", "role_assignments", "role"),
    (role_inserted, "not-in-trail", "role_assignments", None),
    (site_inserted, "not-in-trail", "sites", None),
    (ae_hard_deleted, "missing", "adverse_events", None),
    (password_hashes_swapped, "edited", "users", "password_hash"),
    (lock_released, "edited", "data_locks", "released_at"),
    (audit_log_emptied, "not-in-trail", "studies", None),
    (data_and_trail_edited_rechained, "chain", None, None),
    (trail_value_edited, "chain", None, None),
    (soft_deletion_undone, "edited", "adverse_events", "deleted_at"),
    (author_changed, "edited", "subjects", "created_by"),
    (signature_hash_changed, "edited", "signatures", "record_sha256"),
    (protocol_changed, "edited", "studies", "protocol_yaml"),
    (decision_changed, "edited", "dose_decisions", "action"),
    (audit_rows_swapped, "chain", None, None),
    (head_key_replaced, "chain", None, None),
    (subject_hard_deleted, "missing", "subjects", None),
]


def test_the_untouched_database_verifies(engine: Engine, populated: Populated) -> None:
    report = _verify(engine)
    assert report.ok, [str(f) for f in report.findings]
    assert report.authenticated and report.records > 30 and report.audit_rows > 30


@pytest.mark.parametrize(
    ("attempt", "kind", "table", "field"), CASES, ids=[case[0].__name__ for case in CASES]
)
def test_tampering_is_detected_and_named(
    engine: Engine,
    populated: Populated,
    attempt: Callable[[Connection, Populated], None],
    kind: str,
    table: str | None,
    field: str | None,
) -> None:
    with _attacker(engine) as connection:
        attempt(connection, populated)
    report = _verify(engine)
    assert not report.ok
    named = [
        f
        for f in report.findings
        if f.kind == kind
        and (table is None or f.table == table)
        and (field is None or f.field == field)
    ]
    assert named, [str(f) for f in report.findings]


def test_a_short_trail_fails_even_with_a_consistent_chain(
    engine: Engine, populated: Populated
) -> None:
    """The trail cut to its first rows and re-chained: the rows it no longer covers are named."""
    with _attacker(engine) as connection:
        connection.execute(text("DELETE FROM audit_log WHERE id > 3"))
        _rechain_with_sha256(connection)
    report = verify_integrity_without_key(engine)
    assert not report.authenticated
    assert not any(f.kind == "chain" for f in report.findings)  # links consistent without a key
    assert {"not-in-trail"} <= report.kinds()


def verify_integrity_without_key(engine: Engine, **kwargs: object) -> IntegrityReport:
    return _verify(engine, key=None, **kwargs)


def test_without_the_key_data_is_still_checked(engine: Engine, populated: Populated) -> None:
    with _attacker(engine) as connection:
        data_edited(connection, populated)
    report = verify_integrity_without_key(engine)
    assert not report.authenticated
    assert [(f.kind, f.table, f.field) for f in report.findings] == [
        ("edited", "lab_results", "value")
    ]
    finding = report.findings[0]
    assert (finding.expected, finding.found) == ("0.4", "0.1")
    assert "lab_results" in str(finding) and "'0.4'" in str(finding)


def test_checkpoints_catch_rewriting_and_truncation_without_the_key(
    engine: Engine, populated: Populated, tmp_path: Path
) -> None:
    """A trail cut and consistently re-chained passes a key-less chain check; checkpoints don't."""
    key = load_audit_key(str(engine.url.render_as_string(hide_password=False)))
    with engine.connect() as connection:
        write_checkpoint(connection, tmp_path, key)
    with _attacker(engine) as connection:
        username_changed_chain_recomputed(connection, populated)
    report = verify_integrity_without_key(engine, checkpoints=tmp_path)
    assert any("rewritten before this checkpoint" in f.message for f in report.findings)
    with _attacker(engine) as connection:
        tail_truncated(connection, populated)
    report = verify_integrity_without_key(engine, checkpoints=tmp_path)
    assert any("truncation" in f.message for f in report.findings), report.findings


def test_a_forged_checkpoint_is_refused(
    engine: Engine, populated: Populated, tmp_path: Path
) -> None:
    key = load_audit_key(str(engine.url.render_as_string(hide_password=False)))
    with engine.connect() as connection:
        path = write_checkpoint(connection, tmp_path, key)
    path.write_text(path.read_text().replace('"sequence": ', '"sequence": 1'))
    report = _verify(engine, checkpoints=tmp_path)
    assert [f.kind for f in report.findings] == ["checkpoint"]
    assert "forged" in report.findings[0].message
