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

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass

import pandas as pd
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from cartrial.protocol import Protocol
from cartrial.services.base import ServiceInput, ServiceResult
from cartrial.services.context import ServiceContext, use_case
from cartrial.services.derive import (
    derive_study_dlt,
    lab_grade_frame,
    lesion_frame,
    load_by_ids,
    optional,
    recist_frame,
    sync_timepoints,
)
from cartrial.services.study_calendar import study_date
from cartrial.services.toxicity import grade_course
from cartrial.store import (
    CrsIcansObservation,
    Infusion,
    LabResult,
    Subject,
    TimepointResponse,
    live,
)

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


@dataclass(frozen=True)
class _Day:
    """A stored CRS/ICANS day as a plain row: inputs, derived values and its id."""

    id: int
    subject_id: int
    observed_date: dt.date
    temperature_c: float | None
    hypotension: bool
    vasopressors: int
    oxygen_device: str | None
    oxygen_flow_l_min: float | None
    ice_orientation: int | None
    ice_naming: int | None
    ice_commands: int | None
    ice_writing: int | None
    ice_attention: int | None
    consciousness: str | None
    seizure: str | None
    motor: str | None
    icp: str | None
    tocilizumab: bool
    steroids: bool
    ice_score: int | None
    crs_grade: int | None
    crs_driver: str | None
    icans_grade: int | None
    icans_driver: str | None


def _rederive_labs(session: Session, study_id: int) -> tuple[int, int]:
    o = LabResult
    rows = session.execute(
        select(
            o.id, o.lbtestcd, o.value, o.unit, o.lln, o.uln, o.baseline,
            o.term, o.grade, o.grade_criterion,
        )
        .join(Subject, Subject.id == o.subject_id)
        .where(Subject.study_id == study_id, live(o))
    ).all()  # fmt: skip
    if not rows:
        return 0, 0
    frame = pd.DataFrame(rows, columns=list(rows[0]._fields))
    graded = lab_grade_frame(frame[["lbtestcd", "value", "unit", "lln", "uln", "baseline"]])
    updates = {
        int(lab_id): new
        for lab_id, old, new in zip(
            frame["id"],
            zip(frame["term"], frame["grade"], frame["grade_criterion"], strict=True),
            zip(graded["term"], graded["grade"], graded["criterion"], strict=True),
            strict=True,
        )
        if tuple(optional(v) for v in old) != new
    }
    for lab_id, lab in load_by_ids(session, LabResult, list(updates)).items():
        lab.term, lab.grade, lab.grade_criterion = updates[lab_id]
    return len(rows), len(updates)


def _rederive_crs_icans(session: Session, study_id: int, protocol: Protocol) -> tuple[int, int]:
    fields = [f.name for f in dataclasses.fields(_Day)]
    o = CrsIcansObservation
    rows = session.execute(
        select(*(getattr(o, name) for name in fields))
        .join(Subject, Subject.id == o.subject_id)
        .where(Subject.study_id == study_id, live(o))
    ).all()
    days = [_Day(*row) for row in rows]
    updates = {
        day.id: values
        for day, values in grade_course(protocol, days)
        if any(getattr(day, name) != value for name, value in values.items())
    }
    for day_id, obs in load_by_ids(session, CrsIcansObservation, list(updates)).items():
        for name, value in updates[day_id].items():
            setattr(obs, name, value)
    return len(days), len(updates)


def _rederive_recist(session: Session, study_id: int, protocol: Protocol) -> int:
    infusions = {
        subject_id: study_date(infused_at, protocol.study.time_zone)
        for subject_id, infused_at in session.execute(
            select(Infusion.subject_id, Infusion.infused_at)
            .join(Subject, Subject.id == Infusion.subject_id)
            .where(Subject.study_id == study_id, live(Infusion))
        )
    }
    lesions = lesion_frame(session, None, study_id)
    existing = list(
        session.scalars(
            select(TimepointResponse)
            .join(Subject, Subject.id == TimepointResponse.subject_id)
            .where(Subject.study_id == study_id, live(TimepointResponse))
        )
    )
    computed = recist_frame(protocol, lesions, infusions)
    subject_ids = set(lesions["subject_id"]) | {tp.subject_id for tp in existing}
    return sync_timepoints(session, existing, computed, subject_ids)


def rederive_study(ctx: ServiceContext, data: RederiveStudy) -> StudyRederived:
    """Recompute every derived value of the study; write only what changed.

    Stored values are read as plain rows and compared with the recomputed ones; only the
    records that differ are loaded and updated (with the audit trail). Data managers and
    administrators may run it.
    """
    started = time.perf_counter()
    reason = f"re-derivation: {data.reason}"
    with use_case(ctx, "data_manager", "admin", reason=reason) as uc, uc.session.no_autoflush:
        session, sid, protocol = uc.session, uc.study.id, uc.protocol
        labs_checked, labs_changed = _rederive_labs(session, sid)
        days_checked, days_changed = _rederive_crs_icans(session, sid, protocol)
        timepoints_changed = _rederive_recist(session, sid, protocol)
        ae_checked, ae_changed = derive_study_dlt(session, sid, protocol)
        session.flush()
        return StudyRederived(
            labs_checked=labs_checked,
            labs_changed=labs_changed,
            crs_icans_checked=days_checked,
            crs_icans_changed=days_changed,
            timepoints_changed=timepoints_changed,
            adverse_events_checked=ae_checked,
            adverse_events_changed=ae_changed,
            seconds=time.perf_counter() - started,
        )
