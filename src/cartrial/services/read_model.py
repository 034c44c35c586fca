"""The analysis read model: the trial database as :class:`~cartrial.analysis.TrialData`.

Every table follows the contract in :mod:`cartrial.analysis.dataset`. Records dated after the data
cut-off are left out, an AE still ongoing at the cut-off has no resolution date and its grade is
the worst grade reached by the cut-off; DLT and efficacy evaluability are judged as of the
cut-off. Soft-deleted records never appear.

Every date is a day of the study's calendar (the protocol's ``study.time_zone``,
:mod:`cartrial.services.study_calendar`): a stored time's date column is its local date there,
the study day counts from the local date of the infusion, and the cut-off day ends at the next
local midnight (a lab at 23:30 in New York on the cut-off day is in, one at 00:30 in Tokyo the
next day is out).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from cartrial.analysis import DATE_COLUMNS, TrialData, empty_table, validate_trial_data
from cartrial.errors import NotFound
from cartrial.protocol import Protocol
from cartrial.services.context import find_study, protocol_of
from cartrial.services.derive import lesion_frame
from cartrial.services.followup_window import dlt_followup
from cartrial.services.governance_table import governance_table
from cartrial.services.signing import manifestation_of
from cartrial.services.study_calendar import day_end, study_date, study_dates, study_today
from cartrial.store import (
    AdaResult,
    AdverseEvent,
    AeGradeChange,
    AuditedSession,
    CrsIcansObservation,
    DoseDecision,
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
    Signature,
    Site,
    Study,
    Subject,
    SubsequentTherapy,
    SurvivalFollowUp,
    TimepointResponse,
    TumourLesion,
    live,
    read_only,
)
from cartrial.vocab import RELATED_ATTRIBUTIONS

__all__ = [
    "APPENDABLE",
    "PARTS",
    "RecordTableMaker",
    "assemble",
    "latest_recorded_date",
    "read_new_rows",
    "read_part",
    "record_table",
    "trial_data",
]


def _frame(session: Session, query: Select[Any], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(session.execute(query).all(), columns=list(columns))


def _dates(frame: pd.DataFrame, table: str, time_zone: str) -> pd.DataFrame:
    """Convert the date columns of analysis table ``table`` (``DATE_COLUMNS``) to datetime64.

    A column of stored times becomes their calendar days in ``time_zone`` (the study's zone).
    """
    for column in DATE_COLUMNS[table]:
        values = frame[column]
        first = values.first_valid_index()
        if first is not None and isinstance(values[first], dt.datetime):  # times: their day
            frame[column] = study_dates(values, time_zone)
        else:
            frame[column] = pd.to_datetime(values).astype("datetime64[ns]")
    return frame


def _zone(study: Study) -> str:
    return protocol_of(study).study.time_zone


def latest_recorded_date(session: Session, study_id: int) -> dt.date:
    """Today, or the latest date recorded in study ``study_id`` (database id) if later
    (synthetic studies): the default data cut-off. Both are days of the study's time zone."""
    study = session.get(Study, study_id)
    if study is None:
        raise NotFound(f"no study with database id {study_id}")
    zone = _zone(study)
    latest: list[dt.date] = [study_today(zone)]
    maxima = []
    for column in (
        Enrolment.enrolled_date,
        Infusion.infused_at,
        AdverseEvent.onset_at,
        SurvivalFollowUp.contact_date,
        LabResult.collected_at,
        LesionMeasurement.assessment_date,
        KineticsSample.collected_at,
    ):
        owner = column.class_
        query = select(func.max(column)).where(Subject.study_id == study_id)
        if owner is LesionMeasurement:
            query = query.join(TumourLesion, TumourLesion.id == LesionMeasurement.lesion_id).join(
                Subject, Subject.id == TumourLesion.subject_id
            )
        else:
            query = query.join(Subject, Subject.id == owner.subject_id)
        maxima.append(query.scalar_subquery())
    for value in session.execute(select(*maxima)).one():  # every maximum in one statement
        if isinstance(value, dt.datetime):
            latest.append(study_date(value, zone))
        elif isinstance(value, dt.date):
            latest.append(value)
    return max(latest)


def trial_data(
    session_factory: sessionmaker[AuditedSession],
    study_id: str,
    data_cutoff: dt.date | None = None,
) -> TrialData:
    """Read the study's data as of ``data_cutoff`` into a :class:`TrialData`.

    Examples
    --------
    >>> data = trial_data(factory, "CLDN18-PDL1-CART-01")  # doctest: +SKIP
    >>> data.subjects[["subject_id", "dose_level", "dlt_evaluable"]]  # doctest: +SKIP

    Parameters
    ----------
    session_factory
        The trial database.
    study_id
        The study code (``Protocol.study_id``).
    data_cutoff
        Last day whose records count, in the study's time zone (its records up to the next local
        midnight); ``None`` = today there or the latest recorded date if that is later
        (:func:`latest_recorded_date`).

    Returns
    -------
    TrialData
        Validated against the contract columns.
    """
    with read_only(session_factory) as session:
        study = find_study(session, study_id)
        cutoff = data_cutoff or latest_recorded_date(session, study.id)
        parts = {name: read_part(session, study, cutoff, name) for name in PARTS}
        protocol = protocol_of(study)
    return assemble(parts, protocol, cutoff)


@dataclass(frozen=True)
class _Cut:
    """The data cut-off as the readers apply it: a study's ``day`` (stored dates are compared
    with it) and ``end``, the first instant after it in the study's ``zone`` (stored times are
    compared with ``<``)."""

    day: dt.date
    end: dt.datetime
    zone: str


def _cut(study: Study, cutoff: dt.date) -> _Cut:
    zone = _zone(study)
    return _Cut(cutoff, day_end(cutoff, zone), zone)


#: The record tables of :class:`TrialData` (one row per subject record), each read by
#: ``reader(session, study db id, cut-off)``.
_RECORD_READERS: dict[str, Callable[[Session, int, _Cut], pd.DataFrame]] = {
    "adverse_events": lambda session, sid, cut: _adverse_events(session, sid, cut),
    "labs": lambda session, sid, cut: _labs(session, sid, cut),
    "crs_icans": lambda session, sid, cut: _crs(session, sid, cut),
    "tumour_timepoints": lambda session, sid, cut: _timepoints(session, sid, cut),
    "lesions": lambda session, sid, cut: _lesions(session, sid, cut),
    "kinetics": lambda session, sid, cut: _kinetics(session, sid, cut),
    "ada": lambda session, sid, cut: _ada(session, sid, cut),
    "phenotype": lambda session, sid, cut: _phenotype(session, sid, cut),
    "lymphodepletion": lambda session, sid, cut: _lymphodepletion(session, sid, cut),
    "subsequent_therapies": lambda session, sid, cut: _subsequent_therapies(session, sid, cut),
}
#: The parts :func:`trial_data` reads (:func:`read_part`) and :func:`assemble` joins; each can be
#: read on its own, e.g. by a cache that re-reads only the parts a write changed.
PARTS = (
    "infusions",
    "subjects",
    *_RECORD_READERS,
    "dose_decisions",
    "governance",
    "screening",
    "eligibility",
)


#: Parts whose rows are the live rows of one table, in the order of their ids (the frame's index):
#: part -> that table. New rows inserted there may be read alone (:func:`read_new_rows`) and
#: appended, instead of the whole part read again (a cache, after a new laboratory value).
APPENDABLE: dict[str, str] = {"labs": LabResult.__tablename__}


def read_new_rows(
    session: Session, study: Study, cutoff: dt.date, name: str, ids: Collection[int]
) -> pd.DataFrame:
    """The rows of part ``name`` (of :data:`APPENDABLE`) for the records ``ids`` of its table,
    as :func:`read_part` would have them (records dated after ``cutoff`` or deleted left out)."""
    if name != "labs":
        raise ValueError(f"part {name!r} cannot be read row by row")
    return _labs(session, study.id, _cut(study, cutoff), ids)


def read_part(session: Session, study: Study, cutoff: dt.date, name: str) -> pd.DataFrame:
    """One part of the read model as of ``cutoff`` (a name of :data:`PARTS`).

    The subject and record tables still carry the subjects' database ids (``subject_db_id``);
    :func:`assemble` turns them into subject codes. The infusions part has the infusion time
    (``infused_at``, UTC) and its day in the study's time zone (``infusion_day``, the study's
    day 0). The frame returned is not shared: a caller may keep it.
    """
    sid, cut = study.id, _cut(study, cutoff)
    if name == "infusions":
        infusions = _frame(
            session,
            select(Infusion.subject_id, Infusion.infused_at).where(
                live(Infusion), Infusion.infused_at < cut.end
            ),
            ["subject_db_id", "infused_at"],
        )
        infusions["infusion_day"] = study_dates(infusions["infused_at"], cut.zone)
        return infusions
    if name == "subjects":
        protocol_dlt = dlt_followup(session, sid, protocol_of(study), cutoff)
        return _subjects(session, sid, protocol_dlt=protocol_dlt, cut=cut)
    if name == "dose_decisions":
        return _decisions(session, sid, cut)
    if name == "governance":
        return governance_table(session, sid, cutoff)
    if name == "screening":
        return _screening(session, sid, cut)[0]
    if name == "eligibility":
        return _screening(session, sid, cut)[1]
    return _RECORD_READERS[name](session, sid, cut)


#: How :func:`assemble` makes a record table from its part (see :func:`record_table`).
RecordTableMaker = Callable[[str, pd.DataFrame, pd.DataFrame, pd.DataFrame], pd.DataFrame]


def record_table(
    name: str, part: pd.DataFrame, subjects: pd.DataFrame, infusions: pd.DataFrame
) -> pd.DataFrame:
    """Record table ``name`` of :class:`TrialData` from its part (:func:`read_part`).

    Keeps the rows of the subjects in ``subjects`` (the subjects part), names them by subject
    code and adds the study day (days since the infusion, from the infusions part) to dated
    tables. A new frame: the parts are left unchanged.
    """
    day0 = {
        int(s): pd.Timestamp(t)
        for s, t in zip(infusions["subject_db_id"], infusions["infusion_day"], strict=True)
    }
    codes = dict(zip(subjects["subject_db_id"], subjects["subject_id"], strict=True))
    frame = part[part["subject_db_id"].isin(list(codes))].copy()
    frame.insert(0, "subject_id", frame.pop("subject_db_id").map(codes))
    return _with_day(frame, name, day0, codes).reset_index(drop=True)


def assemble(
    parts: Mapping[str, pd.DataFrame],
    protocol: Protocol,
    cutoff: dt.date,
    make_table: RecordTableMaker = record_table,
) -> TrialData:
    """The :class:`TrialData` of the :data:`PARTS` read by :func:`read_part` (left unchanged).

    ``make_table`` makes each record table (:func:`record_table`; a cache may pass one that
    reuses the tables of unchanged parts).
    """
    tables = {
        name: make_table(name, parts[name], parts["subjects"], parts["infusions"])
        for name in _RECORD_READERS
    }
    data = TrialData(
        subjects=parts["subjects"].drop(columns="subject_db_id").reset_index(drop=True),
        dose_decisions=parts["dose_decisions"],
        governance=parts["governance"],
        data_cutoff=pd.Timestamp(cutoff),
        protocol=protocol,
        screening=parts["screening"],
        eligibility=parts["eligibility"],
        **tables,
    )
    validate_trial_data(data)
    return data


_DATE_OF = {
    "labs": "date",
    "crs_icans": "date",
    "tumour_timepoints": "assessment_date",
    "kinetics": "date",
    "ada": "date",
    "phenotype": "date",
    "lymphodepletion": "date",
}


def _with_day(
    frame: pd.DataFrame, name: str, day0: dict[int, pd.Timestamp], codes: dict[int, str]
) -> pd.DataFrame:
    reference = {codes[s]: t for s, t in day0.items() if s in codes}
    date_column = _DATE_OF.get(name)
    if date_column is None:
        return frame
    dates = pd.to_datetime(frame[date_column])
    start = frame["subject_id"].map(reference)
    frame["day"] = (dates - pd.to_datetime(start)).dt.days.astype("Int64")
    return frame


def _subjects(session: Session, sid: int, *, protocol_dlt: pd.DataFrame, cut: _Cut) -> pd.DataFrame:
    cutoff = cut.day
    first_ld = (
        select(Lymphodepletion.subject_id, func.min(Lymphodepletion.administered_date).label("ld"))
        .where(live(Lymphodepletion), Lymphodepletion.administered_date <= cutoff)
        .group_by(Lymphodepletion.subject_id)
        .subquery()
    )
    death = (
        select(
            SurvivalFollowUp.subject_id,
            func.min(SurvivalFollowUp.death_date).label("died"),
            func.max(SurvivalFollowUp.death_cause).label("cause"),
        )
        .where(
            live(SurvivalFollowUp),
            SurvivalFollowUp.status == "dead",
            SurvivalFollowUp.death_date <= cutoff,
        )
        .group_by(SurvivalFollowUp.subject_id)
        .subquery()
    )
    contact = (
        select(SurvivalFollowUp.subject_id, func.max(SurvivalFollowUp.contact_date).label("last"))
        .where(live(SurvivalFollowUp), SurvivalFollowUp.contact_date <= cutoff)
        .group_by(SurvivalFollowUp.subject_id)
        .subquery()
    )
    therapy = (
        select(SubsequentTherapy.subject_id, func.min(SubsequentTherapy.start_date).label("st"))
        .where(live(SubsequentTherapy), SubsequentTherapy.start_date <= cutoff)
        .group_by(SubsequentTherapy.subject_id)
        .subquery()
    )
    infusion = select(Infusion).where(live(Infusion), Infusion.infused_at < cut.end).subquery()
    columns = [
        "subject_db_id", "subject_id", "site_id", "country", "phase", "indication", "age", "sex",
        "ecog",
        "dose_level", "dose_index", "cells_infused", "enrolled_date", "lymphodepletion_date",
        "infusion_date", "death_date", "death_cause", "last_contact_date", "withdrawn_date",
        "subsequent_therapy_date",
    ]  # fmt: skip
    frame = _frame(
        session,
        select(
            Subject.id,
            Subject.subject_code,
            Site.code,
            Site.country,
            Enrolment.phase,
            Subject.indication,
            Subject.age_years,
            Subject.sex,
            Subject.ecog,
            infusion.c.dose_level,
            infusion.c.dose_index,
            infusion.c.actual_cells,
            Enrolment.enrolled_date,
            first_ld.c.ld,
            infusion.c.infused_at,
            death.c.died,
            death.c.cause,
            contact.c.last,
            Subject.withdrawn_date,
            therapy.c.st,
        )
        .join(Site, Site.id == Subject.site_id)
        .join(Enrolment, (Enrolment.subject_id == Subject.id) & live(Enrolment))
        .outerjoin(infusion, infusion.c.subject_id == Subject.id)
        .outerjoin(first_ld, first_ld.c.subject_id == Subject.id)
        .outerjoin(death, death.c.subject_id == Subject.id)
        .outerjoin(contact, contact.c.subject_id == Subject.id)
        .outerjoin(therapy, therapy.c.subject_id == Subject.id)
        .where(Subject.study_id == sid, live(Subject), Enrolment.enrolled_date <= cutoff)
        .order_by(Subject.id),
        columns,
    )
    frame["withdrawn_date"] = frame["withdrawn_date"].where(
        frame["withdrawn_date"].map(lambda d: d is not None and d <= cutoff), None
    )
    frame["dose_index"] = frame["dose_index"].fillna(-1).astype(int)
    frame["cells_infused"] = frame["cells_infused"].astype(float)
    frame["death_cause"] = frame["death_cause"].fillna("").astype(str)
    frame = _dates(frame, "subjects", cut.zone)
    evaluable = protocol_dlt[protocol_dlt["phase"] == "escalation"]
    dlt_ok = set(evaluable.loc[evaluable["dlt_evaluable"], "subject_db_id"])
    frame["dlt_evaluable"] = frame["subject_db_id"].isin(dlt_ok)
    frame["efficacy_evaluable"] = frame["subject_db_id"].isin(
        _efficacy_evaluable(session, sid, cutoff)
    )
    return frame


def _efficacy_evaluable(session: Session, sid: int, cutoff: dt.date) -> set[int]:
    """Infused subjects with a baseline target lesion and a post-infusion assessment or death."""
    baseline_targets = set(
        session.scalars(
            select(TumourLesion.subject_id)
            .join(Subject)
            .where(Subject.study_id == sid, live(TumourLesion), TumourLesion.category == "target")
        )
    )
    assessed = set(
        session.scalars(
            select(TimepointResponse.subject_id).where(
                live(TimepointResponse), TimepointResponse.assessment_date <= cutoff
            )
        )
    )
    died = set(
        session.scalars(
            select(SurvivalFollowUp.subject_id)
            .join(Infusion, Infusion.subject_id == SurvivalFollowUp.subject_id)
            .where(
                live(SurvivalFollowUp, Infusion),
                SurvivalFollowUp.status == "dead",
                SurvivalFollowUp.death_date <= cutoff,
            )
        )
    )
    return baseline_targets & (assessed | died)


def _adverse_events(session: Session, sid: int, cut: _Cut) -> pd.DataFrame:
    end = cut.end
    worst = (
        select(AeGradeChange.adverse_event_id, func.max(AeGradeChange.grade).label("worst"))
        .where(live(AeGradeChange), AeGradeChange.changed_at < end)
        .group_by(AeGradeChange.adverse_event_id)
        .subquery()
    )
    frame = _frame(
        session,
        select(
            AdverseEvent.subject_id,
            AdverseEvent.id,
            AdverseEvent.term,
            AdverseEvent.soc,
            func.coalesce(worst.c.worst, AdverseEvent.grade),
            AdverseEvent.onset_at,
            AdverseEvent.resolved_at,
            AdverseEvent.serious,
            AdverseEvent.attribution,
            AdverseEvent.outcome,
            AdverseEvent.is_dlt,
            AdverseEvent.dlt_rule_id,
        )
        .join(Subject)
        .outerjoin(worst, worst.c.adverse_event_id == AdverseEvent.id)
        .where(Subject.study_id == sid, live(AdverseEvent), AdverseEvent.onset_at < end)
        .order_by(AdverseEvent.id),
        [
            "subject_db_id", "ae_id", "term", "soc", "grade", "onset_date", "resolution_date",
            "serious", "attribution", "outcome", "is_dlt", "dlt_rule_id",
        ],
    )  # fmt: skip
    frame["resolution_date"] = frame["resolution_date"].map(
        lambda t: t if t is not None and t < end else None
    )
    frame["grade"] = frame["grade"].astype(int)
    frame["related"] = frame["attribution"].isin(RELATED_ATTRIBUTIONS)
    frame["outcome"] = frame["outcome"].fillna("").astype(str)
    frame["is_dlt"] = frame["is_dlt"].eq(True)
    frame["serious"] = frame["serious"].astype(bool)
    return _dates(frame, "adverse_events", cut.zone)


def _labs(
    session: Session, sid: int, cut: _Cut, ids: Collection[int] | None = None
) -> pd.DataFrame:
    """The laboratory part, indexed by the results' database ids (of ``ids`` only if given)."""
    query = (
        select(
            LabResult.subject_id,
            LabResult.collected_at,
            LabResult.lbtestcd,
            LabResult.value,
            LabResult.unit,
            LabResult.lln,
            LabResult.uln,
            LabResult.term,
            LabResult.grade,
            LabResult.id,
        )
        .join(Subject)
        .where(Subject.study_id == sid, live(LabResult), LabResult.collected_at < cut.end)
        .order_by(LabResult.id)
    )
    if ids is not None:
        query = query.where(LabResult.id.in_(sorted(ids)))
    frame = _frame(
        session,
        query,
        ["subject_db_id", "date", "lbtestcd", "value", "unit", "lln", "uln", "term", "grade", "id"],
    )
    frame.index = pd.Index(frame.pop("id").astype("int64"), name=None)
    frame["grade"] = frame["grade"].astype("Int64")
    return _dates(frame, "labs", cut.zone)


def _crs(session: Session, sid: int, cut: _Cut) -> pd.DataFrame:
    o = CrsIcansObservation
    frame = _frame(
        session,
        select(
            o.subject_id,
            o.observed_date,
            o.crs_grade,
            o.icans_grade,
            o.tocilizumab,
            o.steroids,
            o.temperature_c,
            o.hypotension,
            o.vasopressors,
            o.oxygen_device,
            o.oxygen_flow_l_min,
        )
        .join(Subject)
        .where(Subject.study_id == sid, live(o), o.observed_date <= cut.day)
        .order_by(o.subject_id, o.observed_date),
        [
            "subject_db_id", "date", "crs_grade", "icans_grade", "tocilizumab", "steroids",
            "temperature_c", "hypotension", "vasopressors", "oxygen_device", "oxygen_flow_l_min",
        ],
    )  # fmt: skip
    frame["temperature_c"] = frame["temperature_c"].astype(float)
    frame["oxygen_flow_l_min"] = frame["oxygen_flow_l_min"].astype(float)
    frame["crs_grade"] = frame["crs_grade"].fillna(0).astype(int)
    frame["icans_grade"] = frame["icans_grade"].fillna(0).astype(int)
    return _dates(frame, "crs_icans", cut.zone)


def _timepoints(session: Session, sid: int, cut: _Cut) -> pd.DataFrame:
    t = TimepointResponse
    frame = _frame(
        session,
        select(
            t.subject_id,
            t.assessment_date,
            t.target_response,
            t.nontarget_response,
            t.new_lesions,
            t.overall_response,
            t.sum_of_diameters_mm,
            t.pct_change_from_baseline,
        )
        .join(Subject)
        .where(Subject.study_id == sid, live(t), t.assessment_date <= cut.day)
        .order_by(t.subject_id, t.assessment_date),
        [
            "subject_db_id", "assessment_date", "target_response", "nontarget_response",
            "new_lesions", "overall_response", "sum_of_diameters_mm", "pct_change_from_baseline",
        ],
    )  # fmt: skip
    frame["new_lesions"] = frame["new_lesions"].astype(bool)
    frame["sum_of_diameters_mm"] = frame["sum_of_diameters_mm"].astype(float)
    frame["pct_change_from_baseline"] = frame["pct_change_from_baseline"].astype(float)
    return _dates(frame, "tumour_timepoints", cut.zone)


def _lesions(session: Session, sid: int, cut: _Cut) -> pd.DataFrame:
    frame = lesion_frame(session, None, sid)
    frame = frame[frame["assessment_date"] <= cut.day].rename(
        columns={"subject_id": "subject_db_id"}
    )
    frame["diameter_mm"] = frame["diameter_mm"].astype(float)
    ordered = frame.sort_values(["subject_db_id", "assessment_date", "lesion_id"])
    return _dates(ordered, "lesions", cut.zone)


def _kinetics(session: Session, sid: int, cut: _Cut) -> pd.DataFrame:
    k = KineticsSample
    frame = _frame(
        session,
        select(k.subject_id, k.collected_at, k.value, k.unit, k.lloq, k.below_lloq)
        .join(Subject)
        .where(Subject.study_id == sid, live(k), k.collected_at < cut.end)
        .order_by(k.subject_id, k.collected_at),
        ["subject_db_id", "date", "value", "unit", "lloq", "below_lloq"],
    )
    frame["value"] = frame["value"].astype(float)
    frame["below_lloq"] = frame["below_lloq"].astype(bool)
    return _dates(frame, "kinetics", cut.zone)


def _ada(session: Session, sid: int, cut: _Cut) -> pd.DataFrame:
    a = AdaResult
    frame = _frame(
        session,
        select(a.subject_id, a.sample_date, a.screen, a.confirmed, a.titer)
        .join(Subject)
        .where(Subject.study_id == sid, live(a), a.sample_date <= cut.day)
        .order_by(a.subject_id, a.sample_date),
        ["subject_db_id", "date", "screen", "confirmed", "titer"],
    )
    frame["confirmed"] = frame["confirmed"].eq(True)
    frame["titer"] = frame["titer"].astype(float)
    return _dates(frame, "ada", cut.zone)


def _phenotype(session: Session, sid: int, cut: _Cut) -> pd.DataFrame:
    frame = _frame(
        session,
        select(
            PhenotypePanel.subject_id,
            PhenotypePanel.sample_date,
            PhenotypeValue.marker,
            PhenotypeValue.value,
        )
        .join(PhenotypeValue, PhenotypeValue.panel_id == PhenotypePanel.id)
        .join(Subject, Subject.id == PhenotypePanel.subject_id)
        .where(
            Subject.study_id == sid,
            live(PhenotypePanel, PhenotypeValue),
            PhenotypePanel.sample_date <= cut.day,
        )
        .order_by(PhenotypePanel.subject_id, PhenotypePanel.sample_date, PhenotypeValue.marker),
        ["subject_db_id", "date", "marker", "value"],
    )
    frame["value"] = frame["value"].astype(float)
    return _dates(frame, "phenotype", cut.zone)


def _dated_records(
    session: Session,
    sid: int,
    columns: Sequence[Any],
    names: Sequence[str],
    table: str,
    cut: _Cut,
) -> pd.DataFrame:
    """Live rows of one subject-owned table dated on or before the cut-off day, in ``names``.

    ``columns[0]`` is the table's ``subject_id`` and ``columns[1]`` its date; rows come in
    subject, date and row order.
    """
    model = columns[0].class_
    return _frame(
        session,
        select(*columns)
        .join(Subject)
        .where(Subject.study_id == sid, live(model), columns[1] <= cut.day)
        .order_by(columns[0], columns[1], model.id),
        ["subject_db_id", *names],
    ).pipe(_dates, table, cut.zone)


def _lymphodepletion(session: Session, sid: int, cut: _Cut) -> pd.DataFrame:
    """Each lymphodepleting administration: agent, dose and unit as recorded, date."""
    ld = Lymphodepletion
    columns = (ld.subject_id, ld.administered_date, ld.agent, ld.dose, ld.unit)
    frame = _dated_records(
        session, sid, columns, ["date", "agent", "dose", "unit"], "lymphodepletion", cut
    )
    frame["dose"] = frame["dose"].astype(float)
    return frame


def _subsequent_therapies(session: Session, sid: int, cut: _Cut) -> pd.DataFrame:
    """Anticancer therapies started after the infusion, by the cut-off."""
    st = SubsequentTherapy
    return _dated_records(
        session,
        sid,
        (st.subject_id, st.start_date, st.therapy),
        ["start_date", "therapy"],
        "subsequent_therapies",
        cut,
    )


def _screening(session: Session, sid: int, cut: _Cut) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every subject screened by the cut-off (screen failures too) and each criterion checked."""
    cutoff = cut.day
    a = EligibilityAssessment
    screening = _frame(
        session,
        select(
            Subject.subject_code,
            Site.code,
            Site.country,
            Subject.screened_date,
            a.eligible,
            Subject.age_years,
            Subject.sex,
            Subject.indication,
            Subject.withdrawn_date,
        )
        .join(Site, Site.id == Subject.site_id)
        .outerjoin(a, (a.subject_id == Subject.id) & live(a))
        .where(Subject.study_id == sid, live(Subject), Subject.screened_date <= cutoff)
        .order_by(Subject.id),
        [
            "subject_id", "site_id", "country", "screened_date", "eligible", "age", "sex",
            "indication", "withdrawn_date",
        ],
    )  # fmt: skip
    screening = screening.drop_duplicates("subject_id", keep="last").reset_index(drop=True)
    screening["eligible"] = screening["eligible"].eq(True)
    screening["withdrawn_date"] = screening["withdrawn_date"].where(
        screening["withdrawn_date"].map(lambda d: d is not None and d <= cutoff), None
    )
    c = EligibilityCriterion
    eligibility = _frame(
        session,
        select(Subject.subject_code, a.assessed_date, c.criterion_code, c.kind, c.met, c.value)
        .join(a, a.id == c.assessment_id)
        .join(Subject, Subject.id == a.subject_id)
        .where(
            Subject.study_id == sid,
            live(Subject, a, c),
            a.assessed_date <= cutoff,
        )
        .order_by(Subject.id, a.assessed_date, c.id),
        ["subject_id", "date", "criterion", "kind", "met", "value"],
    )
    eligibility["met"] = eligibility["met"].astype(bool)
    return _dates(screening, "screening", cut.zone), _dates(eligibility, "eligibility", cut.zone)


def _decisions(session: Session, sid: int, cut: _Cut) -> pd.DataFrame:
    """Dose decisions with ``signed_by`` (first signer's username) and ``signature``: every live
    signature's manifestation (:func:`cartrial.services.signing.manifestation`), oldest first."""
    signer = (
        select(Signature.record_id, func.min(Signature.signer).label("signer"))
        .where(live(Signature), Signature.record_table == "dose_decisions")
        .group_by(Signature.record_id)
        .subquery()
    )
    d = DoseDecision
    frame = _frame(
        session,
        select(
            d.cohort,
            d.dose_level,
            d.dose_index,
            d.n_treated,
            d.n_dlt,
            d.action,
            d.next_dose_index,
            d.data_cutoff_date,
            signer.c.signer,
            d.id,
        )
        .outerjoin(signer, signer.c.record_id == d.id)
        .where(d.study_id == sid, live(d), d.data_cutoff_date <= cut.day)
        .order_by(d.id),
        [
            "cohort", "dose_level", "dose_index", "n_treated", "n_dlt", "action",
            "next_dose_index", "decided_date", "signed_by", "decision_id",
        ],
    )  # fmt: skip
    if frame.empty:
        return empty_table("dose_decisions")
    frame["signed_by"] = frame["signed_by"].fillna("").astype(str)
    shown: dict[int, list[str]] = {}
    for sig in session.scalars(
        select(Signature)
        .where(live(Signature), Signature.record_table == "dose_decisions")
        .order_by(Signature.signed_at, Signature.id)
    ):
        shown.setdefault(sig.record_id, []).append(manifestation_of(sig, cut.zone))
    frame["signature"] = ["; ".join(shown.get(int(i), [])) for i in frame.pop("decision_id")]
    frame["next_dose_index"] = frame["next_dose_index"].astype("Int64")
    return _dates(frame, "dose_decisions", cut.zone)
