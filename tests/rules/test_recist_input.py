"""Bad RECIST input is refused with a RuleInputError naming row, subject, date, lesion and rule.

Expected rules: RECIST 1.1 (Eisenhauer 2009) §3.1 measurability (non-nodal >= 10 mm, target node
>= 15 mm short axis, nodes < 10 mm normal), §3.2 target selection (<= 5 targets, <= 2 per organ,
all nodes one organ per the EORTC Q&A), §4.3.3 new lesions, and the input contract of
``recist.evaluate`` (issue 3: negative diameters, assessment before baseline, lesion ID reused with
another category, targets added after baseline, unknown category/status).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from recist_support import evaluate

from cartrial.errors import RuleInputError
from cartrial.rules import recist

REF = {"S1": "2026-01-01"}


def _row(
    date: str,
    lesion: str,
    category: str = "target",
    diameter: float | None = 30.0,
    status: str = "present",
    organ: str = "liver",
    node: bool = False,
) -> dict[str, object]:
    return {
        "subject_id": "S1",
        "assessment_date": date,
        "lesion_id": lesion,
        "category": category,
        "organ": organ,
        "is_lymph_node": node,
        "diameter_mm": diameter,
        "status": status,
    }


def _valid() -> list[dict[str, object]]:
    return [
        _row("2025-12-28", "T1"),
        _row("2025-12-28", "N1", "non_target", None),
        _row("2026-02-12", "T1", diameter=20.0),
        _row("2026-02-12", "N1", "non_target", None),
    ]


def _nodes(rows: list[dict[str, object]], *positions: int) -> None:
    """Make one lesion (all its rows) a lymph node."""
    for position in positions:
        rows[position].update(is_lymph_node=True, organ="node")


def _evaluate(rows: list[dict[str, object]]) -> recist.RecistResult:
    return evaluate(pd.DataFrame(rows), REF)


def test_valid_table_is_accepted() -> None:
    """Control for the cases below: the unmodified table evaluates (30 -> 20 mm = -33 %: PR)."""
    assert _evaluate(_valid()).timepoints["overall_response"].tolist() == ["PR"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda rows: rows[2].update(diameter_mm=-1.0),
            r"row 3: subject S1, date 2026-02-12, lesion T1: negative diameter .*rule: diameters",
        ),
        (
            lambda rows: rows[2].update(category="tumour"),
            r"row 3: .*unknown category",
        ),
        (
            lambda rows: rows[3].update(status="progressing"),
            r"row 4: .*lesion N1: status not allowed for a non_target lesion",
        ),
        (
            lambda rows: rows[2].update(status="equivocal"),
            r"row 3: .*status not allowed for a target lesion",
        ),
        (
            lambda rows: rows[3].update(category="target", diameter_mm=12.0, status="present"),
            r"lesion N1: lesion ID reused with another category",
        ),
        (
            lambda rows: rows.append(_row("2026-02-12", "T2", organ="lung")),
            r"row 5: .*lesion T2: target lesion first recorded after baseline",
        ),
        (
            lambda rows: rows.append(_row("2026-02-12", "N2", "non_target", None)),
            r"lesion N2: non-target lesion first recorded after baseline",
        ),
        (
            lambda rows: rows.append(_row("2025-12-28", "L1", "new", 5.0, "unequivocal")),
            r"lesion L1: new lesion at the baseline assessment",
        ),
        (
            lambda rows: rows.extend(
                [_row("2025-12-30", "T1"), _row("2025-12-30", "N1", "non_target", None)]
            ),
            r"date 2025-12-30.*on or before the reference date",
        ),
        (
            lambda rows: rows.append(dict(rows[2])),
            r"row 5: .*lesion recorded twice at one assessment",
        ),
        (
            lambda rows: rows[0].update(diameter_mm=9.9),
            r"lesion T1: non-nodal target lesion < 10 mm longest diameter.*RECIST 1.1 §3.1",
        ),
        (
            lambda rows: _nodes(rows, 0, 2) or rows[0].update(diameter_mm=14.9),
            r"lesion T1: target lymph node < 15 mm short axis.*RECIST 1.1 §3.1",
        ),
        (
            lambda rows: _nodes(rows, 1, 3) or rows[1].update(diameter_mm=9.0),
            r"lesion N1: non-target lymph node < 10 mm short axis",
        ),
        (
            lambda rows: rows[2].update(diameter_mm=None),
            r"lesion T1: target lesion without a measurement",
        ),
        (
            lambda rows: rows[2].update(status="too_small", diameter_mm=3.0),
            r"too_small target with a measured diameter other than 5 mm",
        ),
        (
            lambda rows: rows[2].update(status="absent", diameter_mm=4.0),
            r"absent target with a diameter > 0",
        ),
        (
            lambda rows: rows[2].update(status="NE", diameter_mm=4.0),
            r"target marked NE but measured",
        ),
        (
            lambda rows: rows[0].update(status="NE", diameter_mm=None),
            r"row 1: .*baseline target lesion not measured",
        ),
        (
            lambda rows: rows[2].update(assessment_date="2026-02-30"),
            r"row 3: .*assessment_date is not a date",
        ),
        (
            lambda rows: rows[2].update(is_lymph_node="maybe"),
            r"row 3: .*is_lymph_node is not true/false",
        ),
    ],
)
def test_bad_input_names_row_and_rule(change: object, message: str) -> None:
    rows = _valid()
    change(rows)  # type: ignore[operator]
    with pytest.raises(RuleInputError, match=message):
        _evaluate(rows)


def test_baseline_after_reference_date_is_refused() -> None:
    """The baseline scan must precede (or be on) the reference date (recist-1.1.md §1)."""
    rows = [_row("2026-01-05", "T1"), _row("2026-02-12", "T1", diameter=20.0)]
    with pytest.raises(RuleInputError, match="first assessment is after the reference date"):
        _evaluate(rows)


def test_more_than_five_targets_is_refused() -> None:
    """RECIST 1.1 §3.2: at most 5 target lesions in total."""
    organs = ["liver", "lung", "adrenal", "bone", "spleen", "kidney"]
    rows = [_row("2025-12-28", f"T{i}", organ=o) for i, o in enumerate(organs)]
    with pytest.raises(
        RuleInputError, match=r"lesion T5: target lesion beyond the 5 allowed .*RECIST 1.1 §3.2"
    ):
        _evaluate(rows)


def test_three_targets_in_one_organ_is_refused() -> None:
    """RECIST 1.1 §3.2: at most 2 targets per organ."""
    rows = [_row("2025-12-28", f"T{i}") for i in range(3)]
    with pytest.raises(
        RuleInputError, match=r"lesion T2: target lesion beyond the 2 allowed in this organ"
    ):
        _evaluate(rows)


def test_lymph_nodes_count_as_one_organ() -> None:
    """EORTC RECIST Q&A: nodes of different chains are one organ for the 2-per-organ rule."""
    rows = [
        _row("2025-12-28", f"T{i}", organ=chain, node=True, diameter=20.0)
        for i, chain in enumerate(["mediastinal", "para-aortic", "axillary"])
    ]
    with pytest.raises(
        RuleInputError, match="lesion T2: target lesion beyond the 2 allowed in this organ"
    ):
        _evaluate(rows)
    assert len(_evaluate(rows[:2]).best) == 1  # two nodes are allowed


def test_boundary_sizes_are_measurable() -> None:
    """RECIST 1.1 §3.1: exactly 10 mm (non-nodal) and 15 mm short axis (node) are measurable."""
    rows = [
        _row("2025-12-28", "T1", diameter=10.0),
        _row("2025-12-28", "T2", organ="node", node=True, diameter=15.0),
        _row("2025-12-28", "N1", "non_target", 10.0, organ="node", node=True),
    ]
    assert _evaluate(rows).best.loc[0, "baseline_sum_mm"] == 25.0


def test_missing_reference_date_names_subject() -> None:
    rows = _valid()
    with pytest.raises(RuleInputError, match=r"subject S1.*no reference"):
        evaluate(pd.DataFrame(rows), {"S2": "2026-01-01"})


def test_missing_columns_are_named() -> None:
    frame = pd.DataFrame(_valid()).drop(columns=["status", "organ"])
    with pytest.raises(RuleInputError, match=r"lacks column.*organ, status"):
        evaluate(frame, REF)


def test_unparseable_reference_date_is_refused() -> None:
    with pytest.raises(RuleInputError, match="subject S1: reference date 'soon' is not a date"):
        evaluate(pd.DataFrame(_valid()), {"S1": "soon"})


def test_negative_minimum_days_are_refused() -> None:
    with pytest.raises(RuleInputError, match="sd_min_days"):
        evaluate(pd.DataFrame(_valid()), REF, sd_min_days=-1)


def test_csv_status_na_is_unknown_not_missing(tmp_path: Path) -> None:
    """A CSV is read as text: 'NA' is not silently turned into a missing status."""
    frame = pd.DataFrame(_valid())
    frame.loc[3, "status"] = "NA"
    path = tmp_path / "lesions.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(RuleInputError, match=r"row 4: .*status not allowed"):
        evaluate(path, REF)


def test_csv_and_frame_give_the_same_result(tmp_path: Path) -> None:
    frame = pd.DataFrame(_valid())
    path = tmp_path / "lesions.csv"
    frame.to_csv(path, index=False)
    from_csv = evaluate(path, REF)
    from_frame = evaluate(frame, REF)
    pd.testing.assert_frame_equal(from_csv.timepoints, from_frame.timepoints)
    pd.testing.assert_frame_equal(from_csv.best, from_frame.best)


def test_reference_dates_as_dataframe_with_infusion_date() -> None:
    refs = pd.DataFrame({"subject_id": ["S1"], "infusion_date": [pd.Timestamp("2026-01-01")]})
    result = evaluate(pd.DataFrame(_valid()), refs)
    assert result.timepoints["day"].tolist() == [42]  # 2026-02-12 - 2026-01-01


def test_row_numbers_refer_to_the_callers_table() -> None:
    """Rows of a not-infused subject are set aside; messages still count rows of the input."""
    rows = [{**r, "subject_id": "S0"} for r in _valid()] + _valid()
    rows[6]["diameter_mm"] = -2.0
    with pytest.raises(RuleInputError, match=r"^row 7: subject S1, date 2026-02-12"):
        evaluate(pd.DataFrame(rows), {"S0": None, "S1": "2026-01-01"})
