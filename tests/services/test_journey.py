"""The whole subject journey, on SQLite and (with CARTRIAL_TEST_POSTGRES_URL) on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from journey import D1, D2, run_journey
from service_support import STUDY, build_trial

from cartrial.services import trial_data


def test_whole_journey(migrated_db_url: str) -> None:
    trial = build_trial(migrated_db_url)
    try:
        run_journey(trial)
    finally:
        trial.engine.dispose()


def test_decisions_follow_the_data_cut_off_not_the_wall_clock(migrated_db_url: str) -> None:
    """A decision made on data up to day 29 of cohort 1 is in a cut-off from that day on only.

    Expected values: the journey's own decisions (cohort 1 decided on D1 + 29 days, cohort 2 on
    D2 + 29 days, expansion opened on D2 + 29 days), whatever the wall-clock time of recording.
    """
    trial = build_trial(migrated_db_url)
    try:
        run_journey(trial)
        before = trial_data(trial.factory, STUDY, data_cutoff=D1 + dt.timedelta(days=28))
        first = trial_data(trial.factory, STUDY, data_cutoff=D1 + dt.timedelta(days=29))
        both = trial_data(trial.factory, STUDY, data_cutoff=D2 + dt.timedelta(days=29))
    finally:
        trial.engine.dispose()
    assert before.dose_decisions.empty
    assert first.dose_decisions["cohort"].tolist() == [1]
    assert first.dose_decisions["decided_date"].tolist() == [
        pd.Timestamp(D1 + dt.timedelta(days=29))
    ]
    assert len(both.dose_decisions) >= 2
