"""What site staff record for one virtual subject, as calls to :mod:`cartrial.services`.

A :class:`SubjectPlan` turns one treated virtual patient (a :class:`VirtualCohort` of one) into
dated actions on the protocol's schedule of assessments: the baseline scan, lymphodepletion, the
infusion, daily CRS/ICANS findings, adverse events with their grade course, tumour scans until
progression, samples, survival contacts, subsequent therapy, withdrawal and death. Labs and
kinetics results are returned as rows that the driver imports in daily batches (the central lab's
transfer). Nothing here touches the database: every write is a service call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pandas as pd

from cartrial.errors import Conflict
from cartrial.protocol import Protocol
from cartrial.rules import ctcae
from cartrial.services import (
    Infuse,
    LesionInput,
    RecordAda,
    RecordAE,
    RecordCrsIcansDay,
    RecordFollowUp,
    RecordGradeChange,
    RecordLymphodepletion,
    RecordPhenotype,
    RecordSubsequentTherapy,
    RecordTumourAssessment,
    ScreenSubject,
    ServiceContext,
    WithdrawSubject,
    infuse,
    record_ada,
    record_ae,
    record_crs_icans_day,
    record_follow_up,
    record_grade_change,
    record_lymphodepletion,
    record_phenotype,
    record_subsequent_therapy,
    record_tumour_assessment,
    withdraw_subject,
)
from cartrial.virtual.cohort import VirtualCohort
from cartrial.virtual.params import INDICATIONS
from cartrial.virtual.population import Baseline
from cartrial.virtual.scans import baseline_lesions, scan_lesions
from cartrial.virtual.toxicity import CONSCIOUSNESS, LAB_TESTS

__all__ = [
    "ORDER",
    "Event",
    "SiteStaff",
    "SubjectPlan",
    "SubjectState",
    "baseline_assessment",
    "call",
    "plan_subject",
    "screening_record",
]

InputT = TypeVar("InputT")

#: Order of actions within one day (lower first).
ORDER = {
    "enrol": 1,
    "baseline": 2,
    "lymphodepletion": 3,
    "infusion": 4,
    "labs": 5,
    "kinetics": 6,
    "crs_icans": 7,
    "ae": 8,
    "tumour": 9,
    "samples": 10,
    "follow_up": 11,
    "end": 12,
    "committee": 20,
}
#: CTCAE term of each lab-defined adverse event the investigator records (grade >= 3 episodes).
#: Lymphopenia, expected in every subject after lymphodepletion and never a DLT, stays in the labs.
LAB_AE_TERMS = {
    "NEUT": "Neutrophil count decreased",
    "PLAT": "Platelet count decreased",
    "HGB": "Anemia",
}
_OXYGEN_DEVICE = (
    "room_air",
    "room_air",
    "low_flow_nasal_cannula",
    "high_flow_nasal_cannula",
    "bipap",
)
_CONSCIOUSNESS = {
    "alert": "awake",
    "voice": "awakens_to_voice",
    "tactile": "awakens_to_tactile",
    "unarousable": "unarousable",
}
_UNSCHEDULED_LAB_DAYS = tuple(range(35, 92, 7))


@dataclass(frozen=True)
class Event:
    """One dated action of the study calendar."""

    date: dt.date
    order: int
    action: Callable[[], None]


@dataclass(frozen=True)
class SiteStaff:
    """The people acting at a site: the investigator and the study coordinator."""

    site: str
    investigator: ServiceContext
    coordinator: ServiceContext


@dataclass
class SubjectState:
    """What the site knows about a subject while the study runs."""

    subject_id: str
    progressed: bool = False
    responses: list[str] = field(default_factory=list)
    dlt_by_ae: dict[int, bool] = field(default_factory=dict)

    @property
    def has_dlt(self) -> bool:
        """Whether any of the subject's AEs is flagged as a DLT (as the services derived it)."""
        return any(self.dlt_by_ae.values())


@dataclass(frozen=True)
class SubjectPlan:
    """A subject's dated actions, and lab/kinetics rows to import by date."""

    state: SubjectState
    events: tuple[Event, ...]
    lab_rows: pd.DataFrame
    kinetics_rows: pd.DataFrame
    last_day: int


@dataclass
class _AeHandle:
    """An AE once recorded: its id and the version the site last saw."""

    ae_id: int = 0
    version: int = 1


def call(
    use_case: Callable[[ServiceContext, InputT], object], ctx: ServiceContext, data: InputT
) -> Callable[[], None]:
    """An action that runs one use case with one input (its result is not needed)."""

    def run() -> None:
        use_case(ctx, data)

    return run


def _ice_domains(score: int) -> dict[str, int]:
    """Split an ICE score (0-10) into its five domains, orientation first."""
    parts = {}
    left = score
    for name, top in (("orientation", 4), ("naming", 3), ("commands", 1), ("writing", 1)):
        parts[f"ice_{name}"] = min(left, top)
        left -= parts[f"ice_{name}"]
    parts["ice_attention"] = left
    return parts


def _utc(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, 0), tzinfo=dt.UTC)


def _days(protocol: Protocol, code: str) -> list[int]:
    return sorted({v.day for v in protocol.schedule.visits_with(code)})  # type: ignore[arg-type]


def _episodes(
    grades: list[int], days: list[int], baseline_grade: int
) -> list[list[tuple[int, int]]]:
    """Grade courses ``[(day, grade), ...]`` of the stretches that start at grade >= 3.

    A stretch ends (grade 0: back to baseline) at the first value at or below the baseline grade.
    """
    courses: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] | None = None
    for day, grade in zip(days, grades, strict=True):
        if current is None:
            if grade >= 3:
                current = [(day, int(grade))]
        elif grade <= baseline_grade:
            current.append((day, 0))
            courses.append(current)
            current = None
        elif grade != current[-1][1]:
            current.append((day, int(grade)))
    if current is not None:
        courses.append(current)
    return courses


class _Builder:
    """Collects one subject's events (a small helper, not part of the API)."""

    def __init__(self, day0: dt.date, last_day: int) -> None:
        self.day0 = day0
        self.last_day = last_day
        self.events: list[Event] = []

    def at(self, day: int, order: str, action: Callable[[], None]) -> None:
        if day <= self.last_day:
            self.events.append(Event(self.day0 + dt.timedelta(days=day), ORDER[order], action))

    def date(self, day: float) -> dt.date:
        return self.day0 + dt.timedelta(days=int(day))


def _record_course(
    staff: SiteStaff,
    state: SubjectState,
    builder: _Builder,
    term: str,
    course: list[tuple[int, int]],
    attribution: str,
    cause: str | None,
    record_day: int | None = None,
) -> None:
    """Schedule an AE and its grade changes (each change on its day, or all on ``record_day``)."""
    handle = _AeHandle()
    (onset_day, first_grade), later = course[0], course[1:]
    worst = max(g for _, g in course)

    def record() -> None:
        result = record_ae(
            staff.investigator,
            RecordAE(
                subject_id=state.subject_id,
                term=term,
                grade=first_grade,
                onset_at=builder.date(onset_day),
                serious=worst >= 3,
                attribution=attribution,
                alternative_cause=cause,
            ),
        )
        handle.ae_id = result.ae_id
        state.dlt_by_ae[result.ae_id] = bool(result.is_dlt)

    def change(day: int, grade: int) -> Callable[[], None]:
        def run() -> None:
            for _ in range(5):
                try:
                    result = record_grade_change(
                        staff.investigator,
                        RecordGradeChange(
                            ae_id=handle.ae_id,
                            grade=grade,
                            changed_at=builder.date(day),
                            expected_version=handle.version,
                            outcome="recovered" if grade == 0 else None,
                        ),
                    )
                except Conflict as exc:  # re-read the AE, as a user does after a stale edit
                    handle.version = exc.actual_version
                    continue
                handle.version = result.version
                state.dlt_by_ae[handle.ae_id] = bool(result.is_dlt)
                return
            raise Conflict(f"adverse_events/{handle.ae_id}", handle.version, handle.version)

        return run

    builder.at(onset_day if record_day is None else record_day, "ae", record)
    for day, grade in later:
        when = day if record_day is None else max(day, record_day)
        builder.at(when, "ae", change(day, grade))


def plan_subject(
    subject_id: str,
    staff: SiteStaff,
    cohort: VirtualCohort,
    day0: dt.date,
    actual_cells: float,
    protocol: Protocol,
) -> SubjectPlan:
    """Schedule every record of a treated subject from the day after enrolment to the end.

    ``cohort`` is the subject's virtual patient (one row) treated at the assigned dose; ``day0``
    the infusion date. The baseline scan, enrolment and dose assignment are done by the driver.
    """
    state = SubjectState(subject_id)
    truth = cohort.truth(protocol.dlt.window_days, protocol.recist.sd_min_days).iloc[0]
    follow_up = protocol.schedule.follow_up_days
    stop = min(truth["death_day"], truth["dropout_day"], float(follow_up))
    last_day = int(np.floor(stop))
    b = _Builder(day0, last_day)
    inv, coord = staff.investigator, staff.coordinator

    # Lymphodepletion and infusion.
    for agent in protocol.treatment.lymphodepletion:
        for day in agent.days:
            data = RecordLymphodepletion(
                subject_id=subject_id,
                agent=agent.agent,
                dose=agent.dose,
                unit=agent.unit,
                day=day,
                administered_date=b.date(day),
            )
            b.at(day, "lymphodepletion", call(record_lymphodepletion, coord, data))
    infusion = Infuse(
        subject_id=subject_id,
        infused_at=_utc(day0, 10),
        actual_cells=actual_cells,
        product_lot=f"LOT-{subject_id}",
    )
    b.at(0, "infusion", call(infuse, inv, infusion))

    lab_rows = _lab_rows(state, cohort, protocol, b, staff)
    kinetics_rows = _kinetics_rows(subject_id, cohort, protocol, b)
    _crs_icans(subject_id, cohort, protocol, b, coord)
    _clinical_aes(state, cohort, b, staff, follow_up)
    _tumour(subject_id, state, cohort, protocol, b, inv)
    _samples(subject_id, cohort, protocol, b, coord)
    _follow_up(subject_id, truth, protocol, b, inv)
    return SubjectPlan(
        state=state,
        events=tuple(b.events),
        lab_rows=lab_rows,
        kinetics_rows=kinetics_rows,
        last_day=last_day,
    )


def _lab_rows(
    state: SubjectState, cohort: VirtualCohort, protocol: Protocol, b: _Builder, staff: SiteStaff
) -> pd.DataFrame:
    """Scheduled labs (plus weekly unscheduled ones during grade >= 3 cytopenia after day 28).

    Lab-defined AEs: every stretch at CTCAE grade >= 3 becomes an AE recorded at the day-28 AE
    review (or on its onset if later), attributed to lymphodepletion when it recovered by day 28
    and possibly to CAR-T when it did not.
    """
    scheduled = [d for d in _days(protocol, "labs") if d >= protocol.schedule.visits[0].day]
    days = sorted(set(scheduled) | set(_UNSCHEDULED_LAB_DAYS) | {0})
    screening_day = int(cohort.params.population.baseline_scan_day)
    days = sorted({screening_day, *[d for d in days if d > screening_day]})
    values = cohort.observe_labs(np.asarray(days, dtype=float))
    ranges = cohort.params.toxicity.lab_reference_ranges
    frame = pd.DataFrame(
        [
            {
                "subject_id": state.subject_id,
                "day": day,
                "date": b.date(day),
                "lbtestcd": test,
                "value": float(values[test][0, j]),
                "unit": unit,
                "lln": ranges[test][0],
                "uln": ranges[test][1],
            }
            for j, day in enumerate(days)
            for test, unit in LAB_TESTS.items()
        ]
    )
    graded = ctcae.grade_labs(frame[["lbtestcd", "value", "unit", "lln", "uln"]])
    frame["grade"] = graded["grade"].fillna(0).astype(int).to_numpy()
    # Unscheduled labs only while a neutropenia/thrombocytopenia of grade >= 3 lasts after day 28.
    counts = frame[frame["lbtestcd"].isin(["NEUT", "PLAT"])]
    severe_days = set(counts.loc[counts["grade"] >= 3, "day"])
    keep = set(scheduled) | {screening_day}
    for day in _UNSCHEDULED_LAB_DAYS:
        if day - 7 in severe_days or (day == 35 and 28 in severe_days):
            keep.add(day)
        else:
            break
    frame = frame[frame["day"].isin(keep) & (frame["day"] <= b.last_day)].reset_index(drop=True)
    for test, term in LAB_AE_TERMS.items():
        rows = frame[frame["lbtestcd"] == test]
        baseline_grade = int(rows["grade"].iloc[0])
        rows = rows[rows["day"] >= 0]
        grades, lab_days = rows["grade"].tolist(), rows["day"].tolist()
        for course in _episodes(grades, lab_days, baseline_grade):
            at_28 = [g for d, g in course if d <= 28]
            prolonged = test in ("NEUT", "PLAT") and (not at_28 or at_28[-1] >= 3)
            _record_course(
                staff,
                state,
                b,
                term,
                course,
                "possible" if prolonged else "unlikely",
                None if prolonged else "lymphodepletion",
                record_day=max(28, course[0][0]),
            )
    return frame.drop(columns=["day", "grade"])


def _kinetics_rows(
    subject_id: str, cohort: VirtualCohort, protocol: Protocol, b: _Builder
) -> pd.DataFrame:
    days = [d for d in _days(protocol, "kinetics") if d <= b.last_day]
    # The day-0 sample is drawn 1 h after the infusion.
    t = np.asarray([d + (1 / 24 if d == 0 else 0.0) for d in days])
    copies, _, cells, _ = cohort.observe_kinetics(t)
    kp = cohort.params.kinetics
    rows = []
    for j, day in enumerate(days):
        for unit, value, lloq in (
            ("copies/ug gDNA", copies[0, j], kp.lloq_copies_ug),
            ("cells/uL", cells[0, j], kp.lloq_flow_cells_ul),
        ):
            rows.append(
                {
                    "subject_id": subject_id,
                    "date": b.date(day),
                    "value": float(value) if value > 0 else np.nan,
                    "unit": unit,
                    "lloq": lloq,
                }
            )
    return pd.DataFrame(rows)


def _crs_icans(
    subject_id: str, cohort: VirtualCohort, protocol: Protocol, b: _Builder, coord: ServiceContext
) -> None:
    """Daily findings on the protocol's CRS/ICANS days, and every day while a grade is > 0."""
    horizon = 60
    days = np.arange(0, horizon + 1)
    crs = cohort.observe_crs(days)
    icans = cohort.observe_icans(days)
    active = (crs["grade"][0] > 0) | (icans["grade"][0] > 0)
    scheduled = set(_days(protocol, "crs_icans"))
    for j, day in enumerate(days.tolist()):
        if day not in scheduled and not active[j] and not (j and active[j - 1]):
            continue
        hypo = int(crs["hypotension"][0, j])
        oxygen = int(crs["oxygen"][0, j])
        level = CONSCIOUSNESS[int(icans["consciousness"][0, j])]
        ice = int(icans["ice_score"][0, j])
        data = RecordCrsIcansDay(
            subject_id=subject_id,
            observed_date=b.date(day),
            temperature_c=float(crs["temperature_c"][0, j]),
            hypotension=hypo >= 2,
            vasopressors={3: 1, 4: 2}.get(hypo, 0),
            oxygen_device=_OXYGEN_DEVICE[oxygen],
            oxygen_flow_l_min=float(crs["oxygen_l_min"][0, j]) if oxygen in (2, 3) else None,
            consciousness=_CONSCIOUSNESS[level],
            tocilizumab=bool(crs["tocilizumab"][0, j]),
            steroids=bool(crs["steroids"][0, j]),
            **(_ice_domains(ice) if ice >= 0 else {}),
        )
        b.at(day, "crs_icans", call(record_crs_icans_day, coord, data))


def _clinical_aes(
    state: SubjectState, cohort: VirtualCohort, b: _Builder, staff: SiteStaff, follow_up: int
) -> None:
    """CRS and ICANS with their daily grade course; gastric injury and other AEs."""
    days = np.arange(0, 61)
    for term, episode in (
        ("Cytokine release syndrome", cohort.crs),
        ("Immune effector cell-associated neurotoxicity syndrome", cohort.icans),
    ):
        grades = episode.grade(days)[0]
        if not grades.any():
            continue
        course: list[tuple[int, int]] = []
        for day, grade in zip(days.tolist(), grades.tolist(), strict=True):
            if (course and grade != course[-1][1]) or (not course and grade > 0):
                course.append((day, grade))
            if course and grade == 0:
                break
        _record_course(staff, state, b, term, course, "probable", None)
    events = cohort.adverse_events()
    cart_terms = [
        "Cytokine release syndrome",
        "Immune effector cell-associated neurotoxicity syndrome",
    ]
    others = events[~events["term"].isin(cart_terms)]
    for row in others.to_dict("records"):
        onset, end = int(float(row["onset_day"])), int(float(row["resolution_day"]))
        if onset > min(b.last_day, follow_up):
            continue
        _record_course(
            staff,
            state,
            b,
            str(row["term"]),
            [(onset, int(float(row["grade"]))), (end, 0)],
            str(row["attribution"]),
            str(row["cause"]) or None,
        )


def _lesion_inputs(rows: pd.DataFrame) -> tuple[LesionInput, ...]:
    """The lesions of one scan (rows of :func:`~cartrial.virtual.scans.scan_lesions`)."""
    return tuple(
        LesionInput(
            lesion_id=row["lesion_id"],
            category=row["category"],
            organ=row["organ"],
            is_lymph_node=bool(row["is_lymph_node"]),
            diameter_mm=None if np.isnan(row["diameter_mm"]) else float(row["diameter_mm"]),
            status=row["status"],
        )
        for row in rows.to_dict("records")
    )


def _tumour(
    subject_id: str,
    state: SubjectState,
    cohort: VirtualCohort,
    protocol: Protocol,
    b: _Builder,
    inv: ServiceContext,
) -> None:
    """Scans until progression (the baseline scan is recorded by the driver).

    The lesions of each scan are those of :func:`cartrial.virtual.scans.scan_lesions`; a scan's
    record is built on its day, only when the subject has not progressed by then.
    """
    days = [d for d in _days(protocol, "tumour") if d > 0]
    rows = scan_lesions(cohort, days)
    for scan_day, scan_rows in rows.groupby("day", sort=True):
        day = int(float(scan_day))  # type: ignore[arg-type]

        def scan(day: int = day, scan_rows: pd.DataFrame = scan_rows) -> None:
            if state.progressed:
                return
            data = RecordTumourAssessment(
                subject_id=subject_id,
                assessment_date=b.date(day),
                lesions=_lesion_inputs(scan_rows),
                method="CT",
            )
            result = record_tumour_assessment(inv, data)
            if result.overall_response is not None:
                state.responses.append(result.overall_response)
                state.progressed = result.overall_response == "PD"

        b.at(day, "tumour", scan)


def screening_record(
    subject_id: str, site: str, date: dt.date, baseline: Baseline, index: int
) -> ScreenSubject:
    """The screening record of referred patient ``index`` of ``baseline``.

    What the model does not hold is set as the study's referrals are: CLDN18.2 staining read at
    2+ intensity, every patient refractory to standard therapy, and a life expectancy of
    24 - 8 x ECOG weeks (the investigator's estimate).
    """
    b, i = baseline, index
    ecog = int(b.ecog[i])
    return ScreenSubject(
        subject_id=subject_id,
        site_id=site,
        screening_date=date,
        age=int(b.age[i]),
        sex="F" if b.female[i] else "M",
        indication=INDICATIONS[int(b.indication[i])],
        ecog=ecog,
        cldn18_ihc_pct=float(b.cldn18_pct[i]),
        cldn18_ihc_intensity=2,
        prior_lines=int(b.prior_lines[i]),
        refractory_to_standard_therapy=True,
        measurable_disease=bool(b.measurable_disease[i]),
        life_expectancy_weeks=24 - 8 * ecog,
        anc_1e9_l=float(b.anc[i]),
        platelets_1e9_l=float(b.platelets[i]),
        hemoglobin_g_dl=float(b.hemoglobin[i]),
        creatinine_clearance_ml_min=float(b.creatinine_clearance[i]),
        alt_x_uln=float(b.alt_x_uln[i]),
        bilirubin_x_uln=float(b.bilirubin_x_uln[i]),
    )


def baseline_assessment(
    subject_id: str, baseline: Baseline, day: dt.date
) -> RecordTumourAssessment:
    """The screening scan of a one-patient ``baseline``: every lesion, targets with diameters."""
    lesions = _lesion_inputs(baseline_lesions(baseline))
    return RecordTumourAssessment(
        subject_id=subject_id, assessment_date=day, lesions=lesions, method="CT"
    )


def _samples(
    subject_id: str, cohort: VirtualCohort, protocol: Protocol, b: _Builder, coord: ServiceContext
) -> None:
    """Anti-CAR antibodies and, while CAR+ cells are detectable, immunophenotype panels."""
    ada_days = [d for d in _days(protocol, "ada") if d > 0]
    screen, confirmed, titer = cohort.observe_antibodies(np.asarray(ada_days, dtype=float))
    for j, day in enumerate(ada_days):
        data = RecordAda(
            subject_id=subject_id,
            sample_date=b.date(day),
            screen="positive" if screen[0, j] else "negative",
            confirmed=bool(confirmed[0, j]) if screen[0, j] else None,
            titer=float(titer[0, j]) if confirmed[0, j] else None,
        )
        b.at(day, "samples", call(record_ada, coord, data))
    pheno_days = [d for d in _days(protocol, "phenotype") if d > 0]
    t = np.asarray(pheno_days, dtype=float)
    values = cohort.observe_phenotype(t)
    below = cohort.observe_kinetics(t)[3]
    markers = cohort.phenotype.markers
    for j, day in enumerate(pheno_days):
        if below[0, j]:
            continue
        panel = RecordPhenotype(
            subject_id=subject_id,
            sample_date=b.date(day),
            panel="CAR+ T-cell memory/exhaustion",
            values={m: float(values[0, j, k]) for k, m in enumerate(markers)},
        )
        b.at(day, "samples", call(record_phenotype, coord, panel))


def _follow_up(
    subject_id: str, truth: pd.Series, protocol: Protocol, b: _Builder, inv: ServiceContext
) -> None:
    """Survival contacts, subsequent therapy, then death, withdrawal or the last visit."""
    for day in _days(protocol, "survival"):
        if day < b.last_day:
            contact = RecordFollowUp(
                subject_id=subject_id, contact_date=b.date(day), status="alive"
            )
            b.at(day, "follow_up", call(record_follow_up, inv, contact))
    therapy_day = truth["subsequent_therapy_day"]
    if np.isfinite(therapy_day) and therapy_day < b.last_day:
        therapy = RecordSubsequentTherapy(
            subject_id=subject_id,
            therapy="second-line chemotherapy",
            start_date=b.date(therapy_day),
        )
        b.at(int(therapy_day), "follow_up", call(record_subsequent_therapy, inv, therapy))
    end = b.last_day
    if (
        truth["death_day"] <= truth["dropout_day"]
        and truth["death_day"] <= protocol.schedule.follow_up_days
    ):
        death = RecordFollowUp(
            subject_id=subject_id,
            contact_date=b.date(end),
            status="dead",
            death_date=b.date(end),
            death_cause="disease progression",
        )
        b.at(end, "end", call(record_follow_up, inv, death))
    elif truth["dropout_day"] <= protocol.schedule.follow_up_days:
        contact = RecordFollowUp(
            subject_id=subject_id, contact_date=b.date(end), status="withdrew_consent"
        )
        withdrawal = WithdrawSubject(
            subject_id=subject_id, withdrawn_date=b.date(end), reason="consent withdrawn"
        )

        def withdraw() -> None:
            record_follow_up(inv, contact)
            withdraw_subject(inv, withdrawal)

        b.at(end, "end", withdraw)
    else:
        last = RecordFollowUp(subject_id=subject_id, contact_date=b.date(end), status="alive")
        b.at(end, "end", call(record_follow_up, inv, last))
