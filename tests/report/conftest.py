"""Fixtures of the report tests: the hand-made trial and its report, built once."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.trial_builder import build_trial
from cartrial.analysis import TrialData
from cartrial.report import ReportResult, build_report


@pytest.fixture(scope="session")
def trial() -> TrialData:
    """The seven-subject hand-made trial of ``tests/analysis/trial_builder.py``."""
    return build_trial()


@pytest.fixture(scope="session")
def report(trial: TrialData, tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    """The report (HTML, CSV; the PDF is printed once, in its own test) of the hand-made trial."""
    out: Path = tmp_path_factory.mktemp("report")
    return build_report(trial, out, pdf=False)
