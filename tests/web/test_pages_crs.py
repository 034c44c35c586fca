"""The daily CRS/ICANS form: the ten ICE items ticked -> ICE score -> ASTCT 2019 grades, derived by
the services while the form is typed.

Expected values (Lee DW et al., Biol Blood Marrow Transplant 2019;25:625-638, ASTCT consensus):

* ICE: one point per item (orientation 4, naming 3, commands 1, writing 1, attention 1);
* ICANS from the ICE score in an awake patient: 10 -> 0, 7-9 -> 1, 3-6 -> 2, 0-2 -> 3; an
  unarousable patient (no ICE screen possible) -> 4;
* CRS: fever >= 38 °C alone -> grade 1; hypotension without vasopressors -> grade 2, fever no
  longer required once tocilizumab was given (rule 2 of the ASTCT CRS grading).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from service_support import screening, treat
from web_support import Web

from cartrial.rules import cart_tox
from cartrial.services import (
    ICE_DOMAIN_ITEMS,
    RecordCrsIcansDay,
    ice_domain_points,
    record_crs_icans_day,
    screen_subject,
)

D1 = dt.date(2026, 1, 12)
SUBJECT = "S01-001"
ALL_ITEMS = cart_tox.ICE_ITEMS


def _day(n: int, *passed: str, **fields: str) -> dict[str, str]:
    values = {
        "subject_id": SUBJECT,
        "observed_date": (D1 + dt.timedelta(days=n)).isoformat(),
        "temperature_c": "37.0",
    }
    return values | {f"ice-{item}": "on" for item in passed} | fields


def _grades(page: str) -> tuple[str, str, str]:
    found = [
        re.search(rf'<dd id="{name}">(?:<strong>)?([^<( ]+)', page)
        for name in ("ice-score", "crs-grade", "icans-grade")
    ]
    assert all(found), page[-800:]
    return tuple(m.group(1) for m in found)  # type: ignore[return-value,union-attr]


def test_the_ice_domains_take_exactly_the_ten_items() -> None:
    assert sorted(i for items in ICE_DOMAIN_ITEMS.values() for i in items) == sorted(ALL_ITEMS)
    assert ice_domain_points(ALL_ITEMS) == {
        "ice_orientation": 4,
        "ice_naming": 3,
        "ice_commands": 1,
        "ice_writing": 1,
        "ice_attention": 1,
    }
    assert sum(ice_domain_points(["year", "names_object_2", "counts_backwards"]).values()) == 3


def test_the_form_shows_the_ten_ice_items_instead_of_domain_points(web: Web) -> None:
    web.login("coord1")
    page = web.client.get("/forms/crs-icans").text
    for item in ALL_ITEMS:
        assert f'<input id="ice-{item}" name="ice-{item}" type="checkbox">' in page
        assert f'<label for="ice-{item}">' in page
    assert "orientation to year" in page  # the item's text from data/astct/ice_items.csv
    assert 'id="ice_orientation"' not in page
    assert 'hx-post="/forms/crs-icans/preview"' in page
    assert '<option value="unarousable">' in page  # ASTCT words offered as a list


@pytest.mark.parametrize(
    ("passed", "expected_ice", "expected_icans"),
    [
        (ALL_ITEMS, "10", "0"),
        (ALL_ITEMS[:7], "7", "1"),
        (ALL_ITEMS[:6], "6", "2"),
        (ALL_ITEMS[:3], "3", "2"),
        (ALL_ITEMS[:2], "2", "3"),
        ((), "0", "3"),
    ],
)
def test_the_ice_score_and_icans_grade_are_shown_live(
    web: Web, passed: tuple[str, ...], expected_ice: str, expected_icans: str
) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)
    web.login("coord1")
    page = web.post("/forms/crs-icans/preview", _day(2, *passed, temperature_c="38.5")).text
    assert _grades(page) == (expected_ice, "1", expected_icans)


def test_an_unarousable_subject_has_no_ice_screen_and_icans_4(web: Web) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)
    web.login("coord1")
    page = web.post("/forms/crs-icans/preview", _day(2, consciousness="unarousable")).text
    assert "not done (unarousable)" in page
    assert _grades(page)[2] == "4"


def test_an_earlier_tocilizumab_dose_counts_in_the_preview(web: Web) -> None:
    coord = web.trial.as_("coord1")
    treat(coord, web.trial.as_("inv"), SUBJECT, "S01", D1)
    web.login("coord1")
    hypotensive = _day(3, *ALL_ITEMS, hypotension="on")
    assert _grades(web.post("/forms/crs-icans/preview", hypotensive).text)[1] == "0"  # no fever
    ten = dict.fromkeys(ICE_DOMAIN_ITEMS, 0) | ice_domain_points(ALL_ITEMS)
    record_crs_icans_day(
        coord,
        RecordCrsIcansDay(
            subject_id=SUBJECT,
            observed_date=D1 + dt.timedelta(days=2),
            temperature_c=39.0,
            tocilizumab=True,
            **ten,
        ),
    )
    assert _grades(web.post("/forms/crs-icans/preview", hypotensive).text)[1] == "2"


def test_the_ticked_items_are_saved_as_the_ice_domains(web: Web) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)
    web.login("coord1")
    saved = web.post("/forms/crs-icans", _day(2, *ALL_ITEMS[:7], temperature_c="38.5")).text
    assert "<dt>ice score</dt><dd>7</dd>" in saved
    assert "<dt>icans grade</dt><dd>1</dd>" in saved and "<dt>crs grade</dt><dd>1</dd>" in saved


def test_before_the_infusion_the_preview_says_why_there_is_no_grade(web: Web) -> None:
    web.login("coord1")
    screen_subject(web.trial.as_("coord1"), screening(SUBJECT, "S01", D1))
    page = web.post("/forms/crs-icans/preview", _day(2, *ALL_ITEMS)).text
    assert "Not graded yet:" in page and "after the infusion" in page
