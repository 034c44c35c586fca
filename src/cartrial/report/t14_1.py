"""Section 14.1: disposition, demographics, baseline disease and exposure."""

from __future__ import annotations

import pandas as pd

from cartrial.report.arms import arm_columns, count_row, stat_rows
from cartrial.report.context import POPULATION_NAMES, ReportContext
from cartrial.report.display import PERCENT_RULE, DisplayTable, Row

__all__ = ["baseline_table", "demographics_table", "disposition_table", "exposure_table"]


def disposition_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.1.1: screened → enrolled → lymphodepleted → infused → evaluable → discontinued."""
    arms = ctx.arms("enrolled")
    d = ctx.disposition
    blank = ("",) * len(arms)
    rows: list[Row] = []
    if d.screened is not None:
        total_only = ("",) * (len(arms) - 1)
        rows.append(Row(("Screened", *total_only, str(d.screened))))
        rows.append(Row(("Not eligible (screen failure)", *total_only, str(d.not_eligible))))
        for reason, n in d.not_eligible_reasons.items():
            rows.append(Row((reason, *total_only, str(n)), "item"))
    rows += [
        count_row("Enrolled", d.enrolled, arms),
        count_row("Lymphodepleted", d.lymphodepleted, arms),
        count_row("Infused with CAR-T (safety population)", d.infused, arms),
        count_row("Not infused", d.not_infused, arms),
        count_row("DLT-evaluable", d.dlt_evaluable, arms),
        count_row("Efficacy-evaluable", d.efficacy_evaluable, arms),
        Row(("Discontinued from the study", *blank), "group"),
    ]
    for reason in d.discontinuation_reasons():
        ids = {s for s, r in d.discontinued.items() if r == reason}
        rows.append(count_row(reason.capitalize(), ids, arms, "item"))
    rows.append(count_row("In follow-up at the data cut-off", d.in_follow_up, arms))
    screening_note = (
        "Screened and not-eligible counts come from the screening log (Total column only; screen"
        " failures have no dose level); a subject failing several criteria counts under each."
        if d.screened is not None
        else "The screening log was not part of the analysis data: screened and not-eligible"
        " counts are not shown."
    )
    return DisplayTable(
        number="14.1.1",
        key="t14_1_1_disposition",
        title="Subject disposition",
        population=POPULATION_NAMES["enrolled"],
        n=len(d.enrolled),
        columns=arm_columns(arms, "Disposition"),
        rows=tuple(rows),
        footnotes=(
            screening_note,
            "DLT-evaluable: escalation subjects who completed the DLT window or had a DLT"
            " (protocol definition); expansion subjects are not assessed for DLT.",
            "Percentages of the enrolled subjects of each column. " + PERCENT_RULE,
        ),
        section="14.1",
    )


def demographics_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.1.2: age, sex, ECOG performance status, site (safety population)."""
    arms = ctx.arms("safety")
    members = ctx.members("safety").set_index("subject_id")
    rows = stat_rows("Age", members["age"], arms, unit="years")
    rows.append(Row(("Age group", *("",) * len(arms)), "group"))
    age = members["age"].astype(float)
    rows.append(count_row("< 65 years", set(members.index[age < 65]), arms, "item"))
    rows.append(count_row("≥ 65 years", set(members.index[age >= 65]), arms, "item"))
    for title, column, labels in (
        ("Sex", "sex", {"M": "Male", "F": "Female"}),
        ("ECOG performance status", "ecog", {}),
        ("Site", "site_id", {}),
    ):
        rows.append(Row((title, *("",) * len(arms)), "group"))
        values = members[column]
        for value in sorted(values.dropna().unique(), key=str):
            label = labels.get(str(value), str(int(value)) if column == "ecog" else str(value))
            rows.append(count_row(label, set(members.index[values == value]), arms, "item"))
        if values.isna().any():
            rows.append(count_row("Missing", set(members.index[values.isna()]), arms, "item"))
    return DisplayTable(
        number="14.1.2",
        key="t14_1_2_demographics",
        title="Demographics",
        population=POPULATION_NAMES["safety"],
        n=len(members),
        columns=arm_columns(arms, "Characteristic"),
        rows=tuple(rows),
        footnotes=("SD: standard deviation. " + PERCENT_RULE,),
        section="14.1",
    )


def _baseline_sld(ctx: ReportContext) -> tuple[pd.Series, pd.Series]:
    """Per subject: baseline sum of target-lesion diameters (mm) and number of target lesions.

    Baseline = the last lesion assessment on or before the infusion date.
    """
    lesions = ctx.trial.lesions
    infusion = ctx.members("safety").set_index("subject_id")["infusion_date"]
    lesions = lesions.loc[lesions["subject_id"].isin(infusion.index)]
    lesions = lesions.loc[lesions["assessment_date"] <= lesions["subject_id"].map(infusion)]
    targets = lesions.loc[lesions["category"] == "target"]
    last = targets.groupby("subject_id")["assessment_date"].transform("max")
    baseline = targets.loc[targets["assessment_date"] == last]
    grouped = baseline.groupby("subject_id")
    return grouped["diameter_mm"].sum(), grouped["lesion_id"].nunique().astype(float)


def baseline_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.1.3: indication and baseline tumour burden (safety population)."""
    arms = ctx.arms("safety")
    members = ctx.members("safety").set_index("subject_id")
    rows = [Row(("Indication", *("",) * len(arms)), "group")]
    for value in sorted(members["indication"].dropna().unique()):
        ids = set(members.index[members["indication"] == value])
        rows.append(count_row(str(value).upper() if len(str(value)) <= 3 else str(value)
                              .capitalize(), ids, arms, "item"))  # fmt: skip
    sld, n_targets = _baseline_sld(ctx)
    rows += stat_rows("Baseline sum of target-lesion diameters", sld, arms, unit="mm")
    rows += stat_rows("Number of target lesions at baseline", n_targets, arms)
    return DisplayTable(
        number="14.1.3",
        key="t14_1_3_baseline",
        title="Baseline disease characteristics",
        population=POPULATION_NAMES["safety"],
        n=len(members),
        columns=arm_columns(arms, "Characteristic"),
        rows=tuple(rows),
        footnotes=(
            "Baseline: the last RECIST 1.1 assessment on or before the day of infusion; sum of the"
            " longest diameters of target lesions (short axis for lymph nodes).",
            "GEJ: gastro-oesophageal junction adenocarcinoma. " + PERCENT_RULE,
        ),
        section="14.1",
    )


def exposure_table(ctx: ReportContext) -> DisplayTable:
    """Table 14.1.4: lymphodepletion, infusion, planned and received cell dose (enrolled)."""
    arms = ctx.arms("enrolled")
    members = ctx.members("enrolled").set_index("subject_id")
    d = ctx.disposition
    planned = {level.name: level for level in ctx.trial.protocol.dose_levels}
    cells = members["cells_infused"].astype(float) / 1e8
    ratio = members["cells_infused"].astype(float) / members["dose_level"].map(
        {name: level.cells for name, level in planned.items()}
    )
    ld_to_infusion = (members["infusion_date"] - members["lymphodepletion_date"]).dt.days
    enrol_to_infusion = (members["infusion_date"] - members["enrolled_date"]).dt.days
    rows = [
        count_row("Received lymphodepletion", d.lymphodepleted, arms),
        count_row("Received CAR-T infusion", d.infused, arms),
        *stat_rows("CAR+ T cells infused", cells, arms, digits=2, unit="× 10^8"),
        *stat_rows("Cells infused / planned dose", ratio * 100, arms, unit="%"),
        *stat_rows("Lymphodepletion start to infusion", ld_to_infusion, arms, 0, "days"),
        *stat_rows("Enrolment to infusion", enrol_to_infusion, arms, 0, "days"),
    ]
    labels = "; ".join(f"{name} {level.label} {level.unit}" for name, level in planned.items())
    return DisplayTable(
        number="14.1.4",
        key="t14_1_4_exposure",
        title="Exposure: lymphodepletion and CAR-T cell dose",
        population=POPULATION_NAMES["enrolled"],
        n=len(members),
        columns=arm_columns(arms, "Exposure"),
        rows=tuple(rows),
        footnotes=(
            f"Planned doses (protocol): {labels}.",
            "Lymphodepletion start: first recorded lymphodepleting dose. " + PERCENT_RULE,
        ),
        section="14.1",
    )
