"""The pure counts builder behind dose decisions, the end of escalation and the dashboard.

Expected values are counted by hand from the table below (one row per infused subject):
DL1 (index 1): A with a DLT, B window closed without DLT, C still in the window;
DL2 (index 2): D ended early (died before the window's end) without DLT: not evaluable.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from cartrial.services.dose_counts import dose_counts

END = dt.date(2026, 2, 9)
TABLE = pd.DataFrame(
    {
        "subject_id": ["A", "B", "C", "D"],
        "dose_index": [1, 1, 1, 2],
        "infusion_date": [END - dt.timedelta(28)] * 3 + [END - dt.timedelta(28)],
        "has_dlt": [True, False, False, False],
        "dlt_evaluable": [True, True, False, False],
        "pending": [False, False, True, False],
        "window_end": [END, END, END + dt.timedelta(5), END],
        "followed_fraction": [1.0, 1.0, 0.5, 0.25],
        "dlt_onset_fraction": [0.25, float("nan"), float("nan"), float("nan")],
    }
)


def test_counts_per_dose_for_a_design_that_waits() -> None:
    counts = dose_counts(TABLE, 4, time_to_event=False)
    assert counts.treated == (0, 3, 1, 0)
    assert counts.evaluable == (0, 2, 0, 0)
    assert counts.pending == (0, 1, 0, 0)
    assert counts.dlt == (0, 1, 0, 0)
    assert counts.n == (0, 2, 0, 0)  # evaluable subjects only
    assert (counts.n_evaluable, counts.n_dlt) == (2, 1)
    (waiting,) = counts.pending_subjects
    assert (waiting.subject_id, waiting.window_end) == ("C", END + dt.timedelta(5))
    # every treated subject's window, as in the table
    assert [(s.subject_id, s.dlt_evaluable, s.pending, s.has_dlt) for s in counts.subjects] == [
        ("A", True, False, True),
        ("B", True, False, False),
        ("C", False, True, False),
        ("D", False, False, False),
    ]


def test_time_to_event_designs_count_every_treated_subject() -> None:
    counts = dose_counts(TABLE, 4, time_to_event=True)
    assert counts.n == (0, 3, 1, 0)
    assert counts.dlt == (0, 1, 0, 0)
    assert counts.pending_followup == [(1, 0.5)]
    assert counts.dlt_followup == (0.25,)  # A's DLT began a quarter into the window


def test_an_empty_table_counts_nothing() -> None:
    counts = dose_counts(TABLE.iloc[:0], 3, time_to_event=False)
    assert counts.treated == counts.n == counts.dlt == (0, 0, 0)
    assert counts.pending_subjects == ()
