"""Dose level names for people, 0-based indices for code (``cartrial.designs.labels``)."""

from __future__ import annotations

import pytest

from cartrial.designs import BOIN, ThreePlusThree
from cartrial.designs.labels import default_dose_names, dose_index, name_dose_keys, name_doses
from cartrial.errors import DesignError

NAMES = ("DL-1", "DL1", "DL2", "DL3")


def test_names_are_read_case_insensitively_and_numbers_refused() -> None:
    assert dose_index("dl1", NAMES) == 1
    assert dose_index("DL-1", NAMES) == 0
    with pytest.raises(DesignError, match="doses are named, not numbered"):
        dose_index("1", NAMES)
    with pytest.raises(DesignError, match="expected one of DL-1, DL1, DL2, DL3"):
        dose_index("DL4", NAMES)


def test_default_names_count_from_one() -> None:
    assert default_dose_names(3) == ("DL1", "DL2", "DL3")


def test_a_design_reason_is_rewritten_with_the_names() -> None:
    # 3+3 (Storer 1989): 1 DLT among 3 at the current dose -> 3 more at the same dose.
    decision = ThreePlusThree(n_doses=4).decide([0, 3, 0, 0], [0, 1, 0, 0], 1)
    assert decision.reason == "1/3 DLT at dose 1: complete 6 patients there"
    assert name_doses(decision.reason, NAMES) == "1/3 DLT at dose DL1: complete 6 patients there"
    assert name_doses("dose 9 and dose 0", NAMES) == "dose 9 and dose DL-1"  # out of range kept


def test_per_dose_detail_keys_are_renamed() -> None:
    details = {"p_hat_0": 0.1, "p_hat_3": 0.4, "ess": 3.0}
    assert name_dose_keys(details, NAMES) == {"p_hat_DL-1": 0.1, "p_hat_DL3": 0.4, "ess": 3.0}
    decision = BOIN(target=0.3, n_doses=4).decide([0, 3, 0, 0], [0, 0, 0, 0], 1)
    assert decision.next_dose == 2  # 0/3 <= lambda_e 0.2365 (Liu & Yuan 2015): escalate
