"""What a tumour assessment would give, before it is saved: the RECIST 1.1 evaluation on the fly.

The web form's lesion table asks :func:`preview_tumour_assessment` at each change: the subject's
stored lesion measurements plus the assessment being typed are evaluated by the same engine and
protocol settings as :func:`cartrial.services.efficacy.record_tumour_assessment` (no RECIST rule
is written here), inside a read-only use case, so nothing is stored. A baseline before the
infusion has no reference date yet: it is evaluated with its own date as the reference (RECIST
allows a baseline on the reference day), which yields its sum of diameters and its checks.
"""

from __future__ import annotations

import pandas as pd

from cartrial.errors import RuleInputError, ValidationFailed
from cartrial.rules import recist
from cartrial.services.base import ServiceResult
from cartrial.services.context import ServiceContext, use_case
from cartrial.services.derive import lesion_frame, optional
from cartrial.services.efficacy import ASSESSORS, RecordTumourAssessment
from cartrial.services.treatment import infusion_of

__all__ = ["TumourPreview", "preview_tumour_assessment"]


class TumourPreview(ServiceResult):
    """The RECIST 1.1 evaluation of the assessment being typed (nothing stored).

    Sums are in mm: ``sum_of_diameters_mm`` of this assessment's target lesions (longest
    diameter; short axis for nodes); for a follow-up, the baseline sum and nadir it is compared
    with, the percent changes and the time-point responses with the RECIST 1.1 rule that fired.
    """

    subject_id: str
    baseline: bool
    sum_of_diameters_mm: float | None
    baseline_sum_mm: float | None = None
    nadir_mm: float | None = None
    pct_change_from_baseline: float | None = None
    pct_change_from_nadir: float | None = None
    target_response: str | None = None
    nontarget_response: str | None = None
    new_lesions: bool | None = None
    overall_response: str | None = None
    rule: str | None = None


def _number(value: object) -> float | None:
    found = optional(value)
    return None if found is None else round(float(found), 1)  # type: ignore[arg-type]


def preview_tumour_assessment(ctx: ServiceContext, data: RecordTumourAssessment) -> TumourPreview:
    """Evaluate ``data`` with the subject's earlier assessments, without storing anything.

    Raises
    ------
    ValidationFailed
        ``assessment_date`` already assessed; ``lesions`` when the RECIST engine rejects the
        history (the message names the lesion and the rule).
    """
    with use_case(
        ctx, *ASSESSORS, site_scoped=True, read_only=True, subjects=[data.subject_id]
    ) as uc:
        subject = uc.subject(data.subject_id, *ASSESSORS)
        stored = lesion_frame(uc.session, [subject.id], uc.study.id)
        day = pd.Timestamp(data.assessment_date)
        dates = set(pd.to_datetime(stored["assessment_date"]))
        if day in dates:
            raise ValidationFailed("assessment_date", f"{data.assessment_date} is already assessed")
        stored["subject_id"] = data.subject_id  # the engine's subject label: the code
        typed = [
            {
                "subject_id": data.subject_id,
                "assessment_date": data.assessment_date,
                "lesion_id": lesion.lesion_id,
                "category": lesion.category,
                "organ": lesion.organ,
                "is_lymph_node": lesion.is_lymph_node,
                "diameter_mm": lesion.diameter_mm,
                "status": lesion.status,
            }
            for lesion in data.lesions
        ]
        lesions = pd.DataFrame(
            [*stored.to_dict("records"), *typed], columns=list(recist.LESION_COLUMNS)
        )
        infusion = infusion_of(uc, subject)
        baseline = not dates or day < min(dates)
        reference = (
            uc.study_date(infusion.infused_at) if infusion is not None else data.assessment_date
        )
        settings = uc.protocol.recist
        try:
            result = recist.evaluate(
                lesions,
                {data.subject_id: reference},
                confirm=settings.confirm,
                sd_min_days=settings.sd_min_days,
                confirm_min_days=settings.confirm_min_days,
            )
        except RuleInputError as exc:
            raise ValidationFailed("lesions", str(exc)) from None
        if baseline:
            best = result.best.iloc[0]
            return TumourPreview(
                subject_id=data.subject_id,
                baseline=True,
                sum_of_diameters_mm=_number(best["baseline_sum_mm"]),
            )
        points = result.timepoints
        row = points[pd.to_datetime(points["assessment_date"]) == day].iloc[0]
        return TumourPreview(
            subject_id=data.subject_id,
            baseline=False,
            sum_of_diameters_mm=_number(row["sum_of_diameters_mm"]),
            baseline_sum_mm=_number(row["baseline_sum_mm"]),
            nadir_mm=_number(row["nadir_mm"]),
            pct_change_from_baseline=_number(row["pct_change_from_baseline"]),
            pct_change_from_nadir=_number(row["pct_change_from_nadir"]),
            target_response=str(row["target_response"]),
            nontarget_response=str(row["nontarget_response"]),
            new_lesions=bool(row["new_lesions"]),
            overall_response=str(row["overall_response"]),
            rule=str(row["rule"]),
        )
