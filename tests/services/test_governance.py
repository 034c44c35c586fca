"""Dose decisions, signatures, expansion, DLT overrides, queries and re-derivation.

3+3 expectations (Storer 1989; phase1-designs reference): 0/3 DLTs at the current dose ->
escalate; the packaged protocol starts at DL1 (index 1) with a 28-day DLT window.
"""

from __future__ import annotations

import datetime as dt

import pytest
from service_support import PASSWORD, Trial, treat
from sqlalchemy import text

from cartrial.errors import AuthenticationFailed, Conflict, PermissionDenied, ValidationFailed
from cartrial.services import (
    AdjudicateDLT,
    AnswerQuery,
    CloseQuery,
    DecideNextDose,
    DLTOverride,
    OpenExpansion,
    RaiseQuery,
    RecordAE,
    RecordLab,
    RederiveStudy,
    SignRecord,
    adjudicate_dlt,
    answer_query,
    close_query,
    decide_next_dose,
    open_expansion,
    raise_query,
    record_ae,
    record_lab,
    rederive_study,
    sign_record,
)

D0 = dt.date(2026, 1, 12)
COHORT = ("S01-001", "S01-002", "S01-003")


@pytest.fixture
def cohort(trial: Trial) -> Trial:
    for subject in COHORT:
        treat(trial.as_("coord1"), trial.as_("inv"), subject, "S01", D0)
    return trial


def test_no_decision_while_a_dlt_window_is_open(cohort: Trial) -> None:
    before = cohort.audit_rows()
    with pytest.raises(ValidationFailed, match="window ends 2026-02-09") as info:
        decide_next_dose(cohort.as_("dsmc"), DecideNextDose(as_of=D0 + dt.timedelta(days=27)))
    assert info.value.field == "as_of"
    assert cohort.audit_rows() == before


def test_decision_overrides_never_go_above_the_design(cohort: Trial) -> None:
    dsmc = cohort.as_("dsmc")
    closed = D0 + dt.timedelta(days=28)
    with pytest.raises(ValidationFailed) as info:
        decide_next_dose(dsmc, DecideNextDose(as_of=closed, next_dose_level="DL3", rationale="x"))
    assert info.value.field == "next_dose_level"
    with pytest.raises(ValidationFailed) as info:
        decide_next_dose(dsmc, DecideNextDose(as_of=closed, next_dose_level="DL1"))
    assert info.value.field == "rationale"
    cautious = decide_next_dose(
        dsmc,
        DecideNextDose(
            as_of=closed, action="stay", next_dose_level="DL1", rationale="grade 2 CRS in all"
        ),
    )
    assert (cautious.recommended_action, cautious.recommended_next_dose_level) == (
        "escalate",
        "DL2",
    )
    assert (cautious.action, cautious.next_dose_level) == ("stay", "DL1")


def test_signature_needs_the_password_and_the_role(cohort: Trial) -> None:
    decided = decide_next_dose(cohort.as_("dsmc"), DecideNextDose(as_of=D0 + dt.timedelta(28)))
    wrong = SignRecord(
        record="dose_decision", record_id=decided.decision_id, meaning="approval", password="nope"
    )
    with pytest.raises(AuthenticationFailed, match="wrong password"):
        sign_record(cohort.as_("dsmc"), wrong)  # refused, and the failure recorded
    before = cohort.audit_rows()
    right = SignRecord(
        record="dose_decision",
        record_id=decided.decision_id,
        meaning="approval",
        password=PASSWORD,
    )
    with pytest.raises(PermissionDenied):
        sign_record(cohort.as_("coord1"), right)
    assert cohort.audit_rows() == before
    signed = sign_record(cohort.as_("dsmc"), right)
    assert (signed.signer, signed.meaning) == ("dsmc", "approval")
    # the expansion opens at a signed RP2D only, after the end of escalation
    with pytest.raises(ValidationFailed, match="RP2D has not been decided"):
        open_expansion(
            cohort.as_("inv"),
            OpenExpansion(dose_level="DL2", rationale="x", password=PASSWORD, as_of=D0),
        )


def test_dlt_override_is_signed_and_survives_rederivation(cohort: Trial) -> None:
    # protocol criterion gastric_mucosal_injury: grade >= 3 gastritis, at least possibly related
    gastritis = record_ae(
        cohort.as_("coord1"),
        RecordAE(
            subject_id="S01-001",
            term="Gastritis",
            grade=3,
            onset_at=D0 + dt.timedelta(days=5),
            resolved_at=D0 + dt.timedelta(days=9),
            attribution="possible",
        ),
    )
    assert gastritis.is_dlt
    overridden = adjudicate_dlt(
        cohort.as_("inv"),
        AdjudicateDLT(
            subject_id="S01-001",
            password=PASSWORD,
            overrides=(
                DLTOverride(
                    ae_id=gastritis.ae_id, is_dlt=False, reason="endoscopy: H. pylori ulcer"
                ),
            ),
        ),
    )
    assert not overridden.is_dlt
    assert overridden.events[0].rule_id == "investigator_override"
    assert overridden.signatures == 2  # the AE and the infusion record
    result = rederive_study(cohort.as_("dm"), RederiveStudy(reason="check"))
    assert result.adverse_events_changed == 0
    decided = decide_next_dose(cohort.as_("dsmc"), DecideNextDose(as_of=D0 + dt.timedelta(28)))
    assert decided.dlt_per_dose == (0, 0, 0, 0)


def test_query_life_cycle(cohort: Trial) -> None:
    raised = raise_query(
        cohort.as_("mon"), RaiseQuery(subject_id="S01-002", question="Source for ECOG?")
    )
    with pytest.raises(PermissionDenied):
        answer_query(
            cohort.as_("coord2"),
            AnswerQuery(query_id=raised.query_id, answer="x", expected_version=raised.version),
        )
    with pytest.raises(ValidationFailed):
        close_query(cohort.as_("mon"), CloseQuery(query_id=raised.query_id, expected_version=1))
    answered = answer_query(
        cohort.as_("coord1"),
        AnswerQuery(query_id=raised.query_id, answer="clinic note", expected_version=1),
    )
    with pytest.raises(Conflict):
        close_query(cohort.as_("mon"), CloseQuery(query_id=raised.query_id, expected_version=1))
    closed = close_query(
        cohort.as_("mon"),
        CloseQuery(query_id=raised.query_id, expected_version=answered.version),
    )
    assert closed.status == "closed"


def test_rederive_repairs_a_derived_value_changed_behind_the_back(cohort: Trial) -> None:
    lab = record_lab(
        cohort.as_("coord1"),
        RecordLab(
            subject_id="S01-001",
            collected_at=D0 + dt.timedelta(days=2),
            lbtestcd="PLAT",
            value=20.0,
            unit="10^9/L",
            lln=150.0,
            uln=400.0,
        ),
    )
    assert lab.grade == 4  # CTCAE v5.0 platelets < 25 x 10^9/L
    with cohort.engine.begin() as connection:
        connection.execute(
            text("UPDATE lab_results SET grade = 1 WHERE id = :i"), {"i": lab.lab_id}
        )
    result = rederive_study(cohort.as_("dm"), RederiveStudy(reason="rule table audit"))
    assert (result.labs_checked, result.labs_changed) == (1, 1)
    again = rederive_study(cohort.as_("dm"), RederiveStudy(reason="second pass"))
    assert again.labs_changed == 0
    with cohort.engine.connect() as connection:
        reasons = connection.execute(
            text(
                "SELECT reason, old_value, new_value FROM audit_log "
                "WHERE table_name = 'lab_results' AND field = 'grade' AND action = 'update'"
            )
        ).all()
    assert reasons == [("re-derivation: rule table audit", "1", "4")]
    with pytest.raises(PermissionDenied):
        rederive_study(cohort.as_("coord1"), RederiveStudy(reason="not mine"))
