"""Sample days are mapped to the scheduled visit whose window holds them."""

from __future__ import annotations

import pandas as pd

from cartrial.analysis.settings import VisitWindow
from cartrial.analysis.visits import nominal_visits

WINDOWS = (VisitWindow("Day 28", 28, 26, 30), VisitWindow("Month 3", 91, 84, 98))


def test_days_map_to_the_window_holding_them() -> None:
    days = pd.Series([27, 30, 28, 90, 100, 27], index=list("abcdef"))
    mapped = nominal_visits(days, WINDOWS)
    assert mapped["visit"].tolist() == [
        "Day 28",
        "Day 28",
        "Day 28",
        "Month 3",
        "unscheduled day 100",
        "Day 28",
    ]
    assert mapped["visit_day"].tolist() == [28, 28, 28, 91, 100, 28]
    assert list(mapped.index) == list("abcdef")


def test_no_schedule_keeps_actual_days() -> None:
    mapped = nominal_visits(pd.Series([5.0, 5.0]), ())
    assert mapped["visit"].tolist() == ["unscheduled day 5", "unscheduled day 5"]
