"""Assign actual sample days to the protocol's scheduled visits (for summaries over time)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cartrial.analysis.settings import VisitWindow

__all__ = ["nominal_visits"]


def nominal_visits(days: pd.Series, windows: Sequence[VisitWindow]) -> pd.DataFrame:
    """Map each day to the scheduled visit whose window holds it (nearest nominal day first).

    Returns
    -------
    DataFrame
        Same index as ``days``; ``visit`` (visit name, or ``"unscheduled day N"``) and
        ``visit_day`` (nominal day, or the actual day when unscheduled).
    """
    values = days.to_numpy(dtype=float)
    actual, inverse = np.unique(values, return_inverse=True)  # few distinct days: map those
    if not windows or actual.size == 0:
        names = np.array([f"unscheduled day {d:g}" for d in actual], dtype=object)
        return pd.DataFrame({"visit": names[inverse], "visit_day": values}, index=days.index)
    nominal = np.array([w.day for w in windows], dtype=float)
    earliest = np.array([w.earliest for w in windows], dtype=float)
    latest = np.array([w.latest for w in windows], dtype=float)
    inside = (actual[:, None] >= earliest[None, :]) & (actual[:, None] <= latest[None, :])
    distance = np.where(inside, np.abs(actual[:, None] - nominal[None, :]), np.inf)
    best = distance.argmin(axis=1)
    found = np.isfinite(distance[np.arange(actual.size), best])
    visit_names = np.array([w.name for w in windows], dtype=object)
    names = visit_names[best]
    names[~found] = [f"unscheduled day {d:g}" for d in actual[~found]]
    visit_day = np.where(found, nominal[best], actual)
    return pd.DataFrame(
        {"visit": names[inverse], "visit_day": visit_day[inverse]}, index=days.index
    )
