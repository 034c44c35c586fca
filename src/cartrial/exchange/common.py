"""Conventions every CDISC dataset shares: subject keys, ISO 8601 dates, study days, --SEQ.

SDTMIG v3.4 section 4.4.4: the study day of a date on or after the reference start date
(``RFSTDTC``, here the CAR-T infusion) is ``date - RFSTDTC + 1``; before it, ``date - RFSTDTC``:
there is no day 0. cartrial's own ``day`` column counts the infusion day as 0, so study day =
``day + 1`` from the infusion on and ``day`` before it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from cartrial.analysis import TrialData
from cartrial.exchange.metadata import DatasetSpec

__all__ = [
    "SAS_EPOCH",
    "as_dates",
    "conform",
    "from_iso",
    "grade_text",
    "identifiers",
    "iso_date",
    "number_text",
    "reference_dates",
    "sas_date",
    "sequence",
    "study_day",
    "usubjid",
]

#: Day 0 of SAS dates (ADaM numeric dates count days from it).
SAS_EPOCH = pd.Timestamp("1960-01-01")


def _per_distinct(values: pd.Series, make: Callable[[pd.Index], np.ndarray]) -> pd.Series:
    """``make`` applied to the distinct values of ``values`` only, then spread to every record
    (a record's text is made once per distinct value: a subject has hundreds of records).
    A missing value stays missing (None)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    made = np.empty(len(uniques) + 1, dtype=np.object_)
    made[:-1] = make(uniques)
    made[-1] = None
    return pd.Series(made[codes], index=values.index, dtype=object)


def usubjid(study_id: str, subject_ids: pd.Series) -> pd.Series:
    """The unique subject identifier: ``STUDYID-SUBJID`` (SDTMIG 3.4 section 4.1.2.3)."""
    return _per_distinct(subject_ids, lambda ids: (study_id + "-" + ids.astype(str)).to_numpy())


def identifiers(trial: TrialData, domain: str, frame: pd.DataFrame) -> pd.DataFrame:
    """STUDYID, DOMAIN and USUBJID for every row of ``frame`` (which has ``subject_id``)."""
    study = trial.protocol.study.id
    out = pd.DataFrame(index=frame.index)
    out["STUDYID"] = study
    out["DOMAIN"] = domain
    out["USUBJID"] = usubjid(study, frame["subject_id"])
    return out


def reference_dates(trial: TrialData, subject_ids: pd.Series) -> pd.Series:
    """Each record's reference start date ``RFSTDTC``: its subject's CAR-T infusion date."""
    infusion = trial.subjects.set_index("subject_id")["infusion_date"]
    return subject_ids.map(infusion)


def as_dates(values: pd.Series) -> pd.Series:
    """``values`` as ``datetime64``; already-typed columns are returned as they are (no parsing)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    return pd.to_datetime(values)


def iso_date(dates: pd.Series) -> pd.Series:
    """Dates as ISO 8601 ``YYYY-MM-DD`` text (``--DTC``); a missing date stays missing (None).

    The dates of :class:`TrialData` are days of the study's calendar (the protocol's
    ``study.time_zone``, as the services' read model gives them), so a date-only ``--DTC`` is
    the date in the study's zone, not the UTC date of a stored time.

    numpy formats the whole column at once (``datetime_as_string``): pandas' ``strftime`` costs
    a Python call per value, a minute for the 100,000-subject benchmark.
    """
    days = pd.Series(as_dates(dates).to_numpy(dtype="datetime64[D]"), index=dates.index)
    return _per_distinct(
        days, lambda distinct: np.datetime_as_string(distinct.to_numpy("datetime64[D]"), unit="D")
    )


def from_iso(text: pd.Series) -> pd.Series:
    """ISO 8601 ``YYYY-MM-DD`` text back to dates (NaT when missing)."""
    return pd.to_datetime(text, format="%Y-%m-%d")


def grade_text(grades: pd.Series) -> pd.Series:
    """Toxicity grades as text (``"0"`` to ``"5"``; --TOXGR is character), None when missing."""
    numbers = pd.to_numeric(grades).astype(float)
    return _per_distinct(numbers, lambda distinct: distinct.astype("Int64").astype(str).to_numpy())


def number_text(values: pd.Series) -> pd.Series:
    """Numbers as the shortest text that reads back to the same value (``2.5``, ``3``).

    numpy's shortest round-trip repr formats each distinct value once; the rare value numpy
    writes in scientific notation is rewritten positionally (``1e-05`` -> ``0.00001``).
    """
    numbers = pd.to_numeric(values).astype(float)
    return _per_distinct(numbers, _shortest_text)


def _shortest_text(numbers: pd.Index) -> np.ndarray:
    values = numbers.to_numpy(dtype=float)
    text = [
        np.format_float_positional(value, trim="-") if "e" in shortest else shortest
        for value, shortest in zip(values, values.astype(str).tolist(), strict=True)
    ]
    return np.array([t.removesuffix(".0") for t in text], dtype=object)


def study_day(dates: pd.Series, reference: pd.Series) -> pd.Series:
    """SDTM study day of ``dates`` from ``reference`` (module docstring); NaN when unknown."""
    delta = (as_dates(dates) - as_dates(reference)).dt.days.astype(float)
    return pd.Series(np.where(delta >= 0, delta + 1, delta), index=dates.index, dtype=float)


def sas_date(dates: pd.Series) -> pd.Series:
    """ADaM numeric dates: days since 1960-01-01 (SAS date values), NaN when missing."""
    return (as_dates(dates) - SAS_EPOCH).dt.days.astype(float)


def sequence(frame: pd.DataFrame, order: list[str]) -> pd.Series:
    """``--SEQ``: 1, 2, ... within each ``USUBJID`` after sorting by ``order`` (stable)."""
    ranked = frame.sort_values(["USUBJID", *order], kind="stable")
    numbers = ranked.groupby("USUBJID", sort=False).cumcount() + 1
    return numbers.reindex(frame.index).astype(float)


def conform(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """``frame`` with exactly the variables of ``spec`` in its order, sorted by its keys.

    Variables the builder did not fill are added empty (a Perm or Exp variable with no data is
    kept so that every export of the dataset has the same structure); numeric variables become
    ``float64``, character variables ``object`` with ``None`` for missing values.
    """
    columns: dict[str, object] = {}
    for variable in spec.variables:
        values = frame[variable.name] if variable.name in frame.columns else None
        if values is None:
            columns[variable.name] = np.nan if variable.type == "Num" else None
        elif variable.type == "Num":
            columns[variable.name] = pd.to_numeric(values, errors="raise").to_numpy(
                dtype=float, na_value=np.nan
            )
        else:
            text = values.to_numpy(dtype=np.object_, copy=True)
            text[pd.isna(text)] = None
            columns[variable.name] = text
    out = pd.DataFrame(columns, index=frame.index)
    keys = [k for k in spec.keys if k in out.columns]
    out = out.sort_values(keys, kind="stable", na_position="first") if len(out) else out
    return out.reset_index(drop=True)
