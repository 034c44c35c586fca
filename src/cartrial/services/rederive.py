"""Re-derive every derived value of a study in one call (``cartrial rederive``).

After a rule-table correction or a protocol amendment the derived columns are recomputed from the
stored inputs with the same functions the use cases use at write time: lab CTCAE grades
(one vectorised ``grade_labs`` call), CRS/ICANS grades (day by day), RECIST 1.1 time-point
responses (one ``recist.evaluate`` call) and DLT flags (``dlt.adjudicate`` per infused subject,
investigator overrides kept). Only values that change are written, in ONE audited transaction
whose reason names the re-derivation. Signed records (dose decisions, data locks) and screening
outcomes are decisions, not derived values, and are left as signed.
"""

from __future__ import annotations

import time

import pandas as pd
from pydantic import Field
from sqlalchemy import select

from cartrial.services.base import ServiceInput, ServiceResult
from cartrial.services.context import ServiceContext, use_case
from cartrial.services.derive import (
    derive_study_dlt,
    lab_grade_frame,
    lesion_frame,
    recist_frame,
    sync_timepoints,
)
from cartrial.services.toxicity import apply_grades, grade_course
from cartrial.store import CrsIcansObservation, Infusion, LabResult, Subject, TimepointResponse

__all__ = ["RederiveStudy", "StudyRederived", "rederive_study"]


class RederiveStudy(ServiceInput):
    """Why the study is re-derived (recorded as the reason of every change)."""

    reason: str = Field(min_length=1, max_length=500)


class StudyRederived(ServiceResult):
    """How many records of each kind were checked and how many changed, and the time taken."""

    labs_checked: int
    labs_changed: int
    crs_icans_checked: int
    crs_icans_changed: int
    timepoints_changed: int
    adverse_events_checked: int
    adverse_events_changed: int
    seconds: float


def rederive_study(ctx: ServiceContext, data: RederiveStudy) -> StudyRederived:
    """Recompute every derived value of the study; write only what changed.

    Data managers and administrators may run it.
    """
    started = time.perf_counter()
    reason = f"re-derivation: {data.reason}"
    with use_case(ctx, "data_manager", "admin", reason=reason) as uc:
        session, sid, protocol = uc.session, uc.study.id, uc.protocol
        labs = list(
            session.scalars(
                select(LabResult)
                .join(Subject)
                .where(Subject.study_id == sid, LabResult.deleted_at.is_(None))
            )
        )
        labs_changed = 0
        if labs:
            graded = lab_grade_frame(
                pd.DataFrame(
                    {
                        "lbtestcd": [lab.lbtestcd for lab in labs],
                        "value": [lab.value for lab in labs],
                        "unit": [lab.unit for lab in labs],
                        "lln": [lab.lln for lab in labs],
                        "uln": [lab.uln for lab in labs],
                        "baseline": [lab.baseline for lab in labs],
                    }
                )
            )
            for lab, term, grade, criterion in zip(
                labs, graded["term"], graded["grade"], graded["criterion"], strict=True
            ):
                if (lab.term, lab.grade, lab.grade_criterion) != (term, grade, criterion):
                    lab.term, lab.grade, lab.grade_criterion = term, grade, criterion
                    labs_changed += 1
        observations = list(
            session.scalars(
                select(CrsIcansObservation)
                .join(Subject)
                .where(Subject.study_id == sid, CrsIcansObservation.deleted_at.is_(None))
            )
        )
        crs_changed = apply_grades(grade_course(protocol, observations))
        infusions = {
            subject_id: infused_at.date()
            for subject_id, infused_at in session.execute(
                select(Infusion.subject_id, Infusion.infused_at)
                .join(Subject)
                .where(Subject.study_id == sid, Infusion.deleted_at.is_(None))
            )
        }
        lesions = lesion_frame(session, None, sid)
        existing = list(
            session.scalars(
                select(TimepointResponse)
                .join(Subject)
                .where(Subject.study_id == sid, TimepointResponse.deleted_at.is_(None))
            )
        )
        computed = recist_frame(protocol, lesions, infusions)
        subject_ids = set(lesions["subject_id"]) | {tp.subject_id for tp in existing}
        tp_changed = sync_timepoints(session, existing, computed, subject_ids)
        ae_checked, ae_changed = derive_study_dlt(session, sid, protocol)
        session.flush()
        return StudyRederived(
            labs_checked=len(labs),
            labs_changed=labs_changed,
            crs_icans_checked=len(observations),
            crs_icans_changed=crs_changed,
            timepoints_changed=tp_changed,
            adverse_events_checked=ae_checked,
            adverse_events_changed=ae_changed,
            seconds=time.perf_counter() - started,
        )
