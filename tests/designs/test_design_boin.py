"""BOIN against its published boundaries and the BOIN package's MTD-selection examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cartrial.designs import BOIN, boin_lambdas
from cartrial.designs.isotonic import isotonic_mtd, pava
from cartrial.errors import DesignError

REFERENCE = Path(__file__).parents[1] / "reference" / "designs"


@pytest.mark.parametrize(
    "row", pd.read_csv(REFERENCE / "boin_lambdas.csv", comment="#").to_dict("records")
)
def test_lambdas_match_published_values(row: dict[str, float]) -> None:
    # boin_lambdas.csv: reference section 2.1 (Liu & Yuan 2015; 0.30 row published).
    target = row["target"]
    lambda_e, lambda_d = boin_lambdas(target, 0.6 * target, 1.4 * target)
    assert lambda_e == pytest.approx(row["lambda_e"], abs=5e-5)
    assert lambda_d == pytest.approx(row["lambda_d"], abs=5e-5)


def test_lambdas_at_target_030_to_seven_digits() -> None:
    # simFastBOIN vignette: lambda_e = 0.2364907, lambda_d = 0.3585195 for target 0.30.
    lambda_e, lambda_d = BOIN(target=0.3, n_doses=5).lambdas()
    assert lambda_e == pytest.approx(0.2364907, abs=1e-7)
    assert lambda_d == pytest.approx(0.3585195, abs=1e-7)


@pytest.mark.parametrize("target", [0.30, 0.25])
def test_boundary_table_matches_reference(target: float) -> None:
    # boin_boundaries.csv: reference section 2.3 (count form, elimination row included).
    expected = pd.read_csv(REFERENCE / "boin_boundaries.csv", comment="#")
    expected = expected[np.isclose(expected["target"], target)].drop(columns="target")
    table = BOIN(target=target, n_doses=5, cohort_size=3, n_cohorts=4).boundaries()
    for column in expected.columns:
        got = table[column].to_numpy(dtype=float, na_value=np.nan)
        np.testing.assert_array_equal(got, expected[column].to_numpy(dtype=float), err_msg=column)


def test_decision_examples() -> None:
    d = BOIN(target=0.3, n_doses=5, cohort_size=3, n_cohorts=10)
    # 1/3 = 0.333 lies between 0.2365 and 0.3585: stay (reference 2.1).
    stay = d.decide(n=[3, 3, 0, 0, 0], dlt=[0, 1, 0, 0, 0], current=1)
    assert (stay.action, stay.next_dose) == ("stay", 1)
    # 0/3 escalates, 2/3 de-escalates.
    assert d.decide(n=[3, 0, 0, 0, 0], dlt=[0, 0, 0, 0, 0], current=0).next_dose == 1
    down = d.decide(n=[3, 3, 0, 0, 0], dlt=[0, 2, 0, 0, 0], current=1)
    assert (down.action, down.next_dose) == ("de-escalate", 0)
    # 3/3 at dose 1: Pr(p > 0.3 | Beta(4, 1)) = 1 - 0.3^4 = 0.9919 > 0.95, doses 1.. eliminated.
    out = d.decide(n=[3, 3, 0, 0, 0], dlt=[0, 3, 0, 0, 0], current=1)
    assert out.eliminated == (1, 2, 3, 4)
    assert out.next_dose == 0
    # Escalation into an eliminated dose becomes stay.
    blocked = d.decide(n=[6, 3, 0, 0, 0], dlt=[0, 3, 0, 0, 0], current=0)
    assert (blocked.action, blocked.next_dose) == ("stay", 0)


def test_target_025_deescalates_after_one_of_three() -> None:
    # Reference 2.3 note: target 0.25, 1/3 = 0.333 >= lambda_d = 0.2984 -> de-escalate.
    d = BOIN(target=0.25, n_doses=3)
    assert d.decide(n=[3, 3, 0], dlt=[0, 1, 0], current=1).action == "de-escalate"


def test_lowest_dose_eliminated_stops() -> None:
    d = BOIN(target=0.3, n_doses=3)
    out = d.decide(n=[3, 0, 0], dlt=[3, 0, 0], current=0)
    assert (out.action, out.next_dose, out.eliminated) == ("stop", None, (0, 1, 2))
    assert d.select_mtd(n=[3, 0, 0], dlt=[3, 0, 0]) is None


def test_extrasafe_stops_at_lowest_dose() -> None:
    # 2/3 at the lowest dose: Pr(p > 0.3 | Beta(3, 2)) = 0.9163 (scipy beta.sf), above
    # 0.95 - 0.05 = 0.90 but below 0.95: only the extra-safe rule stops.
    plain = BOIN(target=0.3, n_doses=3).decide(n=[3, 0, 0], dlt=[2, 0, 0], current=0)
    safe = BOIN(target=0.3, n_doses=3, extrasafe=True).decide(n=[3, 0, 0], dlt=[2, 0, 0], current=0)
    assert plain.action == "stay"
    assert safe.action == "stop"


def test_maximum_sample_size_stops() -> None:
    d = BOIN(target=0.3, n_doses=3, cohort_size=3, n_cohorts=3)
    out = d.decide(n=[3, 3, 3], dlt=[0, 0, 0], current=2)
    assert out.action == "stop"
    assert "maximum sample size" in out.reason


def test_n_earlystop_only_when_staying() -> None:
    d = BOIN(target=0.3, n_doses=3, n_cohorts=10, n_earlystop=9)
    # 2/9 = 0.222 <= lambda_e -> escalate, so no early stop.
    assert d.decide(n=[3, 9, 0], dlt=[0, 2, 0], current=1).action == "escalate"
    # 3/9 = 0.333: stay, and 9 treated there -> stop (BOIN package n.earlystop).
    assert d.decide(n=[3, 9, 0], dlt=[0, 3, 0], current=1).action == "stop"


def test_first_cohort_at_an_untreated_dose_stays() -> None:
    out = BOIN(target=0.3, n_doses=3, start=1).decide(n=[0, 0, 0], dlt=[0, 0, 0], current=1)
    assert (out.action, out.next_dose) == ("stay", 1)


def test_select_mtd_reference_examples() -> None:
    # Reference 2.4, re-implementation of BOIN::select.mtd (help-page example): MTD = dose 3.
    assert BOIN(target=0.3, n_doses=5).select_mtd([3, 3, 15, 9, 0], [0, 0, 4, 4, 0]) == 2
    # Reference 2.4: Pr(p > 0.25 | Beta(3, 2)) = 0.9492 < 0.95, dose 4 kept; MTD = dose 2.
    d025 = BOIN(target=0.25, n_doses=4)
    assert d025.eliminated([3, 6, 6, 3], [0, 1, 2, 2]) == ()
    assert d025.select_mtd([3, 6, 6, 3], [0, 1, 2, 2]) == 1
    # Reference 2.4: PAVA pools doses 2-4 to 0.0886; tie below target -> highest -> dose 4.
    assert BOIN(target=0.3, n_doses=4).select_mtd([3, 6, 9, 3], [0, 1, 4, 0]) == 3


def test_isotonic_estimates_reference_values() -> None:
    # Reference 2.4 isotonic estimates (0.0161, 0.0161, 0.2682, 0.4451) and (..., 0.0886 pooled).
    n = np.array([3, 3, 15, 9, 0])
    y = np.array([0, 0, 4, 4, 0])
    _, est = isotonic_mtd(n, y, 0.3, ())
    assert est[:4] == pytest.approx([0.0161, 0.0161, 0.2682, 0.4451], abs=1e-4)
    _, pooled = isotonic_mtd(np.array([3, 6, 9, 3]), np.array([0, 1, 4, 0]), 0.3, ())
    assert pooled[1:] == pytest.approx([0.0886] * 3, abs=1e-4)


def test_pava_against_hand_computed_pooling() -> None:
    # (1, 3, 2) with weights (1, 1, 2): 3 and 2 pool to (3 + 4)/3 = 7/3; already >= 1.
    assert pava([1.0, 3.0, 2.0], [1.0, 1.0, 2.0]) == pytest.approx([1.0, 7 / 3, 7 / 3])
    # Fully decreasing with equal weights pools to the mean.
    assert pava([3.0, 2.0, 1.0], [1.0, 1.0, 1.0]) == pytest.approx([2.0, 2.0, 2.0])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target": 0.0},
        {"target": 1.0},
        {"target": 1.2},
        {"target": 0.3, "cohort_size": 0},
        {"target": 0.3, "start": 5},
        {"target": 0.3, "p_saf": 0.35},
    ],
)
def test_bad_parameters_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(DesignError):
        BOIN(n_doses=5, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "dlt", "current"),
    [
        ([3, 1, 0], [0, 2, 0], 0),  # dlt > n
        ([3, -1, 0], [0, 0, 0], 0),  # negative count
        ([3, 0, 0], [0, 0, 0], 3),  # current out of range
        ([3, 0], [0, 0], 0),  # wrong length
    ],
)
def test_bad_counts_raise(n: list[int], dlt: list[int], current: int) -> None:
    with pytest.raises(DesignError):
        BOIN(target=0.3, n_doses=3).decide(n=n, dlt=dlt, current=current)


def test_bound_mtd_excludes_doses_above_lambda_d() -> None:
    # Reference 2.4 example 1: isotonic (0.0161, 0.0161, 0.2682, 0.4451), MTD dose 3 (index 2).
    # 0.2682 < lambda_d = 0.3585, so boundMTD keeps dose 3; with 6/15 at dose 3 instead the
    # estimate (6.05/15.1 = 0.4007) exceeds lambda_d and the bound moves the MTD down to dose 2.
    plain = BOIN(target=0.3, n_doses=5)
    bounded = BOIN(target=0.3, n_doses=5, bound_mtd=True)
    assert bounded.select_mtd([3, 3, 15, 9, 0], [0, 0, 4, 4, 0]) == 2
    assert plain.select_mtd([3, 3, 15, 9, 0], [0, 0, 6, 4, 0]) == 2
    assert bounded.select_mtd([3, 3, 15, 9, 0], [0, 0, 6, 4, 0]) == 1
