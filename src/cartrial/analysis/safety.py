"""Safety analyses over the safety population: adverse events, DLTs, labs, deaths.

CRS and ICANS are in :mod:`cartrial.analysis.crs_icans`.

All incidences count **subjects, not events**: a subject with several events of one term counts
once in that term's row (at the worst grade for grade tables). Adverse events are
*treatment-emergent* when their onset is on or after the start of lymphodepletion (the infusion date
when no lymphodepletion date is recorded) and on or before the data cut-off.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartrial.analysis.dataset import TrialData, as_flag
from cartrial.analysis.populations import dose_groups, member_records, population
from cartrial.analysis.settings import AnalysisSettings
from cartrial.analysis.stats import CI_METHOD, clopper_pearson
from cartrial.analysis.tables import TOTAL, AnalysisTable, count_subjects, group_columns
from cartrial.errors import AnalysisError

__all__ = [
    "AE_SUBSETS",
    "ae_incidence",
    "ae_overview",
    "ae_worst_grade",
    "deaths",
    "dlt_by_dose",
    "empty_population_note",
    "lab_shift",
    "treatment_emergent_aes",
]

#: AE subsets a table can be restricted to, and how each is selected.
AE_SUBSETS: dict[str, str] = {
    "any": "all treatment-emergent AEs",
    "grade>=3": "CTCAE grade 3 or higher",
    "serious": "serious adverse events",
    "related": "at least possibly related to CAR-T",
}

_TE_METHOD = (
    "treatment-emergent = onset on or after the start of lymphodepletion (infusion if not recorded)"
    " and on or before the data cut-off; subjects counted once per row"
)


def empty_population_note(members: pd.DataFrame, name: str) -> tuple[str, ...]:
    """The plain-word note for an empty population (``()`` when it has members)."""
    if members.empty:
        return (f"No subject in the {name} population (n = 0): nothing to tabulate.",)
    return ()


def treatment_emergent_aes(trial: TrialData) -> pd.DataFrame:
    """Treatment-emergent AEs of the safety population, with ``dose_level`` and onset ``day``.

    ``day`` is the onset day after infusion (day 0 = infusion).
    """
    safety = population(trial, "safety")
    aes = trial.adverse_events
    start = safety["lymphodepletion_date"].fillna(safety["infusion_date"])
    start_of = pd.Series(start.to_numpy(), index=safety["subject_id"])
    infusion_of = pd.Series(safety["infusion_date"].to_numpy(), index=safety["subject_id"])
    dose_of = pd.Series(safety["dose_level"].to_numpy(), index=safety["subject_id"])
    aes = aes.loc[aes["subject_id"].isin(start_of.index)]
    onset = aes["onset_date"]
    keep = (onset >= aes["subject_id"].map(start_of)) & (onset <= trial.data_cutoff)
    te = aes.loc[keep].copy()
    te["dose_level"] = te["subject_id"].map(dose_of)
    te["day"] = (te["onset_date"] - te["subject_id"].map(infusion_of)).dt.days
    te["grade"] = te["grade"].astype(float)
    return te


def _subset(te: pd.DataFrame, subset: str) -> pd.DataFrame:
    if subset == "any":
        return te
    if subset == "grade>=3":
        return te.loc[te["grade"] >= 3]
    if subset == "serious":
        return te.loc[as_flag(te["serious"])]
    if subset == "related":
        return te.loc[as_flag(te["related"])]
    raise AnalysisError(f"unknown AE subset {subset!r}; known: {', '.join(AE_SUBSETS)}")


def ae_overview(
    trial: TrialData, settings: AnalysisSettings, te: pd.DataFrame | None = None
) -> AnalysisTable:
    """Subjects with any TEAE, grade ≥ 3, serious, related (≥ 3), grade 5, DLT, and deaths.

    ``te`` is :func:`treatment_emergent_aes` of ``trial`` when already computed.
    """
    safety = population(trial, "safety")
    te = treatment_emergent_aes(trial) if te is None else te
    related = as_flag(te["related"])
    categories = {
        "Any treatment-emergent AE": te,
        "Grade ≥ 3 AE": te.loc[te["grade"] >= 3],
        "Serious AE": te.loc[as_flag(te["serious"])],
        "Related AE (at least possibly)": te.loc[related],
        "Related grade ≥ 3 AE": te.loc[related & (te["grade"] >= 3)],
        "Grade 5 AE (fatal)": te.loc[te["grade"] == 5],
        "Dose-limiting toxicity": te.loc[as_flag(te["is_dlt"])],
    }
    dead = safety.loc[safety["death_date"].notna() & (safety["death_date"] <= trial.data_cutoff)]
    frames = [frame[["subject_id"]].assign(category=name) for name, frame in categories.items()]
    frames.append(dead[["subject_id"]].assign(category="Death (any cause)"))
    events = pd.concat(frames, ignore_index=True)
    counted = count_subjects(events, safety, ["category"], dose_groups(settings, safety))
    order = pd.DataFrame({"category": [*categories, "Death (any cause)"]})
    frame = order.merge(counted, on="category", how="left")
    numeric = [c for c in frame.columns if c.endswith(" n")]
    frame[numeric] = frame[numeric].fillna(0).astype(int)
    for column in frame.columns:
        if column.endswith(" %"):
            n_col = column[:-2] + " n"
            size = int(column.split("(N=")[1].split(")")[0])
            frame[column] = np.round(frame[n_col] / size * 100, 1) if size else np.nan
    return AnalysisTable(
        key="ae_overview",
        title="Overview of adverse events (subjects)",
        frame=frame,
        population="safety",
        n=len(safety),
        method=_TE_METHOD,
        notes=empty_population_note(safety, "safety"),
    )


def ae_incidence(
    trial: TrialData,
    settings: AnalysisSettings,
    subset: str = "any",
    te: pd.DataFrame | None = None,
) -> AnalysisTable:
    """Subjects with a treatment-emergent AE by SOC and term and by dose level.

    Parameters
    ----------
    subset
        One of :data:`AE_SUBSETS`: ``"any"``, ``"grade>=3"``, ``"serious"``, ``"related"``.
    te
        :func:`treatment_emergent_aes` of ``trial`` when already computed.

    Returns
    -------
    AnalysisTable
        One row per SOC (``term`` = ``"Any term"``) followed by its terms, SOCs and terms ordered
        by decreasing total count, then name.
    """
    safety = population(trial, "safety")
    te = _subset(treatment_emergent_aes(trial) if te is None else te, subset)
    groups = dose_groups(settings, safety)
    by_term = count_subjects(te, safety, ["soc", "term"], groups)
    by_soc = count_subjects(te, safety, ["soc"], groups).assign(term="Any term")
    total_n = group_columns(TOTAL, len(safety))[0]
    by_soc = by_soc.sort_values([total_n, "soc"], ascending=[False, True])
    soc_rank = {soc: i for i, soc in enumerate(by_soc["soc"])}
    by_soc["_rank"], by_soc["_level"] = by_soc["soc"].map(soc_rank), 0
    by_term["_rank"], by_term["_level"] = by_term["soc"].map(soc_rank), 1
    rows = pd.concat([by_soc, by_term], ignore_index=True)
    rows["_neg"] = -rows[total_n]
    rows = rows.sort_values(["_rank", "_level", "_neg", "term"]).drop(
        columns=["_rank", "_level", "_neg"]
    )
    columns = ["soc", "term", *[c for c in rows.columns if c not in ("soc", "term")]]
    slug = {"any": "any", "grade>=3": "grade3plus", "serious": "serious", "related": "related"}
    notes = empty_population_note(safety, "safety")
    if not notes and te.empty:
        notes = (f"No subject had an adverse event in this category ({AE_SUBSETS[subset]}).",)
    return AnalysisTable(
        key=f"ae_{slug[subset]}_by_soc_term",
        title=f"Adverse events by SOC and term — {AE_SUBSETS[subset]} (subjects)",
        frame=rows[columns].reset_index(drop=True),
        population="safety",
        n=len(safety),
        method=_TE_METHOD + "; MedDRA SOC / CTCAE v5.0 term",
        notes=notes,
    )


def ae_worst_grade(trial: TrialData, te: pd.DataFrame | None = None) -> AnalysisTable:
    """Subjects by their worst CTCAE grade per term (grades 1-5, any, ≥ 3), all dose levels.

    ``te`` is :func:`treatment_emergent_aes` of ``trial`` when already computed.
    """
    safety = population(trial, "safety")
    te = treatment_emergent_aes(trial) if te is None else te
    worst = te.groupby(["soc", "term", "subject_id"], sort=False)["grade"].max().reset_index()
    table = (
        worst.groupby(["soc", "term", "grade"]).size().unstack("grade", fill_value=0)
        if not worst.empty
        else pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=["soc", "term"]))
    )
    table = table.reindex(columns=[1, 2, 3, 4, 5], fill_value=0)
    table.columns = [f"grade {g}" for g in table.columns]
    table["any grade"] = table.sum(axis=1)
    table["grade ≥ 3"] = table[["grade 3", "grade 4", "grade 5"]].sum(axis=1)
    table = table.reset_index().sort_values(
        ["any grade", "soc", "term"], ascending=[False, True, True]
    )
    return AnalysisTable(
        key="ae_worst_grade",
        title="Adverse events by worst CTCAE grade per subject (subjects, all dose levels)",
        frame=table.reset_index(drop=True).astype({c: int for c in table.columns[2:]}),
        population="safety",
        n=len(safety),
        method=_TE_METHOD + "; each subject counted once per term, at the worst grade",
        notes=empty_population_note(safety, "safety"),
    )


def dlt_by_dose(trial: TrialData, settings: AnalysisSettings) -> AnalysisTable:
    """DLT rate per dose level over the DLT-evaluable population, with exact 95% CIs."""
    evaluable = population(trial, "dlt_evaluable")
    aes = trial.adverse_events
    dlts = aes.loc[as_flag(aes["is_dlt"]) & aes["subject_id"].isin(evaluable["subject_id"])]
    dlts = dlts.loc[dlts["onset_date"] <= trial.data_cutoff]
    with_dlt = set(dlts["subject_id"])
    terms = dlts.groupby("subject_id")["term"].agg(lambda t: ", ".join(sorted(set(t))))
    rows = []
    for group in [*dose_groups(settings, evaluable), TOTAL]:
        sub = evaluable if group == TOTAL else evaluable.loc[evaluable["dose_level"] == group]
        ids = list(sub["subject_id"])
        n_dlt = sum(1 for s in ids if s in with_dlt)
        described = sorted({terms[s] for s in ids if s in with_dlt})
        rows.append(
            {
                "dose_level": group,
                "dose": settings.dose_labels.get(group, ""),
                "dlt_evaluable_n": len(ids),
                "subjects_with_dlt": n_dlt,
                "dlt_rate_pct": round(n_dlt / len(ids) * 100, 1) if ids else np.nan,
                "dlt_terms": "; ".join(described),
            }
        )
    frame = pd.DataFrame(rows)
    lower, upper = clopper_pearson(frame["subjects_with_dlt"], frame["dlt_evaluable_n"])
    frame["ci95_lower_pct"] = np.round(lower * 100, 1)
    frame["ci95_upper_pct"] = np.round(upper * 100, 1)
    frame["ci_method"] = CI_METHOD
    notes = empty_population_note(evaluable, "DLT-evaluable")
    return AnalysisTable(
        key="dlt_by_dose",
        title=f"DLTs per dose level ({settings.dlt_window_days}-day DLT window)",
        frame=frame,
        population="dlt_evaluable",
        n=len(evaluable),
        method=f'DLT as adjudicated under the protocol definition; ci_method="{CI_METHOD}"',
        notes=notes,
    )


def lab_shift(trial: TrialData) -> AnalysisTable:
    """Lab shift table: baseline CTCAE grade to worst post-baseline grade, per term (subjects).

    Baseline is the last graded value on or before infusion (day ≤ 0); post-baseline is day ≥ 1 up
    to the data cut-off. Subjects without a baseline value appear in the ``baseline grade`` row
    ``"missing"``; subjects without a post-baseline value are not counted (they cannot shift).
    """
    safety = population(trial, "safety")
    labs = trial.labs
    labs = labs.loc[
        member_records(labs, safety, trial.data_cutoff)
        & labs["grade"].notna()
        & labs["term"].notna()
    ]
    base = (
        labs.loc[labs["day"] <= 0]
        .sort_values("day")
        .groupby(["term", "subject_id"])["grade"]
        .last()
    )
    post = labs.loc[labs["day"] >= 1].groupby(["term", "subject_id"])["grade"].max()
    shifts = post.rename("worst").to_frame().join(base.rename("baseline"))
    shifts["baseline"] = shifts["baseline"].map(lambda g: "missing" if pd.isna(g) else str(int(g)))
    shifts["worst"] = shifts["worst"].astype(int).map(lambda g: f"worst grade {g}")
    if shifts.empty:
        frame = pd.DataFrame(columns=["term", "baseline grade"])
    else:
        frame = (
            shifts.reset_index()
            .groupby(["term", "baseline", "worst"])
            .size()
            .unstack("worst", fill_value=0)
            .reindex(columns=[f"worst grade {g}" for g in range(5)], fill_value=0)
            .reset_index()
            .rename(columns={"baseline": "baseline grade"})
        )
        frame.columns.name = None
        frame["subjects"] = frame[[f"worst grade {g}" for g in range(5)]].sum(axis=1)
    notes = empty_population_note(safety, "safety")
    if not notes and frame.empty:
        notes = ("No graded post-baseline laboratory value: no shift table.",)
    return AnalysisTable(
        key="lab_shift",
        title="Laboratory shift: baseline to worst post-baseline CTCAE grade (subjects)",
        frame=frame,
        population="safety",
        n=len(safety),
        method="CTCAE v5.0 lab grades; baseline = last value on or before day 0",
        notes=notes,
    )


def deaths(trial: TrialData) -> AnalysisTable:
    """Listing of deaths on or before the data cut-off in the enrolled population."""
    enrolled = population(trial, "enrolled")
    dead = enrolled.loc[
        enrolled["death_date"].notna() & (enrolled["death_date"] <= trial.data_cutoff)
    ]
    frame = pd.DataFrame(
        {
            "subject_id": dead["subject_id"].to_numpy(),
            "dose_level": dead["dose_level"].to_numpy(),
            "death_date": dead["death_date"].dt.strftime("%Y-%m-%d").to_numpy(),
            "day_after_infusion": (dead["death_date"] - dead["infusion_date"]).dt.days.to_numpy(),
            "cause": dead["death_cause"].fillna("").replace("", "not recorded").to_numpy(),
        }
    )
    notes = () if len(frame) else ("No death on or before the data cut-off.",)
    return AnalysisTable(
        key="deaths",
        title="Deaths",
        frame=frame,
        population="enrolled",
        n=len(enrolled),
        method="day after infusion = death date − infusion date (empty if not infused)",
        notes=notes,
    )
