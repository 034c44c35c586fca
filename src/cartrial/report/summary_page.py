"""The report's first page: study, cut-off, dose decisions, MTD, RP2D, expansion go/stop and the
headline efficacy and safety numbers (each pointing to the table it comes from)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

from cartrial.analysis.dataset import as_flag
from cartrial.analysis.survival import DAYS_PER_MONTH
from cartrial.report.context import ReportContext
from cartrial.report.decisions import DecisionStatement, dose_statements

__all__ = ["SummaryPage", "summary_page"]


@dataclass(frozen=True)
class SummaryPage:
    """Lines of the summary page (plain text, rendered by the template)."""

    enrolment: tuple[str, ...]
    escalation: tuple[str, ...]
    decisions: tuple[DecisionStatement, ...]
    efficacy: tuple[str, ...]
    safety: tuple[str, ...]


def _months(days: float) -> str:
    return f"{days / DAYS_PER_MONTH:.1f}" if math.isfinite(days) else "NR"


def summary_page(ctx: ReportContext) -> SummaryPage:
    """Compute the summary page's lines from the analysis (no new number is computed here that
    a numbered table does not show)."""
    d = ctx.disposition
    enrolled = ctx.members("enrolled")
    phases = enrolled["phase"].value_counts().sort_index()
    enrolment = (
        f"Enrolled: {len(d.enrolled)} ("
        + ", ".join(f"{phase} {n}" for phase, n in phases.items())
        + f"); infused: {len(d.infused)}; DLT-evaluable: {len(d.dlt_evaluable)};"
        f" efficacy-evaluable: {len(d.efficacy_evaluable)} (Table 14.1.1).",
    )
    escalation = []
    decisions = ctx.trial.dose_decisions.sort_values("cohort", kind="stable")
    for row in cast(Any, decisions.itertuples()):
        escalation.append(
            f"Cohort {int(row.cohort)} at {row.dose_level}: {int(row.n_dlt)} DLT /"
            f" {int(row.n_treated)} evaluable (cumulative) → {row.action}"
            f" ({row.decided_date:%Y-%m-%d}, {row.signed_by})"
        )
    rates = ctx.analysis.table("response_rates").frame
    overall = rates.loc[(rates["subgroup"] == "overall") & (rates["population"] == rates[
        "population"].iloc[0])] if len(rates) else rates  # fmt: skip
    efficacy = [
        f"{r.endpoint}: {r.summary} ({r.population.replace('_', '-')}; Table 14.2.1)"
        for r in cast(Any, overall.itertuples())
    ]
    for key, name in (("pfs", "Median PFS"), ("os", "Median OS")):
        curve = ctx.analysis.curves.get(key)
        if curve is not None and curve.n:
            efficacy.append(
                f"{name}: {_months(curve.median_days)} months (95% CI"
                f" {_months(curve.median_lower_days)}–{_months(curve.median_upper_days)});"
                f" {curve.events} events / {curve.n} (Table 14.2.2)"
            )
    dlt = ctx.analysis.table("dlt_by_dose").frame
    safety_lines = [
        "DLTs (DLT-evaluable escalation subjects): "
        + "; ".join(
            f"{r.dose_level} {int(r.subjects_with_dlt)}/{int(r.dlt_evaluable_n)}"
            for r in cast(Any, dlt.itertuples())
        )
        + " (Table 14.3.2)"
    ]
    te = ctx.te
    safety_n = len(ctx.members("safety"))
    crs = ctx.trial.crs_icans
    crs = crs.loc[crs["subject_id"].isin(d.infused)]
    crs3 = crs.loc[crs["crs_grade"] >= 3, "subject_id"].nunique()
    icans3 = crs.loc[crs["icans_grade"] >= 3, "subject_id"].nunique()
    grade3 = te.loc[te["grade"] >= 3, "subject_id"].nunique()
    serious = te.loc[as_flag(te["serious"]), "subject_id"].nunique()
    fatal_related = te.loc[(te["grade"] == 5) & as_flag(te["related"]), "subject_id"].nunique()
    safety_lines += [
        f"Grade ≥ 3 AE: {grade3}/{safety_n}; serious AE: {serious}/{safety_n} (Table 14.3.3)",
        f"CRS grade ≥ 3: {crs3}/{safety_n}; ICANS grade ≥ 3: {icans3}/{safety_n} (Table 14.3.8)",
        f"Deaths: {sum(1 for r in d.discontinued.values() if r.startswith('death'))}; fatal AE"
        f" related to CAR-T: {fatal_related} (Listing 16.2.3)",
    ]
    return SummaryPage(
        enrolment=enrolment,
        escalation=tuple(escalation),
        decisions=dose_statements(ctx.governance, ctx.settings.dose_labels),
        efficacy=tuple(efficacy),
        safety=tuple(safety_lines),
    )
