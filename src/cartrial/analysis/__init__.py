"""Endpoint analyses: pure functions of a :class:`~cartrial.analysis.dataset.TrialData`.

No database, no files: the services layer builds the :class:`TrialData`; the report renders the
results.
"""

from __future__ import annotations

from cartrial.analysis.dataset import (
    DATE_COLUMNS,
    TABLE_COLUMNS,
    TrialData,
    empty_table,
    validate_trial_data,
)

__all__ = ["DATE_COLUMNS", "TABLE_COLUMNS", "TrialData", "empty_table", "validate_trial_data"]
