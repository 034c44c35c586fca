"""The per-record audit trail (from the subject timeline) and the report in HTML, PDF and CSV.

Expected values come from what the test itself wrote through the services (who, which value,
which reason), so each assertion can fail if the page loses or alters a change.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pyreadstat
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from service_support import treat
from test_authorisation_matrix import RULES, USERS, clients, outcome  # noqa: F401 (fixture)
from web_support import PASSWORD, Web

from cartrial.services import (
    AdjudicateDLT,
    RecordAE,
    RecordGradeChange,
    ShowRecordHistory,
    SignaturesOf,
    adjudicate_dlt,
    record_ae,
    record_grade_change,
    record_history,
    signatures_of,
)

D1 = dt.date(2026, 1, 12)
SUBJECT = "S01-001"


def _ae_with_a_grade_change(web: Web) -> int:
    coord = web.trial.as_("coord1")
    treat(coord, web.trial.as_("inv"), SUBJECT, "S01", D1)
    ae = record_ae(
        coord,
        RecordAE(
            subject_id=SUBJECT,
            term="Nausea",
            grade=1,
            onset_at=dt.datetime(2026, 1, 14, 9, tzinfo=dt.UTC),
            attribution="possible",
        ),
    )
    record_grade_change(
        coord,
        RecordGradeChange(
            ae_id=ae.ae_id,
            grade=2,
            changed_at=dt.datetime(2026, 1, 15, 9, tzinfo=dt.UTC),
            expected_version=ae.version,
        ),
    )
    return ae.ae_id


def test_every_record_of_the_timeline_links_to_its_audit_trail(web: Web) -> None:
    ae_id = _ae_with_a_grade_change(web)
    web.login("coord1")
    timeline = web.client.get(f"/subjects/{SUBJECT}").text
    links = set(re.findall(r'href="(/audit/[a-z_]+/\d+)"', timeline))
    tables = {link.split("/")[2] for link in links}
    # what treat() and the AE wrote: screening (+ criteria), enrolment, dose, 6 lymphodepletion
    # doses, the infusion, the AE and its two grade records (onset, change)
    for table in (
        "subjects",
        "eligibility_assessments",
        "eligibility_criteria",
        "enrolments",
        "dose_assignments",
        "lymphodepletions",
        "infusions",
        "adverse_events",
        "ae_grade_changes",
    ):
        assert table in tables, table
    assert sum(link.startswith("/audit/lymphodepletions/") for link in links) == 6
    assert f"/audit/adverse_events/{ae_id}" in links
    for link in links:  # every link opens
        assert web.client.get(link).status_code == 200, link


def test_the_audit_trail_shows_who_when_what_and_why(web: Web) -> None:
    ae_id = _ae_with_a_grade_change(web)
    history = record_history(
        web.trial.as_("dm"), ShowRecordHistory(table="adverse_events", record_id=ae_id)
    )
    # the grade change updated the AE's current grade from 1 to 2, with a reason
    change = next(c for c in history.changes if c.field == "grade" and c.action == "update")
    assert (change.old_value, change.new_value, change.username) == ("1", "2", "coord1")
    assert change.reason
    inserted = [c for c in history.changes if c.action == "insert"]
    assert inserted and {c.username for c in inserted} == {"coord1"}
    web.login("mon")
    page = web.client.get(f"/audit/adverse_events/{ae_id}").text
    assert "Audit trail: adverse event" in page and "term Nausea" in page
    row = (
        f"<td>{change.occurred_at.strftime('%Y-%m-%d %H:%M:%S')}</td><td>coord1</td>"
        f"<td>update</td><td>grade</td><td>1</td><td>2</td><td>{change.reason}</td>"
    )
    assert row in page


def test_an_unknown_table_or_record_is_not_found(web: Web) -> None:
    _ae_with_a_grade_change(web)
    web.login("dm")
    assert web.client.get("/audit/users/1").status_code == 404  # not a subject record
    assert web.client.get("/audit/adverse_events/999").status_code == 404


def test_the_audit_page_for_every_role_and_site(
    web: Web,
    clients: dict[str, TestClient],  # noqa: F811 (the matrix's fixture)
) -> None:
    routes = [path for (method, path), rule in RULES.items() if rule == "record page"]
    assert routes == ["/audit/{table}/{record_id}"]
    # clients: S01-001 treated at site S01; its infusion is the record shown
    infusion = re.search(
        r'href="(/audit/infusions/\d+)"', clients["inv"].get(f"/subjects/{SUBJECT}").text
    )
    assert infusion is not None
    path = infusion.group(1)
    anonymous = web.client.get(path, follow_redirects=False)
    got = {"anonymous": outcome(anonymous.status_code, anonymous.headers.get("location", ""))}
    for user, client in clients.items():
        got[user] = outcome(client.get(path, follow_redirects=False).status_code)
    expected = {"anonymous": "anonymous"} | {
        user: "denied" if site == "S02" else "allowed" for user, (_, site) in USERS.items()
    }
    assert got == expected


@pytest.mark.parametrize(
    ("fmt", "media", "magic"),
    [
        ("html", "text/html; charset=utf-8", b"<!doctype html>"),
        ("pdf", "application/pdf", b"%PDF-"),
    ],
)
def test_the_report_downloads_as_html_and_pdf(web: Web, fmt: str, media: str, magic: bytes) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)
    web.login("stat")
    assert f"/report/download?format={fmt}" in web.client.get("/report").text
    response = web.client.get("/report/download", params={"format": fmt})
    assert response.status_code == 200
    assert response.headers["content-type"] == media
    assert response.content[:20].lower().startswith(magic.lower())
    assert f'filename="CLDN18-PDL1-CART-01-report.{fmt}"' in response.headers["content-disposition"]


def test_the_report_tables_download_as_csv(web: Web) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)
    web.login("stat")
    response = web.client.get("/report/download", params={"format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert names and all(re.fullmatch(r"tables/[\w.-]+\.csv", n) for n in names)
    assert web.client.get("/report/download", params={"format": "docx"}).status_code == 404


def test_a_signed_record_shows_its_manifestation_in_the_timeline_and_audit_trail(
    web: Web,
) -> None:
    ae_id = _ae_with_a_grade_change(web)
    adjudicate_dlt(
        web.trial.as_("inv"), AdjudicateDLT(subject_id=SUBJECT, password=SecretStr(PASSWORD))
    )
    (signed,) = signatures_of(
        web.trial.as_("inv"), SignaturesOf(record="adverse_event", record_id=ae_id)
    )
    # the manifestation (21 CFR 11.50): printed name, meaning, UTC and study time, version
    assert signed.signer == "inv" and " UTC (" in signed.manifestation
    assert "Asia/Shanghai, UTC+08:00" in signed.manifestation  # the protocol's study.time_zone
    web.login("coord1")
    timeline = web.client.get(f"/subjects/{SUBJECT}").text
    link = timeline.index(f'href="/audit/adverse_events/{ae_id}"')
    row = timeline[timeline.rindex("<tr>", 0, link) : link]
    assert f"<td>{signed.manifestation}</td>" in row
    audit = web.client.get(f"/audit/adverse_events/{ae_id}").text
    assert f"<li>{signed.manifestation}</li>" in audit


def test_the_expansion_page_lists_signed_decisions_as_a_table(web: Web) -> None:
    web.login("dsmc")
    page = web.client.get("/expansion").text
    assert '<th scope="col">E-signature</th>' in page and "No decision recorded yet." in page


def test_the_cdisc_packages_download_with_the_readers_subjects_only(
    web: Web, tmp_path: Path
) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)
    web.login("stat")
    assert "/report/cdisc?format=xpt" in web.client.get("/report").text
    response = web.client.get("/report/cdisc", params={"format": "xpt"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert 'filename="CLDN18-PDL1-CART-01-cdisc-xpt.zip"' in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    for package in ("sdtm", "adam"):
        assert {f"{package}/define.xml", f"{package}/define.html"} <= names
        assert f"{package}/conformance.json" in names
    assert {"sdtm/dm.xpt", "sdtm/ex.xpt", "adam/adsl.xpt"} <= names
    archive.extractall(tmp_path / "stat")
    dm, _ = pyreadstat.read_xport(str(tmp_path / "stat" / "sdtm" / "dm.xpt"))
    assert list(dm["USUBJID"]) == [f"CLDN18-PDL1-CART-01-{SUBJECT}"]
    web.post("/logout")
    web.login("coord2")  # site S02: sees none of S01's subjects
    other = web.client.get("/report/cdisc", params={"format": "csv"})
    assert other.status_code == 200
    zipfile.ZipFile(io.BytesIO(other.content)).extractall(tmp_path / "coord2")
    assert SUBJECT not in (tmp_path / "coord2" / "sdtm" / "dm.csv").read_text(encoding="utf-8")
    assert web.client.get("/report/cdisc", params={"format": "sas7bdat"}).status_code == 404
