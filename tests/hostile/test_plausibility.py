"""The plausibility rules: lab bounds per boundary (with their source), dates, DST local times.

Sources: every bound is a row of ``cartrial/data/plausibility/lab_ranges.csv`` that names its
published source (Tietz Textbook of Laboratory Medicine, 7th ed. 2022 for the adult reference
intervals; the paper of the extreme per row); the tests check that each bound is where the table
says, in the SI unit, and in a conventional unit through the factors of
``data/ctcae/lab_units.csv`` (bilirubin 1 mg/dL = 17.104 umol/L from its molar mass 584.66 g/mol).
Daylight saving in Europe/London: clocks go forward at 01:00 UTC on the last Sunday of March and
back at 01:00 UTC on the last Sunday of October (Summer Time Order 2002, EU Directive 2000/84/EC):
in 2026 on 29 March and 25 October.
"""

from __future__ import annotations

import datetime as dt

import pytest

from cartrial.errors import ValidationFailed
from cartrial.rules import ctcae
from cartrial.services.plausibility import (
    MAX_LESION_DIAMETER_MM,
    check_lab_values,
    check_lesion_diameter,
    check_subject_dates,
    lab_ranges,
    local_datetime,
)

RANGES = lab_ranges()
SI_UNITS = {t.lbtestcd: t.unit_group for t in ctcae.lab_tests()}


def rules(findings: list) -> list[str]:  # type: ignore[type-arg]
    return [f.rule for f in findings]


def test_every_gradable_test_has_bounds_with_a_source() -> None:
    assert set(RANGES) == set(SI_UNITS)
    for row in RANGES.values():
        assert row.source.startswith("Tietz"), row.lbtestcd
        assert row.value_min <= row.value_max and row.limit_min < row.limit_max
        low, high = (float(x) for x in row.ref_interval.split("-"))
        # the reference interval itself must pass the reference-limits rule
        assert row.limit_min <= low and high <= row.limit_max, row.lbtestcd


@pytest.mark.parametrize("code", sorted(RANGES))
def test_value_bounds_are_inclusive_in_si(code: str) -> None:
    row = RANGES[code]
    unit = row.si_unit
    assert check_lab_values(code, row.value_max, unit, None, None) == []
    assert rules(check_lab_values(code, row.value_max * 1.001, unit, None, None)) == [
        "physiological-range"
    ]
    assert check_lab_values(code, row.value_min, unit, None, None) == []
    if row.value_min > 0:
        below = rules(check_lab_values(code, row.value_min * 0.999, unit, None, None))
        assert below == ["physiological-range"]


@pytest.mark.parametrize("code", sorted(RANGES))
def test_limit_bounds_are_inclusive_in_si(code: str) -> None:
    row = RANGES[code]
    unit, value = row.si_unit, max(row.value_min, 0.0)
    low, high = (float(x) for x in row.ref_interval.split("-"))
    lln_range = (row.limit_min, max(3 * low, row.limit_min))
    uln_range = (min(high / 3, row.limit_max), row.limit_max)
    assert row.limit_bounds("lln") == lln_range and row.limit_bounds("uln") == uln_range
    for lln, uln in ((lln_range[0], uln_range[1]), (lln_range[1], uln_range[0])):
        assert check_lab_values(code, value, unit, lln, uln) == []
    outside = (
        (lln_range[0] * 0.999, uln_range[1] * 1.001),
        (lln_range[1] * 1.001, uln_range[0] * 0.999),
    )
    for lln, uln in outside:
        findings = check_lab_values(code, value, unit, lln, uln)
        assert [(f.field, f.rule) for f in findings] == [
            ("lln", "reference-limits"),
            ("uln", "reference-limits"),
        ]


def test_neutrophils_1e308_are_refused() -> None:
    # Rollig & Ehninger, Blood 2015: hyperleukocytosis is > 100 x 10^9/L; the bound is 10 x that
    assert check_lab_values("NEUT", 1000, "10^9/L", 1.8, 7.5) == []
    (finding,) = check_lab_values("NEUT", 1e308, "10^9/L", 1.8, 7.5)
    assert finding.rule == "physiological-range" and "0-1000 10^9/L" in finding.message


def test_bilirubin_limits_in_the_other_unit_are_refused() -> None:
    # Tietz adult interval 3-21 umol/L = 0.18-1.23 mg/dL (factor 17.104)
    assert check_lab_values("BILI", 1.1, "mg/dL", 0.2, 1.2) == []
    assert check_lab_values("BILI", 19, "umol/L", 3, 21) == []
    mixed = check_lab_values("BILI", 1.1, "mg/dL", 3, 21)
    assert [(f.field, f.rule) for f in mixed] == [
        ("lln", "reference-limits"),  # 3 mg/dL = 51 umol/L > 3 x 3 = 9 umol/L
        ("uln", "reference-limits"),  # 21 mg/dL = 359 umol/L > limit_max 65 umol/L
    ]
    mixed = check_lab_values("BILI", 19, "umol/L", 0.2, 1.2)  # 1.2 umol/L: a mg/dL ULN
    assert [(f.field, f.rule) for f in mixed] == [
        ("lln", "reference-limits"),  # 0.2 umol/L < limit_min 1 umol/L
        ("uln", "reference-limits"),  # 1.2 umol/L < 21 / 3 = 7 umol/L
    ]


def test_haemoglobin_in_g_dl_is_converted_before_the_bounds() -> None:
    # 1 g/dL = 10 g/L (lab_units.csv); 30 g/dL = 300 g/L is the bound, 31 g/dL is above it
    assert check_lab_values("HGB", 30, "g/dL", 12, 17.5) == []
    assert rules(check_lab_values("HGB", 31, "g/dL", 12, 17.5)) == ["physiological-range"]


def test_unknown_tests_and_units_are_left_to_the_grading() -> None:
    assert check_lab_values("XYZ", 1e308, "U/L", None, None) == []
    assert check_lab_values("NEUT", 1e308, "bananas", None, None) == []


def test_lesion_size_bound_is_the_ct_field_of_view() -> None:
    assert check_lesion_diameter(MAX_LESION_DIAMETER_MM) == []
    assert check_lesion_diameter(None) == []
    assert rules(check_lesion_diameter(1e9)) == ["lesion-size"]


def test_subject_date_rules() -> None:
    today = dt.date(2026, 12, 5)

    def fired(day: dt.date) -> list[str]:
        return rules(
            check_subject_dates(
                day,
                "date",
                today=today,
                screened=dt.date(2026, 2, 10),
                died=dt.date(2026, 6, 1),
                withdrawn=dt.date(2026, 5, 1),
            )
        )

    assert fired(dt.date(2026, 3, 1)) == []
    assert fired(dt.date(2026, 5, 1)) == []  # the withdrawal day itself still counts
    assert fired(dt.date(2026, 2, 9)) == ["before-screening"]
    assert fired(dt.date(2026, 5, 2)) == ["after-withdrawal"]
    assert fired(dt.date(2026, 6, 2)) == ["after-death", "after-withdrawal"]
    assert fired(dt.date(2030, 1, 1)) == ["date-in-future", "after-death", "after-withdrawal"]


def test_local_time_in_the_dst_gap_does_not_exist() -> None:
    with pytest.raises(ValidationFailed, match="does not exist in Europe/London"):
        local_datetime(dt.date(2026, 3, 29), dt.time(1, 30), "Europe/London", "time")


def test_local_time_in_the_dst_overlap_is_ambiguous() -> None:
    with pytest.raises(ValidationFailed, match="happens twice in Europe/London"):
        local_datetime(dt.date(2026, 10, 25), dt.time(1, 30), "Europe/London", "time")


def test_local_times_are_converted_to_utc() -> None:
    # BST (UTC+1) on 29 March 2026 after 01:00 UTC; China Standard Time is UTC+8 all year
    summer = local_datetime(dt.date(2026, 3, 29), dt.time(12, 0), "Europe/London", "time")
    assert summer == dt.datetime(2026, 3, 29, 11, 0, tzinfo=dt.UTC)
    beijing = local_datetime(dt.date(2026, 3, 29), dt.time(1, 30), "Asia/Shanghai", "time")
    assert beijing == dt.datetime(2026, 3, 28, 17, 30, tzinfo=dt.UTC)
