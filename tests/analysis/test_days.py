"""Numbers of days as time deltas: NaT for a missing number, and no NaN handed to pandas'
float-with-unit conversion (which reads uninitialised memory for one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.core.arrays.timedeltas as pandas_timedeltas
import pytest

from cartrial.analysis.days import days_to_timedelta


def test_days_with_missing_values(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[np.ndarray] = []
    original = pandas_timedeltas.cast_from_unit_vectorized

    def spy(values: np.ndarray, unit: str, out_unit: str = "ns") -> np.ndarray:
        seen.append(values.copy())
        return original(values, unit, out_unit)

    monkeypatch.setattr(pandas_timedeltas, "cast_from_unit_vectorized", spy)
    days = pd.Series([1.0, np.nan, 2.5, -3.0, None], index=[10, 11, 12, 13, 14], dtype=object)
    got = days_to_timedelta(days)
    # 1 day; 2.5 days = 2 days 12 hours; -3 days; NaT for the two missing values
    expected = pd.Series(
        [pd.Timedelta(days=1), pd.NaT, pd.Timedelta(days=2, hours=12), pd.Timedelta(days=-3),
         pd.NaT],
        index=days.index,
        dtype="timedelta64[ns]",
    )  # fmt: skip
    pd.testing.assert_series_equal(got, expected)
    assert len(seen) == 1 and not np.isnan(seen[0]).any()


def test_pandas_reads_the_fraction_of_a_nan_from_uninitialised_memory() -> None:
    # the reason for days_to_timedelta: pandas allocates the fractions with np.empty and never
    # writes a NaN's, yet its result for the NaN is NaT (what it left is only rounded)
    got = pd.to_timedelta(pd.Series([np.nan, 1.0]), unit="D")
    assert got.isna().tolist() == [True, False]
