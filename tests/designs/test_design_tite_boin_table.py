"""TITE-BOIN's pending-patient table against the design's own ``decide`` and a hand calculation.

Independent source: the ESS rule of Lin & Yuan (2020, Biostatistics 21:807), solved for STFT by
hand (``p_hat = y / (n - c + STFT)`` against BOIN's ``lambda_e = 0.2365``, ``lambda_d = 0.3585`` at
target 0.3), and TITEgBOIN's ``maxpen = 0.5`` suspension rule. The imputation table (Yuan et al.
2018, Clin Cancer Res 24:4921: each pending patient imputes ``pi (1 - u) / (1 - pi u)`` DLTs with
``pi = (target/2 + y) / (1 + n - c + STFT)``) is checked against a closed-form solution for one
pending patient and against ``decide`` for equal, uneven and random splits of the follow-up.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cartrial.designs import TITEBOIN

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


IMPUTATION = TITEBOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10, method="imputation")
IMPUTATION_TABLE = IMPUTATION.pending_table(9)


def test_imputation_threshold_with_one_pending_patient_solves_by_hand() -> None:
    # 3 treated, 1 DLT, 1 pending (u = STFT): de-escalate iff (1 + share) / 3 > lambda_d with
    # share = pi (1 - s) / (1 - pi s), pi = A / (B + s), A = 0.15 + 1, B = 1 + 2. Setting
    # share = r = 3 lambda_d - 1 and solving the linear equation A (1 - (1 - r) s) = r (B + s):
    _, lambda_d = IMPUTATION.lambdas()
    a, b, r = 0.15 + 1, 3.0, 3 * lambda_d - 1
    threshold = (a - r * b) / (a * (1 - r) + r)
    assert threshold == pytest.approx(0.811, abs=1e-3)
    row = IMPUTATION_TABLE.set_index(["n_treated", "dlt", "pending"]).loc[(3, 1, 1)]
    assert row["deescalate_if_stft_lt"] == row["deescalate_possible_stft_lt"]
    assert row["deescalate_if_stft_lt"] == round(threshold, 2)
    assert row["decision"] == f"de-escalate if STFT < {threshold:.2f}; otherwise stay"


def _splits(stft: float, c: int) -> list[list[float]]:
    whole = min(int(stft), c - 1)
    uneven = [0.999999] * whole + [stft - whole] + [0.0] * (c - whole - 1)
    generator = np.random.default_rng(int(stft * 1000) + c)
    shares = generator.dirichlet(np.ones(c)) * stft
    splits = [[stft / c] * c, uneven]
    if shares.max() < 1:
        splits.append(shares.tolist())
    return splits


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def test_imputation_table_agrees_with_decide_for_every_split() -> None:
    checked = 0
    for row in IMPUTATION_TABLE.astype(object).to_dict("records"):
        n, y, c = int(row["n_treated"]), int(row["dlt"]), int(row["pending"])
        if row["eliminate"] or c == 0:
            continue
        sure_up, sure_down = (
            _number(row["escalate_if_stft_ge"]),
            _number(row["deescalate_if_stft_lt"]),
        )
        may_up = _number(row["escalate_possible_stft_ge"])
        may_down = _number(row["deescalate_possible_stft_lt"])
        edges = [v for v in (sure_up, sure_down, may_up, may_down) if v is not None]
        for stft in np.linspace(0.0, c - 0.01, 7):
            if any(abs(stft - edge) < 0.006 for edge in edges):
                continue  # the table rounds to 2 decimals
            for split in _splits(float(stft), c):
                counts, dlts = [3, 3, n, 0, 0], [0, 0, y, 0, 0]
                pending = [(2, u) for u in split]
                decision = IMPUTATION.decide(counts, dlts, 2, pending_followup=pending)
                action = "stay" if decision.suspended else decision.action
                if row["suspend"] and decision.action != "de-escalate":
                    assert decision.suspended
                    continue
                if sure_up is not None and stft >= sure_up:
                    assert action == "escalate", (n, y, c, stft, split, decision.reason)
                if may_up is not None and stft < may_up:
                    assert action != "escalate", (n, y, c, stft, split, decision.reason)
                if sure_down is not None and stft < sure_down:
                    assert action == "de-escalate", (n, y, c, stft, split, decision.reason)
                if may_down is not None and stft >= may_down:
                    assert action != "de-escalate", (n, y, c, stft, split, decision.reason)
                if not edges and row["decision"] in ("escalate", "stay", "de-escalate"):
                    assert action == row["decision"], (n, y, c, stft, split, decision.reason)
                checked += 1
    assert checked > 200
    differ = (
        IMPUTATION_TABLE["escalate_if_stft_ge"] != IMPUTATION_TABLE["escalate_possible_stft_ge"]
    )
    assert differ.fillna(False).any()  # the split matters somewhere: both bounds are exercised


def test_imputation_notes_describe_the_imputation_not_ess() -> None:
    notes = " ".join(IMPUTATION.table_notes())
    assert "pi (1 - u) / (1 - pi u)" in notes and "ESS" not in notes


def test_notes_name_lambdas_elimination_and_suspension() -> None:
    notes = " ".join(DESIGN.table_notes())
    for text in ("lambda_e = 0.2365", "lambda_d = 0.3585", "Eliminate", "suspension", "ESS"):
        assert text in notes


def test_decision_tables_include_the_imputation_pending_table() -> None:
    from cartrial.designs.decision_tables import decision_tables

    tables = decision_tables(IMPUTATION)
    assert tables.pending is not None
    assert "escalate_possible_stft_ge" in tables.pending.columns
