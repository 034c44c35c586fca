"""RECIST 1.1 package data: thresholds and the overall-response Tables 1-2.

Expected values: Eisenhauer EA et al., Eur J Cancer 2009;45:228-247 — §3.1 (10 mm, 15 mm, 10 mm
nodal limits), §3.2 (5 targets, 2 per organ), §4.3.1 (30 %, 20 %, 5 mm), Table 1 (target disease)
and Table 2 (non-target disease only), as quoted in recist-1.1.md §1-6; 5 mm for "too small to
measure" from the EORTC RECIST Q&A.
"""

from __future__ import annotations

import itertools

import pytest

from cartrial.rules.recist_tables import (
    NONTARGET_RESPONSES,
    OVERALL_RESPONSES,
    TARGET_RESPONSES,
    criteria,
    response_table,
)


def test_thresholds_match_recist_1_1() -> None:
    crit = criteria()
    assert (crit.non_nodal_min_mm, crit.nodal_target_min_mm, crit.nodal_pathological_min_mm) == (
        10.0,
        15.0,
        10.0,
    )
    assert (crit.max_targets, crit.max_targets_per_organ) == (5, 2)
    assert (crit.pr_decrease_pct, crit.pd_increase_pct, crit.pd_absolute_mm) == (30, 20, 5.0)
    assert (crit.cr_node_below_mm, crit.too_small_mm) == (10.0, 5.0)


def _overall(target: str, nontarget: str, new: bool) -> str:
    table = response_table()
    code = table.overall[
        TARGET_RESPONSES.index(target), NONTARGET_RESPONSES.index(nontarget), int(new)
    ]
    return OVERALL_RESPONSES[code]


# RECIST 1.1 Table 1 (Eisenhauer 2009), one case per row; "not applicable" non-target = no
# non-target lesions at baseline, treated as CR (recist-1.1.md §6 note).
TABLE_1 = [
    ("CR", "CR", False, "CR"),
    ("CR", "NOT-APPLICABLE", False, "CR"),
    ("CR", "NON-CR/NON-PD", False, "PR"),
    ("CR", "NE", False, "PR"),
    ("PR", "NON-CR/NON-PD", False, "PR"),
    ("PR", "CR", False, "PR"),
    ("PR", "NE", False, "PR"),
    ("SD", "NON-CR/NON-PD", False, "SD"),
    ("SD", "NE", False, "SD"),
    ("NE", "NON-CR/NON-PD", False, "NE"),
    ("NE", "CR", False, "NE"),
    ("PD", "CR", False, "PD"),
    ("SD", "PD", False, "PD"),
    ("CR", "CR", True, "PD"),
]
# RECIST 1.1 Table 2: non-target disease only.
TABLE_2 = [
    ("NOT-APPLICABLE", "CR", False, "CR"),
    ("NOT-APPLICABLE", "NON-CR/NON-PD", False, "NON-CR/NON-PD"),
    ("NOT-APPLICABLE", "NE", False, "NE"),
    ("NOT-APPLICABLE", "PD", False, "PD"),
    ("NOT-APPLICABLE", "CR", True, "PD"),
]


@pytest.mark.parametrize(("target", "nontarget", "new", "expected"), TABLE_1 + TABLE_2)
def test_overall_response_tables(target: str, nontarget: str, new: bool, expected: str) -> None:
    assert _overall(target, nontarget, new) == expected


def test_every_possible_combination_has_a_rule() -> None:
    """Only 'no target and no non-target lesions' is impossible (the input check refuses it)."""
    table = response_table()
    for t, n, new in itertools.product(TARGET_RESPONSES, NONTARGET_RESPONSES, (0, 1)):
        code = table.overall[TARGET_RESPONSES.index(t), NONTARGET_RESPONSES.index(n), new]
        impossible = t == "NOT-APPLICABLE" and n == "NOT-APPLICABLE"
        assert (code < 0) == impossible, (t, n, new)
        if not impossible:
            rule = table.rules[
                table.rule[TARGET_RESPONSES.index(t), NONTARGET_RESPONSES.index(n), new]
            ]
            assert rule.startswith("RECIST 1.1 Table")
            assert rule.endswith(f"-> {OVERALL_RESPONSES[code]}")
