"""Cytokine release syndrome and ICANS over the safety population (ASTCT daily grades).

Per subject: maximum grade, onset (first day graded ≥ 1), duration (first to last day graded ≥ 1,
inclusive), tocilizumab and corticosteroid use; summarised by dose level (subjects, not days).
"""

from __future__ import annotations

import pandas as pd

from cartrial.analysis.dataset import TrialData, as_flag
from cartrial.analysis.populations import dose_groups, member_records, population
from cartrial.analysis.safety import empty_population_note
from cartrial.analysis.settings import AnalysisSettings
from cartrial.analysis.tables import TOTAL, AnalysisTable

__all__ = ["crs_icans_by_subject", "crs_icans_summary"]


def _episode(frame: pd.DataFrame, grade_col: str) -> pd.DataFrame:
    """Per subject: max grade, onset day, duration (first to last day with grade ≥ 1, inclusive)."""
    present = frame.loc[frame[grade_col].fillna(0) >= 1]
    grouped = present.groupby("subject_id")
    return pd.DataFrame(
        {
            "max_grade": grouped[grade_col].max(),
            "onset_day": grouped["day"].min(),
            "duration_days": grouped["day"].max() - grouped["day"].min() + 1,
        }
    )


def crs_icans_by_subject(trial: TrialData) -> pd.DataFrame:
    """One row per safety subject: CRS and ICANS maximum grade, onset day and duration.

    Duration counts the days from the first to the last day graded ≥ 1 (inclusive); maximum grade 0
    means the syndrome was not observed (onset and duration then NaN). ``tocilizumab`` and
    ``steroids`` are True when given on any day recorded in the CRS/ICANS table.
    """
    safety = population(trial, "safety")
    daily = trial.crs_icans
    daily = daily.loc[member_records(daily, safety, trial.data_cutoff)]
    out = safety[["subject_id", "dose_level"]].set_index("subject_id")
    for syndrome in ("crs", "icans"):
        episode = _episode(daily, f"{syndrome}_grade").add_prefix(f"{syndrome}_")
        out = out.join(episode)
        out[f"{syndrome}_max_grade"] = out[f"{syndrome}_max_grade"].fillna(0).astype(int)
    treated = daily.groupby("subject_id")[["tocilizumab", "steroids"]].any()
    out = out.join(treated)
    for column in ("tocilizumab", "steroids"):
        out[column] = as_flag(out[column])
    return out.reset_index()


def crs_icans_summary(trial: TrialData, settings: AnalysisSettings) -> AnalysisTable:
    """CRS and ICANS by dose level: incidence, maximum grade, onset, duration, drugs given.

    Onset and duration are summarised as median (min–max) over subjects with the syndrome.
    """
    safety = population(trial, "safety")
    per_subject = crs_icans_by_subject(trial)
    groups = [*dose_groups(settings, safety), TOTAL]
    rows: list[dict[str, object]] = []

    def members(group: str) -> pd.DataFrame:
        return (
            per_subject if group == TOTAL else per_subject.loc[per_subject["dose_level"] == group]
        )

    def add_count(label: str, column: str, low: int, high: int) -> None:
        row: dict[str, object] = {"statistic": label}
        for group in groups:
            sub = members(group)
            hits = int(sub[column].astype(int).between(low, high).sum())
            row[f"{group} (N={len(sub)})"] = (
                f"{hits} ({hits / len(sub) * 100:.1f}%)" if len(sub) else "n = 0"
            )
        rows.append(row)

    def add_median(label: str, column: str, syndrome: str) -> None:
        row: dict[str, object] = {"statistic": label}
        for group in groups:
            sub = members(group)
            values = sub.loc[sub[f"{syndrome}_max_grade"] >= 1, column].dropna()
            row[f"{group} (N={len(sub)})"] = (
                f"{values.median():g} ({values.min():g}–{values.max():g})"
                if len(values)
                else "NE (no event)"
            )
        rows.append(row)

    for syndrome, name in (("crs", "CRS"), ("icans", "ICANS")):
        column = f"{syndrome}_max_grade"
        add_count(f"{name} any grade", column, 1, 5)
        for grade in range(1, 6):
            add_count(f"{name} maximum grade {grade}", column, grade, grade)
        add_count(f"{name} grade ≥ 3", column, 3, 5)
        add_median(
            f"{name} onset, day after infusion: median (range)", f"{syndrome}_onset_day", syndrome
        )
        add_median(f"{name} duration, days: median (range)", f"{syndrome}_duration_days", syndrome)
    add_count("Tocilizumab given", "tocilizumab", 1, 1)
    add_count("Corticosteroids given", "steroids", 1, 1)
    return AnalysisTable(
        key="crs_icans",
        title="Cytokine release syndrome and ICANS (ASTCT grading; subjects)",
        frame=pd.DataFrame(rows),
        population="safety",
        n=len(safety),
        method=(
            "ASTCT consensus grading (Lee 2019), daily maximum grade; onset = first day graded ≥ 1;"
            " duration = first to last day graded ≥ 1, inclusive"
        ),
        notes=empty_population_note(safety, "safety"),
    )
