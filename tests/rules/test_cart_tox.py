"""ASTCT 2019 CRS/ICANS grading, ICE score, CTCAE v5.0 CRS and daily courses.

Worked examples C1-C10 and N1-N8 come from tests/reference/cart_tox/*.csv (reference
cart-toxicity.md §1-2, Lee DW et al. Biol Blood Marrow Transplant 2019;25:625-638).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartrial.errors import RuleInputError
from cartrial.rules import cart_tox
from cartrial.rules.cart_tox import CRSAssessment, ICANSAssessment, ICEScore

REF = Path(__file__).parents[1] / "reference" / "cart_tox"
CRS = pd.read_csv(REF / "crs_examples.csv", comment="#", dtype={"vasopressors": str})
ICANS = pd.read_csv(REF / "icans_examples.csv", comment="#")


def _crs(row: pd.Series) -> CRSAssessment:
    pressors = "" if pd.isna(row["vasopressors"]) else row["vasopressors"]
    flow = row["oxygen_flow_l_min"]
    return CRSAssessment(
        temperature_c=float(row["temperature_c"]),
        hypotension=bool(row["hypotension"]),
        vasopressors=tuple(p for p in pressors.split(";") if p),
        oxygen=str(row["oxygen"]),
        oxygen_flow_l_min=None if pd.isna(flow) else float(flow),
        anti_cytokine_given=bool(row["anti_cytokine_given"]),
    )


@pytest.mark.parametrize("case", CRS.to_dict("records"), ids=list(CRS["case"]))
def test_crs_worked_examples(case: dict[str, object]) -> None:
    result = cart_tox.grade_crs(_crs(pd.Series(case)))
    assert result.grade == case["expected_grade"]
    assert result.driver == case["expected_driver"]
    assert result.needs_review is bool(case["needs_review"])
    assert result.method == "astct"


def test_c10_says_why_it_is_not_crs() -> None:
    c10 = _crs(CRS.set_index("case").loc["C10"])
    result = cart_tox.grade_crs(c10)
    assert "not CRS by ASTCT 2019" in result.reason


def test_crs_rules_beyond_the_examples() -> None:
    # ASTCT rule 5: fever alone is grade 1 regardless of temperature
    assert cart_tox.grade_crs(CRSAssessment(temperature_c=41.5)).grade == 1
    # nasal cannula at exactly 6 L/min is still low-flow (<= 6 L/min): grade 2
    low = CRSAssessment(temperature_c=38.5, oxygen="nasal_cannula", oxygen_flow_l_min=6.0)
    assert cart_tox.grade_crs(low).grade == 2
    high = CRSAssessment(temperature_c=38.5, oxygen="nasal_cannula", oxygen_flow_l_min=6.5)
    assert cart_tox.grade_crs(high).grade == 3
    # vasopressin alone is one vasopressor: grade 3
    vaso = CRSAssessment(temperature_c=38.5, vasopressors=("vasopressin",))
    assert cart_tox.grade_crs(vaso).grade == 3
    # fever from a documented infection is not CRS fever
    other = CRSAssessment(temperature_c=39.0, fever_other_cause=True)
    assert cart_tox.grade_crs(other).grade == 0
    # ties name both parameters: one vasopressor and high-flow oxygen are both grade 3
    both = CRSAssessment(
        temperature_c=39, vasopressors=("norepinephrine",), oxygen="non_rebreather"
    )
    assert cart_tox.grade_crs(both).driver == "hypotension and hypoxia"
    assert cart_tox.grade_crs(CRSAssessment(temperature_c=39, death_due_to_crs=True)).grade == 5
    # after anti-cytokine therapy with no fever and no organ support: no CRS criterion met
    treated = CRSAssessment(temperature_c=37.0, anti_cytokine_given=True)
    assert cart_tox.grade_crs(treated).grade == 0


@pytest.mark.parametrize(
    ("assessment", "grade", "driver"),
    [
        # CTCAE v5.0 CRS (ctcae-5.0.md §3): fever -> 1
        (CRSAssessment(temperature_c=38.4), 1, "fever"),
        # hypotension responding to fluids -> 2 (no fever requirement in the CTCAE table)
        (CRSAssessment(temperature_c=37.4, hypotension=True), 2, "hypotension"),
        # hypoxia responding to < 40 % O2 -> 2; requiring >= 40 % -> 3
        (CRSAssessment(temperature_c=38.4, oxygen="facemask", fio2_pct=35), 2, "hypoxia"),
        (CRSAssessment(temperature_c=38.4, oxygen="facemask", fio2_pct=40), 3, "hypoxia"),
        # one pressor -> 3
        (CRSAssessment(temperature_c=39, vasopressors=("norepinephrine",)), 3, "hypotension"),
        # life-threatening -> 4
        (CRSAssessment(temperature_c=39, life_threatening=True), 4, "life_threatening"),
        (CRSAssessment(temperature_c=39, oxygen="mechanical_ventilation"), 4, "hypoxia"),
    ],
)
def test_ctcae_crs_method(assessment: CRSAssessment, grade: int, driver: str) -> None:
    result = cart_tox.grade_crs(assessment, method="ctcae")
    assert (result.grade, result.driver, result.method) == (grade, driver, "ctcae")


def test_crs_bad_input() -> None:
    with pytest.raises(RuleInputError, match="method must be 'astct' or 'ctcae'"):
        cart_tox.grade_crs(CRSAssessment(temperature_c=38), method="lee")
    with pytest.raises(RuleInputError, match="unknown oxygen support 'helmet'"):
        cart_tox.grade_crs(CRSAssessment(temperature_c=38, oxygen="helmet"))
    with pytest.raises(RuleInputError, match="oxygen_flow_l_min is required"):
        cart_tox.grade_crs(CRSAssessment(temperature_c=38, oxygen="nasal_cannula"))
    with pytest.raises(RuleInputError, match="not a body temperature"):
        cart_tox.grade_crs(CRSAssessment(temperature_c=101.3))
    with pytest.raises(RuleInputError, match="fio2_pct is required"):
        cart_tox.grade_crs(CRSAssessment(temperature_c=38, oxygen="facemask"), method="ctcae")


# ----- ICE and ICANS ---------------------------------------------------------------------------


def test_ice_score_counts_the_ten_items() -> None:
    items = dict.fromkeys(cart_tox.ICE_ITEMS, True)
    assert cart_tox.ice_score(**items) == ICEScore(10)
    items.update(year=False, hospital=False, writes_sentence=False)
    assert cart_tox.ice_score(**items).score == 7  # 4 + 3 + 1 + 1 + 1 = 10 items, 3 failed
    none = dict.fromkeys(cart_tox.ICE_ITEMS, False)
    assert cart_tox.ice_score(**none, unarousable=True) == ICEScore(0, unarousable=True)
    with pytest.raises(RuleInputError, match="unarousable patient cannot score"):
        cart_tox.ice_score(**items, unarousable=True)


def _icans(row: pd.Series) -> ICANSAssessment:
    ice: ICEScore | int = (
        ICEScore(0, unarousable=True) if bool(row["unarousable"]) else int(row["ice_score"])
    )
    return ICANSAssessment(
        ice=ice,
        consciousness=str(row["consciousness"]),
        seizure=str(row["seizure"]),
        motor_weakness=bool(row["motor_weakness"]),
        cerebral_edema=str(row["cerebral_edema"]),
    )


@pytest.mark.parametrize("case", ICANS.to_dict("records"), ids=list(ICANS["case"]))
def test_icans_worked_examples(case: dict[str, object]) -> None:
    result = cart_tox.grade_icans(_icans(pd.Series(case)))
    assert (result.grade, result.driver) == (case["expected_grade"], case["expected_driver"])


@pytest.mark.parametrize(
    ("ice", "grade"),
    [(10, 0), (9, 1), (7, 1), (6, 2), (3, 2), (2, 3), (0, 3)],  # ASTCT ICE bands (§2.2)
)
def test_ice_bands(ice: int, grade: int) -> None:
    assert cart_tox.grade_icans(ICANSAssessment(ice=ice)).grade == grade


def test_ice_zero_awake_is_3_but_unarousable_is_4() -> None:
    # cart-toxicity.md §2 notes: global aphasia (awake, ICE 0) = 3; unarousable = 4
    assert cart_tox.grade_icans(ICANSAssessment(ice=0)).grade == 3
    assert cart_tox.grade_icans(ICANSAssessment(ice=ICEScore(0, unarousable=True))).grade == 4
    assert cart_tox.grade_icans(ICANSAssessment(ice=None, consciousness="unarousable")).grade == 4
    assert cart_tox.grade_icans(ICANSAssessment(ice=10, motor_weakness=True)).grade == 4


def test_icans_bad_input() -> None:
    with pytest.raises(RuleInputError, match="ICE score is required"):
        cart_tox.grade_icans(ICANSAssessment(ice=None))
    with pytest.raises(RuleInputError, match="ICE score must be an integer 0-10"):
        cart_tox.grade_icans(ICANSAssessment(ice=11))
    with pytest.raises(RuleInputError, match="unknown seizure 'fit'"):
        cart_tox.grade_icans(ICANSAssessment(ice=10, seizure="fit"))


# ----- daily course ----------------------------------------------------------------------------


def test_course_summary() -> None:
    # daily maximum grades, days from infusion: CRS from day 2 to day 6, peak grade 3 on day 4
    days = [0, 1, 2, 3, 3, 4, 5, 6, 7, 8]
    grades = [0, 0, 1, 2, 1, 3, 2, 1, 0, 0]
    s = cart_tox.summarise_course(days, grades)
    assert s.onset_day == 2
    assert (s.max_grade, s.max_grade_day) == (3, 4)
    assert s.days_at_grade == (2, 2, 1, 0, 0)  # day 3 counts once, at its daily maximum 2
    assert s.duration_days == 5  # days 2-6 inclusive
    assert (s.resolution_day, s.ongoing) == (7, False)


def test_course_without_event_and_ongoing_course() -> None:
    quiet = cart_tox.summarise_course([0, 1, 2], [0, 0, 0])
    assert (quiet.onset_day, quiet.max_grade, quiet.duration_days) == (None, 0, 0)
    ongoing = cart_tox.summarise_course([3, 1, 2], [2, 0, 1])  # order does not matter
    assert (ongoing.onset_day, ongoing.duration_days, ongoing.ongoing) == (2, 2, True)


def test_course_bad_input() -> None:
    with pytest.raises(RuleInputError, match="assessment 2: day -1 is before infusion"):
        cart_tox.summarise_course([0, -1], [0, 1])
    with pytest.raises(RuleInputError, match="assessment 1 \\(day 0\\): grade 7"):
        cart_tox.summarise_course([0], [7])
    with pytest.raises(RuleInputError, match="2 days but 1 grades"):
        cart_tox.summarise_course([0, 1], [0])


# ----- table forms (behind `cartrial grade crs|icans`) -----------------------------------------


def test_table_graders_name_row_and_field() -> None:
    crs = pd.DataFrame({"temperature_c": ["38.5", "39"], "hypotension": ["no", "perhaps"]})
    crs.index = pd.RangeIndex(1, 3)
    with pytest.raises(RuleInputError, match="row 2: field 'hypotension': 'perhaps' is not"):
        cart_tox.grade_crs_table(crs)
    with pytest.raises(RuleInputError, match="no 'temperature_c' column"):
        cart_tox.grade_crs_table(pd.DataFrame({"oxygen": ["room_air"]}))
    icans = pd.DataFrame({"ice_score": ["7.5"]})
    with pytest.raises(RuleInputError, match=r"row 0: field 'ice_score': 7\.5 is not a whole"):
        cart_tox.grade_icans_table(icans)
    graded = pd.DataFrame({"subject_id": ["S1", "S1"], "day": ["1", "x"], "grade": [1, 0]})
    with pytest.raises(RuleInputError, match="row 1: field 'day': 'x' is not a number"):
        cart_tox.summarise_courses(graded)


def test_table_graders_match_the_single_assessment_graders() -> None:
    # the worked-example table graded as a table gives the same grades as row by row (C1-C10)
    table = cart_tox.grade_crs_table(CRS.astype(str).replace("nan", ""))
    assert table["grade"].tolist() == CRS["expected_grade"].tolist()
    icans = cart_tox.grade_icans_table(ICANS.astype(str).replace("nan", ""))
    assert icans["grade"].tolist() == ICANS["expected_grade"].tolist()


# ----- properties: more organ support or worse neurology never lowers the grade ---------------

_SUPPORT = ["room_air", "blow_by", "high_flow_nasal_cannula", "bipap"]  # ASTCT hypoxia order
_PRESSORS = [(), ("norepinephrine",), ("norepinephrine", "phenylephrine")]  # 0, 1, >= 2


@settings(max_examples=200, deadline=None)
@given(
    temperature=st.floats(36.0, 41.5),
    treated=st.booleans(),
    oxygen=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    pressors=st.tuples(st.integers(0, 2), st.integers(0, 2)),
)
def test_more_support_never_lowers_the_crs_grade(
    temperature: float,
    treated: bool,
    oxygen: tuple[int, int],
    pressors: tuple[int, int],
) -> None:
    # ASTCT 2019: the grade is the more severe of the hypotension and hypoxia rows
    (o1, o2), (p1, p2) = sorted(oxygen), sorted(pressors)

    def grade(o: int, p: int) -> int:
        a = CRSAssessment(
            temperature_c=temperature,
            vasopressors=_PRESSORS[p],
            oxygen=_SUPPORT[o],
            anti_cytokine_given=treated,
        )
        return cart_tox.grade_crs(a).grade

    assert grade(o2, p2) >= grade(o1, p1)


@settings(max_examples=200, deadline=None)
@given(
    ices=st.tuples(st.integers(0, 10), st.integers(0, 10)),
    consciousness=st.sampled_from(list(cart_tox.CONSCIOUSNESS)[:-1]),
    seizure=st.sampled_from(list(cart_tox.SEIZURE)),
)
def test_lower_ice_never_lowers_the_icans_grade(
    ices: tuple[int, int], consciousness: str, seizure: str
) -> None:
    low, high = sorted(ices)
    worse = ICANSAssessment(ice=low, consciousness=consciousness, seizure=seizure)
    better = ICANSAssessment(ice=high, consciousness=consciousness, seizure=seizure)
    assert cart_tox.grade_icans(worse).grade >= cart_tox.grade_icans(better).grade
