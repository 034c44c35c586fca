"""DLT adjudication against the protocol's DLT definition.

Rules under test: the packaged protocol's ``dlt`` section (src/cartrial/protocols/
cldn18-pdl1-cart.yaml), which encodes the typical CAR-T DLT definition of reference
cart-toxicity.md §3 (window 28 days, at least possibly related, CRS grade 4 / grade 3 not
improving within 72 h, ICANS, grade >= 3 non-haematological > 72 h, grade 4 cytopenia beyond
day 28, the listed exclusions) and §4 (CLDN18.2 gastric mucosal injury). Expected decisions are
worked by hand from those rules; each test says which rule applies.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartrial.errors import RuleInputError
from cartrial.protocol import DLTDefinition, load_protocol
from cartrial.rules import ctcae, dlt
from cartrial.rules.dlt import AdverseEvent

DEFINITION = load_protocol().dlt
INFUSION = datetime(2026, 3, 2, 10, 0)


def at(day: float) -> datetime:
    """Study day (fractional) after the infusion time."""
    return INFUSION + timedelta(days=day)


def ae(
    term: str,
    course: list[tuple[datetime | date, int]],
    attribution: str = "possible",
    cause: str | None = None,
    ae_id: str = "1",
) -> AdverseEvent:
    return AdverseEvent(ae_id, term, tuple(course), attribution, cause)


def decide(event: AdverseEvent, **kwargs: object) -> dlt.EventAdjudication:
    result = dlt.adjudicate(DEFINITION, [event], INFUSION, **kwargs)  # type: ignore[arg-type]
    (only,) = result.per_event
    assert result.is_dlt is only.is_dlt
    return only


CRS = "Cytokine release syndrome"
ICANS = "Immune effector cell-associated neurotoxicity syndrome"
NEUT = "Neutrophil count decreased"


def test_crs_grade_4_is_a_dlt() -> None:
    d = decide(ae(CRS, [(at(2), 2), (at(3), 4), (at(6), 0)]))
    assert (d.status, d.rule_id) == ("dlt", "criterion:crs_grade4")


def test_crs_grade_3_improving_within_72h_is_not_a_dlt() -> None:
    # grade 3 at day 3, grade 2 48 h later: crs_grade3_not_improving does not fire, and
    # non_hematologic_grade3 excludes CRS -> no criterion
    d = decide(ae(CRS, [(at(2), 1), (at(3), 3), (at(5), 2), (at(7), 0)]))
    assert (d.status, d.rule_id) == ("not_dlt", "no_criterion")


def test_crs_grade_3_not_improving_within_72h_is_a_dlt() -> None:
    d = decide(ae(CRS, [(at(2), 1), (at(3), 3), (at(6.5), 2), (at(8), 0)]))  # 84 h at grade 3
    assert (d.status, d.rule_id) == ("dlt", "criterion:crs_grade3_not_improving")


def test_crs_from_max_grade_resolving_in_50h() -> None:
    # only max grade, onset, resolution: grade 3 held until resolution after 50 h (< 72 h)
    event = AdverseEvent.from_max_grade("7", CRS, 3, at(2), at(2) + timedelta(hours=50), "probable")
    assert decide(event).status == "not_dlt"


def test_from_max_grade_with_dates_only() -> None:
    # onset and resolution on the same date: the resolution counts at the end of that day
    same_day = AdverseEvent.from_max_grade(
        "8", "Nausea", 2, date(2026, 3, 4), date(2026, 3, 4), "possible"
    )
    assert decide(same_day).rule_id == "no_criterion"
    # grade 3 ALT from 4 March to (end of) 6 March = 72 h: not > 72 h, no DLT (cart-toxicity §3)
    alt = "Alanine aminotransferase increased"
    short = AdverseEvent.from_max_grade("9", alt, 3, date(2026, 3, 4), date(2026, 3, 6), "possible")
    assert decide(short).status == "not_dlt"
    long = AdverseEvent.from_max_grade("9", alt, 3, date(2026, 3, 4), date(2026, 3, 7), "possible")
    assert decide(long).rule_id == "criterion:non_hematologic_grade3"


def test_icans_grade_3_not_resolving_to_1_within_72h() -> None:
    d = decide(ae(ICANS, [(at(5), 3), (at(7), 2), (at(10), 0)]))  # grade 2 is not <= 1
    assert (d.status, d.rule_id) == ("dlt", "criterion:icans_grade3_not_resolving")
    assert decide(ae(ICANS, [(at(5), 3), (at(7), 1), (at(9), 0)])).status == "not_dlt"


def test_cldn18_gastric_mucosal_injury() -> None:
    # cart-toxicity.md §4: grade >= 3 gastric haemorrhage related to CAR-T is a DLT
    d = decide(ae("Gastric hemorrhage", [(at(12), 3), (at(15), 1), (at(20), 0)]))
    assert (d.status, d.rule_id) == ("dlt", "criterion:gastric_mucosal_injury")
    assert decide(ae("Gastric perforation", [(at(14), 4)])).is_dlt
    assert decide(ae("Gastritis", [(at(14), 2), (at(20), 0)])).rule_id == "no_criterion"


def test_lymphodepletion_cytopenia_recovering_by_day_28_is_excluded() -> None:
    course = [(at(1), 4), (at(18), 2), (at(24), 0)]
    d = decide(ae(NEUT, course))
    assert (d.status, d.rule_id) == ("not_dlt", "exclusion:lymphodepletion_cytopenia")


def test_grade_4_neutropenia_persisting_beyond_day_28_is_a_dlt() -> None:
    d = decide(ae(NEUT, [(at(1), 4), (at(35), 2)]))
    assert (d.status, d.rule_id) == ("dlt", "criterion:cytopenia_grade4_persisting")
    # grade 3 at the end of day 28: neither recovered to <= 2 nor grade 4 -> no DLT
    d = decide(ae(NEUT, [(at(1), 4), (at(20), 3), (at(35), 2)]))
    assert (d.status, d.rule_id) == ("not_dlt", "no_criterion")


def test_cytopenia_is_pending_before_day_28() -> None:
    event = ae(NEUT, [(at(1), 4)])
    d = decide(event, as_of=at(14))
    assert d.status == "pending"
    assert d.rule_id == "criterion:cytopenia_grade4_persisting"
    result = dlt.adjudicate(DEFINITION, [event], INFUSION, as_of=at(14))
    assert (result.is_dlt, result.pending) == (False, True)
    # with complete data (as_of=None) the unresolved event is ongoing past day 28
    d = decide(event)
    assert d.is_dlt and "ongoing" in d.reason


def test_lymphopenia_and_grade_3_fever_are_excluded() -> None:
    lymph = decide(ae("Lymphocyte count decreased", [(at(0), 4)]))
    # ongoing grade 4 at day 28: lymphodepletion_cytopenia does not exempt it, lymphopenia does
    assert lymph.rule_id == "exclusion:lymphopenia"
    fever = decide(ae("Fever", [(at(1), 3), (at(6), 0)]))
    assert (fever.status, fever.rule_id) == ("not_dlt", "exclusion:fever_grade3")


def test_gi_symptoms_controlled_within_72h_are_excluded() -> None:
    quick = decide(ae("Vomiting", [(at(3), 3), (at(4), 1), (at(5), 0)]))
    assert quick.rule_id == "exclusion:gi_symptoms_controlled"
    slow = decide(ae("Vomiting", [(at(3), 3), (at(7), 1), (at(9), 0)]))  # 96 h at grade 3
    assert (slow.status, slow.rule_id) == ("dlt", "criterion:non_hematologic_grade3")


def test_non_hematologic_grade_3_duration() -> None:
    alt = "Alanine aminotransferase increased"
    assert decide(ae(alt, [(at(4), 3), (at(6), 1), (at(9), 0)])).status == "not_dlt"  # 48 h
    d = decide(ae(alt, [(at(4), 3), (at(8), 1), (at(9), 0)]))  # 96 h
    assert (d.status, d.rule_id) == ("dlt", "criterion:non_hematologic_grade3")


def test_window_and_attribution() -> None:
    late = decide(ae("Gastric ulcer", [(at(29), 3)]))
    assert (late.status, late.rule_id, late.onset_day) == ("not_dlt", "window", 29)
    early = decide(ae("Gastric ulcer", [(at(-2), 3)]))
    assert (early.rule_id, early.onset_day) == ("window", -2)
    on_day_28 = decide(ae("Gastric ulcer", [(datetime(2026, 3, 30, 23, 0), 3)]))
    assert on_day_28.is_dlt  # calendar day 28 is inside the window
    unlikely = decide(ae("Gastric ulcer", [(at(10), 3)], attribution="unlikely"))
    assert (unlikely.status, unlikely.rule_id) == ("not_dlt", "attribution")


def test_death_not_due_to_progression() -> None:
    assert decide(ae("Sudden death NOS", [(at(9), 5)])).rule_id == "criterion:death"
    progression = decide(ae("Disease progression", [(at(9), 5)], cause="disease_progression"))
    assert (progression.status, progression.rule_id) == ("not_dlt", "exclusion:other_cause")


def test_subject_level_result_names_the_earliest_dlt() -> None:
    events = [
        ae("Fever", [(at(1), 3), (at(2), 0)], ae_id="A"),
        ae("Gastric hemorrhage", [(at(16), 3)], ae_id="B"),
        ae(CRS, [(at(3), 4), (at(5), 0)], ae_id="C"),
    ]
    result = dlt.adjudicate(DEFINITION, events, INFUSION, subject_id="101-003")
    assert result.is_dlt and result.rule_id == "criterion:crs_grade4"
    assert [d.ae_id for d in result.per_event] == ["A", "B", "C"]
    assert [d.status for d in result.per_event] == ["not_dlt", "dlt", "dlt"]
    assert "AE C" in result.reason
    empty = dlt.adjudicate(DEFINITION, [], date(2026, 3, 2))
    assert (empty.is_dlt, empty.rule_id, empty.pending) == (False, None, False)


def test_as_of_date_means_end_of_that_day() -> None:
    # grade 3 CRS from day 3 (5 March) 10:00; its 72 h end on 8 March 10:00
    event = ae(CRS, [(at(3), 3)])
    assert decide(event, as_of=date(2026, 3, 7)).status == "pending"  # known to 8 Mar 00:00
    assert decide(event, as_of=date(2026, 3, 8)).status == "dlt"  # known to 9 Mar 00:00


# ----- definitions written for these tests (brief: CRS exclusion, SOC and category rules) -----

CUSTOM = DLTDefinition(
    window_days=28,
    min_attribution="probable",
    criteria=(
        {
            "id": "heme_g4",
            "description": "grade 4 haematological",
            "category": "hematologic",
            "min_grade": 4,
        },
        {
            "id": "cardiac_g2",
            "description": "grade >= 2 cardiac",
            "socs": ("Cardiac disorders",),
            "min_grade": 2,
        },
        {
            "id": "any_g3",
            "description": "grade >= 3 non-haematological",
            "category": "non_hematologic",
            "min_grade": 3,
        },
    ),
    exclusions=(
        {
            "id": "crs_g3_improving",
            "description": "grade 3 CRS improving to <= 2 within 72 h",
            "terms": (CRS,),
            "min_grade": 3,
            "max_grade": 3,
            "resolved_to_grade": 2,
            "within_hours": 72,
        },
    ),
)  # type: ignore[arg-type]


def test_custom_crs_exclusion_and_selectors() -> None:
    def one(event: AdverseEvent) -> dlt.EventAdjudication:
        return dlt.adjudicate(CUSTOM, [event], INFUSION).per_event[0]

    improving = ae(CRS, [(at(2), 3), (at(4), 2)], attribution="definite")
    assert one(improving).rule_id == "exclusion:crs_g3_improving"
    slow = ae(CRS, [(at(2), 3), (at(6), 2)], attribution="definite")
    assert one(slow).rule_id == "criterion:any_g3"
    assert one(ae("Sinus tachycardia", [(at(1), 2)], "probable")).rule_id == "criterion:cardiac_g2"
    assert one(ae(NEUT, [(at(1), 4)], "definite")).rule_id == "criterion:heme_g4"
    assert one(ae(NEUT, [(at(1), 4)], "possible")).rule_id == "attribution"  # below probable


# ----- bad input names subject, AE and rule ----------------------------------------------------


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (ae("Nausea", [(at(1), 4)]), r"subject S9, AE 1: grade 4 is impossible for 'Nausea'"),
        (ae("Stomach ache", [(at(1), 2)]), r"subject S9, AE 1: unknown CTCAE"),
        (ae("Nausea", [(at(3), 2), (at(1), 0)]), r"AE 1: grade changes must be in increasing"),
        (ae("Nausea", [(at(1), 0)]), r"AE 1: grade 0 is impossible"),
        (ae("Nausea", [(at(1), 2)], attribution="maybe"), r"attribution 'maybe' is not one of"),
        (ae("Nausea", [(at(1), 2)], cause="bad luck"), r"alternative cause 'bad luck'"),
        (AdverseEvent("1", "Nausea", (), "possible"), r"AE 1: the grade course is empty"),
    ],
)
def test_bad_events(event: AdverseEvent, message: str) -> None:
    with pytest.raises(RuleInputError, match=message):
        dlt.adjudicate(DEFINITION, [event], INFUSION, subject_id="S9")


def test_duplicate_ae_id() -> None:
    e = ae("Nausea", [(at(1), 2)])
    with pytest.raises(RuleInputError, match="AE 1: AE id used twice"):
        dlt.adjudicate(DEFINITION, [e, e], INFUSION)


# ----- property: a decision made with partial follow-up is never contradicted later -----------

PROPERTY_TERMS = [
    CRS,
    ICANS,
    NEUT,
    "Gastric hemorrhage",
    "Alanine aminotransferase increased",
    "Vomiting",
    "Fever",
    "Lymphocyte count decreased",
]


@st.composite
def courses(draw: st.DrawFn) -> tuple[AdverseEvent, datetime]:
    term = draw(st.sampled_from(PROPERTY_TERMS))
    grades = ctcae.term_info(term).grades
    n = draw(st.integers(1, 4))
    hours = sorted(draw(st.sets(st.integers(-48, 40 * 24), min_size=n + 1, max_size=n + 1)))
    course: list[tuple[datetime | date, int]] = [
        (INFUSION + timedelta(hours=h), draw(st.sampled_from(grades))) for h in hours[:n]
    ]
    if draw(st.booleans()):
        course.append((INFUSION + timedelta(hours=hours[n]), 0))  # resolution
    attribution = draw(st.sampled_from(["unlikely", "possible", "definite"]))
    cause = draw(st.sampled_from([None, None, "lymphodepletion", "disease_progression"]))
    as_of = INFUSION + timedelta(hours=draw(st.integers(hours[0], 40 * 24)))
    return AdverseEvent("1", term, tuple(course), attribution, cause), as_of


@settings(max_examples=200, deadline=None)
@given(case=courses())
def test_partial_follow_up_never_contradicts_complete_data(
    case: tuple[AdverseEvent, datetime],
) -> None:
    event, as_of = case
    full = decide(event)
    known = tuple((t, g) for t, g in event.course if t <= as_of)  # what was recorded by as_of
    partial = decide(
        AdverseEvent("1", event.term, known, event.attribution, event.alternative_cause),
        as_of=as_of,
    )
    if partial.status != "pending":
        assert partial.status == full.status, (partial, full)


# America/New_York (IANA tz database ``northamerica``): EST = UTC-5 until 2026-03-08 02:00, then
# EDT = UTC-4 (the spring-forward night). Offsets below are applied by hand.
NEW_YORK = "America/New_York"


def test_study_days_are_calendar_days_of_the_study_zone() -> None:
    """Infused 20:00 UTC on 2026-02-01 (15:00 EST, day 0 = 02-01); ALT grade 3 from 03:00 UTC on
    2026-03-02, i.e. 22:00 EST on 03-01: day 28 in New York, inside the window (days 0-28). Read
    on the UTC wall clock it is day 29 (03-02 - 02-01), outside."""
    infusion = datetime(2026, 2, 1, 20, 0, tzinfo=UTC)
    event = ae("Alanine aminotransferase increased", [(datetime(2026, 3, 2, 3, 0, tzinfo=UTC), 3)])
    zoned = dlt.adjudicate(DEFINITION, [event], infusion, time_zone=NEW_YORK).per_event[0]
    assert zoned.onset_day == 28 and zoned.rule_id != "window"
    wall = dlt.adjudicate(DEFINITION, [event], infusion).per_event[0]
    assert (wall.onset_day, wall.rule_id) == (29, "window")


def test_durations_are_elapsed_time_across_a_daylight_saving_change() -> None:
    """ALT grade 3 from 12:00 EST on 2026-03-07 (17:00 UTC) to grade 1 at 12:30 EDT on 03-10
    (16:30 UTC): 71.5 h elapsed, not more than the 72 h of ``non_hematologic_grade3``; the local
    wall clock shows 72.5 h, one hour too many (the hour skipped on 03-08)."""
    infusion = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 EST
    course = [
        (datetime(2026, 3, 7, 17, 0, tzinfo=UTC), 3),
        (datetime(2026, 3, 10, 16, 30, tzinfo=UTC), 1),
        (datetime(2026, 3, 12, 16, 0, tzinfo=UTC), 0),
    ]
    event = ae("Alanine aminotransferase increased", course)
    zoned = dlt.adjudicate(DEFINITION, [event], infusion, time_zone=NEW_YORK).per_event[0]
    assert zoned.status == "not_dlt"
    wall_clock = [(t.astimezone(ZoneInfo(NEW_YORK)).replace(tzinfo=None), g) for t, g in course]
    local = ae("Alanine aminotransferase increased", wall_clock)  # the naive local reading
    naive = dlt.adjudicate(DEFINITION, [local], datetime(2026, 3, 2, 10, 0)).per_event[0]
    assert (naive.status, naive.rule_id) == ("dlt", "criterion:non_hematologic_grade3")
