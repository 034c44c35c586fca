"""Endpoint analyses: pure functions of a :class:`~cartrial.analysis.dataset.TrialData`.

No database, no files: the services layer builds the :class:`TrialData`; the report renders the
results. :func:`analyse_trial` runs every analysis and returns a :class:`TrialAnalysis`; the
modules (``safety``, ``crs_icans``, ``efficacy``, ``response``, ``survival``, ``kinetics``,
``immunogenicity``, ``phenotype``, ``populations``) hold the individual analyses.
"""

from __future__ import annotations

from cartrial.analysis.dataset import (
    DATE_COLUMNS,
    TABLE_COLUMNS,
    TrialData,
    empty_table,
    normalise_trial_data,
    validate_trial_data,
)
from cartrial.analysis.settings import AnalysisSettings, analysis_settings
from cartrial.analysis.summary import SECTIONS, TrialAnalysis, analyse_trial
from cartrial.analysis.tables import AnalysisTable

__all__ = [
    "DATE_COLUMNS",
    "SECTIONS",
    "TABLE_COLUMNS",
    "AnalysisSettings",
    "AnalysisTable",
    "TrialAnalysis",
    "TrialData",
    "analyse_trial",
    "analysis_settings",
    "empty_table",
    "normalise_trial_data",
    "validate_trial_data",
]
