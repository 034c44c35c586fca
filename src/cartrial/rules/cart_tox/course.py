"""A daily course of CRS or ICANS grades summarised as one event.

ASTCT 2019 recommends grading daily and deriving the event from the daily maximum grade: onset
(first day with grade >= 1), maximum grade, days at each grade and duration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cartrial.errors import RuleInputError

__all__ = ["CourseSummary", "summarise_course"]


@dataclass(frozen=True)
class CourseSummary:
    """Event-level summary of a daily course.

    Attributes
    ----------
    onset_day : int or None
        First day (days from infusion) with grade >= 1; None when the course never reached 1.
    max_grade : int
        Highest daily grade.
    max_grade_day : int or None
        First day at ``max_grade``.
    days_at_grade : tuple of int
        Observed days at grade 1, 2, 3, 4, 5 (index 0 = grade 1).
    duration_days : int
        Days from onset to the last day with grade >= 1, inclusive (0 when no event).
    resolution_day : int or None
        First observed day with grade 0 after the last day with grade >= 1; None if ongoing.
    ongoing : bool
        The last observed day still has grade >= 1.
    """

    onset_day: int | None
    max_grade: int
    max_grade_day: int | None
    days_at_grade: tuple[int, int, int, int, int]
    duration_days: int
    resolution_day: int | None
    ongoing: bool


def summarise_course(days: Sequence[int], grades: Sequence[int]) -> CourseSummary:
    """Summarise daily grades (several assessments on one day: the daily maximum counts).

    Parameters
    ----------
    days : sequence of int
        Day of each assessment, days from infusion (day 0 = infusion; must be >= 0).
    grades : sequence of int
        Grade (0-5) of each assessment.

    Raises
    ------
    RuleInputError
        Unequal lengths, a day before infusion or a grade outside 0-5 (naming the position).
    """
    if len(days) != len(grades):
        raise RuleInputError(f"{len(days)} days but {len(grades)} grades")
    daily: dict[int, int] = {}
    for i, (day, grade) in enumerate(zip(days, grades, strict=True)):
        if day < 0:
            raise RuleInputError(f"assessment {i + 1}: day {day} is before infusion")
        if isinstance(grade, bool) or grade not in range(6):
            raise RuleInputError(f"assessment {i + 1} (day {day}): grade {grade!r} is not 0-5")
        daily[day] = max(grade, daily.get(day, 0))
    ordered = sorted(daily.items())
    positive = [d for d, g in ordered if g >= 1]
    counts = tuple(sum(1 for _, g in ordered if g == k) for k in range(1, 6))
    if not positive:
        return CourseSummary(None, 0, None, (0, 0, 0, 0, 0), 0, None, False)
    onset, last = positive[0], positive[-1]
    max_grade = max(daily.values())
    max_day = next(d for d, g in ordered if g == max_grade)
    resolution = next((d for d, g in ordered if d > last and g == 0), None)
    return CourseSummary(
        onset_day=onset,
        max_grade=max_grade,
        max_grade_day=max_day,
        days_at_grade=(counts[0], counts[1], counts[2], counts[3], counts[4]),
        duration_days=last - onset + 1,
        resolution_day=resolution,
        ongoing=resolution is None,
    )
