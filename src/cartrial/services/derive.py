"""Derived values: computed by :mod:`cartrial.rules` from stored inputs, then synchronised.

The same functions serve the write-time derivation of one subject (a use case) and the
re-derivation of a whole study (:mod:`cartrial.services.rederive`): each ``*_frame`` function turns
input rows into derived values with one vectorised rule call, and each ``sync_*`` function writes
only the values that differ (so an unchanged study re-derives without a single audit row).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cartrial.errors import RuleInputError, ValidationFailed
from cartrial.protocol import Protocol
from cartrial.rules import ctcae, dlt, recist
from cartrial.services.context import UseCase
from cartrial.store import (
    AdverseEvent,
    AeGradeChange,
    Infusion,
    LesionMeasurement,
    Subject,
    TimepointResponse,
    TumourLesion,
    live,
    soft_delete,
    utcnow,
)

M = TypeVar("M")

__all__ = [
    "DLT_DERIVED",
    "LAB_DERIVED",
    "OVERRIDE_RULE",
    "TIMEPOINT_DERIVED",
    "adjudicate_events",
    "derive_study_dlt",
    "derive_subject_dlt",
    "dlt_values",
    "fallback_course",
    "lab_grade_frame",
    "lesion_frame",
    "load_by_ids",
    "optional",
    "recist_frame",
    "sync_timepoints",
]

#: LabResult columns derived from value, unit, limits and baseline.
LAB_DERIVED = ("term", "grade", "grade_criterion")
#: TimepointResponse columns derived by RECIST 1.1 from the lesion measurements.
TIMEPOINT_DERIVED = (
    "target_response",
    "nontarget_response",
    "new_lesions",
    "overall_response",
    "sum_of_diameters_mm",
    "pct_change_from_baseline",
    "pct_change_from_nadir",
)


def optional(value: object) -> object:
    """A pandas cell as a Python value: NaN/NA/NaT become ``None``, numpy scalars unwrapped."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _field_of(message: str) -> str:
    lowered = message.lower()
    for name in ("unit", "lln", "uln", "baseline"):
        if name in lowered:
            return name
    if "value" in lowered:
        return "value"
    return "lbtestcd"


def lab_grade_frame(labs: pd.DataFrame) -> pd.DataFrame:
    """CTCAE term, grade and criterion of every lab row.

    ``labs`` has columns ``lbtestcd, value, unit, lln, uln, baseline`` (limits may be None).

    Returns a frame aligned with ``labs`` with columns ``term`` (str or None), ``grade`` (int or
    None when CTCAE has no numeric criterion) and ``criterion``.

    Raises
    ------
    ValidationFailed
        The grading rejected a row; the field is read from the rule's message.
    """
    try:
        graded = ctcae.grade_labs(labs)
    except RuleInputError as exc:
        raise ValidationFailed(_field_of(str(exc)), str(exc)) from None
    return pd.DataFrame(
        {
            "term": [optional(t) for t in graded["term"]],
            "grade": [optional(g) for g in graded["grade"]],
            "criterion": [optional(c) for c in graded["criterion"]],
        },
        index=labs.index,
    )


def lesion_frame(
    session: Session, subject_ids: Iterable[int] | None, study_id: int
) -> pd.DataFrame:
    """The long RECIST lesion table (``recist.LESION_COLUMNS``) of some subjects (all if None).

    ``subject_id`` holds the subject's database id (callers map it to the subject code).
    """
    query = (
        select(
            TumourLesion.subject_id,
            LesionMeasurement.assessment_date,
            TumourLesion.lesion_code,
            TumourLesion.category,
            TumourLesion.organ,
            TumourLesion.is_lymph_node,
            LesionMeasurement.diameter_mm,
            LesionMeasurement.status,
        )
        .join(LesionMeasurement, LesionMeasurement.lesion_id == TumourLesion.id)
        .join(Subject, Subject.id == TumourLesion.subject_id)
        .where(
            Subject.study_id == study_id,
            live(TumourLesion),
            live(LesionMeasurement),
        )
    )
    if subject_ids is not None:
        query = query.where(TumourLesion.subject_id.in_(list(subject_ids)))
    rows = session.execute(query).all()
    return pd.DataFrame(rows, columns=list(recist.LESION_COLUMNS))


def recist_frame(
    protocol: Protocol, lesions: pd.DataFrame, infusion_dates: Mapping[int, dt.date]
) -> pd.DataFrame:
    """RECIST 1.1 time-point responses of the infused subjects among ``lesions``.

    Uses the protocol's ``recist`` settings (confirmation, SD minimum, confirmation interval).

    Raises
    ------
    ValidationFailed
        On ``lesions`` when the RECIST engine rejects the table (message names the lesion).
    """
    infused = lesions[lesions["subject_id"].isin(list(infusion_dates))]
    if infused.empty:
        return pd.DataFrame(columns=["subject_id", "assessment_date", *TIMEPOINT_DERIVED])
    references = {sid: infusion_dates[sid] for sid in infused["subject_id"].unique()}
    settings = protocol.recist
    try:
        result = recist.evaluate(
            infused,
            references,
            confirm=settings.confirm,
            sd_min_days=settings.sd_min_days,
            confirm_min_days=settings.confirm_min_days,
        )
    except RuleInputError as exc:
        raise ValidationFailed("lesions", str(exc)) from None
    return result.timepoints


def sync_timepoints(
    session: Session,
    existing: Sequence[TimepointResponse],
    computed: pd.DataFrame,
    subject_ids: Iterable[int],
) -> int:
    """Make the stored time-point responses of ``subject_ids`` equal ``computed``.

    Existing rows are updated in place when a derived value differs, missing ones added and
    stale ones (an assessment that no longer has a response) soft-deleted. Returns the number of
    rows written.
    """
    stored = {(tp.subject_id, tp.assessment_date): tp for tp in existing if tp.deleted_at is None}
    changed = 0
    seen: set[tuple[int, dt.date]] = set()
    for row in computed.to_dict("records"):
        key = (int(row["subject_id"]), pd.Timestamp(row["assessment_date"]).date())
        seen.add(key)
        values = {name: optional(row[name]) for name in TIMEPOINT_DERIVED}
        values["new_lesions"] = bool(values["new_lesions"])
        record = stored.get(key)
        if record is None:
            session.add(TimepointResponse(subject_id=key[0], assessment_date=key[1], **values))
            changed += 1
            continue
        if any(getattr(record, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(record, name, value)
            changed += 1
    wanted = set(subject_ids)
    for key, record in stored.items():
        if key not in seen and key[0] in wanted:
            soft_delete(session, record, "derived: no RECIST assessment on this date any more")
            changed += 1
    return changed


#: AdverseEvent columns derived by the DLT rules (unless an investigator overrode them).
DLT_DERIVED = ("is_dlt", "dlt_rule_id", "dlt_reason")
#: ``dlt_rule_id`` of an investigator's override; re-derivation never touches it.
OVERRIDE_RULE = "investigator_override"


def _course(ae: AdverseEvent) -> tuple[tuple[dt.datetime, int], ...]:
    changes = sorted((c.changed_at, c.grade) for c in ae.grade_changes if c.deleted_at is None)
    return tuple(changes) or fallback_course(ae.onset_at, ae.grade, ae.resolved_at)


def fallback_course(
    onset: dt.datetime, grade: int, resolved: dt.datetime | None
) -> tuple[tuple[dt.datetime, int], ...]:
    """An AE without a recorded course: its worst grade from onset to resolution."""
    return ((onset, grade),) if resolved is None else ((onset, grade), (resolved, 0))


def _event_id(ae: AdverseEvent) -> str:
    """The AE's id in the rules' result; ``"new-<object id>"`` for one not stored yet."""
    return str(ae.id) if ae.id is not None else f"new-{id(ae)}"


def _dlt_event(ae: AdverseEvent) -> dlt.AdverseEvent:
    return dlt.AdverseEvent(
        ae_id=_event_id(ae),
        term=ae.term,
        course=_course(ae),
        attribution=ae.attribution,
        alternative_cause=ae.alternative_cause,
    )


def adjudicate_events(
    protocol: Protocol,
    events: Sequence[dlt.AdverseEvent],
    infused_at: dt.datetime,
    subject_code: str,
) -> dlt.DLTAdjudication:
    """Apply the protocol's DLT definition to a subject's AEs, as known now.

    Events are known up to now or the latest recorded grade change if later, so an ongoing event
    whose outcome depends on more follow-up is ``pending`` (``is_dlt`` None). The rules get the
    protocol's ``study.time_zone`` (:func:`cartrial.rules.dlt.adjudicate`): study days are
    calendar days there (day 0 is the infusion's local date, an AE late in the evening west of
    UTC is on its local day) and durations are elapsed time, exact across daylight saving.

    Raises
    ------
    ValidationFailed
        On ``adverse_events`` when the rules reject an event (the message names the AE).
    """
    latest = max((t for e in events for t, _ in e.course), default=infused_at)
    as_of = max(utcnow(), latest, infused_at)
    try:
        return dlt.adjudicate(
            protocol.dlt,
            events,
            infused_at,
            as_of=as_of,
            subject_id=subject_code,
            time_zone=protocol.study.time_zone,
        )
    except RuleInputError as exc:
        raise ValidationFailed("adverse_events", str(exc)) from None


def dlt_values(event: dlt.EventAdjudication) -> tuple[bool | None, str, str]:
    """``(is_dlt, dlt_rule_id, dlt_reason)`` to store for one event (pending: ``is_dlt`` None)."""
    return (None if event.status == "pending" else event.is_dlt, event.rule_id, event.reason)


def load_by_ids(session: Session, model: type[M], ids: Sequence[int]) -> dict[int, M]:
    """ORM records of ``model`` with the given ids (queried in chunks)."""
    found: dict[int, M] = {}
    column = model.id  # type: ignore[attr-defined]
    for i in range(0, len(ids), 5000):
        chunk = list(ids[i : i + 5000])
        for record in session.scalars(select(model).where(column.in_(chunk))):
            found[record.id] = record  # type: ignore[attr-defined]
    return found


def derive_subject_dlt(
    uc: UseCase, subject: Subject, only: Sequence[AdverseEvent] | None = None
) -> dlt.DLTAdjudication | None:
    """Adjudicate the subject's AEs by the protocol rules and set their DLT flags.

    The rules decide each event on its own, so after a change only the changed events
    (``only``, possibly not stored yet) need a new decision; ``None`` = every AE of the subject.
    Investigator overrides are kept. Returns ``None`` before infusion (no DLT window yet).
    """
    if subject.id in uc.dates:
        infused_at = uc.dates[subject.id].infused_at
    else:
        infused_at = uc.session.scalar(
            select(Infusion.infused_at).where(Infusion.subject_id == subject.id, live(Infusion))
        )
    if infused_at is None:
        return None
    if only is None:
        aes = list(
            uc.session.scalars(
                select(AdverseEvent)
                .options(selectinload(AdverseEvent.grade_changes))
                .where(AdverseEvent.subject_id == subject.id, live(AdverseEvent))
                .order_by(AdverseEvent.id)
            )
        )
    else:
        aes = list(only)
    result = adjudicate_events(
        uc.protocol, [_dlt_event(ae) for ae in aes], infused_at, subject.subject_code
    )
    uc.because(f"derived: DLT adjudication of {subject.subject_code} by the protocol rules")
    by_id = {e.ae_id: e for e in result.per_event}
    for ae in aes:
        if ae.dlt_rule_id != OVERRIDE_RULE:
            ae.is_dlt, ae.dlt_rule_id, ae.dlt_reason = dlt_values(by_id[_event_id(ae)])
    return result


def derive_study_dlt(session: Session, study_id: int, protocol: Protocol) -> tuple[int, int]:
    """Re-adjudicate every infused subject of the study; return (AEs checked, AEs changed).

    Reads plain rows; only the AEs whose flags change are loaded as records and updated.
    Investigator overrides are kept.
    """
    infusions: dict[int, tuple[dt.datetime, str]] = {
        sid: (at, code)
        for sid, at, code in session.execute(
            select(Infusion.subject_id, Infusion.infused_at, Subject.subject_code)
            .join(Subject, Subject.id == Infusion.subject_id)
            .where(Subject.study_id == study_id, live(Infusion))
        )
    }
    courses: dict[int, list[tuple[dt.datetime, int]]] = {}
    for ae_id, changed_at, grade in session.execute(
        select(AeGradeChange.adverse_event_id, AeGradeChange.changed_at, AeGradeChange.grade)
        .join(AdverseEvent, AdverseEvent.id == AeGradeChange.adverse_event_id)
        .join(Subject, Subject.id == AdverseEvent.subject_id)
        .where(Subject.study_id == study_id, live(AeGradeChange))
    ):
        courses.setdefault(ae_id, []).append((changed_at, grade))
    rows = session.execute(
        select(
            AdverseEvent.id,
            AdverseEvent.subject_id,
            AdverseEvent.term,
            AdverseEvent.grade,
            AdverseEvent.onset_at,
            AdverseEvent.resolved_at,
            AdverseEvent.attribution,
            AdverseEvent.alternative_cause,
            AdverseEvent.is_dlt,
            AdverseEvent.dlt_rule_id,
            AdverseEvent.dlt_reason,
        )
        .join(Subject, Subject.id == AdverseEvent.subject_id)
        .where(Subject.study_id == study_id, live(AdverseEvent))
        .order_by(AdverseEvent.id)
    ).all()
    by_subject: dict[int, list[dlt.AdverseEvent]] = {}
    stored: dict[str, tuple[bool | None, str | None, str | None]] = {}
    for row in rows:
        if row.subject_id not in infusions or row.dlt_rule_id == OVERRIDE_RULE:
            continue
        course = courses.get(row.id)
        by_subject.setdefault(row.subject_id, []).append(
            dlt.AdverseEvent(
                ae_id=str(row.id),
                term=row.term,
                course=tuple(sorted(course))
                if course
                else fallback_course(row.onset_at, row.grade, row.resolved_at),
                attribution=row.attribution,
                alternative_cause=row.alternative_cause,
            )
        )
        stored[str(row.id)] = (row.is_dlt, row.dlt_rule_id, row.dlt_reason)
    updates: dict[int, tuple[bool | None, str, str]] = {}
    for subject_id, events in by_subject.items():
        infused_at, code = infusions[subject_id]
        for event in adjudicate_events(protocol, events, infused_at, code).per_event:
            values = dlt_values(event)
            if stored[event.ae_id] != values:
                updates[int(event.ae_id)] = values
    for ae_id, ae in load_by_ids(session, AdverseEvent, list(updates)).items():
        ae.is_dlt, ae.dlt_rule_id, ae.dlt_reason = updates[ae_id]
    return len(stored), len(updates)
