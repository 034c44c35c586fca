"""Dose levels, sites and subjects are picked from lists: protocol names, and only what the user
may see (the services' policy layer: ``visible_sites`` / ``visible_subjects``).

Expected values: the packaged protocol's dose levels in its order (``DL-1, DL1, DL2, DL3``, as
``/api/study`` lists them) and the test trial's sites S01/S02 with coord1 at S01, coord2 at S02.
"""

from __future__ import annotations

import datetime as dt
import re

from service_support import screening, treat
from web_support import Web

from cartrial.services import screen_subject

D1 = dt.date(2026, 1, 12)


def _options(page: str, field: str) -> list[str]:
    select = re.search(rf'<select id="{field}" name="{field}"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None, f"{field} is not a list"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def test_dose_levels_are_offered_by_their_protocol_names(web: Web) -> None:
    web.login("inv")
    page = web.client.get("/forms/assign-dose").text
    assert _options(page, "dose_level") == ["", "DL-1", "DL1", "DL2", "DL3"]
    decide = web.client.get("/forms/decide-dose").text
    assert _options(decide, "next_dose_level") == ["", "DL-1", "DL1", "DL2", "DL3"]


def test_a_site_coordinator_picks_only_their_own_sites_subjects(web: Web) -> None:
    inv = web.trial.as_("inv")
    treat(web.trial.as_("coord1"), inv, "S01-001", "S01", D1)
    treat(web.trial.as_("coord2"), inv, "S02-001", "S02", D1)
    screen_subject(web.trial.as_("coord1"), screening("S01-002", "S01", D1))  # screened only
    web.login("coord1")
    for form in ("ae", "enrol"):  # every subject of site S01, screened ones too
        assert _options(web.client.get(f"/forms/{form}").text, "subject_id") == [
            "",
            "S01-001",
            "S01-002",
        ]
    screen = web.client.get("/forms/screen").text
    assert _options(screen, "site_id") == ["", "S01"]
    assert re.search(r'<input id="subject_id" name="subject_id"', screen)  # a new code is typed
    web.post("/logout")
    web.login("coord2")
    assert _options(web.client.get("/forms/ae").text, "subject_id") == ["", "S02-001"]
    web.post("/logout")
    web.login("inv")
    assert _options(web.client.get("/forms/ae").text, "subject_id") == [
        "",
        "S01-001",
        "S01-002",
        "S02-001",
    ]
    assert _options(web.client.get("/forms/screen").text, "site_id") == ["", "S01", "S02"]


def test_a_prefilled_subject_is_selected(web: Web) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), "S01-001", "S01", D1)
    web.login("coord1")
    page = web.client.get("/forms/ae", params={"subject_id": "S01-001"}).text
    assert '<option value="S01-001" selected>' in page
    assert _options(page, "subject_id") == ["S01-001"]  # no empty choice once one is chosen


def test_the_admin_picks_a_new_users_site_from_the_studys_sites(web: Web) -> None:
    web.login("admin")
    assert _options(web.client.get("/forms/add-user").text, "site") == ["", "S01", "S02"]


def test_the_subject_list_filters_by_lists_of_what_the_user_may_see(web: Web) -> None:
    inv = web.trial.as_("inv")
    treat(web.trial.as_("coord1"), inv, "S01-001", "S01", D1)
    treat(web.trial.as_("coord2"), inv, "S02-001", "S02", D1)  # both at the start dose DL1
    web.login("coord2")
    page = web.client.get("/subjects").text
    assert _options(page, "site") == ["", "S02"]
    assert _options(page, "dose") == ["", "DL-1", "DL1", "DL2", "DL3"]
    assert "S02-001" in page and "S01-001" not in page
    web.post("/logout")
    web.login("inv")
    at_dl1 = web.client.get("/subjects", params={"dose": "DL1"}).text
    assert '<option value="DL1" selected>' in at_dl1
    assert "S02-001" in at_dl1 and "S01-001" in at_dl1
    assert "No subject matches." in web.client.get("/subjects", params={"dose": "DL2"}).text
    at_s01 = web.client.get("/subjects", params={"site": "S01"}).text
    assert "S01-001" in at_s01 and "S02-001" not in at_s01
