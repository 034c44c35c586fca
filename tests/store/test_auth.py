"""Users, roles (argon2 password hashes) and electronic signatures bound to record content."""

from __future__ import annotations

import importlib.util

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from cartrial.errors import NotFound, ValidationFailed
from cartrial.store import (
    AuditedSession,
    AuditLog,
    DoseDecision,
    Signature,
    User,
    auth,
    soft_delete,
    unit_of_work,
)
from cartrial.store.auth import (
    add_signature,
    assign_role,
    create_user,
    has_role,
    record_sha256,
    signature_is_valid,
    signatures_for,
    verify_password,
)

from .conftest import T0, MiniTrial

PASSWORD = "Tr1al-secret-pass"


@pytest.fixture
def investigator(sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial) -> int:
    with unit_of_work(sessions, "admin") as session:
        user = create_user(
            session,
            "inv1",
            "Dr A. Investigator",
            PASSWORD,
            [("investigator", mini_trial.site_id), "safety_committee"],
        )
        return user.id


@pytest.fixture
def decision_id(sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial) -> int:
    with unit_of_work(sessions, "stat1") as session:
        decision = DoseDecision(
            study_id=mini_trial.study_id,
            cohort=1,
            dose_level="DL1",
            dose_index=1,
            n_treated=3,
            n_dlt=0,
            design="3+3",
            recommended_action="escalate",
            recommended_next_dose_index=2,
            recommendation_reason="0/3 DLT: escalate (3+3)",
            action="escalate",
            next_dose_index=2,
            next_dose_level="DL2",
            decided_at=T0,
            data_cutoff_date=T0.date(),
        )
        session.add(decision)
        session.flush()
        return decision.id


def test_password_is_stored_as_argon2id_hash(
    sessions: sessionmaker[AuditedSession], investigator: int
) -> None:
    with sessions() as session:
        user = session.get(User, investigator)
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert PasswordHasher().verify(user.password_hash, PASSWORD)
        # the PHC string carries the parameters of the profile in use
        profile = auth.PASSWORD_PROFILE
        assert f"m={profile.memory_cost},t={profile.time_cost}" in user.password_hash


def test_production_profile_is_rfc_9106_low_memory() -> None:
    # RFC 9106 section 4, second recommended option: argon2id, t=3, m=2^16 KiB, p=4.
    # Load a private copy of the module: the shared one is patched for speed in tests.
    spec = importlib.util.spec_from_file_location("_auth_copy", auth.__file__)
    assert spec is not None and spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    profile = fresh.PASSWORD_PROFILE
    assert profile.type is Type.ID
    assert (profile.time_cost, profile.memory_cost, profile.parallelism) == (3, 65536, 4)


def test_verify_password(sessions: sessionmaker[AuditedSession], investigator: int) -> None:
    with sessions() as session:
        user = session.get(User, investigator)
        assert user is not None
        assert verify_password(user.password_hash, PASSWORD)
        assert not verify_password(user.password_hash, PASSWORD + "x")
        assert not verify_password("not an argon2 hash", PASSWORD)


def _user(session: AuditedSession, user_id: int) -> User:
    user = session.get(User, user_id)
    assert user is not None
    return user


def test_create_user_refuses_bad_input(
    sessions: sessionmaker[AuditedSession], investigator: int
) -> None:
    cases = [
        (("inv1", "Someone", PASSWORD, ()), "username"),
        (("", "Someone", PASSWORD, ()), "username"),
        (("inv2", "Someone", "short", ()), "password"),
        (("inv2", "Someone", PASSWORD, ("surgeon",)), "role"),
    ]
    for (username, name, password, roles), field in cases:
        with pytest.raises(ValidationFailed) as caught, unit_of_work(sessions, "admin") as session:
            create_user(session, username, name, password, roles)
        assert caught.value.field == field
    with sessions() as session:
        assert session.scalars(select(User.username)).all() == ["inv1"]


def test_roles_are_site_scoped(
    sessions: sessionmaker[AuditedSession], investigator: int, mini_trial: MiniTrial
) -> None:
    other_site = mini_trial.site_id + 1000
    with sessions() as session:
        user = session.get(User, investigator)
        assert user is not None
        assert has_role(session, user, "investigator", mini_trial.site_id)
        assert not has_role(session, user, "investigator", other_site)
        assert has_role(session, user, "safety_committee", other_site)  # study-wide
        assert not has_role(session, user, "monitor")
    with unit_of_work(sessions, "admin", "monitoring duties") as session:
        user = session.get(User, investigator)
        assert user is not None
        assignment = assign_role(session, user, "monitor")
        assert has_role(session, user, "monitor", other_site)
        soft_delete(session, assignment, "assigned by mistake")
        assert not has_role(session, user, "monitor")


def test_sign_binds_signer_meaning_time_and_content(
    engine: Engine,
    sessions: sessionmaker[AuditedSession],
    investigator: int,
    decision_id: int,
) -> None:
    with unit_of_work(sessions, "inv1") as session:
        decision = session.get(DoseDecision, decision_id)
        assert decision is not None
        signature = add_signature(session, _user(session, investigator), "approval", decision)
        content_hash = record_sha256(decision)
    assert (signature.signer, signature.signer_name, signature.meaning) == (
        "inv1",
        "Dr A. Investigator",
        "approval",
    )
    assert (signature.record_table, signature.record_id, signature.record_version) == (
        "dose_decisions",
        decision_id,
        1,
    )
    assert signature.record_sha256 == content_hash
    assert signature.signed_at.utcoffset() is not None
    with sessions() as session:
        decision = session.get(DoseDecision, decision_id)
        assert decision is not None
        [stored] = signatures_for(session, decision)
        assert signature_is_valid(session, stored)
    with engine.connect() as connection:
        logged = connection.scalars(
            select(AuditLog.table_name).where(AuditLog.table_name == "signatures")
        ).all()
    assert logged  # the signature itself is in the audit trail


def test_signature_no_longer_valid_after_the_record_changes(
    sessions: sessionmaker[AuditedSession], investigator: int, decision_id: int
) -> None:
    with unit_of_work(sessions, "inv1") as session:
        decision = session.get(DoseDecision, decision_id)
        assert decision is not None
        add_signature(session, _user(session, investigator), "approval", decision)
    with unit_of_work(sessions, "stat1", "committee chose to stay") as session:
        decision = session.get(DoseDecision, decision_id)
        assert decision is not None
        decision.action = "stay"
    with sessions() as session:
        [stored] = session.scalars(select(Signature)).all()
        assert not signature_is_valid(session, stored)


def test_add_signature_refuses_empty_meaning_and_deleted_record(
    sessions: sessionmaker[AuditedSession], investigator: int, decision_id: int
) -> None:
    with pytest.raises(ValidationFailed), unit_of_work(sessions, "inv1") as session:
        decision = session.get(DoseDecision, decision_id)
        assert decision is not None
        add_signature(session, _user(session, investigator), "  ", decision)
    with pytest.raises(ValidationFailed), unit_of_work(sessions, "inv1", "typo") as session:
        decision = session.get(DoseDecision, decision_id)
        assert decision is not None
        soft_delete(session, decision)
        add_signature(session, _user(session, investigator), "approval", decision)
    with sessions() as session:
        assert session.scalars(select(Signature)).all() == []


def test_signature_of_a_vanished_record(
    sessions: sessionmaker[AuditedSession], investigator: int
) -> None:
    with sessions() as session:
        orphan = Signature(
            user_id=investigator,
            signer="inv1",
            signer_name="x",
            meaning="approval",
            record_table="dose_decisions",
            record_id=424242,
            record_version=1,
            record_sha256="0" * 64,
            signed_at=T0,
        )
        with pytest.raises(NotFound):
            signature_is_valid(session, orphan)
