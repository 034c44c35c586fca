"""The main journey through the browser's forms: screen -> enrol -> infuse -> an AE that is a
DLT -> the escalation dashboard changes -> the committee decides and signs -> query -> lock ->
report download.

Expected values and where they come from (the same sources as ``tests/services/journey.py``):

* DLT rule of the packaged protocol: grade 3 gastritis, at least possibly related, in the DLT
  window fires ``criterion:gastric_mucosal_injury``;
* 3+3 (Storer 1989; shared/reference phase1-designs §3+3): 1 DLT in 3 at DL1 -> stay at DL1.
"""

from __future__ import annotations

import io
import re
import zipfile

from service_support import treat
from web_support import (
    D1,
    PASSWORD,
    Web,
    approval_form,
    dlt_ae_form,
    lymphodepletion_forms,
    screening_form,
)
from web_support import day as _day


def _saved(response_text: str) -> dict[str, str]:
    """The result fields listed on a saved form page (``<dt>key</dt><dd>value</dd>``)."""
    assert "Saved." in response_text, re.findall(r'role="alert">([^<]*)<', response_text)
    pairs = re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", response_text)
    return {key.replace(" ", "_"): value for key, value in pairs}


def test_the_main_journey_through_the_web(web_on_each_database: Web) -> None:
    web = web_on_each_database
    # two cohort members treated through the services (set-up), the third through the web
    inv, coord1, coord2 = web.trial.as_("inv"), web.trial.as_("coord1"), web.trial.as_("coord2")
    treat(coord1, inv, "S01-002", "S01", D1)
    treat(coord2, inv, "S02-001", "S02", D1)

    web.login("coord1")
    assert _saved(web.post("/forms/screen", screening_form("S01-001")).text)["eligible"] == "True"
    enrol = {"subject_id": "S01-001", "enrolled_date": _day(-10)}
    assert web.post("/forms/enrol", enrol).status_code == 200
    web.post("/logout")
    web.login("inv")
    assigned = _saved(
        web.post("/forms/assign-dose", {"subject_id": "S01-001", "dose_level": "DL1"}).text
    )
    assert assigned["dose_level"] == "DL1"
    web.post("/logout")
    web.login("coord1")
    for form in lymphodepletion_forms("S01-001"):
        assert web.post("/forms/lymphodepletion", form).status_code == 200
    infusion = {"subject_id": "S01-001", "infused_at": f"{_day(0)}T10:00", "actual_cells": "2.5e8"}
    assert web.post("/forms/infusion", infusion).status_code == 200

    # a site coordinator's dashboard counts the subjects of their own site only (2 of 3)
    dashboard = web.client.get("/escalation").text
    assert re.search(r"<td>DL1</td><td>2</td><td>\d</td><td>\d</td><td>0</td>", dashboard)

    recorded = _saved(web.post("/forms/ae", dlt_ae_form("S01-001")).text)
    assert recorded["is_dlt"] == "True"
    assert recorded["dlt_rule_id"] == "criterion:gastric_mucosal_injury"
    web.post("/logout")

    web.login("inv")
    for subject in ("S01-001", "S01-002", "S02-001"):
        signed = web.post("/forms/adjudicate-dlt", {"subject_id": subject, "password": PASSWORD})
        assert signed.status_code == 200, signed.text[-1500:]
    dashboard = web.client.get("/escalation").text
    assert "<td>DL1</td><td>3</td><td>3</td><td>0</td><td>1</td>" in dashboard
    # the design's answer on the data now (3+3, 1/3 DLT at DL1: treat 3 more at DL1)
    assert "<strong>stay</strong> → next cohort at <strong>DL1</strong>" in dashboard
    # the DLT window clock: infusion 2026-01-12 + 28 days (protocol dlt.window_days) = 02-09
    assert re.search(
        r"S01-001</a></td><td>S01</td><td>2026-01-12</td><td>2026-02-09</td>", dashboard
    )
    # 3+3 pathways of the next cohort at DL1 after 1/3 (Storer 1989): 0/3 more -> 1/6 ->
    # escalate to DL2; 1/3 more -> 2/6 -> de-escalate to DL-1
    assert "<td>0/3</td><td>DL1</td><td>6</td><td>1</td><td>escalate</td><td>DL2</td>" in dashboard
    assert (
        "<td>1/3</td><td>DL1</td><td>6</td><td>2</td><td>de-escalate</td><td>DL-1</td>" in dashboard
    )
    web.post("/logout")

    web.login("dsmc")
    decided = _saved(web.post("/forms/decide-dose", {"as_of": _day(29)}).text)
    assert (decided["recommended_action"], decided["next_dose_level"]) == ("stay", "DL1")
    signature = approval_form(decided["decision_id"])
    signed = _saved(web.post("/forms/sign", signature).text)
    assert signed["signer"] == "dsmc" and signed["meaning"] == "approval"
    assert "stay" in web.client.get("/escalation").text
    web.post("/logout")

    web.login("mon")
    query = {"subject_id": "S01-001", "question": "Please confirm the onset time"}
    raised = _saved(web.post("/forms/raise-query", query).text)
    web.post("/logout")
    web.login("coord1")
    answer = {"query_id": raised["query_id"], "answer": "Confirmed", "expected_version": "1"}
    answered = _saved(web.post("/forms/answer-query", answer).text)
    assert answered["status"] == "answered"
    web.post("/logout")
    web.login("mon")
    close = {"query_id": raised["query_id"], "expected_version": answered["version"]}
    assert _saved(web.post("/forms/close-query", close).text)["status"] == "closed"
    web.post("/logout")

    web.login("dm")
    lock = {"name": "interim", "data_cutoff": _day(60), "password": PASSWORD}
    assert web.post("/forms/lock", lock).status_code == 200
    report = web.client.get("/report/download")
    assert report.status_code == 200
    assert report.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(report.content)).namelist()
    assert "report.html" in names and any(n.startswith("tables/") for n in names)
    timeline = web.client.get("/subjects/S01-001").text
    assert "Gastritis" in timeline
    by_site = web.client.get("/subjects", params={"site": "S02"}).text
    assert "S02-001" in by_site and "S01-001" not in by_site
    assert "S01-002" in web.client.get("/subjects", params={"dose": "DL1"}).text


def test_a_rejected_form_keeps_the_typed_values_and_shows_the_error_by_the_field(
    web: Web,
) -> None:
    web.login("coord1")
    form = screening_form("S01-009")
    form["ecog"] = "seven"
    rejected = web.post("/forms/screen", form)
    assert rejected.status_code == 422
    page = rejected.text
    assert 'id="ecog" name="ecog" value="seven"' in page
    assert 'id="ecog-error"' in page and 'aria-invalid="true" aria-describedby="ecog-error"' in page
    assert 'name="age" value="55"' in page
    assert '<option value="gastric" selected>' in page
    assert 'name="refractory_to_standard_therapy" type="checkbox" checked' in page
    # nothing was written: the subject list is still empty
    assert "S01-009" not in web.client.get("/subjects").text


def test_a_wrong_signature_password_is_shown_beside_the_password_field(web: Web) -> None:
    web.login("dm")
    rejected = web.post("/forms/lock", {"name": "x", "data_cutoff": _day(60), "password": "nope"})
    assert rejected.status_code == 422
    assert 'id="password-error"' in rejected.text
    assert "nope" not in rejected.text  # a password is never echoed back


def test_the_expansion_page_says_when_the_expansion_is_not_open(web: Web) -> None:
    web.login("stat")
    page = web.client.get("/expansion").text
    assert "not decided (no RP2D yet)" in page and "not enrolling" in page
    assert "Toxicity boundary" in page
