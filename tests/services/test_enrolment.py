"""Screening, enrolment, dose and infusion: protocol checks; on error nothing is written."""

from __future__ import annotations

import datetime as dt

import pytest
from service_support import Trial, screening, treat

from cartrial.errors import NotFound, PermissionDenied, ValidationFailed
from cartrial.services import (
    AssignDose,
    EnrolSubject,
    Infuse,
    WithdrawSubject,
    assign_dose,
    enrol_subject,
    infuse,
    load_study,
    screen_subject,
    withdraw_subject,
)

D0 = dt.date(2026, 3, 2)


def test_screening_records_each_criterion_with_evidence(trial: Trial) -> None:
    # protocol eligibility.cldn18_ihc: >= 40 % of tumour cells at >= 2+; 39 % fails
    result = screen_subject(trial.as_("coord1"), screening("S01-001", "S01", D0, cldn18_ihc_pct=39))
    assert not result.eligible
    failed = [c for c in result.criteria if not c.met]
    assert [c.criterion for c in failed] == ["cldn18_ihc"]
    assert "39% of tumour cells at >= 2+" in failed[0].evidence
    assert "protocol >= 40% at >= 2+" in failed[0].evidence
    with pytest.raises(ValidationFailed) as info:
        enrol_subject(trial.as_("coord1"), EnrolSubject(subject_id="S01-001", enrolled_date=D0))
    assert info.value.field == "subject_id"


def test_ihc_at_threshold_is_eligible(trial: Trial) -> None:
    result = screen_subject(trial.as_("coord1"), screening("S01-001", "S01", D0, cldn18_ihc_pct=40))
    assert result.eligible


def test_duplicate_subject_names_the_field_and_writes_nothing(trial: Trial) -> None:
    screen_subject(trial.as_("coord1"), screening("S01-001", "S01", D0))
    before = trial.audit_rows()
    with pytest.raises(ValidationFailed) as info:
        screen_subject(trial.as_("coord1"), screening("S01-001", "S01", D0))
    assert info.value.field == "subject_id"
    assert trial.audit_rows() == before


def test_wrong_type_names_the_field(trial: Trial) -> None:
    with pytest.raises(ValidationFailed) as info:
        screening("S01-001", "S01", D0, age="fifty")
    assert info.value.field == "age"


def test_site_staff_cannot_reach_another_site(trial: Trial) -> None:
    with pytest.raises(PermissionDenied):
        screen_subject(trial.as_("coord2"), screening("S01-001", "S01", D0))
    screen_subject(trial.as_("coord1"), screening("S01-001", "S01", D0))
    with pytest.raises(PermissionDenied):
        enrol_subject(trial.as_("coord2"), EnrolSubject(subject_id="S01-001", enrolled_date=D0))
    with pytest.raises(NotFound):
        enrol_subject(trial.as_("coord1"), EnrolSubject(subject_id="S01-999", enrolled_date=D0))


def test_only_the_allowed_dose_can_be_assigned(trial: Trial) -> None:
    screen_subject(trial.as_("coord1"), screening("S01-001", "S01", D0))
    enrol_subject(trial.as_("coord1"), EnrolSubject(subject_id="S01-001", enrolled_date=D0))
    before = trial.audit_rows()
    # no decision yet: the protocol start dose (escalation.start_dose = DL1) only
    with pytest.raises(ValidationFailed, match="allows DL1 only") as info:
        assign_dose(trial.as_("inv"), AssignDose(subject_id="S01-001", dose_level="DL2"))
    assert info.value.field == "dose_level"
    with pytest.raises(ValidationFailed) as info:
        assign_dose(trial.as_("inv"), AssignDose(subject_id="S01-001", dose_level="DL9"))
    assert info.value.field == "dose_level"
    assert trial.audit_rows() == before
    assigned = assign_dose(trial.as_("inv"), AssignDose(subject_id="S01-001", dose_level="DL1"))
    assert (assigned.dose_index, assigned.target_cells) == (1, 2.5e8)


def test_a_full_cohort_waits_for_the_decision(trial: Trial) -> None:
    for i in range(1, 4):
        treat(trial.as_("coord1"), trial.as_("inv"), f"S01-00{i}", "S01", D0)
    screen_subject(trial.as_("coord1"), screening("S01-004", "S01", D0))
    with pytest.raises(ValidationFailed, match="cohort 1 is full"):
        enrol_subject(trial.as_("coord1"), EnrolSubject(subject_id="S01-004", enrolled_date=D0))


def test_infusion_checks(trial: Trial) -> None:
    coord, inv = trial.as_("coord1"), trial.as_("inv")
    treat(coord, inv, "S01-001", "S01", D0)
    before = trial.audit_rows()
    again = Infuse(
        subject_id="S01-001",
        infused_at=dt.datetime(2026, 3, 3, 9, tzinfo=dt.UTC),
        actual_cells=2.5e8,
    )
    with pytest.raises(ValidationFailed, match="already infused") as info:
        infuse(coord, again)
    assert info.value.field == "infused_at"
    assert trial.audit_rows() == before


def test_infusion_before_enrolment_and_dose_outside_tolerance(trial: Trial) -> None:
    coord, inv = trial.as_("coord1"), trial.as_("inv")
    screen_subject(coord, screening("S01-001", "S01", D0 - dt.timedelta(days=30)))
    enrol_subject(coord, EnrolSubject(subject_id="S01-001", enrolled_date=D0))
    assign_dose(inv, AssignDose(subject_id="S01-001", dose_level="DL1"))
    before = trial.audit_rows()
    early = Infuse(
        subject_id="S01-001",
        infused_at=dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC),
        actual_cells=2.5e8,
    )
    with pytest.raises(ValidationFailed, match="before the enrolment date") as info:
        infuse(coord, early)
    assert info.value.field == "infused_at"
    # DL1 target 2.5e8, tolerance_pct 20: 3.1e8 is 124 % of target
    too_many = Infuse(
        subject_id="S01-001",
        infused_at=dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC),
        actual_cells=3.1e8,
    )
    with pytest.raises(ValidationFailed) as info:
        infuse(coord, too_many)
    assert info.value.field == "actual_cells"
    assert trial.audit_rows() == before


def test_naive_infusion_time_is_refused() -> None:
    with pytest.raises(ValidationFailed) as info:
        Infuse(subject_id="S01-001", infused_at=dt.datetime(2026, 3, 1, 9), actual_cells=2.5e8)
    assert info.value.field == "infused_at"


def test_infusion_outside_the_screening_window(trial: Trial) -> None:
    # protocol schedule: Screening visit day -28, window 0 before / 21 after -> days -28..-7
    coord, inv = trial.as_("coord1"), trial.as_("inv")
    screen_subject(coord, screening("S01-001", "S01", D0 - dt.timedelta(days=40)))
    enrol_subject(coord, EnrolSubject(subject_id="S01-001", enrolled_date=D0))
    assign_dose(inv, AssignDose(subject_id="S01-001", dose_level="DL1"))
    before = trial.audit_rows()
    late = Infuse(
        subject_id="S01-001",
        infused_at=dt.datetime(2026, 3, 12, 9, tzinfo=dt.UTC),
        actual_cells=2.5e8,
    )
    with pytest.raises(ValidationFailed, match="day -50 of this infusion") as info:
        infuse(coord, late)
    assert info.value.field == "infused_at"
    assert trial.audit_rows() == before


def test_a_withdrawn_subject_is_replaced_in_the_cohort(trial: Trial) -> None:
    coord, inv = trial.as_("coord1"), trial.as_("inv")
    for i in range(1, 4):
        treat(coord, inv, f"S01-00{i}", "S01", D0)
    withdraw_subject(
        inv,
        WithdrawSubject(
            subject_id="S01-002", withdrawn_date=D0 + dt.timedelta(days=3), reason="consent"
        ),
    )
    screen_subject(coord, screening("S01-004", "S01", D0))
    replacement = enrol_subject(coord, EnrolSubject(subject_id="S01-004", enrolled_date=D0))
    assert replacement.cohort == 1


def test_load_study_returns_the_stored_protocol(trial: Trial) -> None:
    study = load_study(trial.as_("mon"))
    assert (study.study_id, study.phase, study.sites) == (
        "CLDN18-PDL1-CART-01",
        "escalation",
        ("S01", "S02"),
    )
    assert [d.name for d in study.protocol.dose_levels] == ["DL-1", "DL1", "DL2", "DL3"]
    with pytest.raises(PermissionDenied):
        load_study(trial.as_("nobody"))
