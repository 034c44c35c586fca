"""Efficacy tables: best overall response, ORR, DCR, ORR at 3 months, time to response.

* ORR = confirmed CR + PR; DCR = CR + PR + SD (SD at least ``sd_min_days`` after infusion), with
  non-target-only NON-CR/NON-PD counted as SD-equivalent (RECIST 1.1 §8 of the reference; stated in
  every table). Proportions carry exact Clopper–Pearson 95% CIs (``ci_method="clopper-pearson"``).
* ORR at 3 months: a confirmed response first recorded on or before the end of the window of the
  month-3 tumour assessment (the protocol's ORR time frame, e.g. day 91).
* Rates are given over the protocol's ORR population (efficacy-evaluable) and over all infused
  subjects (safety), overall and by dose level and indication.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartrial.analysis.dataset import TrialData
from cartrial.analysis.populations import dose_groups, population
from cartrial.analysis.response import BOR_ORDER, BestResponse
from cartrial.analysis.settings import AnalysisSettings
from cartrial.analysis.stats import CI_METHOD, proportion
from cartrial.analysis.tables import AnalysisTable, count_subjects
from cartrial.vocab import OBJECTIVE_RESPONSES

__all__ = [
    "DISEASE_CONTROL",
    "bor_table",
    "month3_cutoff_day",
    "month3_responders",
    "response_listing",
    "response_rates",
    "time_to_response",
]

#: Best responses that count as disease control.
DISEASE_CONTROL = ("CR", "PR", "SD", "NON-CR/NON-PD")


def month3_cutoff_day(settings: AnalysisSettings) -> int:
    """Last day after infusion a response may be first recorded to count for ORR at 3 months.

    The protocol's ORR time frame (days), extended to the end of the window of the tumour visit
    whose window holds it, if any.
    """
    frame = settings.endpoint_time_frames.get("orr", 91)
    holding = [
        v.latest for v in settings.visits.get("tumour", ()) if v.earliest <= frame <= v.latest
    ]
    return max([frame, *holding])


def _method(settings: AnalysisSettings) -> str:
    confirm = (
        f"CR/PR confirmed ≥ {settings.confirm_min_days} days later"
        if settings.confirm
        else "no confirmation required"
    )
    return (
        f"RECIST 1.1 best overall response; {confirm}; SD ≥ {settings.sd_min_days} days after"
        f' infusion; ci_method="{CI_METHOD}"'
    )


def bor_table(trial: TrialData, settings: AnalysisSettings, best: BestResponse) -> AnalysisTable:
    """Best overall response by dose level (subjects), in the protocol's ORR population."""
    name = settings.population_for("orr", "efficacy_evaluable")
    members = population(trial, name)
    counted = count_subjects(best.subjects, members, ["bor"], dose_groups(settings, members))
    frame = pd.DataFrame({"bor": BOR_ORDER}).merge(counted, on="bor", how="left")
    for column in frame.columns[1:]:
        if column.endswith(" n"):
            frame[column] = frame[column].fillna(0).astype(int)
            size = int(column.split("(N=")[1].split(")")[0])
            pct = column[:-2] + " %"
            frame[pct] = np.round(frame[column] / size * 100, 1) if size else np.nan
    frame = frame.rename(columns={"bor": "best overall response"})
    return AnalysisTable(
        key="best_overall_response",
        title="Best overall response (RECIST 1.1)",
        frame=frame,
        population=name,
        n=len(members),
        method=_method(settings),
        notes=_population_notes(members, name, best),
    )


def _population_notes(members: pd.DataFrame, name: str, best: BestResponse) -> tuple[str, ...]:
    if members.empty:
        return (f"No subject in the {name} population (n = 0): rates are NE.",)
    return best.notes


def month3_responders(best: BestResponse, settings: AnalysisSettings) -> pd.Series:
    """Per subject (index ``subject_id``): confirmed response first recorded by month 3.

    The engine dates a confirmed response at its first CR/PR time point, the earliest of all
    confirmed responses, so "first recorded on or before :func:`month3_cutoff_day`" is exactly
    "responder at 3 months" (confirmation may come later).
    """
    subjects = best.subjects.set_index("subject_id")
    return subjects["responder"] & (subjects["first_response_day"] <= month3_cutoff_day(settings))


def response_rates(
    trial: TrialData, settings: AnalysisSettings, best: BestResponse
) -> AnalysisTable:
    """ORR, DCR and ORR at 3 months with exact 95% CIs, by population, dose level and indication.

    ``best`` is the best overall response over the whole follow-up
    (:func:`~cartrial.analysis.response.best_overall_response`).
    """
    orr_population = settings.population_for("orr", "efficacy_evaluable")
    rows = []
    by_subject = best.subjects.set_index("subject_id")
    early = month3_responders(best, settings)
    for name in dict.fromkeys([orr_population, "safety"]):
        members = population(trial, name)
        groups: list[tuple[str, str, pd.DataFrame]] = [("overall", "all", members)]
        groups += [
            ("dose level", level, members.loc[members["dose_level"] == level])
            for level in dose_groups(settings, members)
        ]
        groups += [
            ("indication", str(ind), members.loc[members["indication"] == ind])
            for ind in sorted(members["indication"].dropna().unique())
        ]
        for kind, label, group in groups:
            bor = by_subject.loc[group["subject_id"], "bor"] if len(group) else pd.Series([])
            responders = early.reindex(group["subject_id"]).fillna(False).astype(bool)
            for endpoint, hits in (
                ("ORR (CR+PR)", int(bor.isin(OBJECTIVE_RESPONSES).sum())),
                ("DCR (CR+PR+SD)", int(bor.isin(DISEASE_CONTROL).sum())),
                ("ORR at 3 months", int(responders.sum())),
            ):
                p = proportion(hits, len(group))
                rows.append(
                    {
                        "population": name,
                        "subgroup": kind,
                        "level": label,
                        "endpoint": endpoint,
                        "responders": p.successes,
                        "n": p.trials,
                        "rate_pct": round(p.estimate * 100, 1) if p.trials else np.nan,
                        "ci95_lower_pct": round(p.lower * 100, 1) if p.trials else np.nan,
                        "ci95_upper_pct": round(p.upper * 100, 1) if p.trials else np.nan,
                        "ci_method": p.ci_method,
                        "summary": p.format(),
                    }
                )
    members = population(trial, orr_population)
    return AnalysisTable(
        key="response_rates",
        title="Objective response and disease control rates (exact 95% CIs)",
        frame=pd.DataFrame(rows),
        population=orr_population,
        n=len(members),
        method=_method(settings)
        + "; ORR at 3 months = confirmed response first recorded by day "
        + str(month3_cutoff_day(settings))
        + "; NON-CR/NON-PD (non-target disease only) counted in DCR",
        notes=_population_notes(members, orr_population, best),
    )


def response_listing(trial: TrialData, best: BestResponse) -> AnalysisTable:
    """Per-subject listing: best response, best % change, first response day, assessments used."""
    frame = best.subjects[
        [
            "subject_id",
            "dose_level",
            "indication",
            "bor",
            "bor_rule",
            "best_pct_change",
            "first_response_day",
            "n_post_baseline",
        ]
    ].rename(
        columns={
            "bor": "best overall response",
            "bor_rule": "rule that decided",
            "n_post_baseline": "post-baseline scans",
        }
    )
    return AnalysisTable(
        key="response_listing",
        title="Best overall response per subject",
        frame=frame.reset_index(drop=True),
        population="safety",
        n=len(frame),
        method="best % change = smallest % change of the sum of diameters from baseline, up to PD",
        notes=best.notes,
    )


def time_to_response(
    trial: TrialData, settings: AnalysisSettings, best: BestResponse
) -> AnalysisTable:
    """Time from infusion to the first CR/PR of confirmed responders, by dose level (days)."""
    responders = best.subjects.loc[best.subjects["responder"]]
    rows = []
    for level in [*dose_groups(settings, responders), "Total"]:
        group = (
            responders if level == "Total" else responders.loc[responders["dose_level"] == level]
        )
        days = group["first_response_day"].dropna()
        rows.append(
            {
                "dose_level": level,
                "responders": len(days),
                "median_days": float(days.median()) if len(days) else np.nan,
                "min_days": float(days.min()) if len(days) else np.nan,
                "max_days": float(days.max()) if len(days) else np.nan,
            }
        )
    notes = () if len(responders) else ("No confirmed responder: time to response is NE.",)
    return AnalysisTable(
        key="time_to_response",
        title="Time to response (days from infusion to first CR/PR, confirmed responders)",
        frame=pd.DataFrame(rows),
        population="safety",
        n=len(population(trial, "safety")),
        method="first CR/PR time point of a confirmed response; median (min, max)",
        notes=notes,
    )
