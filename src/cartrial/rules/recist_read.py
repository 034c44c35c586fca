"""Read the RECIST lesion table and reference dates; parse its columns into arrays.

Column parsers work on the distinct values of a column (``pandas.factorize``) and map them back,
so a text column of millions of rows costs one hash pass. Missing or malformed values are returned
as masks; :mod:`cartrial.rules.recist_input` turns them into errors naming the row and the rule.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from cartrial.errors import RuleInputError

__all__ = [
    "LESION_COLUMNS",
    "ReferenceDates",
    "dense_codes",
    "lymph_node_flags",
    "map_vocabulary",
    "parse_days",
    "parse_diameters",
    "read_lesions",
    "reference_days",
]

#: Required columns of the long lesion table (one row per lesion per assessment).
LESION_COLUMNS: tuple[str, ...] = (
    "subject_id",
    "assessment_date",
    "lesion_id",
    "category",
    "organ",
    "is_lymph_node",
    "diameter_mm",
    "status",
)
_TRUE = frozenset({"true", "t", "yes", "y", "1", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "0.0"})

ReferenceDates = Mapping[str, "date | str | pd.Timestamp"] | pd.DataFrame | pd.Series


def read_lesions(source: pd.DataFrame | str | os.PathLike[str]) -> pd.DataFrame:
    """Return the lesion table from a DataFrame or a CSV path, checking its columns.

    Parameters
    ----------
    source : DataFrame or path
        The long lesion table. A CSV is read as text (no value is turned into a missing value
        except an empty cell), so a status ``NA`` is reported as unknown rather than dropped.

    Returns
    -------
    DataFrame
        The table with at least :data:`LESION_COLUMNS`.
    """
    if isinstance(source, pd.DataFrame):
        frame = source
    else:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    missing = [c for c in LESION_COLUMNS if c not in frame.columns]
    if missing:
        raise RuleInputError(
            f"RECIST lesion table lacks column(s) {', '.join(missing)} "
            f"(rule: required columns {', '.join(LESION_COLUMNS)})"
        )
    return frame


def reference_days(reference_dates: ReferenceDates) -> pd.Series:
    """Map subject ID (as text) to its reference date in integer days since 1970-01-01.

    Parameters
    ----------
    reference_dates : mapping, Series or DataFrame
        ``{subject_id: date}``, a Series indexed by subject, or a DataFrame with ``subject_id``
        and ``reference_date`` (or ``infusion_date``) columns. A missing date is kept as
        missing and refused later only for subjects that have lesion rows.

    Returns
    -------
    Series
        Float days (NaN when missing) indexed by subject ID text.
    """
    if isinstance(reference_dates, pd.DataFrame):
        column = next(
            (c for c in ("reference_date", "infusion_date") if c in reference_dates.columns), None
        )
        if "subject_id" not in reference_dates.columns or column is None:
            raise RuleInputError(
                "reference dates need columns subject_id and reference_date (or infusion_date)"
            )
        series = pd.Series(
            reference_dates[column].to_numpy(),
            index=reference_dates["subject_id"].astype(str).to_numpy(),
        )
    elif isinstance(reference_dates, pd.Series):
        series = reference_dates.copy()
        series.index = series.index.astype(str)
    else:
        series = pd.Series({str(k): v for k, v in reference_dates.items()}, dtype=object)
    parsed = pd.to_datetime(series.replace("", None), errors="coerce")
    bad = parsed.isna() & series.notna() & (series.astype(str) != "")
    if bad.any():
        sid = bad[bad].index[0]
        raise RuleInputError(
            f"subject {sid}: reference date {series[sid]!r} is not a date "
            "(rule: one reference (infusion) date per subject)"
        )
    if parsed.index.duplicated().any():
        sid = parsed.index[parsed.index.duplicated()][0]
        raise RuleInputError(
            f"subject {sid}: more than one reference date (rule: one reference date per subject)"
        )
    days = parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    values = np.where(pd.isna(parsed.to_numpy()), np.nan, days.astype(np.int64).astype(float))
    return pd.Series(values, index=parsed.index, dtype=float)


def map_vocabulary(
    column: pd.Series, vocabulary: Mapping[str, int], *, missing: int, unknown: int, upper_ne: bool
) -> npt.NDArray[np.int8]:
    """Encode a text column through ``vocabulary`` after stripping (and lower-casing) each value."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    table = []
    for value in uniques:
        text = str(value).strip()
        key = "NE" if upper_ne and text.upper() == "NE" else text.lower()
        table.append(missing if text == "" else vocabulary.get(key, unknown))
    table.append(missing)  # the NA sentinel -1 picks the last entry
    return np.asarray(table, dtype=np.int8)[codes]


def parse_days(column: pd.Series) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Return integer days since 1970-01-01 and a mask of values that are not dates."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        values = column.to_numpy(dtype="datetime64[ns]")
        bad = np.isnat(values)
        return np.where(bad, 0, values.astype("datetime64[D]").astype(np.int64)), bad
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    parsed = pd.to_datetime(pd.Series(uniques, dtype=object), errors="coerce", format="mixed")
    unique_values = parsed.to_numpy(dtype="datetime64[ns]")
    unique_bad = np.append(np.isnat(unique_values), True)
    unique_days = np.append(
        np.where(
            np.isnat(unique_values), 0, unique_values.astype("datetime64[D]").astype(np.int64)
        ),
        0,
    )
    return unique_days[codes], unique_bad[codes]


def parse_diameters(column: pd.Series) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Diameters in mm (NaN when empty) and a mask of values that are not numbers."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype=float), np.zeros(len(column), dtype=bool)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    text = pd.Series(uniques, dtype=object).astype(str).str.strip()
    values = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(float)
    unique_bad = np.isnan(values) & (text != "").to_numpy()
    return np.append(values, np.nan)[codes], np.append(unique_bad, False)[codes]


def dense_codes(key: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], int]:
    """Number the distinct non-negative integer keys 0..k-1 in key order; return codes and k."""
    if len(key) == 0:
        return key, 0
    top = int(key.max()) + 1
    if top <= 8 * len(key) + 1_000_000:
        present = np.bincount(key, minlength=top) > 0
        rank = np.cumsum(present) - 1
        return rank[key], int(present.sum())
    codes, uniques = pd.factorize(key, sort=True)
    return codes.astype(np.int64), len(uniques)


def lymph_node_flags(column: pd.Series) -> npt.NDArray[np.int8]:
    """1 = node, 0 = not a node, -1 = missing, -2 = not a boolean."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.to_numpy(dtype=np.int8)
    vocabulary = {word: 1 for word in _TRUE} | {word: 0 for word in _FALSE}
    return map_vocabulary(column, vocabulary, missing=-1, unknown=-2, upper_ne=False)
