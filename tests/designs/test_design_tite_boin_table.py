"""TITE-BOIN's pending-patient table against the design's own ``decide`` and a hand calculation.

Independent source: the ESS rule of Lin & Yuan (2020, Biostatistics 21:807), solved for STFT by
hand (``p_hat = y / (n - c + STFT)`` against BOIN's ``lambda_e = 0.2365``, ``lambda_d = 0.3585`` at
target 0.3), and TITEgBOIN's ``maxpen = 0.5`` suspension rule.
"""

from __future__ import annotations

import math

import pytest

from cartrial.designs import TITEBOIN
from cartrial.errors import DesignError

DESIGN = TITEBOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10)
TABLE = DESIGN.pending_table()


def test_hand_calculated_rows() -> None:
    lambda_e, lambda_d = DESIGN.lambdas()
    rows = TABLE.set_index(["n_treated", "dlt", "pending"])
    # 6 treated, 1 DLT, 3 pending: escalate if STFT >= 1/lambda_e - 3 = 1.228
    assert rows.loc[(6, 1, 3), "escalate_if_stft_ge"] == round(1 / lambda_e - 3, 2) == 1.23
    assert rows.loc[(6, 1, 3), "decision"] == "escalate if STFT >= 1.23; otherwise stay"
    # 3 treated, 1 DLT, 1 pending: de-escalate if STFT < 1/lambda_d - 2 = 0.789
    assert rows.loc[(3, 1, 1), "deescalate_if_stft_lt"] == round(1 / lambda_d - 2, 2) == 0.79
    # 3 treated, 0 DLT, 2 pending: 2/3 > 50 % pending, accrual is suspended
    assert bool(rows.loc[(3, 0, 2), "suspend"])
    assert rows.loc[(3, 0, 2), "decision"].startswith("suspend accrual")
    # 6 treated, 3 DLTs, 3 pending: 3/3 completed with DLT -> Pr(p > 0.3) > 0.95, eliminated
    assert bool(rows.loc[(6, 3, 3), "eliminate"])


def _check(n: int, y: int, c: int, stft: float, expected: str) -> None:
    current = 2
    counts = [3, 3, 0, 0, 0]
    dlts = [0, 0, 0, 0, 0]
    counts[current], dlts[current] = n, y
    pending = [(current, stft / c)] * c if c else []
    decision = DESIGN.decide(counts, dlts, current, pending_followup=pending)
    if expected.startswith("suspend"):
        if decision.action == "de-escalate":
            assert "de-escalate" in expected
        else:
            assert decision.suspended, (n, y, c, stft, decision.reason)
        return
    assert not decision.suspended
    if expected == "de-escalate and eliminate the dose":
        assert decision.action == "de-escalate" and current in decision.eliminated
        return
    assert decision.action == expected, (n, y, c, stft, decision.reason)


def _expected_at(row: dict[str, object], stft: float) -> str:
    text = str(row["decision"])
    if text.startswith("suspend") or text in ("escalate", "stay", "de-escalate"):
        return text
    if text.startswith("de-escalate and"):
        return text
    down = row["deescalate_if_stft_lt"]
    up = row["escalate_if_stft_ge"]
    if down is not None and not (isinstance(down, float) and math.isnan(down)) and stft < down:
        return "de-escalate"
    if up is not None and not (isinstance(up, float) and math.isnan(up)) and stft >= up:
        return "escalate"
    return "stay"


def test_every_row_agrees_with_decide_on_both_sides_of_its_thresholds() -> None:
    lambda_e, lambda_d = DESIGN.lambdas()
    for row in TABLE.astype(object).where(TABLE.notna(), None).to_dict("records"):
        n, y, c = int(row["n_treated"]), int(row["dlt"]), int(row["pending"])
        points = {0.0} if c == 0 else {0.0, c - 1e-9, c / 2}
        for exact in (y / lambda_e - (n - c), y / lambda_d - (n - c)):  # unrounded thresholds
            points |= {p for p in (exact - 1e-6, exact + 1e-6) if 0 <= p < c}
        for stft in sorted(points):
            expected = _expected_at(row, stft)
            if expected not in ("escalate", "stay", "de-escalate") or row["decision"] in (
                "escalate",
                "stay",
                "de-escalate",
            ):
                _check(n, y, c, stft, expected)
                continue
            # the rounded thresholds in the table: decide at the exact one
            exact_up = y / lambda_e - (n - c)
            exact_down = y / lambda_d - (n - c)
            truth = "escalate" if stft >= exact_up else "stay"
            _check(n, y, c, stft, "de-escalate" if stft < exact_down else truth)


def test_imputation_has_no_pending_table() -> None:
    with pytest.raises(DesignError, match="ess"):
        TITEBOIN(target=0.3, n_doses=5, method="imputation").pending_table()


def test_notes_name_lambdas_elimination_and_suspension() -> None:
    notes = " ".join(DESIGN.table_notes())
    for text in ("lambda_e = 0.2365", "lambda_d = 0.3585", "Eliminate", "suspension", "ESS"):
        assert text in notes
