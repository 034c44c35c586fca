"""The plausibility and duplicate rules in every single-record use case (services.record_checks).

The subjects of ``conftest.py``: ``S01-001`` screened 2026-02-10, infused 2026-03-02 10:00 UTC
(``service_support.treat``); ``S01-002`` infused 2026-03-02, died 2026-06-01; ``S01-003``
screened 2026-02-10, withdrawn 2026-04-01. Expected values are the rules' definitions
(``services/plausibility.py``) and the bounds of ``data/plausibility/lab_ranges.csv``: a
neutrophil count above 1000 x 10^9/L is outside the physiological range; bilirubin in mg/dL
with the umol/L ULN 21 (= 359 umol/L) is not a reference limit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_support import D0, HostileDb
from service_support import REGIMEN, build_trial, screening, treat
from sqlalchemy import select

from cartrial.errors import ImportFailed, ValidationFailed
from cartrial.protocol import default_protocol_path
from cartrial.services import (
    AssignDose,
    EnrolSubject,
    Infuse,
    LesionInput,
    RecordAda,
    RecordAE,
    RecordCrsIcansDay,
    RecordFollowUp,
    RecordGradeChange,
    RecordKinetics,
    RecordLab,
    RecordLymphodepletion,
    RecordPhenotype,
    RecordSubsequentTherapy,
    RecordTumourAssessment,
    ServiceContext,
    WithdrawSubject,
    assign_dose,
    enrol_subject,
    import_records,
    infuse,
    record_ada,
    record_ae,
    record_crs_icans_day,
    record_follow_up,
    record_grade_change,
    record_kinetics,
    record_lab,
    record_lymphodepletion,
    record_phenotype,
    record_subsequent_therapy,
    record_tumour_assessment,
    screen_subject,
    withdraw_subject,
)
from cartrial.store import DataQuery, make_engine, session_factory
from cartrial.store.migrate import upgrade

FUTURE = dt.date(2030, 1, 7)
AFTER_DEATH = dt.date(2026, 7, 1)
AFTER_WITHDRAWAL = dt.date(2026, 5, 4)
ICE_FULL = {
    "ice_orientation": 4,
    "ice_naming": 3,
    "ice_commands": 1,
    "ice_writing": 1,
    "ice_attention": 1,
}

Write = Callable[[HostileDb, str, dt.date], object]


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)


def lab(db: HostileDb, subject: str, day: dt.date, **changes: object) -> object:
    values: dict[str, object] = {
        "subject_id": subject,
        "collected_at": _at(day),
        "lbtestcd": "NEUT",
        "value": 3.1,
        "unit": "10^9/L",
        "lln": 1.8,
        "uln": 7.5,
    }
    return record_lab(db.context("dm"), RecordLab(**{**values, **changes}))


def ae(db: HostileDb, subject: str, day: dt.date, **changes: object) -> object:
    values: dict[str, object] = {
        "subject_id": subject,
        "term": "Nausea",
        "grade": 1,
        "onset_at": _at(day),
        "attribution": "possible",
    }
    return record_ae(db.context("inv"), RecordAE(**{**values, **changes}))


def crs(db: HostileDb, subject: str, day: dt.date, **changes: object) -> object:
    data = RecordCrsIcansDay(
        **{
            "subject_id": subject,
            "observed_date": day,
            "temperature_c": 38.4,
            **ICE_FULL,
            **changes,
        }
    )
    return record_crs_icans_day(db.context("inv"), data)


def kinetics(db: HostileDb, subject: str, day: dt.date, **changes: object) -> object:
    values: dict[str, object] = {
        "subject_id": subject,
        "collected_at": _at(day),
        "unit": "copies/ug gDNA",
        "value": 5000.0,
        "lloq": 10.0,
    }
    return record_kinetics(db.context("dm"), RecordKinetics(**{**values, **changes}))


def ada(db: HostileDb, subject: str, day: dt.date, **changes: object) -> object:
    data = RecordAda(**{"subject_id": subject, "sample_date": day, "screen": "negative", **changes})
    return record_ada(db.context("dm"), data)


def phenotype(db: HostileDb, subject: str, day: dt.date, **changes: object) -> object:
    values: dict[str, object] = {
        "subject_id": subject,
        "sample_date": day,
        "panel": "memory",
        "values": {"cd8_tem": 40.0},
    }
    return record_phenotype(db.context("dm"), RecordPhenotype(**{**values, **changes}))


def follow_up(db: HostileDb, subject: str, day: dt.date, **changes: object) -> object:
    data = RecordFollowUp(
        **{"subject_id": subject, "contact_date": day, "status": "alive", **changes}
    )
    return record_follow_up(db.context("inv"), data)


def therapy(db: HostileDb, subject: str, day: dt.date, **changes: object) -> object:
    values = {"subject_id": subject, "therapy": "FOLFIRI", "start_date": day, **changes}
    return record_subsequent_therapy(db.context("inv"), RecordSubsequentTherapy(**values))


def withdrawal(db: HostileDb, subject: str, day: dt.date, **changes: object) -> object:
    values = {"subject_id": subject, "withdrawn_date": day, "reason": "moved away", **changes}
    return withdraw_subject(db.context("inv"), WithdrawSubject(**values))


def tumour(db: HostileDb, subject: str, day: dt.date, diameter: float = 30.0) -> object:
    lesion = LesionInput(lesion_id="T1", category="target", organ="liver", diameter_mm=diameter)
    data = RecordTumourAssessment(subject_id=subject, assessment_date=day, lesions=(lesion,))
    return record_tumour_assessment(db.context("inv"), data)


def baseline_then_follow_up(db: HostileDb, subject: str, day: dt.date) -> object:
    tumour(db, subject, dt.date(2026, 2, 20))
    return tumour(db, subject, day)


#: family -> (how to write one record of S01-001, the field its dates are checked on)
FAMILIES: dict[str, tuple[Write, str]] = {
    "labs": (lab, "collected_at"),
    "adverse_events": (ae, "onset_at"),
    "crs_icans_days": (crs, "observed_date"),
    "tumour_assessments": (baseline_then_follow_up, "assessment_date"),
    "kinetics": (kinetics, "collected_at"),
    "ada": (ada, "sample_date"),
    "phenotype": (phenotype, "sample_date"),
    "follow_up": (follow_up, "contact_date"),
    "subsequent_therapy": (therapy, "start_date"),
    "withdrawal": (withdrawal, "withdrawn_date"),
}


def refused(db: HostileDb, action: Callable[[], object], field: str, rule: str) -> str:
    """Run ``action``: refused on ``field`` by ``rule``, nothing written."""
    before = db.counts()
    with pytest.raises(ValidationFailed) as info:
        action()
    assert info.value.field == field, str(info.value)
    assert f"(rule: {rule})" in str(info.value)
    assert db.counts() == before
    return str(info.value)


def open_queries(db: HostileDb) -> list[DataQuery]:
    engine = make_engine(db.url)
    try:
        with session_factory(engine)() as session:
            return list(session.scalars(select(DataQuery)))
    finally:
        engine.dispose()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_date_after_today_is_refused_in_every_family(family: str, hostile_db: HostileDb) -> None:
    write, field = FAMILIES[family]
    if family == "tumour_assessments":
        tumour(hostile_db, "S01-001", dt.date(2026, 2, 20))
        write = tumour
    message = refused(
        hostile_db, lambda: write(hostile_db, "S01-001", FUTURE), field, "date-in-future"
    )
    assert "2030-01-07 is after today" in message


@pytest.mark.parametrize("family", ["labs", "adverse_events", "kinetics", "ada", "phenotype"])
def test_a_date_after_death_is_refused(family: str, hostile_db: HostileDb) -> None:
    write, field = FAMILIES[family]
    message = refused(
        hostile_db, lambda: write(hostile_db, "S01-002", AFTER_DEATH), field, "after-death"
    )
    assert "after the death on 2026-06-01" in message


def test_a_contact_after_the_death_is_refused(hostile_db: HostileDb) -> None:
    refused(
        hostile_db,
        lambda: follow_up(hostile_db, "S01-002", AFTER_DEATH),
        "contact_date",
        "after-death",
    )


@pytest.mark.parametrize("family", ["labs", "kinetics", "ada", "phenotype"])
def test_a_sample_after_withdrawal_or_before_screening_is_refused(
    family: str, hostile_db: HostileDb
) -> None:
    write, field = FAMILIES[family]
    refused(
        hostile_db,
        lambda: write(hostile_db, "S01-003", AFTER_WITHDRAWAL),
        field,
        "after-withdrawal",
    )
    refused(
        hostile_db,
        lambda: write(hostile_db, "S01-001", dt.date(2026, 1, 5)),
        field,
        "before-screening",
    )


def test_screening_and_enrolment_dated_after_today_are_refused(hostile_db: HostileDb) -> None:
    coord = hostile_db.context("coord1")
    refused(
        hostile_db,
        lambda: screen_subject(coord, screening("S01-050", "S01", FUTURE)),
        "screening_date",
        "date-in-future",
    )
    screen_subject(coord, screening("S01-051", "S01", dt.date(2026, 11, 2)))
    refused(
        hostile_db,
        lambda: enrol_subject(coord, EnrolSubject(subject_id="S01-051", enrolled_date=FUTURE)),
        "enrolled_date",
        "date-in-future",
    )


def test_lab_values_outside_the_physiological_range_or_with_foreign_limits_are_refused(
    hostile_db: HostileDb,
) -> None:
    day = dt.date(2026, 3, 10)
    refused(
        hostile_db,
        lambda: lab(hostile_db, "S01-001", day, value=1e308),
        "value",
        "physiological-range",
    )
    refused(
        hostile_db,
        lambda: lab(
            hostile_db, "S01-001", day, lbtestcd="BILI", value=1.1, unit="mg/dL", lln=3, uln=21
        ),
        "lln",
        "reference-limits",
    )


def test_a_lesion_larger_than_a_scan_is_refused(hostile_db: HostileDb) -> None:
    refused(
        hostile_db,
        lambda: tumour(hostile_db, "S01-001", dt.date(2026, 2, 20), diameter=1e9),
        "lesions.0.diameter_mm",
        "lesion-size",
    )


def test_a_lesion_without_its_organ_is_refused() -> None:
    with pytest.raises(ValidationFailed) as info:
        LesionInput(lesion_id="T1", category="target", organ="  ", diameter_mm=30.0)
    assert info.value.field == "organ"


# Duplicates: the same record twice is refused; the same observation with another value is
# stored with a data query (or refused by families that hold one record per identity).

#: family -> (write one record of S01-001, write the same observation with another value, field
#: of the duplicate refusal, whether the near-duplicate is stored with a query)
DAY = dt.date(2026, 3, 12)
DUPLICATES: dict[
    str, tuple[Callable[[HostileDb], object], Callable[[HostileDb], object], str, bool]
] = {
    "labs": (
        lambda db: lab(db, "S01-001", DAY),
        lambda db: lab(db, "S01-001", DAY, value=2.9),
        "collected_at",
        True,
    ),
    "adverse_events": (
        lambda db: ae(db, "S01-001", DAY),
        lambda db: ae(db, "S01-001", DAY, attribution="unlikely"),
        "onset_at",
        True,
    ),
    "crs_icans_days": (
        lambda db: crs(db, "S01-001", DAY),
        lambda db: crs(db, "S01-001", DAY, temperature_c=39.0),
        "observed_date",
        False,
    ),
    "tumour_assessments": (
        lambda db: tumour(db, "S01-001", dt.date(2026, 2, 20)),
        lambda db: tumour(db, "S01-001", dt.date(2026, 2, 20), diameter=31.0),
        "lesions.0.lesion_id",
        False,
    ),
    "kinetics": (
        lambda db: kinetics(db, "S01-001", DAY),
        lambda db: kinetics(db, "S01-001", DAY, value=6000.0),
        "collected_at",
        True,
    ),
    "ada": (
        lambda db: ada(db, "S01-001", DAY),
        lambda db: ada(db, "S01-001", DAY, screen="positive"),
        "sample_date",
        True,
    ),
    "phenotype": (
        lambda db: phenotype(db, "S01-001", DAY),
        None,  # type: ignore[dict-item]  # a panel is measured once per sample
        "sample_date",
        False,
    ),
    "follow_up": (
        lambda db: follow_up(db, "S01-001", DAY),
        lambda db: follow_up(db, "S01-001", DAY, status="lost_to_follow_up"),
        "contact_date",
        True,
    ),
    "subsequent_therapy": (
        lambda db: therapy(db, "S01-001", DAY),
        lambda db: therapy(db, "S01-001", DAY, therapy="nab-paclitaxel"),
        "start_date",
        True,
    ),
    "withdrawal": (
        lambda db: withdrawal(db, "S01-001", DAY),
        lambda db: withdrawal(db, "S01-001", DAY, reason="another reason"),
        "withdrawn_date",
        False,
    ),
}


@pytest.mark.parametrize("family", sorted(DUPLICATES))
def test_an_exact_duplicate_is_refused_and_a_near_duplicate_queried(
    family: str, hostile_db: HostileDb
) -> None:
    first, near, field, queried = DUPLICATES[family]
    first(hostile_db)
    refused(hostile_db, lambda: first(hostile_db), field, "duplicate-record")
    if near is None:
        return
    if queried:
        near(hostile_db)
        (query,) = open_queries(hostile_db)
        assert query.status == "open" and "(rule: near-duplicate)" in query.question
    else:
        before = hostile_db.counts()
        with pytest.raises(ValidationFailed):
            near(hostile_db)
        assert hostile_db.counts() == before and open_queries(hostile_db) == []


def test_a_repeated_grade_change_is_a_duplicate(hostile_db: HostileDb) -> None:
    recorded = ae(hostile_db, "S01-001", DAY)
    change = RecordGradeChange(
        ae_id=recorded.ae_id,  # type: ignore[attr-defined]
        grade=2,
        changed_at=_at(DAY + dt.timedelta(days=1)),
        expected_version=1,
    )
    record_grade_change(hostile_db.context("inv"), change)
    again = change.model_copy(update={"expected_version": 2})
    refused(
        hostile_db,
        lambda: record_grade_change(hostile_db.context("inv"), again),
        "changed_at",
        "duplicate-record",
    )


def test_repeating_the_treatment_of_a_subject_is_a_duplicate(hostile_db: HostileDb) -> None:
    """``S01-001`` was screened, enrolled, assigned DL1, lymphodepleted and infused by ``treat``."""
    coord, inv = hostile_db.context("coord1"), hostile_db.context("inv")
    agent, dose = REGIMEN[0]
    cases: list[tuple[Callable[[], object], str]] = [
        (
            lambda: screen_subject(coord, screening("S01-001", "S01", D0 - dt.timedelta(days=20))),
            "subject_id",
        ),
        (
            lambda: enrol_subject(
                coord, EnrolSubject(subject_id="S01-001", enrolled_date=D0 - dt.timedelta(days=10))
            ),
            "enrolled_date",
        ),
        (
            lambda: assign_dose(inv, AssignDose(subject_id="S01-001", dose_level="DL1")),
            "dose_level",
        ),
        (
            lambda: record_lymphodepletion(
                coord,
                RecordLymphodepletion(
                    subject_id="S01-001",
                    agent=agent,
                    dose=dose,
                    unit="mg/m2",
                    day=-5,
                    administered_date=D0 - dt.timedelta(days=5),
                ),
            ),
            "administered_date",
        ),
        (
            lambda: infuse(
                coord,
                Infuse(
                    subject_id="S01-001", infused_at=_at(D0).replace(hour=10), actual_cells=2.5e8
                ),
            ),
            "infused_at",
        ),
    ]
    for action, field in cases:
        refused(hostile_db, action, field, "duplicate-record")


def test_the_protocol_may_turn_a_date_finding_into_a_query(tmp_path: Path) -> None:
    text = default_protocol_path().read_text(encoding="utf-8")
    text += "\ndata_checks:\n  query_instead_of_refusal: [after-death, physiological-range]\n"
    url = f"sqlite:///{tmp_path / 'trial.db'}"
    upgrade(url)
    trial = build_trial(url, protocol_yaml=text)
    coord, inv = trial.as_("coord1"), trial.as_("inv")
    treat(coord, inv, "S01-001", "S01", D0)
    death = RecordFollowUp(
        subject_id="S01-001",
        contact_date=dt.date(2026, 6, 2),
        status="dead",
        death_date=dt.date(2026, 6, 1),
        death_cause="disease progression",
    )
    record_follow_up(coord, death)
    dm: ServiceContext = trial.as_("dm")
    record_ada(dm, RecordAda(subject_id="S01-001", sample_date=AFTER_DEATH, screen="negative"))
    late = RecordLab(
        subject_id="S01-001",
        collected_at=_at(AFTER_DEATH),
        lbtestcd="NEUT",
        value=2000.0,
        unit="10^9/L",
        lln=1.8,
        uln=7.5,
    )
    record_lab(dm, late)
    with trial.factory() as session:
        questions = sorted(q.question for q in session.scalars(select(DataQuery)))
    assert sorted(q.split("(rule: ")[1] for q in questions) == [
        "after-death)",
        "after-death)",
        "physiological-range)",
    ]
    # a rule the protocol did not list still refuses
    with pytest.raises(ValidationFailed, match=r"rule: date-in-future"):
        record_ada(dm, RecordAda(subject_id="S01-001", sample_date=FUTURE, screen="negative"))
    trial.engine.dispose()


#: family -> CSV text of one record of S01-001 (``cartrial import records FAMILY FILE``)
CSV: dict[str, str] = {
    "labs": "subject_id,collected_at,lbtestcd,value,unit,lln,uln\n"
    "S01-001,2026-03-12,NEUT,3.1,10^9/L,1.8,7.5\nS01-001,2026-03-13,NEUT,3.3,10^9/L,1.8,7.5\n",
    "adverse_events": "subject_id,term,grade,onset_at,attribution\n"
    "S01-001,Nausea,1,2026-03-12,possible\n",
    "crs_icans_days": "subject_id,observed_date,temperature_c,ice_orientation,ice_naming,"
    "ice_commands,ice_writing,ice_attention\nS01-001,2026-03-03,38.5,4,3,1,1,1\n",
    "tumour_assessments": "subject_id,assessment_date,lesion_id,category,organ,diameter_mm\n"
    "S01-001,2026-02-20,T1,target,liver,30\nS01-001,2026-02-20,T2,target,lung,12\n",
    "kinetics": "subject_id,collected_at,unit,value,lloq\nS01-001,2026-03-09,cells/uL,40,1\n",
    "ada": "subject_id,sample_date,screen\nS01-001,2026-03-30,negative\n",
    "phenotype": "subject_id,sample_date,panel,marker,value\n"
    "S01-001,2026-03-30,memory,cd8_tem,40\nS01-001,2026-03-30,memory,cd8_tcm,20\n",
    "follow_up": "subject_id,contact_date,status\nS01-001,2026-09-01,alive\n",
    "subsequent_therapy": "subject_id,therapy,start_date\nS01-001,FOLFIRI,2026-09-10\n",
    "withdrawal": "subject_id,withdrawn_date,reason\nS01-003,2026-04-01,consent withdrawn\n",
}


@pytest.mark.parametrize("family", sorted(CSV))
def test_importing_a_family_twice_is_refused_as_already_imported(
    family: str, hostile_db: HostileDb, tmp_path: Path
) -> None:
    path = tmp_path / f"{family}.csv"
    path.write_text(CSV[family], encoding="utf-8")
    clinical = ("adverse_events", "crs_icans_days", "follow_up", "subsequent_therapy", "withdrawal")
    user = "inv" if family in clinical else "dm"
    if family != "withdrawal":  # S01-003 was withdrawn with this line by the fixture
        import_records(hostile_db.context(user), family, path)
    before = hostile_db.counts()
    with pytest.raises(ImportFailed) as info:
        import_records(hostile_db.context(user), family, path)
    assert str(info.value).startswith(f"{path}: already imported"), str(info.value)
    assert all("(rule: duplicate-record)" in message for _, _, message in info.value.errors)
    assert hostile_db.counts() == before


def test_a_grade_change_or_lymphodepletion_after_today_is_refused(hostile_db: HostileDb) -> None:
    recorded = ae(hostile_db, "S01-001", DAY)
    change = RecordGradeChange(
        ae_id=recorded.ae_id,  # type: ignore[attr-defined]
        grade=2,
        changed_at=_at(FUTURE),
        expected_version=1,
    )
    refused(
        hostile_db,
        lambda: record_grade_change(hostile_db.context("inv"), change),
        "changed_at",
        "date-in-future",
    )
    coord = hostile_db.context("coord1")
    screen_subject(coord, screening("S01-052", "S01", dt.date(2026, 11, 2)))
    enrol_subject(coord, EnrolSubject(subject_id="S01-052", enrolled_date=dt.date(2026, 11, 20)))
    assign_dose(hostile_db.context("inv"), AssignDose(subject_id="S01-052", dose_level="DL1"))
    agent, dose = REGIMEN[0]
    given = RecordLymphodepletion(
        subject_id="S01-052", agent=agent, dose=dose, unit="mg/m2", day=-5, administered_date=FUTURE
    )
    refused(
        hostile_db,
        lambda: record_lymphodepletion(coord, given),
        "administered_date",
        "date-in-future",
    )
