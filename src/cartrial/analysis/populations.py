"""Analysis populations, derived from the subjects table as the protocol names them.

==================== ===========================================================================
population           members
==================== ===========================================================================
``enrolled``         every subject in ``subjects`` enrolled on or before the data cut-off
``safety``           enrolled subjects infused with CAR-T on or before the data cut-off
``dlt_evaluable``    safety subjects flagged ``dlt_evaluable``
``efficacy_evaluable`` safety subjects flagged ``efficacy_evaluable``
==================== ===========================================================================

The definitions printed in the report are the protocol's own words (``protocol.populations``).
"""

from __future__ import annotations

import pandas as pd

from cartrial.analysis.dataset import TrialData, as_flag
from cartrial.analysis.settings import AnalysisSettings
from cartrial.analysis.tables import TOTAL, AnalysisTable
from cartrial.errors import AnalysisError

__all__ = ["POPULATIONS", "dose_groups", "member_records", "population", "population_table"]

POPULATIONS = ("enrolled", "safety", "dlt_evaluable", "efficacy_evaluable")


def population(trial: TrialData, name: str) -> pd.DataFrame:
    """The ``subjects`` rows of population ``name`` (see the module table).

    Raises
    ------
    AnalysisError
        If ``name`` is not one of :data:`POPULATIONS`.
    """
    subjects = trial.subjects
    enrolled = subjects["enrolled_date"].isna() | (subjects["enrolled_date"] <= trial.data_cutoff)
    infused = subjects["infusion_date"].notna() & (subjects["infusion_date"] <= trial.data_cutoff)
    if name == "enrolled":
        mask = enrolled
    elif name == "safety":
        mask = enrolled & infused
    elif name == "dlt_evaluable":
        mask = enrolled & infused & as_flag(subjects["dlt_evaluable"])
    elif name == "efficacy_evaluable":
        mask = enrolled & infused & as_flag(subjects["efficacy_evaluable"])
    else:
        raise AnalysisError(
            f"unknown analysis population {name!r}; known: {', '.join(POPULATIONS)}"
        )
    return subjects.loc[mask]


def member_records(records: pd.DataFrame, members: pd.DataFrame, cutoff: pd.Timestamp) -> pd.Series:
    """Mask of the ``records`` rows of subjects in ``members`` dated on or before ``cutoff``.

    Rows without a ``date`` count as within the cut-off.
    """
    return records["subject_id"].isin(members["subject_id"]) & (
        records["date"].isna() | (records["date"] <= cutoff)
    )


def dose_groups(settings: AnalysisSettings, members: pd.DataFrame) -> tuple[str, ...]:
    """Dose levels (protocol order) that have at least one subject in ``members``."""
    present = set(members["dose_level"])
    return tuple(level for level in settings.dose_levels if level in present)


def population_table(trial: TrialData, settings: AnalysisSettings) -> AnalysisTable:
    """Number of subjects in each analysis population, by dose level, with its definition."""
    rows = []
    for name in POPULATIONS:
        members = population(trial, name)
        counts = members["dose_level"].value_counts()
        row: dict[str, object] = {
            "population": name,
            "definition": settings.populations.get(name, "not defined in the protocol"),
        }
        for level in settings.dose_levels:
            row[level] = int(counts.get(level, 0))
        row[TOTAL] = len(members)
        rows.append(row)
    frame = pd.DataFrame(rows)
    notes = tuple(
        f"The {name} population has no subject (n = 0)."
        for name, total in zip(frame["population"], frame[TOTAL], strict=True)
        if total == 0
    )
    return AnalysisTable(
        key="populations",
        title="Analysis populations (subjects)",
        frame=frame,
        population="enrolled",
        n=int(frame[TOTAL].iloc[0]),
        method="populations as defined in the protocol; counts as of the data cut-off",
        notes=notes,
    )
