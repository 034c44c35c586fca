"""Fixtures of the CDISC exchange tests: the hand-made trial with its sites' country, and its
SDTM and ADaM datasets built once."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from analysis.trial_builder import build_trial
from cartrial.analysis import TrialData
from cartrial.exchange import build_adam, build_sdtm
from exchange.records import with_records


@pytest.fixture(scope="session")
def trial() -> TrialData:
    """The seven-subject trial of ``tests/analysis/trial_builder.py``, sites in China ("CN"), with
    the screening, lymphodepletion, subsequent-therapy and vital-sign records of
    ``tests/exchange/records.py`` (one screen failure, S08)."""
    base = build_trial()
    return with_records(dataclasses.replace(base, subjects=base.subjects.assign(country="CN")))


@pytest.fixture(scope="session")
def sdtm(trial: TrialData) -> dict[str, pd.DataFrame]:
    return build_sdtm(trial)


@pytest.fixture(scope="session")
def adam(trial: TrialData, sdtm: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return build_adam(trial, sdtm)
