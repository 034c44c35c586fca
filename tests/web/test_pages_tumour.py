"""The tumour assessment form: a lesion table (rows added and removed by the server), the live
sum of diameters and the RECIST 1.1 time-point response derived by the services while typing.

Expected values (RECIST 1.1, Eisenhauer et al. 2009, exact arithmetic):

* baseline sum = 50 + 30 = 80 mm (§4.3: sum of the longest diameters of the target lesions);
* follow-up 30 + 20 = 50 mm: change (50 - 80) / 80 = -37.5 %, at least a 30 % decrease from the
  baseline sum is a partial response (§4.3.1 Table 1), and with no non-target and no new lesion the
  time-point response is PR (§4.3.4 Table 1).
"""

from __future__ import annotations

import datetime as dt
import re

from service_support import treat
from web_support import Web

from cartrial.services import subject_records

D1 = dt.date(2026, 1, 12)
SUBJECT = "S01-001"


def _lesions(*rows: tuple[str, str, str, str]) -> dict[str, str]:
    """Table cells of target lesions: (id, organ, diameter mm, status)."""
    cells = {}
    for i, (lesion, organ, diameter, status) in enumerate(rows):
        cells |= {
            f"lesions-{i}-lesion_id": lesion,
            f"lesions-{i}-category": "target",
            f"lesions-{i}-organ": organ,
            f"lesions-{i}-diameter_mm": diameter,
            f"lesions-{i}-status": status,
        }
    return cells


BASELINE = {
    "subject_id": SUBJECT,
    "assessment_date": (D1 - dt.timedelta(days=7)).isoformat(),
    **_lesions(("T1", "liver", "50", "present"), ("T2", "lung", "30", "present")),
}
WEEK6 = {
    "subject_id": SUBJECT,
    "assessment_date": (D1 + dt.timedelta(days=42)).isoformat(),
    **_lesions(("T1", "liver", "30", "present"), ("T2", "lung", "20", "present")),
}


def _treated(web: Web) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)


def test_the_form_shows_a_lesion_table_with_a_live_preview(web: Web) -> None:
    web.login("coord1")
    page = web.client.get("/forms/tumour").text
    for column in ("lesion_id", "category", "organ", "is_lymph_node", "diameter_mm", "status"):
        assert f'id="lesions-0-{column}"' in page and f'for="lesions-0-{column}"' in page
    assert '<th scope="col">organ *</th>' in page  # organ is required
    assert 'hx-post="/forms/tumour/rows/lesions"' in page and 'value="add"' in page
    assert 'hx-post="/forms/tumour/preview"' in page and 'id="preview"' in page
    assert "<script>" not in page and "onclick" not in page  # no inline script (CSP)
    assert "<textarea" not in page  # no JSON to type


def test_rows_are_added_and_removed_keeping_what_was_typed(web: Web) -> None:
    web.login("coord1")
    typed = _lesions(("T1", "liver", "50", "present"), ("T2", "lung", "30", "present"))
    added = web.post("/forms/tumour/rows/lesions", {**typed, "row_action": "add"}).text
    assert len(re.findall(r'id="lesions-\d-lesion_id"', added)) == 3
    assert 'id="lesions-1-lesion_id" name="lesions-1-lesion_id" value="T2"' in added
    assert 'id="lesions-2-lesion_id" name="lesions-2-lesion_id" value=""' in added
    removed = web.post("/forms/tumour/rows/lesions", {**typed, "row_action": "remove-0"}).text
    assert len(re.findall(r'id="lesions-\d-lesion_id"', removed)) == 1
    assert 'id="lesions-0-lesion_id" name="lesions-0-lesion_id" value="T2"' in removed
    assert web.post("/forms/tumour/rows/nothing", {"row_action": "add"}).status_code == 404


def test_the_sum_of_diameters_and_the_response_come_from_the_server(web: Web) -> None:
    _treated(web)
    web.login("coord1")
    baseline = web.post("/forms/tumour/preview", BASELINE).text
    assert '<dd id="sum-of-diameters">80.0 mm</dd>' in baseline
    saved = web.post("/forms/tumour", BASELINE)
    assert saved.status_code == 200 and "Saved." in saved.text
    week6 = web.post("/forms/tumour/preview", WEEK6).text
    assert '<dd id="sum-of-diameters">50.0 mm</dd>' in week6
    assert "-37.5 %" in week6
    assert re.search(r'<dd id="overall-response"><strong>PR</strong>', week6)
    # the preview stored nothing: the same date can still be saved, with the same response
    result = web.post("/forms/tumour", WEEK6).text
    assert "<dt>overall response</dt><dd>PR</dd>" in result
    assert "<dt>sum of diameters mm</dt><dd>50.0</dd>" in result


def test_an_incomplete_table_is_explained_in_the_preview(web: Web) -> None:
    _treated(web)
    web.login("coord1")
    missing = {k: v for k, v in BASELINE.items() if k != "lesions-1-diameter_mm"}
    shown = web.post("/forms/tumour/preview", missing)
    assert shown.status_code == 200 and "Not evaluated yet:" in shown.text


def test_the_organ_is_required_and_the_error_is_shown_in_its_cell(web: Web) -> None:
    _treated(web)
    web.login("coord1")
    rejected = web.post("/forms/tumour", {**BASELINE, "lesions-1-organ": ""})
    assert rejected.status_code == 422
    page = rejected.text
    assert 'id="lesions-1-organ-error"' in page
    assert 'aria-describedby="lesions-1-organ-error"' in page
    assert 'name="lesions-0-diameter_mm" value="50"' in page  # what was typed is kept
    records = subject_records(web.trial.as_("dm"), SUBJECT).records
    assert not [r for r in records if r.table in ("tumour_lesions", "lesion_measurements")]
