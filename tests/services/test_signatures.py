"""E-signatures: one per signer, meaning and record version; failed passwords lock; manifestation.

Runs on SQLite and PostgreSQL. Expected local times come from the IANA time zone rules, not from
the code under test: Asia/Shanghai is UTC+08:00 all year (China has had no daylight saving time
since 1991); America/New_York is UTC-04:00 in July (EDT) and UTC-05:00 in January (EST).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from service_support import PASSWORD, Trial, build_trial, treat
from sqlalchemy import func, select, text

from cartrial.errors import AuthenticationFailed, ValidationFailed
from cartrial.services import (
    AdjudicateDLT,
    DecideNextDose,
    LockData,
    RecordAE,
    SignaturesOf,
    SignRecord,
    UnlockUser,
    adjudicate_dlt,
    decide_next_dose,
    lock_data,
    record_ae,
    sign_record,
    signatures_of,
    trial_data,
    unlock_user,
)
from cartrial.services.signing import manifestation
from cartrial.store import AccountLock, AuditLog, AuthFailure, Signature

D0 = dt.date(2026, 1, 12)
STUDY = "CLDN18-PDL1-CART-01"


@pytest.fixture
def staffed(migrated_db_url: str) -> Iterator[Trial]:
    trial = build_trial(migrated_db_url)
    yield trial
    trial.engine.dispose()


def _lock(trial: Trial) -> int:
    locked = lock_data(trial.as_("dm"), LockData(name="interim", data_cutoff=D0, password=PASSWORD))
    return locked.lock_id


def test_the_same_record_version_is_signed_once_per_signer_and_meaning(staffed: Trial) -> None:
    lock_id = _lock(staffed)  # signed by dm with meaning "data_lock"
    again = SignRecord(
        record="data_lock", record_id=lock_id, meaning="data_lock", password=PASSWORD
    )
    before = staffed.audit_rows()
    with pytest.raises(ValidationFailed, match="already signed by dm") as info:
        sign_record(staffed.as_("dm"), again)
    assert info.value.field == "record_id"
    assert staffed.audit_rows() == before  # nothing written
    review = sign_record(
        staffed.as_("dm"),
        SignRecord(record="data_lock", record_id=lock_id, meaning="review", password=PASSWORD),
    )
    assert (review.meaning, review.record_version) == ("review", 1)  # another meaning: allowed
    shown = signatures_of(staffed.as_("mon"), SignaturesOf(record="data_lock", record_id=lock_id))
    assert [(s.signer, s.meaning, s.record_version, s.valid) for s in shown] == [
        ("dm", "data_lock", 1, True),
        ("dm", "review", 1, True),
    ]


def test_a_changed_record_is_signed_again_as_a_new_version(staffed: Trial) -> None:
    treat(staffed.as_("coord1"), staffed.as_("inv"), "S01-001", "S01", D0)
    ae = record_ae(
        staffed.as_("coord1"),
        RecordAE(
            subject_id="S01-001",
            term="Fever",
            grade=1,
            onset_at=D0 + dt.timedelta(days=2),
            resolved_at=D0 + dt.timedelta(days=4),
            attribution="probable",
        ),
    )
    request = AdjudicateDLT(subject_id="S01-001", password=PASSWORD)
    first = adjudicate_dlt(staffed.as_("inv"), request)
    assert first.signatures == 2  # the AE and the infusion (the subject-level attestation)
    second = adjudicate_dlt(staffed.as_("inv"), request)  # the AE's adjudication time changed
    assert second.signatures == 1  # the unchanged infusion keeps its signature
    [new] = second.signed
    shown = signatures_of(
        staffed.as_("inv"), SignaturesOf(record="adverse_event", record_id=ae.ae_id)
    )
    assert [(s.record_version, s.valid) for s in shown] == [
        (first.signed[0].record_version, False),  # the content signed first has changed since
        (new.record_version, True),
    ]
    assert new.record_version == first.signed[0].record_version + 1


_SIGNATURE_COPY = (
    "INSERT INTO signatures (user_id, signer, signer_name, meaning, record_table, record_id, "
    "record_version, record_sha256, signed_at, version, created_at, created_by) "
    "SELECT user_id, signer, signer_name, meaning, record_table, record_id, {version}, "
    "record_sha256, signed_at, version, created_at, created_by FROM signatures WHERE id = :id"
)


def test_the_database_refuses_a_second_signature_of_the_same_version(staffed: Trial) -> None:
    """Migration 0007's unique index holds against a writer that bypasses the services."""
    lock_id = _lock(staffed)
    with staffed.factory() as session:
        [signature_id] = session.scalars(
            select(Signature.id).where(
                Signature.record_table == "data_locks", Signature.record_id == lock_id
            )
        ).all()
    with (
        pytest.raises(ValidationFailed, match="signatures"),
        staffed.engine.begin() as connection,
    ):
        connection.execute(
            text(_SIGNATURE_COPY.format(version="record_version")), {"id": signature_id}
        )
    with staffed.engine.begin() as connection:  # the same signer and meaning, a newer version
        connection.execute(
            text(_SIGNATURE_COPY.format(version="record_version + 1")), {"id": signature_id}
        )
    with staffed.factory() as session:
        versions = session.scalars(
            select(Signature.record_version)
            .where(Signature.record_table == "data_locks", Signature.record_id == lock_id)
            .order_by(Signature.record_version)
        ).all()
    assert versions == [1, 2]


def test_failed_signature_passwords_are_recorded_and_lock_the_account(
    staffed: Trial, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARTRIAL_AUTH_MAX_FAILURES", "3")
    lock = LockData(name="interim", data_cutoff=D0, password="not my password")
    for _ in range(2):
        with pytest.raises(AuthenticationFailed, match="wrong password"):
            lock_data(staffed.as_("dm"), lock)
    with pytest.raises(AuthenticationFailed, match="now locked"):
        lock_data(staffed.as_("dm"), lock)
    with staffed.factory() as session:
        failures = session.execute(
            select(AuthFailure.username, AuthFailure.kind, AuthFailure.source)
        ).all()
        locks = session.scalar(select(func.count(AccountLock.id)))
        logged = session.scalar(
            select(func.count(AuditLog.id)).where(AuditLog.table_name == "auth_failures")
        )
    assert failures == [("dm", "signature", "in-process")] * 3
    assert (locks, logged) == (1, 3)
    right = LockData(name="interim", data_cutoff=D0, password=PASSWORD)
    with pytest.raises(AuthenticationFailed, match="locked"):
        lock_data(staffed.as_("dm"), right)  # even with the right password
    unlock_user(staffed.as_("admin"), UnlockUser(username="dm", reason="forgot the new password"))
    assert lock_data(staffed.as_("dm"), right).signature.signer == "dm"


def test_manifestation_names_the_signer_meaning_and_both_times(staffed: Trial) -> None:
    lock = lock_data(staffed.as_("dm"), LockData(name="final", data_cutoff=D0, password=PASSWORD))
    signed = lock.signature
    assert (signed.signer, signed.signer_name, signed.meaning) == ("dm", "Dm", "data_lock")
    assert signed.time_zone == "Asia/Shanghai"  # study.time_zone of the packaged protocol
    assert signed.signed_at.utcoffset() == dt.timedelta(0)
    assert signed.signed_at_local.utcoffset() == dt.timedelta(hours=8)
    assert signed.signed_at_local == signed.signed_at  # the same instant
    utc, local = signed.signed_at, signed.signed_at_local
    assert signed.manifestation == (
        f"Dm (dm), data_lock, {utc:%Y-%m-%d %H:%M:%S} UTC "
        f"({local:%Y-%m-%d %H:%M:%S} Asia/Shanghai, UTC+08:00), record version 1"
    )


@pytest.mark.parametrize(
    ("utc", "zone", "local"),
    [
        ("2026-03-01 08:30:00", "Asia/Shanghai", "2026-03-01 16:30:00 Asia/Shanghai, UTC+08:00"),
        ("2026-03-01 20:00:00", "Asia/Shanghai", "2026-03-02 04:00:00 Asia/Shanghai, UTC+08:00"),
        (
            "2026-07-01 12:00:00",
            "America/New_York",
            "2026-07-01 08:00:00 America/New_York, UTC-04:00",
        ),
        (
            "2026-01-15 03:00:00",
            "America/New_York",
            "2026-01-14 22:00:00 America/New_York, UTC-05:00",
        ),
    ],
)
def test_manifestation_text(utc: str, zone: str, local: str) -> None:
    at = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC)
    assert manifestation("Dr A. Li", "ali", "approval", at, zone, 2) == (
        f"Dr A. Li (ali), approval, {utc} UTC ({local}), record version 2"
    )


def test_the_read_model_carries_the_manifestation(staffed: Trial) -> None:
    for subject in ("S01-001", "S01-002", "S01-003"):
        treat(staffed.as_("coord1"), staffed.as_("inv"), subject, "S01", D0)
    decided = decide_next_dose(
        staffed.as_("dsmc"), DecideNextDose(as_of=D0 + dt.timedelta(days=28))
    )
    signed = sign_record(
        staffed.as_("dsmc"),
        SignRecord(
            record="dose_decision",
            record_id=decided.decision_id,
            meaning="approval",
            password=PASSWORD,
        ),
    )
    data = trial_data(staffed.factory, STUDY, D0 + dt.timedelta(days=30))
    assert list(data.dose_decisions["signed_by"]) == ["dsmc"]
    assert list(data.dose_decisions["signature"]) == [signed.manifestation]
