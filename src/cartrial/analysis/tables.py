"""The one result shape every analysis returns: a titled table with its population and method."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["TOTAL", "AnalysisTable", "count_subjects", "group_columns"]

#: Name of the all-dose-levels column group.
TOTAL = "Total"


@dataclass(frozen=True)
class AnalysisTable:
    """A result table, ready for CSV and HTML.

    Attributes
    ----------
    key
        Short identifier, used as the CSV file name (``<key>.csv``).
    title
        Caption in the report.
    frame
        The numbers. Counts are subjects, never events, unless the title says otherwise.
    population
        Name of the analysis population the table is computed on.
    n
        Number of subjects in that population.
    method
        How the numbers were computed (method names as explicit strings, e.g.
        ``ci_method="clopper-pearson"``).
    notes
        Data problems found while computing, in plain words (e.g. "no subject in the population").
    """

    key: str
    title: str
    frame: pd.DataFrame
    population: str
    n: int
    method: str = ""
    notes: tuple[str, ...] = ()


def group_columns(group: str, n: int) -> tuple[str, str]:
    """Column names ``("<group> (N=n) n", "<group> (N=n) %")`` of a subject-count table."""
    label = f"{group} (N={n})"
    return f"{label} n", f"{label} %"


def count_subjects(
    events: pd.DataFrame,
    population: pd.DataFrame,
    keys: Sequence[str],
    groups: Iterable[str],
) -> pd.DataFrame:
    """Count distinct subjects per ``keys`` and dose group, with % of the group's population.

    Parameters
    ----------
    events
        Rows with ``subject_id`` and the ``keys`` columns (any number of rows per subject).
    population
        The population's ``subjects`` rows (``subject_id``, ``dose_level``): the denominators.
    keys
        Columns that define a table row (e.g. ``["soc", "term"]``).
    groups
        Dose-level names in display order; a ``Total`` group is added.

    Returns
    -------
    DataFrame
        ``keys`` columns, then for each group the columns of :func:`group_columns`. Percentages
        are NaN for a group without subjects (no denominator, no invented 0 %).
    """
    groups = list(groups)
    sizes = population["dose_level"].value_counts()
    dose_of = population.set_index("subject_id")["dose_level"]
    hits = events.loc[events["subject_id"].isin(dose_of.index), ["subject_id", *keys]]
    hits = hits.drop_duplicates()
    hits = hits.assign(dose_level=hits["subject_id"].map(dose_of))
    keys_list = list(keys)
    hits = hits.fillna({"dose_level": "unknown"})
    wide = (
        hits.groupby([*keys_list, "dose_level"], sort=False)
        .size()
        .unstack("dose_level", fill_value=0)
    )
    total = wide.sum(axis=1) if len(wide.columns) else pd.Series(0, index=wide.index)
    wide = wide.reindex(columns=groups, fill_value=0)
    wide[TOTAL] = total
    out = wide.reset_index()[keys_list]
    sizes_all = [(g, int(sizes.get(g, 0))) for g in groups] + [(TOTAL, len(population))]
    for group, size in sizes_all:
        values = wide[group].to_numpy(dtype=float)
        n_col, pct_col = group_columns(group, size)
        out[n_col] = values.astype(int)
        out[pct_col] = np.round(values / size * 100, 1) if size else np.nan
    out.columns.name = None
    return out.reset_index(drop=True)
