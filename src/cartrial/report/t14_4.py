"""Section 14.4: cellular kinetics (NCA), anti-CAR antibodies and CAR-T cell phenotype."""

from __future__ import annotations

from typing import Any, cast

import pandas as pd

from cartrial.analysis.immunogenicity import ADA_CLASSES, ada_by_subject
from cartrial.analysis.kinetics import PERSISTENCE_MONTHS
from cartrial.analysis.stats import geometric_summary, proportion
from cartrial.report.arms import arm_columns, count_row
from cartrial.report.context import POPULATION_NAMES, ReportContext
from cartrial.report.display import PERCENT_RULE, Column, DisplayTable, Row, fmt_number

__all__ = ["ada_table", "kinetics_table", "phenotype_table"]


def _geo(values: pd.Series) -> str:
    summary = geometric_summary(values)
    if summary.n == 0:
        return "NE"
    cv = fmt_number(summary.geometric_cv_pct, 1)
    digits = 0 if summary.geometric_mean >= 100 else 2
    return f"{fmt_number(summary.geometric_mean, digits)} ({cv}) [n={summary.n}]"


def _median_range(values: pd.Series) -> str:
    present = values.dropna()
    if present.empty:
        return "NE"
    return f"{present.median():g} ({present.min():g}, {present.max():g})"


def kinetics_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.4.1: Cmax, AUCs, Tmax, Tlast and persistence per arm and assay."""
    arms = ctx.arms("safety")
    nca = ctx.analysis.nca
    rows: list[Row] = []
    for unit in sorted(nca["unit"].unique()):
        per_unit = nca.loc[nca["unit"] == unit].set_index("subject_id")
        rows.append(Row((f"Assay unit: {unit}", *("",) * len(arms)), "group"))
        groups = [per_unit.loc[per_unit.index.isin(arm.subject_ids)] for arm in arms]
        for label, column in (
            ("Cmax, geometric mean (geo CV%)", "cmax"),
            ("AUC0–28d lin up/log down, geo mean (geo CV%)", "auc_0_28"),
            ("AUC0–28d linear, geo mean (geo CV%)", "auc_0_28_linear"),
            ("AUClast, geo mean (geo CV%)", "auc_last"),
        ):
            rows.append(Row((label, *(_geo(g[column]) for g in groups)), "item"))
        rows.append(Row(("Tmax, days, median (min, max)",
                         *(_median_range(g["tmax_day"]) for g in groups)), "item"))  # fmt: skip
        rows.append(Row(("Tlast, days, median (min, max)",
                         *(_median_range(g["tlast_day"]) for g in groups)), "item"))  # fmt: skip
        for month in PERSISTENCE_MONTHS:
            cells = []
            for group in groups:
                status = group[f"persistence_m{month}"]
                sampled = int((status != "NE").sum())
                cells.append(f"{int((status == 'detectable').sum())}/{sampled}" if sampled else "–")
            rows.append(Row((f"Detectable at month {month}, n/sampled", *cells), "item"))
    return DisplayTable(
        number="14.4.1",
        key="t14_4_1_kinetics",
        title="CAR-T cellular kinetics: non-compartmental parameters",
        population=POPULATION_NAMES["safety"],
        n=len(ctx.members("safety")),
        columns=arm_columns(arms, "Parameter"),
        rows=tuple(rows),
        footnotes=(
            "Non-compartmental analysis as PKNCA: BLQ before the first quantifiable sample = 0,"
            " embedded BLQ dropped, BLQ after Tlast = 0 (AUCall only); AUC in level × day.",
            "Geometric mean and geometric CV% = √(exp(s²) − 1) × 100 over subjects with a value"
            " (n in brackets); AUC0–28d NE when not sampled through day 28.",
            "Persistence: quantifiable transgene on or after the first day of the month's visit"
            " window.",
            *ctx.analysis.table("kinetics_nca").notes,
        ),
        landscape=True,
        section="14.4",
    )


def ada_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.4.2: anti-CAR antibody classes per arm."""
    arms = ctx.arms("safety")
    per_subject = ada_by_subject(ctx.trial).set_index("subject_id")
    evaluable = set(per_subject.index[per_subject["ada_class"] != "not evaluable"])
    rows = [count_row("Evaluable (baseline and post-baseline sample)", evaluable, arms, "group")]
    for name in ADA_CLASSES:
        ids = set(per_subject.index[per_subject["ada_class"] == name])
        rows.append(count_row(name.capitalize(), ids, arms, "item"))
    emergent = set(per_subject.index[per_subject["ada_class"].isin(ADA_CLASSES[:2])])
    cells = []
    for arm in arms:
        p = proportion(
            len(emergent & arm.subject_ids & evaluable), len(arm.subject_ids & evaluable)
        )
        cells.append(p.format().replace("0/0 (NE: no subjects)", "NE"))
    rows.append(Row(("Treatment-emergent ADA, n/evaluable (%; 95% CI)", *cells), "group"))
    return DisplayTable(
        number="14.4.2",
        key="t14_4_2_ada",
        title="Anti-CAR antibodies (immunogenicity)",
        population=POPULATION_NAMES["safety"],
        n=len(ctx.members("safety")),
        columns=arm_columns(arms, "ADA status"),
        rows=tuple(rows),
        footnotes=(
            "Tiered assay: screen, confirmation, titer. Treatment-induced: negative at baseline,"
            " confirmed positive after infusion; treatment-boosted: positive at baseline with a"
            " ≥ 4-fold titer rise; treatment-emergent = induced + boosted (Shankar et al., AAPS J"
            " 2014); 95% CI Clopper–Pearson.",
            "Percentages of each column's N (all infused subjects). " + PERCENT_RULE,
        ),
        section="14.4",
    )


def phenotype_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.4.3: CAR-T cell phenotype over time (all infused subjects)."""
    frame = ctx.analysis.table("phenotype_over_time").frame
    rows: list[Row] = []
    for (group, marker), block in frame.groupby(["group", "marker"], sort=False):
        rows.append(Row((f"{group}: {marker}", "", "", ""), "group"))
        for record in cast(Any, block.itertuples(index=False)):
            rows.append(
                Row(
                    (
                        str(record.visit),
                        str(int(record.n)),
                        f"{record.median:.2f} ({record.q1:.2f}, {record.q3:.2f})",
                        f"{record.min:.2f}, {record.max:.2f}",
                    ),
                    "item",
                )
            )
    return DisplayTable(
        number="14.4.3",
        key="t14_4_3_phenotype",
        title="CAR-T cell phenotype over time",
        population=POPULATION_NAMES["safety"],
        n=len(ctx.members("safety")),
        columns=(
            Column("Marker\n    visit", align="left"),
            Column("n"),
            Column("Median (Q1, Q3)"),
            Column("Min, max"),
        ),
        rows=tuple(rows),
        footnotes=(
            "% of CAR+ T cells, except the CD4/CD8 ratio; all dose levels pooled; visits by the"
            " protocol's schedule and windows.",
        ),
        section="14.4",
    )
