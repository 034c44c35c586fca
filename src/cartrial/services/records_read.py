"""Every record of a study read back as the import rows that would record it again.

:func:`recorded_rows` returns, per record family of
:data:`~cartrial.services.imports_records.RECORD_FAMILIES`, the rows (the family's CSV row model)
that, imported into an empty study, give the same records: the ODM export writes them and the
ODM import reads them back, so export -> import -> export is the identity.

Canonical forms where one record can be typed in several ways: an adverse event is its onset
record (first grade, not resolved; outcome ``fatal`` only with grade 5) followed by its grade
changes (the last one carries the outcome); times are in UTC. The signed governance records
(DLT adjudications, dose decisions, end of escalation, RP2D, expansion) come from
:func:`~cartrial.services.imports_governance.governance_rows`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from cartrial.errors import ValidationFailed
from cartrial.services.context import ServiceContext, use_case
from cartrial.services.imports_governance import governance_rows
from cartrial.services.imports_records import RECORD_FAMILIES, CsvRow
from cartrial.store import (
    AdaResult,
    AdverseEvent,
    AeGradeChange,
    CrsIcansObservation,
    DoseAssignment,
    EligibilityAssessment,
    EligibilityCriterion,
    Enrolment,
    Infusion,
    KineticsSample,
    LabResult,
    LesionMeasurement,
    Lymphodepletion,
    PhenotypePanel,
    PhenotypeValue,
    Site,
    Subject,
    SubsequentTherapy,
    SurvivalFollowUp,
    TumourLesion,
    live,
)

__all__ = ["READERS", "recorded_rows"]

#: Roles that may read the whole study's records (study-wide).
READERS = ("investigator", "data_manager", "monitor", "statistician")


def _utc(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _as_row(family: str, record: Any, code: dict[int, str], **given: object) -> dict[str, Any]:
    """The row of ``family`` for ``record``: each field from the attribute of the same name.

    ``given`` sets the fields stored under another name; times are returned in UTC.
    """
    names = [n for n in RECORD_FAMILIES[family].row.model_fields if n != "subject_id"]
    row: dict[str, Any] = {"subject_id": code[record.subject_id]}
    for name in names:
        value = given[name] if name in given else getattr(record, name)
        row[name] = _utc(value) if isinstance(value, dt.datetime) else value
    return row


def recorded_rows(ctx: ServiceContext) -> dict[str, list[CsvRow]]:
    """Every live record of the study as import rows, per family, in import order.

    Rows are ordered by subject code, then date, then entry order. Subjects screened before the
    screening values were kept with each criterion (``EligibilityCriterion.value`` empty) cannot
    be read back: :class:`ValidationFailed` names the first.
    """
    with use_case(ctx, *READERS, read_only=True) as uc:
        session = uc.session
        subjects = {
            s.id: s
            for s in session.scalars(
                select(Subject)
                .where(Subject.study_id == uc.study.id, live(Subject))
                .order_by(Subject.subject_code)
            )
        }
        code = {sid: s.subject_code for sid, s in subjects.items()}
        sites = {s.id: s.code for s in session.scalars(select(Site).where(live(Site)))}
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)

        def rows_of(model: Any, *order: Any) -> list[Any]:
            found = session.scalars(
                select(model)
                .where(model.subject_id.in_(list(subjects)), live(model))
                .order_by(*order, model.id)
            )
            return sorted(found, key=lambda r: code[r.subject_id])

        values: dict[int, dict[str, object]] = defaultdict(dict)
        for criterion, subject_id in session.execute(
            select(EligibilityCriterion, EligibilityAssessment.subject_id)
            .join(EligibilityAssessment)
            .where(EligibilityAssessment.subject_id.in_(list(subjects)), live(EligibilityCriterion))
        ).tuples():
            if criterion.value is None:
                raise ValidationFailed(
                    "subject_id",
                    f"{code[subject_id]}: screening values were not kept, cannot export",
                )
            values[subject_id].update(json.loads(criterion.value))
        for assessment in rows_of(EligibilityAssessment, EligibilityAssessment.assessed_date):
            s = subjects[assessment.subject_id]
            out["screening"].append(
                {
                    "subject_id": s.subject_code,
                    "site_id": sites[s.site_id],
                    "screening_date": assessment.assessed_date,
                    "sex": s.sex,
                    **values[s.id],
                }
            )
        for e in rows_of(Enrolment, Enrolment.enrolled_date):
            out["enrolment"].append(
                {"subject_id": code[e.subject_id], "enrolled_date": e.enrolled_date}
            )
        for d in rows_of(DoseAssignment, DoseAssignment.assigned_at):
            out["dose_assignment"].append(
                {"subject_id": code[d.subject_id], "dose_level": d.dose_level}
            )
        #: families stored field for field in one table: (family, table, order within subject)
        same_names: tuple[tuple[str, Any, Any], ...] = (
            ("lymphodepletion", Lymphodepletion, Lymphodepletion.administered_date),
            ("infusion", Infusion, Infusion.infused_at),
            ("labs", LabResult, LabResult.collected_at),
            ("kinetics", KineticsSample, KineticsSample.collected_at),
            ("ada", AdaResult, AdaResult.sample_date),
            ("follow_up", SurvivalFollowUp, SurvivalFollowUp.contact_date),
            ("subsequent_therapy", SubsequentTherapy, SubsequentTherapy.start_date),
        )
        for family, model, order in same_names:
            out[family] += [_as_row(family, r, code) for r in rows_of(model, order)]
        _adverse_events(session, rows_of(AdverseEvent, AdverseEvent.onset_at), code, out)
        out["crs_icans_days"] += [
            _as_row(
                "crs_icans_days",
                o,
                code,
                motor_weakness=o.motor not in (None, "none"),
                cerebral_edema=o.icp,
            )
            for o in rows_of(CrsIcansObservation, CrsIcansObservation.observed_date)
        ]
        measured = session.execute(
            select(LesionMeasurement, TumourLesion)
            .join(TumourLesion, TumourLesion.id == LesionMeasurement.lesion_id)
            .where(
                TumourLesion.subject_id.in_(list(subjects)),
                live(LesionMeasurement),
                live(TumourLesion),
            )
            .order_by(LesionMeasurement.assessment_date, LesionMeasurement.id)
        ).tuples()
        for m, lesion in sorted(measured, key=lambda ml: code[ml[1].subject_id]):
            out["tumour_assessments"].append(
                _as_row(
                    "tumour_assessments",
                    lesion,
                    code,
                    lesion_id=lesion.lesion_code,
                    assessment_date=m.assessment_date,
                    method=m.method,
                    diameter_mm=m.diameter_mm,
                    status=m.status,
                )
            )
        for panel in rows_of(PhenotypePanel, PhenotypePanel.sample_date):
            markers = session.scalars(
                select(PhenotypeValue)
                .where(PhenotypeValue.panel_id == panel.id, live(PhenotypeValue))
                .order_by(PhenotypeValue.marker)
            )
            out["phenotype"] += [
                _as_row("phenotype", panel, code, marker=v.marker, value=v.value) for v in markers
            ]
        out.update(governance_rows(uc, code))
        for s in subjects.values():
            if s.withdrawn_date is not None:
                out["withdrawal"].append(
                    {
                        "subject_id": s.subject_code,
                        "withdrawn_date": s.withdrawn_date,
                        "reason": s.withdrawal_reason,
                    }
                )
    return {
        name: [family.row.model_validate(r) for r in out[name]]  # type: ignore[misc]
        for name, family in RECORD_FAMILIES.items()
        if out[name]
    }


def _adverse_events(
    session: Any,
    events: list[AdverseEvent],
    code: dict[int, str],
    out: dict[str, list[dict[str, Any]]],
) -> None:
    """AEs in their canonical form: the onset record, then each later grade change."""
    for ae in events:
        changes = list(
            session.scalars(
                select(AeGradeChange)
                .where(AeGradeChange.adverse_event_id == ae.id, live(AeGradeChange))
                .order_by(AeGradeChange.changed_at, AeGradeChange.id)
            )
        )
        first, later = (changes[0], changes[1:]) if changes else (None, [])
        grade = first.grade if first is not None else ae.grade
        onset = _utc(ae.onset_at)
        out["adverse_events"].append(
            {
                "subject_id": code[ae.subject_id],
                "term": ae.term,
                "grade": grade,
                "onset_at": onset,
                "resolved_at": None if later else ae.resolved_at and _utc(ae.resolved_at),
                "serious": ae.serious,
                "attribution": ae.attribution,
                "alternative_cause": ae.alternative_cause,
                "outcome": None if later and grade != 5 else ae.outcome,
                "verbatim": ae.verbatim,
            }
        )
        for i, change in enumerate(later):
            out["grade_changes"].append(
                {
                    "subject_id": code[ae.subject_id],
                    "term": ae.term,
                    "onset_at": onset,
                    "grade": change.grade,
                    "changed_at": _utc(change.changed_at),
                    "outcome": ae.outcome if i == len(later) - 1 else None,
                }
            )
