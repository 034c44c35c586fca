"""Listings 16.2: DLTs, serious adverse events, deaths, discontinuations (one row per record)."""

from __future__ import annotations

from typing import Any, cast

import pandas as pd

from cartrial.analysis.dataset import as_flag
from cartrial.report.context import POPULATION_NAMES, ReportContext
from cartrial.report.display import Column, DisplayTable, Row

__all__ = ["LISTINGS"]


def _subjects(ctx: ReportContext) -> pd.DataFrame:
    return ctx.trial.subjects.set_index("subject_id")


def _day(date: Any, infusion: Any) -> str:
    if pd.isna(date) or pd.isna(infusion):
        return ""
    return str((pd.Timestamp(date) - pd.Timestamp(infusion)).days)


def _ae_rows(ctx: ReportContext, events: pd.DataFrame) -> tuple[Row, ...]:
    subjects = _subjects(ctx)
    evaluable = set(ctx.members("dlt_evaluable")["subject_id"])
    rows = []
    ordered = events.sort_values(["subject_id", "onset_date"])
    for ae in cast(Any, ordered.itertuples(index=False)):
        subject = subjects.loc[ae.subject_id]
        infusion = subject["infusion_date"]
        rows.append(
            Row(
                (
                    str(ae.subject_id),
                    f"{subject['phase']}",
                    str(subject["dose_level"]) if pd.notna(subject["dose_level"]) else "–",
                    str(ae.term),
                    str(int(ae.grade)),
                    _day(ae.onset_date, infusion),
                    _day(ae.resolution_date, infusion) or "ongoing",
                    "yes" if bool(as_flag(pd.Series([ae.serious])).iloc[0]) else "no",
                    str(ae.attribution or ""),
                    str(ae.outcome or ""),
                    "yes" if ae.subject_id in evaluable else "no",
                ),
                "data",
            )
        )
    return tuple(rows)


_AE_COLUMNS = (
    Column("Subject", align="left"),
    Column("Phase", align="left"),
    Column("Dose level", align="left"),
    Column("Adverse event (CTCAE term)", align="left"),
    Column("Grade"),
    Column("Onset day"),
    Column("Resolution day"),
    Column("Serious"),
    Column("Attribution", align="left"),
    Column("Outcome", align="left"),
    Column("DLT-evaluable"),
)
_DAY_NOTE = "Days from CAR-T infusion (day 0 = infusion day)."


def _ae_listing(
    ctx: ReportContext, number: str, key: str, title: str, flag: str, note: str
) -> DisplayTable:
    """A listing of the treatment-emergent AEs whose yes/no column ``flag`` is set."""
    te = ctx.te
    return DisplayTable(
        number=number,
        key=key,
        title=title,
        population=POPULATION_NAMES["safety"],
        n=len(ctx.members("safety")),
        columns=_AE_COLUMNS,
        rows=_ae_rows(ctx, te.loc[as_flag(te[flag])]),
        footnotes=(_DAY_NOTE, note),
        landscape=True,
        kind="Listing",
        section="16.2",
    )


def dlt_listing(ctx: ReportContext) -> DisplayTable:
    """Listing 16.2.1: adverse events adjudicated as DLT."""
    return _ae_listing(
        ctx, "16.2.1", "l16_2_1_dlt", "Adverse events adjudicated as dose-limiting toxicity",
        "is_dlt", "Only DLT-evaluable escalation subjects count for dose finding (Table 14.3.2).",
    )  # fmt: skip


def sae_listing(ctx: ReportContext) -> DisplayTable:
    """Listing 16.2.2: serious adverse events."""
    return _ae_listing(
        ctx, "16.2.2", "l16_2_2_sae", "Serious adverse events", "serious",
        "Serious as reported by the investigator (ICH E2A).",
    )  # fmt: skip


def death_listing(ctx: ReportContext) -> DisplayTable:
    """Listing 16.2.3: deaths on or before the data cut-off."""
    members = ctx.members("enrolled")
    dead = members.loc[
        members["death_date"].notna() & (members["death_date"] <= ctx.trial.data_cutoff)
    ].sort_values("death_date")
    rows = tuple(
        Row(
            (
                str(s.subject_id),
                str(s.phase),
                str(s.dose_level) if pd.notna(s.dose_level) else "–",
                f"{s.death_date:%Y-%m-%d}",
                _day(s.death_date, s.infusion_date),
                str(s.death_cause or "not recorded"),
            )
        )
        for s in cast(Any, dead.itertuples(index=False))
    )
    return DisplayTable(
        number="16.2.3",
        key="l16_2_3_deaths",
        title="Deaths",
        population=POPULATION_NAMES["enrolled"],
        n=len(members),
        columns=(
            Column("Subject", align="left"),
            Column("Phase", align="left"),
            Column("Dose level", align="left"),
            Column("Date of death", align="left"),
            Column("Day"),
            Column("Cause", align="left"),
        ),
        rows=rows,
        footnotes=(_DAY_NOTE,),
        kind="Listing",
        empty_text="No death on or before the data cut-off.",
        section="16.2",
    )


def discontinuation_listing(ctx: ReportContext) -> DisplayTable:
    """Listing 16.2.4: subjects who left the study (death or withdrawal), with the reason."""
    members = ctx.members("enrolled").set_index("subject_id")
    rows = []
    for subject, reason in sorted(ctx.disposition.discontinued.items()):
        s: Any = members.loc[subject]
        date = s["death_date"] if reason.startswith("death") else s["withdrawn_date"]
        rows.append(
            Row(
                (
                    subject,
                    str(s["phase"]),
                    str(s["dose_level"]) if pd.notna(s["dose_level"]) else "–",
                    "yes" if subject in ctx.disposition.infused else "no",
                    reason,
                    f"{pd.Timestamp(date):%Y-%m-%d}" if pd.notna(date) else "",
                    _day(date, s["infusion_date"]),
                )
            )
        )
    return DisplayTable(
        number="16.2.4",
        key="l16_2_4_discontinuations",
        title="Discontinuations from the study",
        population=POPULATION_NAMES["enrolled"],
        n=len(members),
        columns=(
            Column("Subject", align="left"),
            Column("Phase", align="left"),
            Column("Dose level", align="left"),
            Column("Infused"),
            Column("Reason", align="left"),
            Column("Date", align="left"),
            Column("Day"),
        ),
        rows=tuple(rows),
        footnotes=(_DAY_NOTE, "Reasons as in Table 14.1.1."),
        kind="Listing",
        empty_text="No subject discontinued on or before the data cut-off.",
        section="16.2",
    )


#: The listings in order.
LISTINGS = (dlt_listing, sae_listing, death_listing, discontinuation_listing)
