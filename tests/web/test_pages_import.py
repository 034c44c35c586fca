"""CSV upload from the browser: every row-level error (file line, field, message) in one pass,
all or nothing; the rows go through the same use cases as the forms (roles and site scope).

Line numbers count the header as line 1 (``ImportFailed``); the expected errors are the ones the
test puts in the file.
"""

from __future__ import annotations

import datetime as dt
import re

from service_support import treat
from sqlalchemy import select
from web_support import PASSWORD, Web

from cartrial.services import subject_records
from cartrial.store import AuthFailure, DoseDecision

D1 = dt.date(2026, 1, 12)
SUBJECT = "S01-001"
KINETICS = (
    "subject_id,collected_at,unit,value,lloq,assay\n"
    "S01-001,2026-01-13T08:00Z,copies/ug gDNA,1500,50,qPCR\n"
    "S01-001,2026-01-19T08:00Z,copies/ug gDNA,42000,50,qPCR\n"
)


def _upload(web: Web, family: str, text: str, name: str = "data.csv"):  # type: ignore[no-untyped-def]
    files = {"file": (name, text.encode("utf-8"), "text/csv")}
    return web.post("/import", {"family": family}, files=files)


def _samples(web: Web) -> list[str]:
    records = subject_records(web.trial.as_("dm"), SUBJECT).records
    return [r.table for r in records if r.table in ("kinetics_samples", "ada_results")]


def test_the_upload_page_lists_each_familys_columns(web: Web) -> None:
    web.login("coord1")
    page = web.client.get("/import").text
    assert 'enctype="multipart/form-data"' in page and '<label for="file">' in page
    for family in ("kinetics", "ada", "phenotype", "labs", "tumour_assessments"):
        assert f'<option value="{family}"' in page
    assert "<code>lloq</code> *, <code>assay</code></dd>" in page  # assay optional


def test_a_good_file_is_imported(web: Web) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)
    web.login("coord1")
    response = _upload(web, "kinetics", KINETICS, "kinetics.csv")
    assert response.status_code == 200, response.text[-600:]
    assert "Imported 2 row(s) of kinetics for 1 subject(s) from kinetics.csv" in response.text
    assert _samples(web) == ["kinetics_samples", "kinetics_samples"]


def test_every_bad_row_is_listed_and_nothing_is_written(web: Web) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)
    web.login("coord1")
    text = (
        "subject_id,sample_date,screen,confirmed,titer\n"
        "S01-001,2026-01-20,negative,,\n"  # line 2: good
        "S01-001,2026-13-40,negative,,\n"  # line 3: no such date
        "S01-001,2026-01-27,maybe,,\n"  # line 4: not a screen result
        "S09-001,2026-01-27,negative,,\n"  # line 5: no such subject
    )
    response = _upload(web, "ada", text, "ada.csv")
    assert response.status_code == 422
    rows = re.findall(
        r"<tr><td>(\d+|file)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", response.text
    )
    assert [(line, field) for line, field, _ in rows] == [
        ("3", "sample_date"),
        ("4", "screen"),
        ("5", "subject_id"),
    ]
    assert "ada.csv: import rejected, nothing written (3 error(s))" in response.text
    assert _samples(web) == []  # the good line 2 was not written either


def test_a_missing_column_is_reported_for_the_file(web: Web) -> None:
    web.login("coord1")
    response = _upload(web, "kinetics", "subject_id,collected_at\nS01-001,2026-01-13\n")
    assert response.status_code == 422
    for column in ("unit", "lloq"):  # the header (line 1) lacks them
        assert f"<tr><td>1</td><td>{column}</td><td>required column is missing</td></tr>" in (
            response.text
        )


def test_a_one_line_upload_is_data_never_a_path(web: Web) -> None:
    web.login("coord1")
    response = _upload(web, "kinetics", "/etc/passwd")
    assert response.status_code == 422
    assert "root:" not in response.text


def test_a_file_that_is_not_utf8_is_refused(web: Web) -> None:
    web.login("coord1")
    files = {"file": ("k.csv", "subject_id\n\xe9\n".encode("latin-1"), "text/csv")}
    response = web.post("/import", {"family": "kinetics"}, files=files)
    assert response.status_code == 422 and "not UTF-8 text" in response.text


def test_rows_of_another_sites_subject_are_refused_row_by_row(web: Web) -> None:
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)
    web.login("coord2")  # site S02
    response = _upload(web, "kinetics", KINETICS)
    assert response.status_code == 422
    assert response.text.count("<tr><td>") == 2  # both rows refused by the policy layer
    assert _samples(web) == []


def test_the_upload_needs_a_login_and_the_csrf_token(web: Web) -> None:
    files = {"file": ("k.csv", KINETICS.encode(), "text/csv")}
    anonymous = web.post("/import", {"family": "kinetics"}, files=files, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    web.login("coord1")
    forged = web.client.post("/import", data={"family": "kinetics"}, files=files)
    assert forged.status_code == 403


def test_signed_governance_records_need_the_users_password(web: Web) -> None:
    web.login("inv")
    page = web.client.get("/import").text
    for family in ("dlt_adjudications", "dose_decisions", "governance_decisions"):
        assert f'<option value="{family}"' in page
    assert 'name="password" type="password"' in page
    # a well-formed row: no cohort has been treated, so its use case refuses it (line 2)
    text = "dose_level,as_of,action,next_dose_level\nDL1,2026-02-20,escalate,DL2\n"
    missing = _upload(web, "dose_decisions", text, "decisions.csv")
    assert missing.status_code == 422
    assert "importing them needs the importing user&#39;s password" in missing.text
    files = {"file": ("decisions.csv", text.encode("utf-8"), "text/csv")}
    wrong = web.post(
        "/import", {"family": "dose_decisions", "password": "not my password"}, files=files
    )
    assert wrong.status_code == 422
    assert re.search(r"<td>file</td><td>password</td><td>[^<]*password", wrong.text)
    with web.trial.factory() as session:
        assert session.scalars(select(DoseDecision)).all() == []  # nothing imported
        kinds = session.scalars(select(AuthFailure.kind)).all()
    assert "signature" in kinds  # the wrong password counts as a failed signature
    bad_rows = web.post("/import", {"family": "dose_decisions", "password": PASSWORD}, files=files)
    assert bad_rows.status_code == 422  # the password passes; the rows are refused one by one
    assert "<td>2</td>" in bad_rows.text and "<td>file</td><td>password</td>" not in bad_rows.text
