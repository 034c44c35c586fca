"""Who has completed the DLT window: the evaluability table behind dose decisions and analyses.

A subject is DLT-evaluable when infused (within the dose tolerance, checked at infusion) and
either had a DLT or was followed through the whole DLT window without dying or withdrawing
before its end (cart-toxicity reference §3: "received the assigned dose and was followed for the
full window or had a DLT"). Subjects still inside the window without a DLT are *pending*: TITE
designs weigh them by the followed fraction of the window; the fraction of the window at which a
subject's DLT began is what TITE-CRM's adaptive weights (Cheung & Chappell 2000) are built from.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartrial.protocol import Protocol
from cartrial.services.study_calendar import study_date
from cartrial.store import AdverseEvent, Infusion, Subject, SurvivalFollowUp, live

__all__ = ["DLT_TABLE_COLUMNS", "dlt_followup"]

DLT_TABLE_COLUMNS = (
    "subject_db_id",
    "subject_id",
    "phase",
    "dose_index",
    "infusion_date",
    "has_dlt",
    "window_end",
    "ended_early",
    "window_closed",
    "dlt_evaluable",
    "pending",
    "followed_fraction",
    "dlt_onset_fraction",
)


def dlt_followup(
    session: Session, study_id: int, protocol: Protocol, as_of: dt.date
) -> pd.DataFrame:
    """One row per infused subject of the study: DLT status of the window as of ``as_of``.

    Columns :data:`DLT_TABLE_COLUMNS`; ``window_end`` = infusion date + ``dlt.window_days``
    (the infusion's and the DLT onset's dates are their days in the study's time zone, as
    ``as_of`` is);
    ``followed_fraction`` = days followed / window days, in [0, 1]; ``dlt_onset_fraction`` =
    days from the infusion to the onset of the subject's first DLT adverse event (adjudicated or
    derived ``is_dlt``) / window days, capped at 1, NaN without a DLT. A DLT that began on the
    day of the infusion (day 0) counts as one day, so that the fraction stays positive as the
    adaptive weights need.
    """
    window = protocol.dlt.window_days
    zone = protocol.study.time_zone
    first_dlt = (
        select(AdverseEvent.subject_id, func.min(AdverseEvent.onset_at).label("onset"))
        .where(AdverseEvent.is_dlt.is_(True), live(AdverseEvent))
        .group_by(AdverseEvent.subject_id)
        .subquery()
    )
    death = (
        select(SurvivalFollowUp.subject_id, func.min(SurvivalFollowUp.death_date).label("died"))
        .where(SurvivalFollowUp.status == "dead", live(SurvivalFollowUp))
        .group_by(SurvivalFollowUp.subject_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Subject.id,
            Subject.subject_code,
            Subject.phase,
            Infusion.dose_index,
            Infusion.infused_at,
            first_dlt.c.onset,
            Subject.withdrawn_date,
            death.c.died,
        )
        .join(Infusion, (Infusion.subject_id == Subject.id) & live(Infusion))
        .outerjoin(death, death.c.subject_id == Subject.id)
        .outerjoin(first_dlt, first_dlt.c.subject_id == Subject.id)
        .where(Subject.study_id == study_id, live(Subject))
        .order_by(Subject.id)
    ).all()
    records = []
    for sid, code, phase, dose, infused_at, dlt_onset, withdrawn, died in rows:
        day0 = study_date(infused_at, zone)
        end = day0 + dt.timedelta(days=window)
        stops = [d for d in (withdrawn, died) if d is not None]
        ended_early = bool(stops) and min(stops) < end
        closed = as_of >= end
        followed = (min([as_of, end, *stops]) - day0).days
        has_dlt = dlt_onset is not None
        onset_days = max((study_date(dlt_onset, zone) - day0).days, 1) if has_dlt else None
        records.append(
            {
                "subject_db_id": sid,
                "subject_id": code,
                "phase": phase,
                "dose_index": int(dose),
                "infusion_date": day0,
                "has_dlt": has_dlt,
                "window_end": end,
                "ended_early": ended_early,
                "window_closed": closed,
                "dlt_evaluable": has_dlt or (closed and not ended_early),
                "pending": not has_dlt and not closed and not ended_early,
                "followed_fraction": min(max(followed / window, 0.0), 1.0),
                "dlt_onset_fraction": (
                    min(onset_days / window, 1.0) if onset_days is not None else np.nan
                ),
            }
        )
    return pd.DataFrame(records, columns=list(DLT_TABLE_COLUMNS))
