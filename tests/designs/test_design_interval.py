"""Keyboard, mTPI-2, i3+3 and user decision tables against the reference decision strings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cartrial.designs import (
    BOIN,
    MTPI2,
    DecisionTableDesign,
    I3Plus3,
    Keyboard,
)
from cartrial.designs.intervals import equal_width_intervals
from cartrial.errors import DesignError

REFERENCE = Path(__file__).parents[1] / "reference" / "designs"
STRINGS = pd.read_csv(REFERENCE / "interval_decision_strings.csv", comment="#", dtype=str)


def decisions(design: Keyboard | MTPI2 | I3Plus3, n: int) -> str:
    return "".join(design.rule(n, y) for y in range(n + 1))


@pytest.mark.parametrize("row", STRINGS.to_dict("records"))
def test_keyboard_and_i3plus3_reference_strings(row: dict[str, str]) -> None:
    # interval_decision_strings.csv: reference §5.
    n = int(row["n_treated"])
    assert decisions(Keyboard(target=0.3, n_doses=3), n) == row["keyboard"]
    assert decisions(I3Plus3(target=0.3, n_doses=3), n) == row["i3plus3"]


def test_keyboard_counts_equal_boin_counts_at_030() -> None:
    # Reference §5: for target 0.30 the Keyboard escalate/de-escalate counts coincide with the
    # BOIN counts of §2.3 for n = 1..12 (elimination is the same rule in both).
    keyboard = Keyboard(target=0.3, n_doses=3, n_cohorts=4).boundaries()
    boin = BOIN(target=0.3, n_doses=3, n_cohorts=4).boundaries()
    pd.testing.assert_frame_equal(keyboard, boin)


def test_mtpi2_equals_keyboard_when_all_intervals_have_full_width() -> None:
    # Reference §5 (Guo et al. 2017; Yan et al. 2017): with equal-width intervals only, the
    # largest unit probability mass and the strongest key are the same interval. Target 0.25,
    # eps 0.05: [0, .1), [.1, .2), [.2, .3], (.3, .4], ..., (.9, 1] all have width 0.1.
    assert all(
        iv.high - iv.low == pytest.approx(0.1)
        for iv in equal_width_intervals(0.25, 0.05, 0.05, "include")
    )
    mtpi2, keyboard = MTPI2(target=0.25, n_doses=3), Keyboard(target=0.25, n_doses=3)
    for n in range(1, 31):
        assert decisions(mtpi2, n) == decisions(keyboard, n), n


def test_i3plus3_differs_from_boin_where_reference_says() -> None:
    # Reference §5: n = 5, y = 2 -> i3+3 S, BOIN D; n = 1, y = 1 -> i3+3 S.
    i3, boin = I3Plus3(target=0.3, n_doses=3), BOIN(target=0.3, n_doses=3)
    assert (i3.rule(5, 2), boin.rule(5, 2)) == ("S", "D")
    assert i3.rule(1, 1) == "S"


def test_mtpi2_grid_marks_eliminated_cells() -> None:
    # 3/3: Pr(p > 0.3 | Beta(4, 1)) = 1 - 0.3^4 = 0.9919 > 0.95 -> DU; 2/3: 0.9163 -> D.
    grid = MTPI2(target=0.3, n_doses=3).decision_grid(3)
    assert grid.loc[3, 3] == "DU"
    assert grid.loc[2, 3] == "D"
    assert grid.loc[2, 1] == ""


def test_decision_table_design_reproduces_the_design_it_was_taken_from() -> None:
    source = MTPI2(target=0.3, n_doses=4, n_cohorts=4)
    table = DecisionTableDesign.from_grid(
        source.decision_grid(), target=0.3, n_doses=4, n_cohorts=4
    )
    for y0 in range(4):
        for y1 in range(4):
            counts = ([3, 3, 0, 0], [y0, y1, 0, 0])
            got, want = table.decide(*counts, current=1), source.decide(*counts, current=1)
            assert (got.action, got.next_dose, got.eliminated) == (
                want.action,
                want.next_dose,
                want.eliminated,
            )


def test_decision_table_from_strings_and_missing_row() -> None:
    d = DecisionTableDesign(target=0.3, n_doses=3, table={3: "E S D DU", 6: "E,E,S,D,DU,DU,DU"})
    assert d.decide(n=[3, 0, 0], dlt=[0, 0, 0], current=0).next_dose == 1
    assert d.decide(n=[3, 3, 0], dlt=[0, 3, 0], current=1).eliminated == (1, 2)
    with pytest.raises(DesignError, match="no row"):
        d.decide(n=[4, 0, 0], dlt=[0, 0, 0], current=0)


@pytest.mark.parametrize(
    "table",
    [{3: "E S D"}, {3: "E D S DU"}, {3: "E S X DU"}, {0: "E"}, {}],
)
def test_bad_tables_raise(table: dict[int, str]) -> None:
    with pytest.raises(DesignError):
        DecisionTableDesign(target=0.3, n_doses=3, table=table)


def test_bad_interval_widths_raise() -> None:
    with pytest.raises(DesignError):
        Keyboard(target=0.3, n_doses=3, eps1=0.4)
    with pytest.raises(DesignError):
        I3Plus3(target=0.3, n_doses=3, eps2=0.0)
