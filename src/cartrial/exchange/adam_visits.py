"""ADaM analysis visits (ADaMIG v1.3 section 3.3.3): AVISIT/AVISITN and the analysis windows.

A BDS record's analysis visit is the SDTM visit of its source record (``VISIT``/``VISITNUM``),
which :func:`~cartrial.exchange.sdtm_design.visits_of` placed by the protocol's schedule: the
visit whose window holds the record's day after the infusion, nearest nominal day first. The
window itself is written beside it on the ADY scale (day 1 = the infusion, no day 0, as
``TV.VISITDY``): ``AWTARGET`` the nominal day, ``AWLO``/``AWHI`` the first and last day of the
window, ``AWU`` DAYS. Because every AVISIT is a TV visit and AVISITN its TV number, AVISIT and
AVISITN map one to one (the conformance rule ``visit-map`` checks it).
"""

from __future__ import annotations

import pandas as pd

from cartrial.exchange.sdtm_design import scheduled_visits, sdtm_study_day
from cartrial.protocol import Protocol

__all__ = ["analysis_visits", "visit_windows"]


def visit_windows(protocol: Protocol) -> pd.DataFrame:
    """Every scheduled visit's window on the ADY scale, indexed by ``VISITNUM`` (TV's)."""
    visits = scheduled_visits(protocol)
    return pd.DataFrame(
        {
            "AWTARGET": [float(sdtm_study_day(v.day)) for v in visits],
            "AWLO": [float(sdtm_study_day(v.earliest_day)) for v in visits],
            "AWHI": [float(sdtm_study_day(v.latest_day)) for v in visits],
        },
        index=pd.Index([float(i) for i in range(1, len(visits) + 1)], name="VISITNUM"),
    )


def analysis_visits(visit: pd.Series, visitnum: pd.Series, windows: pd.DataFrame) -> pd.DataFrame:
    """AVISIT, AVISITN, AWTARGET, AWLO, AWHI and AWU of records whose source SDTM records have
    ``visit``/``visitnum`` (:func:`visit_windows` gives ``windows``); null outside every visit."""
    number = pd.to_numeric(visitnum).astype(float)
    out = pd.DataFrame({"AVISIT": visit.astype(object), "AVISITN": number}, index=visit.index)
    for column in windows.columns:
        out[column] = number.map(windows[column])
    out["AWU"] = pd.Series("DAYS", index=visit.index, dtype=object).where(number.notna())
    return out
