"""Immunophenotype over time: CD4/CD8 ratio, memory subsets and exhaustion markers.

Markers are grouped by name (case-insensitive): ``cd4_cd8_ratio`` (a ratio), memory subsets
(naive ``tn``, stem-cell memory ``tscm``, central memory ``tcm``, effector memory ``tem``,
terminal effector ``temra``/``teff``), exhaustion/inhibitory receptors (``pd1``, ``lag3``, ``tim3``,
``tigit``, ``cd39``); others are listed as ``other``. Values are % of CAR+ T cells unless the marker
is a ratio. Summaries are per scheduled phenotype visit: n, median, quartiles, range.
"""

from __future__ import annotations

from cartrial.analysis.dataset import TrialData
from cartrial.analysis.populations import member_records, population
from cartrial.analysis.settings import AnalysisSettings
from cartrial.analysis.tables import AnalysisTable
from cartrial.analysis.visits import nominal_visits

__all__ = ["MARKER_GROUPS", "marker_group", "phenotype_over_time"]

MARKER_GROUPS: dict[str, tuple[str, ...]] = {
    "CD4/CD8 ratio": ("cd4_cd8_ratio",),
    "memory subset": ("tn", "tscm", "tcm", "tem", "temra", "teff", "naive"),
    "exhaustion marker": ("pd1", "pd-1", "lag3", "lag-3", "tim3", "tim-3", "tigit", "cd39"),
}


def marker_group(marker: str) -> str:
    """The group of a phenotype marker name (:data:`MARKER_GROUPS`), ``"other"`` if unknown."""
    name = marker.strip().lower()
    for group, names in MARKER_GROUPS.items():
        if name in names or any(name.startswith(f"{n}_") or name.endswith(f"_{n}") for n in names):
            return group
    return "other"


def phenotype_over_time(trial: TrialData, settings: AnalysisSettings) -> AnalysisTable:
    """Median (Q1–Q3, min–max) of each phenotype marker at each scheduled visit."""
    safety = population(trial, "safety")
    data = trial.phenotype
    data = data.loc[member_records(data, safety, trial.data_cutoff) & data["value"].notna()]
    data = data.join(nominal_visits(data["day"], settings.visits.get("phenotype", ())))
    markers = data["marker"].astype(str)
    data = data.assign(group=markers.map({m: marker_group(m) for m in markers.unique()}))
    stats = data.groupby(["group", "marker", "visit_day", "visit"], sort=True)["value"].describe()
    frame = stats.rename(
        columns={
            "count": "n",
            "50%": "median",
            "25%": "q1",
            "75%": "q3",
            "min": "min",
            "max": "max",
        }
    ).reset_index()
    columns = ["group", "marker", "visit", "visit_day", "n", "median", "q1", "q3", "min", "max"]
    frame = frame.reindex(columns=columns)
    if len(frame):
        frame["n"] = frame["n"].astype(int)
    return AnalysisTable(
        key="phenotype_over_time",
        title="CAR-T cell phenotype over time",
        frame=frame,
        population=settings.population_for("phenotype", "safety"),
        n=len(safety),
        method="% of CAR+ T cells (ratio for CD4/CD8); samples assigned to the scheduled visit",
        notes=() if len(frame) else ("No phenotype sample on or before the data cut-off.",),
    )
