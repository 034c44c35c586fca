"""The AE form: CTCAE term search with the grade definitions of the chosen term, and the DLT flag
derived by the protocol's rules while the form is typed.

Expected values: grade texts of NCI CTCAE v5.0 (Gastritis grade 3: "Severely altered eating or
gastric function; TPN or hospitalization indicated"); the packaged protocol's DLT rule
``gastric_mucosal_injury`` (grade >= 3 gastritis, at least possibly related, in the DLT window),
as in ``tests/services/journey.py``; grade 1 nausea matches no DLT criterion.
"""

from __future__ import annotations

import datetime as dt
import re

from service_support import screening, treat
from web_support import Web

from cartrial.services import EnrolSubject, enrol_subject, screen_subject, subject_records

D1 = dt.date(2026, 1, 12)
SUBJECT = "S01-001"
GASTRITIS_3 = "Severely altered eating or gastric function; TPN or hospitalization indicated"


def _ae(term: str, grade: str, **fields: str) -> dict[str, str]:
    return {
        "subject_id": SUBJECT,
        "term": term,
        "grade": grade,
        "onset_at": f"{D1 + dt.timedelta(days=10)}T09:00",
        "resolved_at": f"{D1 + dt.timedelta(days=20)}T09:00",
        "attribution": "probable",
        **fields,
    }


def test_the_search_offers_terms_to_pick_and_shows_the_grades_of_the_term_typed(web: Web) -> None:
    web.login("coord1")
    form = web.client.get("/forms/ae").text
    assert 'list="term-options"' in form and 'id="term-grades"' in form
    partial = web.client.get("/terms/ctcae", params={"term": "gastrit"}).text
    assert '<option value="Gastritis"></option>' in partial  # the field's datalist
    assert '<div id="term-grades" aria-live="polite" hx-swap-oob="true">' in partial
    assert GASTRITIS_3 not in partial  # "gastrit" is not a term yet: no grades
    exact = web.client.get("/terms/ctcae", params={"term": "gastritis"}).text
    assert f"<tr><td>3</td><td>{GASTRITIS_3}</td></tr>" in exact
    assert "Gastritis: grade definitions (CTCAE v5.0)" in exact
    assert "A disorder characterized by inflammation of the stomach." in exact


def test_a_form_shown_again_keeps_the_grade_definitions_of_its_term(web: Web) -> None:
    web.login("coord1")
    page = web.client.get("/forms/ae", params={"term": "Nausea"}).text
    assert (
        "<tr><td>1</td><td>Loss of appetite without alteration in eating habits</td></tr>" in page
    )
    assert "<td>4</td>" not in page.split('id="term-grades"')[1].split("</div>")[0]  # no grade 4


def test_the_dlt_flag_is_derived_live_by_the_protocol_rules(web: Web) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)
    web.login("coord1")
    dlt = web.post("/forms/ae/preview", _ae("Gastritis", "3")).text
    assert f'<dd id="grade-text">{GASTRITIS_3}</dd>' in dlt
    assert re.search(
        r'<dd id="dlt-flag"><strong>DLT</strong> · rule criterion:gastric_mucosal_injury', dlt
    )
    mild = web.post("/forms/ae/preview", _ae("Nausea", "1")).text
    assert '<dd id="dlt-flag"><strong>not a DLT</strong>' in mild
    # nothing was stored by the previews; saving gives the same flag
    assert not [
        r
        for r in subject_records(web.trial.as_("dm"), SUBJECT).records
        if r.table == "adverse_events"
    ]
    saved = web.post("/forms/ae", _ae("Gastritis", "3")).text
    assert "<dt>is dlt</dt><dd>True</dd>" in saved
    assert "<dt>dlt rule id</dt><dd>criterion:gastric_mucosal_injury</dd>" in saved


def test_a_grade_the_term_does_not_have_is_explained(web: Web) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)
    web.login("coord1")
    shown = web.post("/forms/ae/preview", _ae("Nausea", "4")).text
    assert "Not derived yet:" in shown and "CTCAE allows 1, 2, 3" in shown


def test_before_the_infusion_there_is_no_dlt_window(web: Web) -> None:
    coord = web.trial.as_("coord1")
    screen_subject(coord, screening(SUBJECT, "S01", D1 - dt.timedelta(days=20)))
    enrol_subject(coord, EnrolSubject(subject_id=SUBJECT, enrolled_date=D1 - dt.timedelta(days=10)))
    web.login("coord1")
    early = _ae("Nausea", "2", onset_at=f"{D1 - dt.timedelta(days=5)}T09:00", resolved_at="")
    shown = web.post("/forms/ae/preview", early).text
    assert "no DLT window yet (not infused)" in shown
