"""Cell formatting rule and the signed-decision statements of the summary page."""

from __future__ import annotations

import dataclasses

import pandas as pd

from cartrial.analysis import TrialData
from cartrial.report.decisions import dose_statements, governance_records
from cartrial.report.display import fmt_number, n_pct

from .conftest import GovernedTrial, governance_frame


def test_n_percent_has_one_decimals_rule() -> None:
    # one decimal of the column's N; 0 alone; 100% without decimals; no denominator -> dash
    assert [n_pct(1, 3), n_pct(2, 3), n_pct(0, 6), n_pct(6, 6), n_pct(1, 8), n_pct(0, 0)] == [
        "1 (33.3%)", "2 (66.7%)", "0", "6 (100%)", "1 (12.5%)", "–",
    ]  # fmt: skip
    assert (fmt_number(float("nan")), fmt_number(None), fmt_number(1234.56, 1)) == (
        "NE",
        "NE",
        "1,234.6",
    )


def test_statements_come_from_the_signed_records(governed_trial: GovernedTrial) -> None:
    statements = {s.title: s for s in dose_statements(governance_records(governed_trial),
                                                      {"DL1": "2.5 x 10^8"})}  # fmt: skip
    mtd = statements["End of dose escalation (MTD)"]
    assert mtd.statement.startswith("Escalation ended; MTD: DL1 (2.5 x 10^8 cells).")
    # signed 10:00 UTC, shown on the study's clock: Asia/Shanghai is UTC+8 all year (IANA tz
    # database, file ``asia``), so 18:00 there
    assert mtd.record == (
        "signed by Dr A. Chair (src-chair) on 2025-05-01 18:00 Asia/Shanghai (UTC+08:00)"
        " — “approval”; decided 2025-05-01"
    )
    assert statements["Expansion decision"].statement.startswith("Expansion go/stop: GO")


def test_a_signed_stop_and_the_cutoff(governed_trial: GovernedTrial, trial: TrialData) -> None:
    stop = pd.DataFrame(
        [("expansion_stop", "DL1", 1, "2025-09-01", "Toxicity boundary crossed (4/10).",
          "pi", "Dr C. Investigator", "2025-09-01 08:00", "approval"),
         ("rp2d", "DL2", 2, "2027-01-01", "After the cut-off: not shown.",
          "sponsor-md", "Dr B. Medic", "2027-01-01 08:00", "approval")],
        columns=governance_frame().columns,
    )  # fmt: skip
    later = dataclasses.replace(governed_trial, governance=pd.concat([governance_frame(), stop]))
    statements = {s.title: s for s in dose_statements(governance_records(later), {})}
    assert statements["Expansion decision"].statement == (
        "Expansion go/stop: STOP at DL1 (2025-09-01)."
    )
    assert statements["Recommended phase 2 dose (RP2D)"].statement.startswith("RP2D: DL1.")
    # a TrialData without a governance table: nothing decided, said in words
    assert governance_records(trial).empty
