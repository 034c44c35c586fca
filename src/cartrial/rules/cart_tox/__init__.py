"""CAR-T toxicities: ASTCT 2019 CRS and ICANS grading, the ICE score, daily courses.

CRS is graded with ASTCT 2019 (default) or CTCAE v5.0 (``method="ctcae"``); ICANS with ASTCT
2019. Every grade names the parameter that drove it.
"""

from __future__ import annotations

from cartrial.rules.cart_tox.course import CourseSummary, summarise_course
from cartrial.rules.cart_tox.crs import FEVER_C, OXYGEN_DEVICES, CRSAssessment, grade_crs
from cartrial.rules.cart_tox.icans import (
    CEREBRAL_EDEMA,
    CONSCIOUSNESS,
    ICE_ITEMS,
    SEIZURE,
    ICANSAssessment,
    ICEScore,
    grade_icans,
    ice_score,
)
from cartrial.rules.cart_tox.result import Method, ToxGrade
from cartrial.rules.cart_tox.tables import grade_crs_table, grade_icans_table, summarise_courses

__all__ = [
    "CEREBRAL_EDEMA",
    "CONSCIOUSNESS",
    "FEVER_C",
    "ICE_ITEMS",
    "OXYGEN_DEVICES",
    "SEIZURE",
    "CRSAssessment",
    "CourseSummary",
    "ICANSAssessment",
    "ICEScore",
    "Method",
    "ToxGrade",
    "grade_crs",
    "grade_crs_table",
    "grade_icans",
    "grade_icans_table",
    "ice_score",
    "summarise_course",
    "summarise_courses",
]
