"""Section 14.3: safety — escalation decisions, DLTs, adverse events, CRS/ICANS, laboratory shifts.

The inconsistencies a reader would otherwise stumble on are reconciled in the footnotes with
numbers computed from the same data: DLTs in the AE overview (any subject) against the DLT table
(DLT-evaluable escalation subjects), and the serious-AE table against the grade ≥ 3 table.
"""

from __future__ import annotations

from typing import Any, cast

import pandas as pd

from cartrial.analysis import safety
from cartrial.analysis.crs_icans import crs_icans_summary
from cartrial.analysis.dataset import as_flag
from cartrial.analysis.tables import TOTAL, group_columns
from cartrial.report.arms import Arm, arm_columns, count_row
from cartrial.report.context import POPULATION_NAMES, ReportContext
from cartrial.report.display import PERCENT_RULE, Column, DisplayTable, Row, n_pct

__all__ = [
    "AE_TABLES",
    "ae_overview_table",
    "ae_soc_table",
    "crs_icans_table",
    "dlt_table",
    "escalation_table",
    "lab_shift_table",
]

_TE = (
    "Treatment-emergent: onset on or after the start of lymphodepletion and on or before the data"
    " cut-off. Subjects are counted once per row, whatever the number of events."
)
_ACTIONS = {
    "stay": "Stay at this dose",
    "escalate": "Escalate",
    "de-escalate": "De-escalate",
    "deescalate": "De-escalate",
    "stop": "Stop escalation",
    "expand": "Open expansion at this dose",
}
#: AE subset -> (table number, title).
AE_TABLES = {
    "any": ("14.3.4", "Treatment-emergent adverse events by system organ class and preferred term"),
    "grade>=3": ("14.3.5", "Grade ≥ 3 treatment-emergent adverse events by SOC and term"),
    "serious": ("14.3.6", "Serious treatment-emergent adverse events by SOC and term"),
    "related": ("14.3.7", "Treatment-related adverse events by SOC and term"),
}


def escalation_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.3.1: the dose-escalation decision of each cohort, as signed."""
    decisions = ctx.trial.dose_decisions.sort_values(["cohort", "decided_date"], kind="stable")
    labels = ctx.settings.dose_labels
    rows = []
    for row in cast(Any, decisions.itertuples(index=False)):
        level = str(row.dose_level)
        rows.append(
            Row(
                (
                    str(int(row.cohort)),
                    f"{level} ({labels.get(level, '')})",
                    str(int(row.n_treated)),
                    str(int(row.n_dlt)),
                    _ACTIONS.get(str(row.action), str(row.action)),
                    f"{pd.Timestamp(row.decided_date):%Y-%m-%d}",
                    str(row.signed_by),
                )
            )
        )
    evaluable = ctx.members("dlt_evaluable")
    return DisplayTable(
        number="14.3.1",
        key="t14_3_1_escalation",
        title="Dose-escalation decisions by cohort",
        population=POPULATION_NAMES["dlt_evaluable"],
        n=len(evaluable),
        columns=(
            Column("Cohort", align="left"),
            Column("Dose level (CAR+ T cells)", align="left"),
            Column("DLT-evaluable subjects\nat this dose (cumulative)"),
            Column("Subjects with DLT\nat this dose (cumulative)"),
            Column("Decision", align="left"),
            Column("Decided", align="left"),
            Column("Signed by (role)", align="left"),
        ),
        rows=tuple(rows),
        footnotes=(
            "Counts are cumulative over all cohorts treated at the dose level at the time of the"
            " decision, as the design uses them; they are not added across rows. The number of"
            f" distinct DLT-evaluable subjects is {len(evaluable)} (header).",
            "Decisions as recorded and signed by the safety review committee; the MTD and RP2D"
            " are stated on the summary page with their signed records.",
        ),
        section="14.3",
    )


def _dlt_sets(ctx: ReportContext) -> tuple[set[str], set[str]]:
    """(subjects with an AE adjudicated as DLT, of them those counted in Table 14.3.2)."""
    te = ctx.te
    any_dlt = set(te.loc[as_flag(te["is_dlt"]), "subject_id"])
    frame = ctx.analysis.table("dlt_by_dose").frame
    evaluable = set(ctx.members("dlt_evaluable")["subject_id"])
    return any_dlt, any_dlt & evaluable if len(frame) else set()


def dlt_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.3.2: subjects with a DLT per dose level, DLT-evaluable escalation subjects."""
    frame = ctx.analysis.table("dlt_by_dose").frame
    rows = []
    for row in cast(Any, frame.itertuples(index=False)):
        level = str(row.dose_level)
        n = int(row.dlt_evaluable_n)
        ci = f"({row.ci95_lower_pct:.1f}, {row.ci95_upper_pct:.1f})" if n else "–"
        rows.append(
            Row(
                (
                    level if level == TOTAL else f"{level} ({row.dose})",
                    str(n),
                    n_pct(int(row.subjects_with_dlt), n),
                    ci,
                    str(row.dlt_terms) or "–",
                ),
                "group" if level == TOTAL else "data",
            )
        )
    any_dlt, counted = _dlt_sets(ctx)
    return DisplayTable(
        number="14.3.2",
        key="t14_3_2_dlt",
        title=f"Dose-limiting toxicities ({ctx.settings.dlt_window_days}-day DLT window)",
        population=POPULATION_NAMES["dlt_evaluable"],
        n=len(ctx.members("dlt_evaluable")),
        columns=(
            Column("Dose level", align="left"),
            Column("DLT-evaluable\nN"),
            Column("Subjects with DLT\nn (%)"),
            Column("95% CI (%)"),
            Column("DLT terms", align="left"),
        ),
        rows=tuple(rows),
        footnotes=(
            "DLT as adjudicated under the protocol definition within the DLT window;"
            " DLT-evaluable: escalation subjects who completed the window or had a DLT.",
            f"Reconciliation with Table 14.3.3: {len(any_dlt)} subject(s) had an adverse event"
            f" adjudicated as meeting the DLT criteria (safety population, any phase);"
            f" {len(counted)} of them are DLT-evaluable escalation subjects counted here;"
            f" {len(any_dlt - counted)} are expansion or non-evaluable subjects (listed in"
            " Listing 16.2.1), who are monitored for toxicity but not counted for dose finding.",
            "95% CI: exact Clopper–Pearson. " + PERCENT_RULE,
        ),
        section="14.3",
    )


def _arm_cells(frame: pd.DataFrame, arms: tuple[Arm, ...]) -> list[list[str]]:
    """``n (%)`` cells per row from count_subjects-style columns ``<arm> (N=n) n``."""
    out = []
    for _, record in frame.iterrows():
        cells = []
        for arm in arms:
            n_col = group_columns(arm.key, arm.n)[0]
            cells.append(n_pct(int(record.get(n_col, 0) or 0), arm.n))
        out.append(cells)
    return out


def ae_overview_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.3.3: overview of adverse events per arm."""
    arms = ctx.arms("safety")
    trial, settings = ctx.relabelled("safety")
    frame = safety.ae_overview(trial, settings).frame
    names = {"Dose-limiting toxicity": "AE adjudicated as DLT (any subject, any phase) ᵃ"}
    rows = [
        Row((names.get(str(cat), str(cat)), *cells))
        for cat, cells in zip(frame["category"], _arm_cells(frame, arms), strict=True)
    ]
    any_dlt, counted = _dlt_sets(ctx)
    return DisplayTable(
        number="14.3.3",
        key="t14_3_3_ae_overview",
        title="Overview of treatment-emergent adverse events",
        population=POPULATION_NAMES["safety"],
        n=len(ctx.members("safety")),
        columns=arm_columns(arms, "Subjects with"),
        rows=tuple(rows),
        footnotes=(
            _TE,
            f"ᵃ {len(any_dlt)} subject(s) with an AE adjudicated as DLT in any phase; only the"
            f" {len(counted)} DLT-evaluable escalation subject(s) count for dose finding"
            " (Table 14.3.2).",
            "Related: at least possibly related to CAR-T. Grades: CTCAE v5.0 (CRS and ICANS:"
            " ASTCT 2019). " + PERCENT_RULE,
        ),
        section="14.3",
    )


def _serious_vs_severe(ctx: ReportContext) -> str:
    te = ctx.te
    serious = as_flag(te["serious"])
    severe = te["grade"] >= 3
    both = int((serious & severe).sum())
    only_serious = int((serious & ~severe).sum())
    only_severe = int((~serious & severe).sum())
    if only_serious == 0 and only_severe == 0:
        return (
            f"Seriousness (ICH E2A: fatal, life-threatening, hospitalisation, disability, ...) and"
            f" severity (CTCAE grade) are different criteria; in this data cut all {both} serious"
            " events were grade ≥ 3 and every grade ≥ 3 event was reported serious, so this"
            " table lists the same subjects as Table 14.3.5."
        )
    return (
        f"Seriousness (ICH E2A) and severity (CTCAE grade) differ: {both} events were both,"
        f" {only_serious} serious events were grade < 3, {only_severe} grade ≥ 3 events were"
        " not serious."
    )


def ae_soc_table(ctx: ReportContext, subset: str) -> DisplayTable:
    """Tables 14.3.4-14.3.7: subjects with AEs by SOC (group header) and term, per arm."""
    arms = ctx.arms("safety")
    trial, settings = ctx.relabelled("safety")
    te = safety.treatment_emergent_aes(trial)
    frame = safety.ae_incidence(trial, settings, subset, te).frame
    chosen = safety.AE_SUBSETS[subset]
    subset_te = {
        "any": te,
        "grade>=3": te.loc[te["grade"] >= 3],
        "serious": te.loc[as_flag(te["serious"])],
        "related": te.loc[as_flag(te["related"])],
    }[subset]
    rows = [count_row(f"Subjects with any event ({chosen})", set(subset_te["subject_id"]),
                      arms, "group")]  # fmt: skip
    for (soc, term), cells in zip(
        zip(frame["soc"], frame["term"], strict=True), _arm_cells(frame, arms), strict=True
    ):
        if term == "Any term":
            rows.append(Row((str(soc), *cells), "group"))
        else:
            rows.append(Row((str(term), *cells), "item"))
    number, title = AE_TABLES[subset]
    notes = [_TE, "MedDRA system organ class (bold) and CTCAE v5.0 term; SOCs and terms by"
             " decreasing total frequency. " + PERCENT_RULE]  # fmt: skip
    if subset == "serious":
        notes.insert(1, _serious_vs_severe(ctx))
    if subset == "related":
        notes.insert(1, "Related: investigator attribution possible, probable or definite.")
    return DisplayTable(
        number=number,
        key=f"t{number.replace('.', '_')}_ae_{subset.replace('>=', 'ge')}",
        title=title,
        population=POPULATION_NAMES["safety"],
        n=len(ctx.members("safety")),
        columns=arm_columns(arms, "System organ class\n    Term"),
        rows=tuple(rows),
        footnotes=tuple(notes),
        section="14.3",
    )


def crs_icans_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.3.8: CRS and ICANS (ASTCT) per arm."""
    arms = ctx.arms("safety")
    trial, settings = ctx.relabelled("safety")
    table = crs_icans_summary(trial, settings)
    frame = table.frame
    rows = []
    for _, record in frame.iterrows():
        cells = []
        for arm in arms:
            column = f"{arm.key} (N={arm.n})"
            value = str(record.get(column, "–"))
            cells.append(value.replace(" (0.0%)", "").replace(" (100.0%)", " (100%)"))
        statistic = str(record["statistic"])
        kind = "group" if statistic.endswith("any grade") else "item"
        rows.append(Row((statistic, *cells), kind))  # type: ignore[arg-type]
    return DisplayTable(
        number="14.3.8",
        key="t14_3_8_crs_icans",
        title="Cytokine release syndrome and ICANS",
        population=POPULATION_NAMES["safety"],
        n=len(ctx.members("safety")),
        columns=arm_columns(arms, "CRS / ICANS"),
        rows=tuple(rows),
        footnotes=(
            "ASTCT consensus grading (Lee et al., Biol Blood Marrow Transplant 2019); maximum"
            " grade per subject; onset and duration in days from infusion.",
            table.method + ". " + PERCENT_RULE,
        ),
        section="14.3",
    )


def lab_shift_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.3.9: laboratory shift from baseline to worst post-baseline CTCAE grade."""
    frame = ctx.analysis.table("lab_shift").frame
    grades = [c for c in frame.columns if str(c).startswith("worst grade")]
    rows: list[Row] = []
    for term, group in frame.groupby("term", sort=True):
        total = str(int(group["subjects"].sum()))
        rows.append(Row((str(term), *("",) * len(grades), total), "group"))
        for _, record in group.iterrows():
            rows.append(
                Row(
                    (
                        f"Baseline grade {record['baseline grade']}",
                        *(str(int(record[g])) for g in grades),
                        str(int(record["subjects"])),
                    ),
                    "item",
                )
            )
    columns = (
        Column("Laboratory test (CTCAE term)\n    baseline grade", align="left"),
        *(Column(f"Grade {g.split()[-1]}", "Worst post-baseline grade") for g in grades),
        Column("Subjects"),
    )
    return DisplayTable(
        number="14.3.9",
        key="t14_3_9_lab_shift",
        title="Laboratory shift: baseline to worst post-baseline CTCAE grade",
        population=POPULATION_NAMES["safety"],
        n=len(ctx.members("safety")),
        columns=columns,
        rows=tuple(rows),
        footnotes=(
            "Baseline: last graded value on or before the day of infusion; post-baseline: day 1"
            " to the data cut-off. Number of subjects; all dose levels.",
        ),
        section="14.3",
    )
