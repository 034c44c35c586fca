"""Anti-CAR antibodies (ADA): patient-level classification, incidence and titers over time.

Tiered assay (FDA 2019 immunogenicity guidance; Shankar et al., AAPS J 2014;16:658-673): a sample
is **ADA-positive** when screening is positive *and* the confirmatory assay confirms it; the titer
is the reciprocal dilution. Baseline = last sample on or before the infusion (day ≤ 0).

=========================== ==================================================================
class                       rule
=========================== ==================================================================
``treatment-induced``       baseline negative or missing, ≥ 1 positive post-baseline sample
``treatment-boosted``       baseline positive, a post-baseline titer ≥ ``boost_fold`` × baseline
``pre-existing``            baseline positive and not boosted
``negative``                no positive sample, ≥ 1 post-baseline sample
``not evaluable``           no post-baseline sample
=========================== ==================================================================

Treatment-emergent ADA (ADA incidence) = induced + boosted, over subjects with ≥ 1 post-baseline
sample. The titer fold rule defaults to 4 (two two-fold dilution steps).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartrial.analysis.dataset import TrialData, as_flag
from cartrial.analysis.populations import dose_groups, member_records, population
from cartrial.analysis.settings import AnalysisSettings
from cartrial.analysis.stats import CI_METHOD, proportion
from cartrial.analysis.tables import AnalysisTable
from cartrial.analysis.visits import nominal_visits

__all__ = ["ADA_CLASSES", "ada_by_subject", "ada_incidence", "ada_over_time"]

ADA_CLASSES = (
    "treatment-induced",
    "treatment-boosted",
    "pre-existing",
    "negative",
    "not evaluable",
)


def _samples(trial: TrialData) -> pd.DataFrame:
    safety = population(trial, "safety")
    ada = trial.ada
    ada = ada.loc[member_records(ada, safety, trial.data_cutoff)]
    positive = (ada["screen"].astype(str).str.lower() == "positive") & as_flag(ada["confirmed"])
    return ada.assign(positive=positive)


def ada_by_subject(trial: TrialData, boost_fold: float = 4.0) -> pd.DataFrame:
    """One row per safety subject: baseline status and titer, post-baseline maximum titer, class."""
    safety = population(trial, "safety")
    ada = _samples(trial)
    base = ada.loc[ada["day"] <= 0].sort_values("day").groupby("subject_id").last()
    post = ada.loc[ada["day"] > 0]
    post_grouped = post.groupby("subject_id")
    out = pd.DataFrame(index=pd.Index(safety["subject_id"], name="subject_id"))
    out["dose_level"] = safety.set_index("subject_id")["dose_level"]
    out["baseline_positive"] = base["positive"].reindex(out.index).astype("boolean").fillna(False)
    out["baseline_titer"] = base["titer"].where(base["positive"]).reindex(out.index)
    out["post_samples"] = post_grouped.size().reindex(out.index).fillna(0).astype(int)
    out["post_positive"] = (
        post_grouped["positive"].any().reindex(out.index).astype("boolean").fillna(False)
    )
    out["post_max_titer"] = (
        post.loc[post["positive"]].groupby("subject_id")["titer"].max().reindex(out.index)
    )
    boosted = out["baseline_positive"] & (
        out["post_max_titer"] >= boost_fold * out["baseline_titer"]
    ).fillna(False)
    out["ada_class"] = np.select(
        [
            out["post_samples"] == 0,
            ~out["baseline_positive"] & out["post_positive"],
            boosted,
            out["baseline_positive"],
        ],
        ["not evaluable", "treatment-induced", "treatment-boosted", "pre-existing"],
        default="negative",
    )
    return out.reset_index()


def ada_incidence(
    trial: TrialData, settings: AnalysisSettings, boost_fold: float = 4.0
) -> AnalysisTable:
    """ADA classes by dose level, and treatment-emergent ADA incidence with exact 95% CI."""
    per_subject = ada_by_subject(trial, boost_fold)
    rows = []
    for level in [*dose_groups(settings, per_subject), "Total"]:
        group = (
            per_subject if level == "Total" else per_subject.loc[per_subject["dose_level"] == level]
        )
        evaluable = group.loc[group["ada_class"] != "not evaluable"]
        row: dict[str, object] = {
            "dose_level": level,
            "subjects": len(group),
            "evaluable": len(evaluable),
        }
        for name in ADA_CLASSES:
            row[name] = int((group["ada_class"] == name).sum())
        emergent = proportion(
            int(evaluable["ada_class"].isin(ADA_CLASSES[:2]).sum()), len(evaluable)
        )
        row["treatment-emergent"] = emergent.format()
        row["prevalence (any positive)"] = int(
            (group["baseline_positive"] | group["post_positive"]).sum()
        )
        row["ci_method"] = CI_METHOD
        rows.append(row)
    notes: tuple[str, ...] = ()
    if not (per_subject["ada_class"] != "not evaluable").any():
        notes = ("No subject has a post-baseline ADA sample: ADA incidence is NE (n = 0).",)
    return AnalysisTable(
        key="ada_incidence",
        title="Anti-CAR antibodies: incidence by dose level (subjects)",
        frame=pd.DataFrame(rows),
        population=settings.population_for("ada", "safety"),
        n=len(per_subject),
        method=(
            f"tiered assay (screen + confirm); boosted = titer ≥ {boost_fold:g}-fold baseline;"
            f' incidence over subjects with a post-baseline sample; ci_method="{CI_METHOD}"'
        ),
        notes=notes,
    )


def ada_over_time(trial: TrialData, settings: AnalysisSettings) -> AnalysisTable:
    """Per scheduled ADA visit: samples, positives and median (min–max) titer of positives."""
    ada = _samples(trial)
    ada = ada.join(nominal_visits(ada["day"], settings.visits.get("ada", ())))
    rows = []
    for (nominal, visit), group in ada.groupby(["visit_day", "visit"], sort=True):
        titers = group.loc[group["positive"], "titer"].dropna()
        rows.append(
            {
                "visit": visit,
                "nominal_day": nominal,
                "samples": len(group),
                "positive": int(group["positive"].sum()),
                "titer_median": titers.median() if len(titers) else np.nan,
                "titer_min": titers.min() if len(titers) else np.nan,
                "titer_max": titers.max() if len(titers) else np.nan,
            }
        )
    return AnalysisTable(
        key="ada_over_time",
        title="Anti-CAR antibodies over time",
        frame=pd.DataFrame(
            rows,
            columns=[
                "visit",
                "nominal_day",
                "samples",
                "positive",
                "titer_median",
                "titer_min",
                "titer_max",
            ],
        ),
        population="safety",
        n=len(population(trial, "safety")),
        method="samples assigned to the scheduled ADA visit whose window holds them",
        notes=() if len(ada) else ("No ADA sample on or before the data cut-off.",),
    )
