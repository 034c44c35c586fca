"""Targeted RECIST 1.1 rule cases beyond the worked examples; each states its source.

Sources: recist-1.1.md (§3 target response and nadir, §3.1 too small to measure, §7.2 Table 3) and
Eisenhauer EA et al., Eur J Cancer 2009;45:228-247.
"""

from __future__ import annotations

import pandas as pd
from recist_support import evaluate

REF = {"S1": "2026-01-01"}


def _table(rows: list[tuple[int, str, str, bool, float | None, str]]) -> pd.DataFrame:
    """Rows of (day, lesion, category, is_node, diameter, status) for subject S1."""
    return pd.DataFrame(
        [
            {
                "subject_id": "S1",
                "assessment_date": (pd.Timestamp("2026-01-01") + pd.Timedelta(days=day)).date(),
                "lesion_id": lesion,
                "category": category,
                "organ": "node"
                if node
                else {"T1": "liver", "T2": "lung"}.get(lesion, "peritoneum"),
                "is_lymph_node": node,
                "diameter_mm": diameter,
                "status": status,
            }
            for day, lesion, category, node, diameter, status in rows
        ]
    )


def test_confirmation_interval_is_a_parameter() -> None:
    """E1 responses are 42 days apart: confirmed at >= 28 days, not at >= 43 (§7.2 arithmetic)."""
    rows = [
        (-7, "T1", "target", False, 100.0, "present"),
        (42, "T1", "target", False, 65.0, "present"),
        (84, "T1", "target", False, 60.0, "present"),
    ]
    assert evaluate(_table(rows), REF).best.loc[0, "best_overall_response"] == "PR"
    strict = evaluate(_table(rows), REF, confirm_min_days=43).best.iloc[0]
    assert strict["best_overall_response"] == "SD"  # PR unconfirmed; day 42 meets SD minimum
    assert "SD or better on or after day 42" in strict["rule"]


def test_too_small_target_node_counts_as_normal_for_cr() -> None:
    """§3.1: too small to measure = 5 mm; a target node < 10 mm short axis allows target CR."""
    rows = [
        (-7, "T1", "target", False, 20.0, "present"),
        (-7, "N1", "target", True, 16.0, "present"),
        (42, "T1", "target", False, None, "absent"),
        (42, "N1", "target", True, None, "too_small"),
    ]
    tp = evaluate(_table(rows), REF).timepoints.iloc[0]
    assert tp["sum_of_diameters_mm"] == 5.0
    assert (tp["target_response"], tp["overall_response"]) == ("CR", "CR")


def test_too_small_non_nodal_target_prevents_cr() -> None:
    """§3.1: a non-nodal lesion too small to measure is still present (5 mm): PR, not CR."""
    rows = [
        (-7, "T1", "target", False, 20.0, "present"),
        (42, "T1", "target", False, None, "too_small"),
    ]
    tp = evaluate(_table(rows), REF).timepoints.iloc[0]
    assert (tp["sum_of_diameters_mm"], tp["target_response"]) == (5.0, "PR")  # -75 %


def test_incomplete_sum_never_becomes_the_nadir() -> None:
    """§3: the nadir is the smallest previous *sum*; a time point with a target NE has none.

    Day 42 measures only T1 (10 mm); day 84 sums 16 mm. Against the true nadir (baseline 50 mm)
    day 84 is PR (-68 %); taking 10 mm as nadir would wrongly give PD (+60 %, +6 mm).
    """
    rows = [
        (-7, "T1", "target", False, 30.0, "present"),
        (-7, "T2", "target", False, 20.0, "present"),
        (42, "T1", "target", False, 10.0, "present"),
        (42, "T2", "target", False, None, "NE"),
        (84, "T1", "target", False, 8.0, "present"),
        (84, "T2", "target", False, 8.0, "present"),
    ]
    tps = evaluate(_table(rows), REF).timepoints
    assert tps["target_response"].tolist() == ["NE", "PR"]
    assert tps.loc[1, "nadir_mm"] == 50.0


def test_cr_then_pr_is_a_confirmed_pr() -> None:
    """§7.2 Table 3, CR then PR: 'SD, PD or PR (note a)'; this engine reads it as PR.

    Target CR on day 42 and day 84; the non-target lesion is absent on day 42 (overall CR) and
    present again on day 84 (overall PR). The CR is not confirmed, the CR/PR pair 42 days apart
    confirms a PR, first recorded on day 42.
    """
    rows = [
        (-7, "T1", "target", False, 20.0, "present"),
        (-7, "P1", "non_target", False, None, "present"),
        (42, "T1", "target", False, None, "absent"),
        (42, "P1", "non_target", False, None, "absent"),
        (84, "T1", "target", False, None, "absent"),
        (84, "P1", "non_target", False, None, "present"),
    ]
    result = evaluate(_table(rows), REF)
    assert result.timepoints["overall_response"].tolist() == ["CR", "PR"]
    best = result.best.iloc[0]
    assert (best["best_overall_response"], bool(best["confirmed"])) == ("PR", True)
    assert best["date_first_response"] == pd.Timestamp("2026-02-12")


def test_subjects_only_in_reference_dates_are_reported_as_ne() -> None:
    """recist-1.1.md §9 E26f: no baseline scan -> no RECIST assessment (BOR NE)."""
    rows = [(-7, "T1", "target", False, 20.0, "present")]
    best = evaluate(_table(rows), {"S1": "2026-01-01", "S0": "2026-02-01"}).best
    assert best["subject_id"].tolist() == ["S0", "S1"]
    assert best["best_overall_response"].tolist() == ["NE", "NE"]
    assert best.loc[0, "rule"] == "NE: no baseline tumour assessment"


def test_subject_listed_without_reference_date_is_not_evaluated() -> None:
    """A screened but never infused subject (reference date explicitly missing) has no day 0:
    its lesions are not evaluated and its BOR is NE; an unlisted subject is an error instead
    (see test_recist_input.py)."""
    rows = [
        (-7, "T1", "target", False, 20.0, "present"),
        (42, "T1", "target", False, 10.0, "present"),
    ]
    both = pd.concat([_table(rows), _table(rows).assign(subject_id="S2")])
    result = evaluate(both, {"S1": "2026-01-01", "S2": None})
    assert result.timepoints["subject_id"].tolist() == ["S1"]
    best = result.best.set_index("subject_id")
    assert best.loc["S2", "best_overall_response"] == "NE"
    assert best.loc["S2", "rule"] == "NE: no reference (infusion) date; lesions not evaluated"
