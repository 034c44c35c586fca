"""Fixtures of the report tests: the hand-made trial and its report, built once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from analysis.trial_builder import build_trial
from cartrial.analysis import TrialData
from cartrial.report import ReportResult, build_report

#: The hand-made trial with the governance table of the TrialData contract (signed decisions).
GovernedTrial = TrialData


def governance_frame() -> pd.DataFrame:
    """Signed decisions: escalation ended with MTD DL1, RP2D DL1, expansion opened at DL1."""
    rows = [
        ("escalation_end", "DL1", 1, "2025-05-01", "DL2 exceeded the DLT boundary (2/3).",
         "src-chair", "Dr A. Chair", "2025-05-01 10:00", "approval"),
        ("rp2d", "DL1", 1, "2025-05-02", "Safety, kinetics and activity support DL1.",
         "sponsor-md", "Dr B. Medic", "2025-05-02 11:30", "approval"),
        ("expansion_open", "DL1", 1, "2025-05-03", "Expansion of 20 subjects at the RP2D.",
         "pi", "Dr C. Investigator", "2025-05-03 09:00", "approval"),
    ]  # fmt: skip
    columns = ["kind", "dose_level", "dose_index", "decided_date", "rationale", "signed_by",
               "signer_name", "signed_at", "meaning"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


@pytest.fixture(scope="session")
def trial() -> TrialData:
    """The seven-subject hand-made trial of ``tests/analysis/trial_builder.py``."""
    return build_trial()


@pytest.fixture(scope="session")
def governed_trial(trial: TrialData) -> GovernedTrial:
    """The hand-made trial with signed MTD, RP2D and expansion records."""
    return dataclasses.replace(trial, governance=governance_frame())


@pytest.fixture(scope="session")
def report(governed_trial: TrialData, tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    """The report (HTML, CSV, DOCX, figures) of the hand-made trial; no PDF (own test)."""
    out: Path = tmp_path_factory.mktemp("report")
    return build_report(governed_trial, out, pdf=False)


@pytest.fixture(scope="session")
def pdf_report(governed_trial: TrialData, tmp_path_factory: pytest.TempPathFactory) -> ReportResult:
    """The report of the hand-made trial printed to PDF, with a screening log."""
    out: Path = tmp_path_factory.mktemp("pdf-report")
    screening = pd.DataFrame(
        {
            "subject_id": ["S01", "S02", "S03", "S04", "S05", "S06", "S07", "X01", "X02"],
            "outcome": ["eligible"] * 7 + ["not eligible"] * 2,
            "reasons": [""] * 7 + ["ECOG > 1", "CLDN18.2 < 40%, ECOG > 1"],
        }
    )
    return build_report(governed_trial, out, pdf=True, screening=screening)
