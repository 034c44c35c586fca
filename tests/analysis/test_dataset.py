"""The TrialData contract: column lists, empty tables and validation."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from cartrial.analysis import TABLE_COLUMNS, TrialData, empty_table, validate_trial_data
from cartrial.analysis.dataset import as_flag
from cartrial.errors import AnalysisError


def _empty_trial() -> TrialData:
    tables = {name: empty_table(name) for name in TABLE_COLUMNS}
    return TrialData(**tables, data_cutoff=pd.Timestamp("2026-01-01"), protocol=None)  # type: ignore[arg-type]


def test_empty_tables_have_contract_columns_and_datetime_dates() -> None:
    frame = empty_table("subjects")
    assert tuple(frame.columns) == TABLE_COLUMNS["subjects"]
    assert frame["infusion_date"].dtype == "datetime64[ns]"
    assert frame.empty


def test_unknown_table_is_refused() -> None:
    with pytest.raises(AnalysisError, match="no TrialData table named 'tumours'"):
        empty_table("tumours")


def test_validation_accepts_complete_and_lists_every_missing_column() -> None:
    trial = _empty_trial()
    validate_trial_data(trial)
    broken = dataclasses.replace(
        trial,
        kinetics=trial.kinetics.drop(columns=["lloq", "below_lloq"]),
        ada=trial.ada.drop(columns=["titer"]),
    )
    with pytest.raises(AnalysisError) as caught:
        validate_trial_data(broken)
    assert "kinetics: missing column(s) lloq, below_lloq" in str(caught.value)
    assert "ada: missing column(s) titer" in str(caught.value)


def test_trial_data_is_frozen() -> None:
    trial = _empty_trial()
    with pytest.raises(dataclasses.FrozenInstanceError):
        trial.data_cutoff = pd.Timestamp("2027-01-01")  # type: ignore[misc]


def test_missing_flags_read_as_no() -> None:
    flags = pd.Series([True, False, None, float("nan"), pd.NA], dtype=object)
    assert as_flag(flags).tolist() == [True, False, False, False, False]
