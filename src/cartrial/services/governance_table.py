"""The signed governance records as the analysis table ``TrialData.governance``.

One row per live governance record decided on data up to the cut-off, with its first live
signature (the decider's): what the report states about the MTD, the RP2D and the expansion.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartrial.analysis import TABLE_COLUMNS, empty_table
from cartrial.store import GovernanceRecord, Signature, live

__all__ = ["governance_table"]


def governance_table(session: Session, study_id: int, cutoff: dt.date) -> pd.DataFrame:
    """The study's signed governance records decided by ``cutoff``, oldest first.

    Columns ``TABLE_COLUMNS["governance"]``: ``decided_date`` as ``datetime64[ns]``,
    ``signed_at`` as a UTC ``datetime64[ns, UTC]``, ``dose_index`` nullable (``Int64``).
    Records without a live signature are not decisions and are left out.
    """
    first = (
        select(Signature.record_id, func.min(Signature.id).label("id"))
        .where(
            Signature.record_table == GovernanceRecord.__tablename__,
            live(Signature),
        )
        .group_by(Signature.record_id)
        .subquery()
    )
    g = GovernanceRecord
    rows = session.execute(
        select(
            g.kind,
            g.dose_level,
            g.dose_index,
            g.decided_date,
            g.rationale,
            Signature.signer,
            Signature.signer_name,
            Signature.signed_at,
            Signature.meaning,
        )
        .join(first, first.c.record_id == g.id)
        .join(Signature, Signature.id == first.c.id)
        .where(g.study_id == study_id, live(g), g.decided_date <= cutoff)
        .order_by(g.id)
    ).all()
    if not rows:
        return empty_table("governance")
    frame = pd.DataFrame(rows, columns=list(TABLE_COLUMNS["governance"]))
    frame["dose_index"] = frame["dose_index"].astype("Int64")
    frame["decided_date"] = pd.to_datetime(frame["decided_date"]).astype("datetime64[ns]")
    frame["signed_at"] = pd.to_datetime(frame["signed_at"], utc=True)
    return frame
