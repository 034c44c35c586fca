"""3+3 against its rules table (Storer 1989; reference phase1-designs.md section 1)."""

from __future__ import annotations

import pytest

from cartrial.designs import ThreePlusThree
from cartrial.errors import DesignError

# (n, dlt, current) -> (action, next dose); each row is one line of the 3+3 rules in reference §1.
RULES = [
    (([3, 0, 0], [0, 0, 0], 0), ("escalate", 1)),  # 0/3 -> escalate
    (([3, 0, 0], [1, 0, 0], 0), ("stay", 0)),  # 1/3 -> treat 3 more
    (([6, 0, 0], [1, 0, 0], 0), ("escalate", 1)),  # 1/6 -> escalate
    (([3, 3, 0], [0, 2, 0], 1), ("de-escalate", 0)),  # 2/3 -> exceeds; expand dose below to 6
    (([3, 6, 0], [0, 2, 0], 1), ("de-escalate", 0)),  # 2/6 -> exceeds
    (([6, 3, 0], [1, 2, 0], 0), ("stop", None)),  # dose below has 6 with <= 1/6: it is the MTD
    (([6, 3, 0], [0, 2, 0], 0), ("stop", None)),
    (([3, 0, 0], [2, 0, 0], 0), ("stop", None)),  # lowest dose exceeds: stop, no MTD
    (([3, 3, 3], [0, 0, 0], 2), ("stay", 2)),  # highest dose cleared: expand to 6
    (([3, 3, 6], [0, 0, 1], 2), ("stop", None)),  # highest dose 1/6: MTD
    (([3, 3, 0], [0, 0, 0], 1), ("escalate", 2)),
    (([0, 0, 0], [0, 0, 0], 1), ("stay", 1)),  # start at DL1: treat the first cohort
    (([3, 4, 0], [0, 1, 0], 1), ("stay", 1)),  # expansion cohort incomplete
]


@pytest.mark.parametrize(("counts", "expected"), RULES)
def test_rules_table(counts: tuple[list[int], list[int], int], expected: tuple[str, int]) -> None:
    n, dlt, current = counts
    out = ThreePlusThree(n_doses=3).decide(n=n, dlt=dlt, current=current)
    assert (out.action, out.next_dose) == expected


def test_eliminated_doses_are_the_exceeding_dose_and_above() -> None:
    out = ThreePlusThree(n_doses=4).decide(n=[3, 3, 0, 0], dlt=[0, 2, 0, 0], current=1)
    assert out.eliminated == (1, 2, 3)


def test_cascade_down_after_a_second_exceeding_dose() -> None:
    # Dose 1 exceeded, dose 0 expanded to 6 with 2 DLTs -> dose 0 exceeds too; start dose was 1,
    # so with a DL-1 at index 0 of four levels: DL-1 (index 0) is reached next.
    d = ThreePlusThree(n_doses=4, start=1)
    out = d.decide(n=[0, 6, 3, 0], dlt=[0, 2, 2, 0], current=1)
    assert (out.action, out.next_dose) == ("de-escalate", 0)


def test_without_deescalation_stop_when_a_dose_exceeds() -> None:
    d = ThreePlusThree(n_doses=3, deescalation=False)
    out = d.decide(n=[3, 3, 0], dlt=[0, 2, 0], current=1)
    assert out.action == "stop"
    assert d.select_mtd(n=[3, 3, 0], dlt=[0, 2, 0]) == 0


def test_without_mtd_expansion_top_dose_stops_at_three() -> None:
    d = ThreePlusThree(n_doses=2, expand_mtd=False)
    assert d.decide(n=[3, 3], dlt=[0, 0], current=1).action == "stop"
    assert d.select_mtd(n=[3, 3], dlt=[0, 0]) == 1


def test_mtd_not_reached_option() -> None:
    d = ThreePlusThree(n_doses=2, declare_top_dose=False)
    out = d.decide(n=[3, 3], dlt=[0, 0], current=1)
    assert out.action == "stop"
    assert "not reached" in out.reason
    assert d.select_mtd(n=[3, 3], dlt=[0, 0]) is None


def test_select_mtd() -> None:
    d = ThreePlusThree(n_doses=3)
    assert d.select_mtd(n=[3, 6, 3], dlt=[0, 1, 2]) == 1
    assert d.select_mtd(n=[3, 0, 0], dlt=[2, 0, 0]) is None
    assert d.select_mtd(n=[3, 3, 6], dlt=[0, 0, 1]) == 2


def test_boundaries_table() -> None:
    table = ThreePlusThree(n_doses=3).boundaries()
    assert table["n_treated"].tolist() == [3, 6]
    assert table["escalate_if_dlt_le"].tolist() == [0, 1]
    assert table["eliminate_if_dlt_ge"].tolist() == [2, 2]


def test_max_subjects_cap() -> None:
    d = ThreePlusThree(n_doses=3, max_subjects=9)
    assert d.decide(n=[3, 3, 3], dlt=[0, 0, 0], current=2).action == "stop"


def test_bad_input() -> None:
    with pytest.raises(DesignError):
        ThreePlusThree(n_doses=0)
    with pytest.raises(DesignError):
        ThreePlusThree(n_doses=3).decide(n=[3, 0, 0], dlt=[4, 0, 0], current=0)
