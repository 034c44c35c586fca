"""Table 14.3.10: the expansion cohort — the protocol's toxicity monitoring and Simon stage-1
rules, what was observed, and the signed go/stop decisions (with the rule results stated in
their rationale when the decision was taken)."""

from __future__ import annotations

import pandas as pd

from cartrial.analysis.dataset import as_flag
from cartrial.report.context import POPULATION_NAMES, ReportContext
from cartrial.report.decisions import KIND_TITLES, signature
from cartrial.report.display import Column, DisplayTable, Row
from cartrial.vocab import OBJECTIVE_RESPONSES

__all__ = ["expansion_table"]


def expansion_table(ctx: ReportContext) -> DisplayTable:
    """Expansion rules, observed counts and signed decisions (two text columns)."""
    expansion = ctx.trial.protocol.expansion
    tox, futility = expansion.tox_monitoring, expansion.futility
    enrolled = ctx.members("enrolled")
    members = set(enrolled.loc[enrolled["phase"] == "expansion", "subject_id"])
    infused = members & ctx.disposition.infused
    te = ctx.te
    with_dlt = set(te.loc[as_flag(te["is_dlt"]) & te["subject_id"].isin(members), "subject_id"])
    tps = ctx.analysis.best_response.timepoints
    any_response = set(
        tps.loc[tps["overall_response"].isin(OBJECTIVE_RESPONSES) & tps["subject_id"].isin(members),
                "subject_id"]
    )  # fmt: skip
    bor = ctx.analysis.best_response.subjects
    confirmed = set(bor.loc[bor["bor"].isin(OBJECTIVE_RESPONSES), "subject_id"]) & members
    rows = [
        Row(("Protocol rules", ""), "group"),
        Row(("Planned expansion subjects", str(expansion.planned_subjects)), "item"),
        Row(("Toxicity monitoring",
             f"stop when P(DLT rate > {tox.limit:g} | data) > {tox.threshold:g} under a"
             f" Beta({tox.prior_a:g}, {tox.prior_b:g}) prior, checked from {tox.min_subjects}"
             " subjects evaluable for DLT"), "item"),
        Row(("Futility (response)",
             f"{futility.method}: p0 = {futility.p0:g}, p1 = {futility.p1:g}, α = "
             f"{futility.alpha:g}, β = {futility.beta:g}; stage 1 stops when at most r1 of the"
             " first n1 subjects respond"), "item"),
        Row(("Observed in expansion subjects", ""), "group"),
        Row(("Enrolled / infused", f"{len(members)} / {len(infused)}"), "item"),
        Row(("With an AE adjudicated as DLT", str(len(with_dlt))), "item"),
        Row(("With a CR or PR at any time point (stage-1 count)", str(len(any_response))), "item"),
        Row(("With a confirmed CR or PR", str(len(confirmed))), "item"),
        Row(("Signed decisions", ""), "group"),
    ]  # fmt: skip
    records = ctx.governance.loc[ctx.governance["kind"].astype(str).str.startswith("expansion")]
    for _, record in records.iterrows():
        title = KIND_TITLES.get(str(record["kind"]), str(record["kind"]))
        rows.append(Row((f"{title}, {pd.Timestamp(record['decided_date']):%Y-%m-%d}",
                         f"{record['dose_level']}: {record['rationale']} ({signature(record)})"),
                        "item"))  # fmt: skip
    if records.empty:
        rows.append(Row(("None", "no signed expansion decision at the data cut-off"), "item"))
    return DisplayTable(
        number="14.3.10",
        key="t14_3_10_expansion",
        title="Expansion cohort: toxicity monitoring, Simon stage 1 and go/stop decisions",
        population=POPULATION_NAMES["enrolled"] + ", expansion phase",
        n=len(members),
        columns=(Column("Item", align="left"), Column("Value", align="left")),
        rows=tuple(rows),
        footnotes=(
            "Rules as written in the protocol; the boundary and stage-1 results that fired are"
            " stated in each signed review's rationale. Stage-1 responses count unconfirmed"
            " CR/PR, as at an interim look; the efficacy tables count confirmed responses only.",
        ),
        section="14.3",
    )
