"""The public API of the CTCAE, CAR-T toxicity and DLT engines does not drift.

Each name below is used by other parts of cartrial (contracts.md "Rules"): removing or renaming
one must be a deliberate change of this list.
"""

from __future__ import annotations

import pytest

from cartrial import rules
from cartrial.rules import cart_tox, ctcae, dlt

EXPECTED = {
    ctcae: {
        "CLINICAL", "CTCAE_VERSION", "NO_CRITERION", "LabCriterion", "LabGrade", "LabTerm",
        "LabTest", "TermInfo", "accepted_units", "catalogue", "check_grade", "grade_lab",
        "grade_labs", "is_valid_grade", "lab_criteria", "lab_term", "lab_tests",
        "term_for_testcd", "term_info", "unit_factor",
    },
    cart_tox: {
        "CEREBRAL_EDEMA", "CONSCIOUSNESS", "FEVER_C", "ICE_ITEMS", "OXYGEN_DEVICES", "SEIZURE",
        "CRSAssessment", "CourseSummary", "ICANSAssessment", "ICEScore", "Method", "ToxGrade",
        "grade_crs", "grade_crs_table", "grade_icans", "grade_icans_table", "ice_score",
        "summarise_course", "summarise_courses",
    },
    dlt: {"AdverseEvent", "DLTAdjudication", "EventAdjudication", "Status", "adjudicate"},
}  # fmt: skip


@pytest.mark.parametrize("module", list(EXPECTED), ids=lambda m: m.__name__)
def test_all_is_exactly_the_public_api(module: object) -> None:
    names = set(module.__all__)  # type: ignore[attr-defined]
    assert names == EXPECTED[module]  # type: ignore[index]
    for name in names:
        assert hasattr(module, name), name


def test_rules_package_exports_the_engines() -> None:
    assert {"ctcae", "cart_tox", "dlt", "recist"} <= set(rules.__all__)
