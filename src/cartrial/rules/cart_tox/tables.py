"""CRS and ICANS grading of whole tables (one assessment per row) and per-subject courses.

The table forms behind ``cartrial grade crs|icans`` and the services: each row is parsed into a
:class:`~cartrial.rules.cart_tox.CRSAssessment` or :class:`~cartrial.rules.cart_tox.ICANSAssessment`
and graded; a malformed row is an error naming the row (the DataFrame index) and the field.

CRS columns: ``temperature_c`` (required), ``hypotension``, ``vasopressors`` (``;``-separated),
``oxygen``, ``oxygen_flow_l_min``, ``fio2_pct``, ``anti_cytokine_given``, ``fever_other_cause``,
``life_threatening``, ``death_due_to_crs``. ICANS columns: ``ice_score`` (blank = not
performable), ``unarousable``, ``consciousness``, ``seizure``, ``motor_weakness``,
``cerebral_edema``. Missing optional columns take the assessment defaults; other columns are
carried through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

import pandas as pd

from cartrial.errors import RuleInputError
from cartrial.rules.cart_tox.course import summarise_course
from cartrial.rules.cart_tox.crs import CRSAssessment, grade_crs
from cartrial.rules.cart_tox.icans import ICANSAssessment, ICEScore, grade_icans
from cartrial.rules.cart_tox.result import ToxGrade

__all__ = ["grade_crs_table", "grade_icans_table", "summarise_courses"]

_Row = Mapping[Hashable, object]
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0", ""}


def _text(row: _Row, field: str) -> str:
    value = row.get(field, "")
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _flag(row: _Row, field: str) -> bool:
    text = _text(row, field).strip().casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RuleInputError(f"field {field!r}: {_text(row, field)!r} is not true/false")


def _number(row: _Row, field: str) -> float | None:
    text = _text(row, field).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise RuleInputError(f"field {field!r}: {text!r} is not a number") from None


def _required_number(row: _Row, field: str) -> float:
    number = _number(row, field)
    if number is None:
        raise RuleInputError(f"field {field!r} is required")
    return number


def _crs_assessment(row: _Row) -> CRSAssessment:
    return CRSAssessment(
        temperature_c=_required_number(row, "temperature_c"),
        hypotension=_flag(row, "hypotension"),
        vasopressors=tuple(p.strip() for p in _text(row, "vasopressors").split(";") if p.strip()),
        oxygen=_text(row, "oxygen").strip() or "room_air",
        oxygen_flow_l_min=_number(row, "oxygen_flow_l_min"),
        fio2_pct=_number(row, "fio2_pct"),
        anti_cytokine_given=_flag(row, "anti_cytokine_given"),
        fever_other_cause=_flag(row, "fever_other_cause"),
        life_threatening=_flag(row, "life_threatening"),
        death_due_to_crs=_flag(row, "death_due_to_crs"),
    )


def _icans_assessment(row: _Row) -> ICANSAssessment:
    unarousable = _flag(row, "unarousable")
    score = _number(row, "ice_score")
    ice: ICEScore | int | None
    if unarousable:
        ice = ICEScore(0, unarousable=True)
    elif score is None:
        ice = None
    elif not score.is_integer():
        raise RuleInputError(f"field 'ice_score': {score:g} is not a whole number")
    else:
        ice = int(score)
    return ICANSAssessment(
        ice=ice,
        consciousness=_text(row, "consciousness").strip()
        or ("unarousable" if unarousable else "awake"),
        seizure=_text(row, "seizure").strip() or "none",
        motor_weakness=_flag(row, "motor_weakness"),
        cerebral_edema=_text(row, "cerebral_edema").strip() or "none",
    )


def _grade_rows(df: pd.DataFrame, grade_row: Callable[[_Row], ToxGrade]) -> pd.DataFrame:
    results: list[ToxGrade] = []
    for label, row in zip(df.index, df.to_dict("records"), strict=True):
        try:
            results.append(grade_row(row))
        except RuleInputError as exc:
            raise RuleInputError(f"row {label}: {exc}") from None
    out = df.copy()
    out["grade"] = [r.grade for r in results]
    out["driver"] = [r.driver for r in results]
    out["method"] = [r.method for r in results]
    out["needs_review"] = [r.needs_review for r in results]
    out["reason"] = [r.reason for r in results]
    return out


def grade_crs_table(df: pd.DataFrame, *, method: str = "astct") -> pd.DataFrame:
    """Grade every row as a CRS assessment (``method`` as in :func:`grade_crs`).

    Returns a copy of ``df`` with ``grade``, ``driver``, ``method``, ``needs_review``, ``reason``.

    Raises
    ------
    RuleInputError
        A missing ``temperature_c`` column, or a bad row (the message names row and field).
    """
    if "temperature_c" not in df.columns:
        raise RuleInputError("CRS table has no 'temperature_c' column")
    return _grade_rows(df, lambda row: grade_crs(_crs_assessment(row), method=method))


def grade_icans_table(df: pd.DataFrame) -> pd.DataFrame:
    """Grade every row as an ICANS assessment (ASTCT 2019); columns as :func:`grade_crs_table`."""
    if "ice_score" not in df.columns and "unarousable" not in df.columns:
        raise RuleInputError("ICANS table needs an 'ice_score' (or 'unarousable') column")
    return _grade_rows(df, lambda row: grade_icans(_icans_assessment(row)))


def summarise_courses(
    graded: pd.DataFrame, *, by: str = "subject_id", day: str = "day", grade: str = "grade"
) -> pd.DataFrame:
    """One row per subject: onset day, maximum grade, days at each grade, duration, resolution.

    Raises
    ------
    RuleInputError
        A missing column or a bad day (non-integer, before infusion), naming the row.
    """
    for col in (by, day, grade):
        if col not in graded.columns:
            raise RuleInputError(f"course summary needs a {col!r} column")
    rows = []
    for subject, group in graded.groupby(by, sort=True):
        days: list[int] = []
        for label, value in group[day].items():
            try:
                number = _required_number({day: value}, day)
            except RuleInputError as exc:
                raise RuleInputError(f"row {label}: {exc}") from None
            if not number.is_integer():
                raise RuleInputError(f"row {label}: field {day!r}: {value!r} is not a whole day")
            days.append(int(number))
        try:
            s = summarise_course(days, [int(g) for g in group[grade]])
        except RuleInputError as exc:
            raise RuleInputError(f"{by} {subject}: {exc}") from None
        rows.append(
            {
                by: subject,
                "onset_day": s.onset_day,
                "max_grade": s.max_grade,
                "max_grade_day": s.max_grade_day,
                **{f"days_grade_{k}": n for k, n in enumerate(s.days_at_grade, start=1)},
                "duration_days": s.duration_days,
                "resolution_day": s.resolution_day,
                "ongoing": s.ongoing,
            }
        )
    return pd.DataFrame(rows)
