"""The signed governance records as the analysis table ``TrialData.governance``.

One row per live governance record decided on data up to the cut-off, with its first live
signature (the decider's): what the report states about the MTD, the RP2D and the expansion.
A record imported from another system is signed in cartrial by the importing user (meaning
``imported_copy``); its ``meaning`` then says whose signature the source system holds:
``imported copy of “escalation_ended” signed in <system> by <name> (<user>) on <time> UTC``.
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
            Signature.source_system,
            Signature.source_signer,
            Signature.source_signer_name,
            Signature.source_meaning,
            Signature.source_signed_at,
        )
        .join(first, first.c.record_id == g.id)
        .join(Signature, Signature.id == first.c.id)
        .where(g.study_id == study_id, live(g), g.decided_date <= cutoff)
        .order_by(g.id)
    ).all()
    if not rows:
        return empty_table("governance")
    frame = pd.DataFrame(
        [(*row[:8], _meaning(*row[8:])) for row in rows],
        columns=list(TABLE_COLUMNS["governance"]),
    )
    frame["dose_index"] = frame["dose_index"].astype("Int64")
    frame["decided_date"] = pd.to_datetime(frame["decided_date"]).astype("datetime64[ns]")
    frame["signed_at"] = pd.to_datetime(frame["signed_at"], utc=True)
    return frame


def _meaning(
    meaning: str,
    system: str | None,
    signer: str | None,
    signer_name: str | None,
    source_meaning: str | None,
    signed_at: dt.datetime | None,
) -> str:
    """The signature's meaning; for an imported copy, with the source system's signature."""
    if system is None or signed_at is None:
        return meaning
    when = signed_at.astimezone(dt.UTC) if signed_at.tzinfo else signed_at
    return (
        f"imported copy of “{source_meaning}” signed in {system} by {signer_name} ({signer})"
        f" on {when:%Y-%m-%d %H:%M} UTC"
    )
