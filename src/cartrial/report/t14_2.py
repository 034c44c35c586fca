"""Section 14.2: efficacy — best overall response with ORR / DCR, and time-to-event endpoints."""

from __future__ import annotations

import math

import pandas as pd

from cartrial.analysis.efficacy import DISEASE_CONTROL, month3_cutoff_day, month3_responders
from cartrial.analysis.response import unconfirmed_responders
from cartrial.analysis.stats import proportion
from cartrial.analysis.survival import CONF_TYPE, DAYS_PER_MONTH, KaplanMeier, kaplan_meier
from cartrial.report.arms import Arm, arm_columns, count_row
from cartrial.report.context import POPULATION_NAMES, ReportContext
from cartrial.report.display import PERCENT_RULE, DisplayTable, Row, fmt_number
from cartrial.vocab import OBJECTIVE_RESPONSES

__all__ = ["response_table", "time_to_event_table"]

_BOR_NAMES = {
    "CR": "Complete response (CR)",
    "PR": "Partial response (PR)",
    "SD": "Stable disease (SD)",
    "NON-CR/NON-PD": "Non-CR/non-PD",
    "PD": "Progressive disease (PD)",
    "NE": "Not evaluable (NE)",
}


def _ci_row(label: str, hits: set[str], arms: tuple[Arm, ...]) -> Row:
    cells = []
    for arm in arms:
        p = proportion(len(hits & arm.subject_ids), arm.n)
        cells.append(f"({p.lower * 100:.1f}, {p.upper * 100:.1f})" if arm.n else "–")
    return Row((label, *cells), "item")


def response_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.2.1: best overall response, ORR, DCR and ORR at 3 months with exact 95% CIs."""
    name = ctx.settings.population_for("orr", "efficacy_evaluable")
    arms = ctx.arms(name)
    best = ctx.analysis.best_response
    bor = best.subjects.set_index("subject_id")["bor"]
    members = set(ctx.members(name)["subject_id"])
    bor = bor.reindex(sorted(members)).fillna("NE")
    rows = [Row(("Best overall response", *("",) * len(arms)), "group")]
    for code, label in _BOR_NAMES.items():
        ids = set(bor.index[bor == code])
        if ids or code != "NON-CR/NON-PD":  # shown only when non-target-only disease exists
            rows.append(count_row(label, ids, arms, "item"))
    responders = set(bor.index[bor.isin(OBJECTIVE_RESPONSES)])
    control = set(bor.index[bor.isin(list(DISEASE_CONTROL))])
    early = month3_responders(best, ctx.settings)
    at3 = {s for s in members if bool(early.get(s, False))}
    for label, ids in (
        ("Objective response rate (CR + PR)", responders),
        ("Disease control rate (CR + PR + SD + non-CR/non-PD)", control),
        ("Objective response by month 3", at3),
    ):
        rows.append(count_row(label, ids, arms, "group"))
        rows.append(_ci_row("95% CI (Clopper–Pearson)", ids, arms))
    unconfirmed = _unconfirmed(ctx, members)
    return DisplayTable(
        number="14.2.1",
        key="t14_2_1_response",
        title="Best overall response and response rates (RECIST 1.1)",
        population=POPULATION_NAMES.get(name, name),
        n=len(members),
        columns=arm_columns(arms, "Response"),
        rows=tuple(rows),
        footnotes=(
            "Best overall response by RECIST 1.1 over the whole follow-up; CR and PR need"
            f" confirmation ≥ {ctx.settings.confirm_min_days} days later; SD needs ≥"
            f" {ctx.settings.sd_min_days} days after infusion.",
            f"Unconfirmed CR/PR (a single CR/PR time point, not confirmed): {unconfirmed}; not"
            " counted as responses.",
            "Objective response by month 3: confirmed response first recorded by day"
            f" {month3_cutoff_day(ctx.settings)}.",
            "95% CI: exact Clopper–Pearson interval (%). " + PERCENT_RULE,
            *dict.fromkeys(
                note
                for key in ("best_overall_response", "response_rates")
                for note in ctx.analysis.table(key).notes
            ),
        ),
        section="14.2",
    )


def _unconfirmed(ctx: ReportContext, members: set[str]) -> str:
    ids = sorted(unconfirmed_responders(ctx.analysis.best_response) & members)
    return f"{len(ids)} subject(s) ({', '.join(ids)})" if ids else "none"


def _months(days: float) -> str:
    return fmt_number(days / DAYS_PER_MONTH, 1) if math.isfinite(days) else "NE"


def _tte_rows(label: str, data: pd.DataFrame, key: str, arms: tuple[Arm, ...]) -> list[Row]:
    curves = []
    for arm in arms:
        group = data.loc[data["subject_id"].isin(arm.subject_ids)]
        curves.append(kaplan_meier(group[f"{key}_days"], group[f"{key}_event"], label))
    rows = [Row((label, *(str(c.n) for c in curves)), "group")]
    rows.append(Row(("Events", *(f"{c.events}" if c.n else "–" for c in curves)), "item"))

    def median(c: KaplanMeier) -> str:
        if c.n == 0:
            return "–"
        estimate = _months(c.median_days) if math.isfinite(c.median_days) else "NR"
        lower = _months(c.median_lower_days) if math.isfinite(c.median_lower_days) else "NE"
        upper = _months(c.median_upper_days) if math.isfinite(c.median_upper_days) else "NR"
        return f"{estimate} ({lower}, {upper})"

    def rate(value: float, ci: tuple[float, float]) -> str:
        if not math.isfinite(value):
            return "NE"
        lo, hi = (fmt_number(v * 100, 1) for v in ci)
        return f"{value * 100:.1f} ({lo}, {hi})"

    rows.append(Row(("Median, months (95% CI)", *(median(c) for c in curves)), "item"))
    rows.append(
        Row(
            (
                "25th / 75th percentile, months",
                *(f"{_months(c.q25_days)} / {_months(c.q75_days)}" if c.n else "–" for c in curves),
            ),
            "item",
        )
    )
    rows.append(Row(("Rate at 6 months, % (95% CI)", *(rate(c.rate_6m, c.rate_6m_ci)
                                                        for c in curves)), "item"))  # fmt: skip
    rows.append(Row(("Rate at 12 months, % (95% CI)", *(rate(c.rate_12m, c.rate_12m_ci)
                                                         for c in curves)), "item"))  # fmt: skip
    rows.append(
        Row(
            (
                "Median follow-up (reverse KM), months",
                *(_months(c.follow_up_median_days) if c.n else "–" for c in curves),
            ),
            "item",
        )
    )
    return rows


def time_to_event_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.2.2: PFS, OS and DOR by Kaplan–Meier, per arm."""
    tte = ctx.analysis.table("survival_listing").frame
    summary = ctx.analysis.table("survival").frame
    name = ctx.settings.population_for("pfs", "safety")
    arms = ctx.arms(name)
    members = set(ctx.members(name)["subject_id"])
    data = tte.loc[tte["subject_id"].isin(members)]
    rows = _tte_rows("Progression-free survival", data, "pfs", arms)
    rows += _tte_rows("Overall survival", data, "os", arms)
    responders = set(
        ctx.analysis.best_response.subjects.loc[
            ctx.analysis.best_response.subjects["responder"].astype(bool), "subject_id"
        ]
    )
    rows += _tte_rows("Duration of response (responders)", data.loc[
        data["subject_id"].isin(responders)], "dor", arms)  # fmt: skip
    tests = []
    for endpoint in ("Progression-free survival", "Overall survival"):
        p = summary.loc[
            (summary["endpoint"] == endpoint) & (summary["dose_level"] == "all"),
            "log_rank_p_between_dose_levels",
        ]
        if len(p) and pd.notna(p.iloc[0]):
            tests.append(f"{endpoint} p = {p.iloc[0]:.3f}")
    log_rank = (
        "Log-rank test between dose levels (escalation and expansion pooled; exploratory, not"
        " powered, no multiplicity adjustment): " + "; ".join(tests) + "."
        if tests
        else "Log-rank test between dose levels: not done (a single dose level, or no event)."
    )
    return DisplayTable(
        number="14.2.2",
        key="t14_2_2_time_to_event",
        title="Progression-free survival, overall survival and duration of response",
        population=POPULATION_NAMES.get(name, name),
        n=len(members),
        columns=arm_columns(arms, "Endpoint"),
        rows=tuple(rows),
        footnotes=(
            "Kaplan–Meier estimates as R survival::survfit: median and percentiles by"
            " quantile.survfit (midpoint when S(t) = 0.5 over an interval); 95% CI of the median"
            f' by Brookmeyer–Crowley with conf.type = "{CONF_TYPE}"; pointwise CIs of the rates'
            " with Greenwood variance. NR: not reached; NE: not estimable.",
            "PFS: infusion to documented progression or death (FDA 2007 censoring rules); OS:"
            " infusion to death from any cause, censored at last contact; DOR: first CR/PR to"
            f" progression or death (confirmed responders). Months = days / {DAYS_PER_MONTH}.",
            "Median follow-up by the reverse Kaplan–Meier method (Schemper & Smith 1996).",
            log_rank,
        ),
        section="14.2",
    )
