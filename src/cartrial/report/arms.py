"""Report columns: dose levels split into escalation and expansion, then the total.

The analyses count subjects by ``subjects.dose_level``; a report column is a (phase, dose level)
pair. :func:`by_arm` relabels ``dose_level`` as the arm key so that every analysis function counts
by arm without knowing about phases, and :func:`arm_columns` prints the spanning headers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pandas as pd

from cartrial.analysis import AnalysisSettings, TrialData
from cartrial.analysis.tables import TOTAL
from cartrial.report.display import Column, Row, fmt_number, n_pct
from cartrial.vocab import PHASES

__all__ = ["PHASE_HEADERS", "Arm", "arm_columns", "arms_of", "by_arm", "count_row", "stat_rows"]

#: Study phases in report order (the vocabulary's order), with their spanning header.
PHASE_HEADERS: dict[str, str] = {phase: phase.capitalize() for phase in PHASES}
NOT_INFUSED = "not infused"


@dataclass(frozen=True)
class Arm:
    """One report column: subjects of one phase at one dose level (or the total)."""

    key: str
    phase: str
    dose_level: str
    subject_ids: frozenset[str]

    @property
    def n(self) -> int:
        """Number of subjects."""
        return len(self.subject_ids)

    @property
    def is_total(self) -> bool:
        """True for the all-subjects column."""
        return self.key == TOTAL


def _phase_header(phase: str) -> str:
    return PHASE_HEADERS.get(phase, phase.replace("_", " ").capitalize())


def arms_of(members: pd.DataFrame, settings: AnalysisSettings) -> tuple[Arm, ...]:
    """Arms of ``members`` (a subjects frame): phases in order, dose levels in protocol order,
    subjects without a dose level as "not infused"; then the total."""
    phases: list[str] = [p for p in PHASES if p in set(members["phase"])]
    phases += sorted(set(members["phase"].dropna().astype(str)) - set(PHASES))
    out = []
    for phase in phases:
        in_phase = members.loc[members["phase"] == phase]
        levels = [*settings.dose_levels, NOT_INFUSED]
        dose = in_phase["dose_level"].where(in_phase["dose_level"].notna(), NOT_INFUSED)
        for level in levels:
            ids = frozenset(in_phase.loc[dose == level, "subject_id"])
            if ids:
                out.append(Arm(f"{level} {phase}", phase, level, ids))
    out.append(Arm(TOTAL, "", TOTAL, frozenset(members["subject_id"])))
    return tuple(out)


def arm_columns(arms: tuple[Arm, ...], first: str) -> tuple[Column, ...]:
    """The table's columns: ``first`` (left-aligned row labels), one per arm with its N."""
    columns = [Column(first, align="left")]
    for arm in arms:
        if arm.is_total:
            columns.append(Column(f"Total\n(N={arm.n})"))
        else:
            columns.append(Column(f"{arm.dose_level}\n(N={arm.n})", _phase_header(arm.phase)))
    return tuple(columns)


def by_arm(
    trial: TrialData, settings: AnalysisSettings, arms: tuple[Arm, ...]
) -> tuple[TrialData, AnalysisSettings]:
    """``trial`` and ``settings`` with each subject's ``dose_level`` replaced by its arm key.

    Every analysis that counts by dose level then counts by arm (columns named by arm key).
    """
    arm_of = {s: arm.key for arm in arms if not arm.is_total for s in arm.subject_ids}
    subjects = trial.subjects.assign(
        dose_level=trial.subjects["subject_id"].map(arm_of).fillna(trial.subjects["dose_level"])
    )
    keys = tuple(arm.key for arm in arms if not arm.is_total)
    labels = {arm.key: settings.dose_labels.get(arm.dose_level, "") for arm in arms}
    return (
        dataclasses.replace(trial, subjects=subjects),
        dataclasses.replace(settings, dose_levels=keys, dose_labels=labels),
    )


def count_row(
    label: str, subject_ids: set[str] | frozenset[str], arms: tuple[Arm, ...], kind: str = "data"
) -> Row:
    """A row of ``n (%)`` cells: subjects of ``subject_ids`` in each arm over the arm's N."""
    cells = [n_pct(len(arm.subject_ids & subject_ids), arm.n) for arm in arms]
    return Row((label, *cells), kind)  # type: ignore[arg-type]


def stat_rows(
    label: str, values: pd.Series, arms: tuple[Arm, ...], digits: int = 1, unit: str = ""
) -> list[Row]:
    """Continuous summary rows per arm: n, mean (SD), median (min, max) of ``values``
    (indexed by subject)."""
    rows = [Row((f"{label}{f' ({unit})' if unit else ''}",) + ("",) * len(arms), "group")]
    n_cells, mean_cells, median_cells = [], [], []
    for arm in arms:
        present = values.reindex(sorted(arm.subject_ids)).dropna().astype(float)
        n_cells.append(str(len(present)))
        if len(present):
            sd = fmt_number(present.std(ddof=1), digits) if len(present) > 1 else "NE"
            mean_cells.append(f"{fmt_number(present.mean(), digits)} ({sd})")
            median_cells.append(
                f"{fmt_number(present.median(), digits)} ({fmt_number(present.min(), digits)},"
                f" {fmt_number(present.max(), digits)})"
            )
        else:
            mean_cells.append("NE")
            median_cells.append("NE")
    rows.append(Row(("n", *n_cells), "item"))
    rows.append(Row(("Mean (SD)", *mean_cells), "item"))
    rows.append(Row(("Median (min, max)", *median_cells), "item"))
    return rows
