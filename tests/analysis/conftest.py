"""Fixtures of the analysis tests: the hand-made trial of :mod:`trial_builder`."""

from __future__ import annotations

import pytest

from cartrial.analysis import TrialData
from cartrial.analysis.settings import AnalysisSettings, analysis_settings

from .trial_builder import build_trial


@pytest.fixture(scope="session")
def trial() -> TrialData:
    """The seven-subject hand-made trial (see ``trial_builder``)."""
    return build_trial()


@pytest.fixture(scope="session")
def settings(trial: TrialData) -> AnalysisSettings:
    """Analysis settings of the packaged protocol."""
    return analysis_settings(trial.protocol)
