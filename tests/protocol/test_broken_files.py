"""Every broken protocol file in ``tests/protocol/broken/`` is rejected with the right message.

Each case names the YAML path, the line and a phrase of the message that the user must see; the
files are the packaged study protocol with one deliberate fault (see the file name).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cartrial.errors import ProtocolError
from cartrial.protocol import load_protocol

BROKEN = Path(__file__).parent / "broken"

# file stem -> (YAML path, 1-based line, phrase of the message)
EXPECTED: dict[str, tuple[str, int, str]] = {
    "unknown_key": ("eligibility.ecog_maximum", 33, "unknown key"),
    "wrong_type_string_number": ("escalation.planned_subjects", 89, "valid integer, got '9'"),
    "negative_cohort_size": ("escalation.cohort_size", 91, "greater than 0"),
    "dlt_window_longer_than_follow_up": ("dlt.window_days", 118, "longer than follow-up"),
    "visit_outside_study": ("schedule.visits[12].day", 282, "lies outside the study"),
    "unknown_dose_unit": ("treatment.dose_levels[1].unit", 68, "got 'cells per bag'"),
    "duplicate_dose_level_name": ("treatment.dose_levels[2].name", 73, "duplicate dose-level"),
    "endpoint_unknown_population": ("endpoints[1].population", 350, "unknown population"),
    "missing_section": ("toxicity_grading", 6, "missing required field"),
    "unknown_start_dose": ("escalation.start_dose", 92, "unknown dose level 'DL5'"),
    "target_out_of_range": ("escalation.target_dlt_rate", 93, "less than 1"),
    "unknown_design": ("escalation.design.name", 95, "got '4+4'"),
    "dose_levels_not_increasing": ("treatment.dose_levels[2].cells", 74, "must increase"),
    "lymphodepletion_after_infusion": ("treatment.lymphodepletion[0]", 46, "before infusion"),
    "grade_out_of_range": ("dlt.criteria[0].min_grade", 123, "less than or equal to 5"),
    "improvement_without_window": ("dlt.criteria[2]", 129, "must be given together"),
    "duplicate_key": ("escalation.cohort_size", 92, "duplicate key"),
    "unknown_assessment": ("schedule.visits[12].assessments[1]", 285, "got 'mri'"),
    "ages_reversed": ("eligibility", 21, "age_min 80 is above age_max 75"),
    "futility_p1_below_p0": ("expansion.futility.p1", 113, "must exceed p0"),
    "recurring_ends_before_start": ("schedule.recurring[3]", 317, "before from_day"),
    "bool_as_number": ("treatment.infusions", 55, "valid integer, got True"),
    "design_bad_parameter": ("escalation.design.params", 96, "strictly between 0 and 1"),
    "design_unknown_parameter": ("escalation.design.params", 96, "cohort_sise"),
    "design_unknown_tite_scheme": ("escalation.design.params", 96, "scheme must be one of"),
    "not_yaml": ("", 2, "not valid YAML"),
    "not_a_mapping": ("", 1, "must be a mapping"),
}


def test_every_broken_file_has_an_expectation() -> None:
    assert sorted(p.stem for p in BROKEN.glob("*.yaml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 15


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_broken_file_is_rejected_with_path_line_and_message(stem: str) -> None:
    path, line, phrase = EXPECTED[stem]
    file = BROKEN / f"{stem}.yaml"
    with pytest.raises(ProtocolError) as caught:
        load_protocol(file)
    error = caught.value
    assert error.source == str(file)
    matches = [i for i in error.issues if i[0] == path and phrase in i[2]]
    assert matches, f"no issue at {path!r} containing {phrase!r}; got {error.issues}"
    assert matches[0][1] == line
    assert str(file) in str(error) and phrase in str(error)


def test_all_errors_are_listed_not_just_the_first(tmp_path: Path) -> None:
    text = (BROKEN / "unknown_key.yaml").read_text()
    text = text.replace("  cohort_size: 3\n", "  cohort_size: 0\n").replace(
        "  start_dose: DL1\n", "  start_dose: 7\n"
    )
    file = tmp_path / "two.yaml"
    file.write_text(text)
    with pytest.raises(ProtocolError) as caught:
        load_protocol(file)
    paths = {issue[0] for issue in caught.value.issues}
    assert {"eligibility.ecog_maximum", "escalation.cohort_size", "escalation.start_dose"} <= paths


def test_unreadable_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ProtocolError, match=r"nope\.yaml"):
        load_protocol(missing)
