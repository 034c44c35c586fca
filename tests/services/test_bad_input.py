"""Every bad-input case of the issue names the field and writes nothing (audit log unchanged).

CTCAE facts used (ctcae-5.0 reference §1 and the package catalogue): "Lymphocyte count increased"
has grades 2 and 3 only; "Nausea" has no grade 4.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from service_support import Trial, treat

from cartrial.errors import Conflict, NotFound, ValidationFailed
from cartrial.services import (
    RecordAE,
    RecordCrsIcansDay,
    RecordGradeChange,
    RecordLab,
    RederiveStudy,
    record_ae,
    record_aes,
    record_crs_icans_day,
    record_grade_change,
    record_lab,
    rederive_study,
)

D0 = dt.date(2026, 3, 2)


def ae(**changes: object) -> RecordAE:
    values: dict[str, object] = {
        "subject_id": "S01-001",
        "term": "Nausea",
        "grade": 2,
        "onset_at": dt.datetime(2026, 3, 4, 8, tzinfo=dt.UTC),
        "attribution": "possible",
    }
    return RecordAE(**{**values, **changes})


@pytest.fixture
def infused(trial: Trial) -> Trial:
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", D0)
    return trial


def refused(trial: Trial, field: str, action: Callable[[], object]) -> ValidationFailed:
    before = trial.audit_rows()
    with pytest.raises(ValidationFailed) as info:
        action()
    assert info.value.field == field
    assert trial.audit_rows() == before
    return info.value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("grade", "three"),
        ("grade", 2.5),
        ("onset_at", "yesterday"),
        ("onset_at", dt.datetime(2026, 3, 4, 8)),  # naive: no time zone
        ("attribution", "maybe"),
        ("serious", "sometimes"),
        ("subject_id", "Jane Doe"),  # pseudonymous codes only
    ],
)
def test_wrong_types_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationFailed) as info:
        ae(**{field: value})
    assert info.value.field == field


def test_unknown_ctcae_term(infused: Trial) -> None:
    error = refused(
        infused, "term", lambda: record_ae(infused.as_("coord1"), ae(term="Tummy ache"))
    )
    assert "unknown CTCAE" in str(error)


def test_grade_the_term_does_not_have(infused: Trial) -> None:
    coord = infused.as_("coord1")
    refused(infused, "grade", lambda: record_ae(coord, ae(term="Nausea", grade=4)))
    refused(
        infused, "grade", lambda: record_ae(coord, ae(term="Lymphocyte count increased", grade=1))
    )


def test_ae_resolved_before_onset(infused: Trial) -> None:
    early = dt.datetime(2026, 3, 3, 8, tzinfo=dt.UTC)
    error = refused(
        infused, "resolved_at", lambda: record_ae(infused.as_("coord1"), ae(resolved_at=early))
    )
    assert "before the onset" in str(error)


def test_ae_before_enrolment(infused: Trial) -> None:
    # treat() enrols 10 days before infusion
    before_enrolment = dt.date(2026, 2, 1)
    refused(
        infused,
        "onset_at",
        lambda: record_ae(infused.as_("coord1"), ae(onset_at=before_enrolment)),
    )


def test_fatal_outcome_needs_grade_five(infused: Trial) -> None:
    refused(infused, "outcome", lambda: record_ae(infused.as_("coord1"), ae(outcome="fatal")))


def test_grade_change_out_of_order_and_stale(infused: Trial) -> None:
    coord = infused.as_("coord1")
    recorded = record_ae(coord, ae())
    assert recorded.version == 1
    earlier = RecordGradeChange(
        ae_id=recorded.ae_id, grade=1, changed_at=dt.date(2026, 3, 3), expected_version=1
    )
    refused(infused, "changed_at", lambda: record_grade_change(coord, earlier))
    later = dt.datetime(2026, 3, 6, 8, tzinfo=dt.UTC)
    worse = RecordGradeChange(ae_id=recorded.ae_id, grade=3, changed_at=later, expected_version=1)
    changed = record_grade_change(coord, worse)
    assert (changed.worst_grade, changed.version) == (3, 2)
    before = infused.audit_rows()
    with pytest.raises(Conflict) as info:  # the form still holds version 1
        record_grade_change(coord, worse)
    assert (info.value.expected_version, info.value.actual_version) == (1, 2)
    assert infused.audit_rows() == before


def test_lab_with_unknown_unit(infused: Trial) -> None:
    lab = RecordLab(
        subject_id="S01-001",
        collected_at=dt.date(2026, 3, 3),
        lbtestcd="NEUT",
        value=0.4,
        unit="bananas",
        lln=1.8,
    )
    refused(infused, "unit", lambda: record_lab(infused.as_("coord1"), lab))


def test_crs_day_before_infusion(infused: Trial) -> None:
    day = RecordCrsIcansDay(
        subject_id="S01-001",
        observed_date=D0 - dt.timedelta(days=1),
        temperature_c=38.5,
        ice_orientation=4,
        ice_naming=3,
        ice_commands=1,
        ice_writing=1,
        ice_attention=1,
    )
    refused(infused, "observed_date", lambda: record_crs_icans_day(infused.as_("coord1"), day))


def test_crs_day_without_ice_in_an_awake_subject(infused: Trial) -> None:
    day = RecordCrsIcansDay(subject_id="S01-001", observed_date=D0, temperature_c=38.5)
    refused(infused, "ice_orientation", lambda: record_crs_icans_day(infused.as_("coord1"), day))


def test_a_bad_item_rejects_the_whole_batch(infused: Trial) -> None:
    coord = infused.as_("coord1")
    refused(infused, "aes.1.grade", lambda: record_aes(coord, [ae(), ae(grade=4), ae()]))
    with pytest.raises(NotFound):
        record_aes(coord, [ae(subject_id="S01-404")])
    later = dt.datetime(2026, 3, 5, 8, tzinfo=dt.UTC)  # same term and onset: a duplicate
    assert [r.grade for r in record_aes(coord, [ae(), ae(grade=3, onset_at=later)])] == [2, 3]


def test_grade_change_rederives_dlt_with_the_new_grade(infused: Trial) -> None:
    """A worsening to grade 4 is judged on the course that includes it.

    Expected value: the packaged protocol's DLT rule ``non_hematologic_grade3`` (grade >= 3
    non-haematological toxicity lasting more than 72 hours; cldn18-pdl1-cart.yaml): hypertension
    at grade 4 from day 3 of the DLT window, still ongoing now (months later), is a DLT;
    re-deriving the study from the stored rows agrees and changes no AE.
    """
    coord = infused.as_("coord1")
    onset = dt.datetime(2026, 3, 4, 8, tzinfo=dt.UTC)
    recorded = record_ae(coord, ae(term="Hypertension", onset_at=onset, attribution="probable"))
    assert recorded.is_dlt is False
    worse = RecordGradeChange(
        ae_id=recorded.ae_id, grade=4, changed_at=onset + dt.timedelta(days=1), expected_version=1
    )
    changed = record_grade_change(coord, worse)
    assert (changed.worst_grade, changed.is_dlt) == (4, True)
    again = rederive_study(infused.as_("dm"), RederiveStudy(reason="check write-time flags"))
    assert again.adverse_events_changed == 0
