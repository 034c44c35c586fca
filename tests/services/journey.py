"""The whole subject journey through the services, run on SQLite and on PostgreSQL.

Expected values and where they come from:

* 3+3 (protocol ``escalation.design``): 0/3 DLT at DL1 -> escalate to DL2; 2/3 at DL2 -> DL2
  exceeds the MTD, de-escalate to DL1 (3 < 6 there); MTD = DL1 (Storer 1989 rules,
  shared/reference phase1-designs §3+3);
* DLT rules are the packaged protocol's ``dlt`` section: grade 3 gastritis at least possibly
  related in the window fires ``gastric_mucosal_injury``; grade 4 neutropenia recovering by
  day 28 is exempt (``lymphodepletion_cytopenia``);
* CRS by ASTCT 2019 (cart-toxicity reference §1): 38.6 °C on room air = grade 1 (case C1);
  38.3 °C with 4 L/min nasal cannula = grade 2 (case C3);
* lab grade: neutrophils 0.4 x 10^9/L is CTCAE v5.0 grade 4 (< 0.5, ctcae-5.0 reference §2.1);
* RECIST 1.1: sum 60 mm -> 40 mm is -33.3 % (<= -30 %) = PR (recist-1.1 reference §3).
"""

from __future__ import annotations

import datetime as dt

from service_support import PASSWORD, STUDY, Trial, screening, treat

from cartrial.errors import ValidationFailed
from cartrial.services import (
    AdjudicateDLT,
    AnswerQuery,
    AssignDose,
    CloseQuery,
    DecideNextDose,
    DecideRP2D,
    EndEscalation,
    EnrolSubject,
    Infuse,
    LesionInput,
    LockData,
    OpenExpansion,
    RaiseQuery,
    RecordAda,
    RecordAE,
    RecordCrsIcansDay,
    RecordFollowUp,
    RecordKinetics,
    RecordLab,
    RecordLymphodepletion,
    RecordPhenotype,
    RecordSubsequentTherapy,
    RecordTumourAssessment,
    RederiveStudy,
    SignRecord,
    adjudicate_dlt,
    answer_query,
    assign_dose,
    close_query,
    decide_next_dose,
    decide_rp2d,
    end_escalation,
    enrol_subject,
    infuse,
    lock_data,
    open_expansion,
    raise_query,
    record_ada,
    record_ae,
    record_crs_icans_day,
    record_follow_up,
    record_kinetics,
    record_lab,
    record_lymphodepletion,
    record_phenotype,
    record_subsequent_therapy,
    record_tumour_assessment,
    rederive_study,
    screen_subject,
    sign_record,
    trial_data,
)
from cartrial.store.audit import verify_chain

D1 = dt.date(2026, 1, 12)  # cohort 1 infusions
D2 = dt.date(2026, 2, 23)  # cohort 2 infusions
D3 = dt.date(2026, 4, 6)  # expansion infusion
AWAKE = {
    "ice_orientation": 4,
    "ice_naming": 3,
    "ice_commands": 1,
    "ice_writing": 1,
    "ice_attention": 1,
}


def day(d0: dt.date, n: int) -> dt.date:
    return d0 + dt.timedelta(days=n)


def at(d0: dt.date, n: int, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day(d0, n), dt.time(hour), tzinfo=dt.UTC)


def lesions(t1: float, t2: float) -> tuple[LesionInput, ...]:
    return (
        LesionInput(lesion_id="T1", category="target", organ="liver", diameter_mm=t1),
        LesionInput(lesion_id="T2", category="target", organ="lung", diameter_mm=t2),
        LesionInput(lesion_id="N1", category="non_target", organ="peritoneum"),
    )


def run_journey(trial: Trial) -> None:
    coord1, coord2, inv = trial.as_("coord1"), trial.as_("coord2"), trial.as_("inv")
    dsmc, dm, mon = trial.as_("dsmc"), trial.as_("dm"), trial.as_("mon")

    # ---- cohort 1 at the start dose DL1 (2.5e8 cells): no DLT
    for subject, site, ctx in (
        ("S01-001", "S01", coord1),
        ("S01-002", "S01", coord1),
        ("S02-001", "S02", coord2),
    ):
        treat(ctx, inv, subject, site, D1)
    crs1 = record_crs_icans_day(
        coord1,
        RecordCrsIcansDay(
            subject_id="S01-001", observed_date=day(D1, 1), temperature_c=38.6, **AWAKE
        ),
    )
    assert (crs1.crs_grade, crs1.icans_grade, crs1.day) == (1, 0, 1)
    crs2 = record_crs_icans_day(
        coord1,
        RecordCrsIcansDay(
            subject_id="S01-001",
            observed_date=day(D1, 2),
            temperature_c=38.3,
            oxygen_device="nasal_cannula",
            oxygen_flow_l_min=4.0,
            tocilizumab=True,
            **AWAKE,
        ),
    )
    assert (crs2.crs_grade, crs2.crs_driver) == (2, "hypoxia")
    crs_ae = record_ae(
        coord1,
        RecordAE(
            subject_id="S01-001",
            term="Cytokine release syndrome",
            grade=2,
            onset_at=at(D1, 1),
            resolved_at=at(D1, 4),
            attribution="definite",
            outcome="recovered",
        ),
    )
    assert crs_ae.soc == "Immune system disorders"
    assert crs_ae.is_dlt is False
    lab = record_lab(
        coord1,
        RecordLab(
            subject_id="S01-001",
            collected_at=at(D1, 3),
            lbtestcd="NEUT",
            value=0.4,
            unit="10^9/L",
            lln=1.8,
            uln=7.5,
        ),
    )
    assert (lab.term, lab.grade) == ("Neutrophil count decreased", 4)
    neut = record_ae(
        coord1,
        RecordAE(
            subject_id="S01-001",
            term="Neutrophil count decreased",
            grade=4,
            onset_at=at(D1, 1),
            resolved_at=at(D1, 14),
            attribution="possible",
            alternative_cause="lymphodepletion",
            outcome="recovered",
        ),
    )
    assert neut.is_dlt is False
    record_tumour_assessment(
        coord1,
        RecordTumourAssessment(
            subject_id="S01-001", assessment_date=day(D1, -8), lesions=lesions(40, 20)
        ),
    )
    week6 = record_tumour_assessment(
        coord1,
        RecordTumourAssessment(
            subject_id="S01-001", assessment_date=day(D1, 42), lesions=lesions(25, 15)
        ),
    )
    assert week6.overall_response == "PR"
    assert week6.visit == "Tumour day 42"  # protocol: every 42 days from day 42, +/- 7 days
    assert round(week6.pct_change_from_baseline or 0, 1) == -33.3
    for subject in ("S01-001", "S01-002", "S02-001"):
        adjudicated = adjudicate_dlt(inv, AdjudicateDLT(subject_id=subject, password=PASSWORD))
        assert not adjudicated.is_dlt
    first = decide_next_dose(dsmc, DecideNextDose(as_of=day(D1, 29)))
    assert (first.n_per_dose, first.dlt_per_dose) == ((0, 3, 0, 0), (0, 0, 0, 0))
    assert (first.recommended_action, first.next_dose_level) == ("escalate", "DL2")
    sign_record(
        dsmc,
        SignRecord(
            record="dose_decision",
            record_id=first.decision_id,
            meaning="approval",
            password=PASSWORD,
        ),
    )

    # ---- cohort 2 at DL2 (3.75e8): one gastric mucosal injury DLT
    for subject in ("S01-003", "S01-004", "S01-005"):
        treat(coord1, inv, subject, "S01", D2, dose_level="DL2", cells=3.75e8)
    for subject in ("S01-003", "S01-004"):
        dlt_ae = record_ae(
            coord1,
            RecordAE(
                subject_id=subject,
                term="Gastritis",
                grade=3,
                onset_at=at(D2, 10),
                resolved_at=at(D2, 20),
                serious=True,
                attribution="probable",
                outcome="recovered",
            ),
        )
        assert dlt_ae.is_dlt is True
        assert dlt_ae.dlt_rule_id == "criterion:gastric_mucosal_injury"
    for subject in ("S01-003", "S01-004", "S01-005"):
        adjudicate_dlt(inv, AdjudicateDLT(subject_id=subject, password=PASSWORD))
    # 3+3 with de-escalation: 2/3 at DL2 exceeds the MTD and, with 3 (< 6) at DL1, treats more
    # at DL1; the committee decides more cautiously to stop the escalation there.
    second = decide_next_dose(
        dsmc,
        DecideNextDose(as_of=day(D2, 29), action="stop", rationale="two gastric DLTs at DL2"),
    )
    assert (second.n_per_dose, second.dlt_per_dose) == ((0, 3, 3, 0), (0, 0, 2, 0))
    assert (second.recommended_action, second.recommended_next_dose_level) == (
        "de-escalate",
        "DL1",
    )
    assert (second.action, second.next_dose_level) == ("stop", None)
    sign_record(
        dsmc,
        SignRecord(
            record="dose_decision",
            record_id=second.decision_id,
            meaning="approval",
            password=PASSWORD,
        ),
    )

    # ---- end of escalation: 3+3 select_mtd (the highest dose below the lowest with >= 2 DLTs,
    # treated in >= 3 with <= 1 DLT) on n (0, 3, 3, 0), DLT (0, 0, 2, 0) is DL1; RP2D DL1
    ended = end_escalation(
        dsmc, EndEscalation(rationale="DL2 too toxic", password=PASSWORD, as_of=day(D2, 29))
    )
    assert (ended.dose_level, ended.method) == ("DL1", "3+3 select_mtd")
    rp2d = decide_rp2d(
        dsmc,
        DecideRP2D(dose_level="DL1", rationale="the MTD", password=PASSWORD, as_of=day(D2, 29)),
    )
    assert (rp2d.dose_level, rp2d.mtd_level, rp2d.below_mtd) == ("DL1", "DL1", False)

    # ---- expansion at the RP2D, opened by the investigator (protocol expansion.opened_by)
    opened = open_expansion(
        inv,
        OpenExpansion(rationale="RP2D decided", password=PASSWORD, as_of=day(D2, 29)),
    )
    assert (opened.dose_level, opened.n_evaluable, opened.n_dlt) == ("DL1", 3, 0)
    screen_subject(coord2, screening("S02-002", "S02", day(D3, -20)))
    enrolled = enrol_subject(coord2, EnrolSubject(subject_id="S02-002", enrolled_date=day(D3, -10)))
    assert enrolled.phase == "expansion"
    assigned = assign_dose(inv, AssignDose(subject_id="S02-002", dose_level="DL1"))
    assert (assigned.dose_level, assigned.decision_id) == ("DL1", None)  # the RP2D, not a cohort
    for n in (-5, -4, -3):
        record_lymphodepletion(
            coord2,
            RecordLymphodepletion(
                subject_id="S02-002",
                agent="fludarabine",
                dose=25.0,
                unit="mg/m2",
                day=n,
                administered_date=day(D3, n),
            ),
        )
    infuse(coord2, Infuse(subject_id="S02-002", infused_at=at(D3, 0), actual_cells=2.6e8))
    record_kinetics(
        coord2,
        RecordKinetics(
            subject_id="S02-002",
            collected_at=at(D3, 7),
            unit="copies/ug gDNA",
            value=52000.0,
            lloq=50.0,
        ),
    )
    record_ada(
        coord2,
        RecordAda(
            subject_id="S02-002",
            sample_date=day(D3, 28),
            screen="positive",
            confirmed=True,
            titer=40.0,
        ),
    )
    record_phenotype(
        coord2,
        RecordPhenotype(
            subject_id="S02-002",
            sample_date=day(D3, 7),
            panel="memory",
            values={"cd4_cd8_ratio": 1.4, "tscm_pct": 12.5},
        ),
    )
    record_subsequent_therapy(
        coord2,
        RecordSubsequentTherapy(subject_id="S02-002", therapy="paclitaxel", start_date=day(D3, 90)),
    )
    record_follow_up(
        coord2,
        RecordFollowUp(
            subject_id="S02-002",
            contact_date=day(D3, 150),
            status="dead",
            death_date=day(D3, 140),
            death_cause="disease progression",
        ),
    )

    # ---- a query, answered by the site and closed by the monitor
    query = raise_query(
        mon, RaiseQuery(subject_id="S02-002", question="Please confirm the titer", field="titer")
    )
    answered = answer_query(
        coord2,
        AnswerQuery(
            query_id=query.query_id, answer="Confirmed 1:40", expected_version=query.version
        ),
    )
    closed = close_query(
        mon, CloseQuery(query_id=query.query_id, expected_version=answered.version)
    )
    assert closed.status == "closed"

    # ---- re-derivation changes nothing; the export has everybody; the lock is signed
    rederived = rederive_study(dm, RederiveStudy(reason="consistency check"))
    assert rederived.labs_checked == 1 and rederived.labs_changed == 0
    assert rederived.crs_icans_changed == 0 and rederived.timepoints_changed == 0
    assert rederived.adverse_events_checked == 4 and rederived.adverse_events_changed == 0
    data = trial_data(trial.factory, STUDY)
    subjects = data.subjects.set_index("subject_id")
    assert len(subjects) == 7
    assert (
        subjects.loc["S01-003", "dlt_evaluable"] and subjects.loc["S01-003", "dose_level"] == "DL2"
    )
    assert not subjects.loc["S02-002", "dlt_evaluable"]  # expansion subjects are not DLT-evaluable
    assert subjects.loc["S02-002", "death_cause"] == "disease progression"
    assert subjects.loc["S01-001", "efficacy_evaluable"]
    assert data.adverse_events["is_dlt"].sum() == 2
    assert list(data.dose_decisions["action"]) == ["escalate", "stop"]
    assert list(data.dose_decisions["signed_by"]) == ["dsmc", "dsmc"]
    governance = data.governance
    assert list(governance["kind"]) == ["escalation_end", "rp2d", "expansion_open"]
    assert list(governance["signed_by"]) == ["dsmc", "dsmc", "inv"]
    assert list(governance["dose_level"]) == ["DL1", "DL1", "DL1"]
    assert data.tumour_timepoints["overall_response"].tolist() == ["PR"]
    assert data.kinetics["day"].tolist() == [7]
    locked = lock_data(
        dm, LockData(name="primary analysis", data_cutoff=day(D3, 200), password=PASSWORD)
    )
    assert locked.signature.meaning == "data_lock"
    before = trial.audit_rows()
    late_entry = RecordAE(
        subject_id="S01-002",
        term="Fatigue",
        grade=1,
        onset_at=at(D1, 30),
        attribution="unlikely",
    )
    try:
        record_ae(coord1, late_entry)
    except ValidationFailed as exc:
        assert exc.field == "onset_at"
    else:
        raise AssertionError("an AE inside locked data was accepted")
    assert trial.audit_rows() == before
    with trial.engine.connect() as connection:
        assert verify_chain(connection).ok
