"""The new pages and fragments on each test database (SQLite and PostgreSQL): the record list and
audit trail, the three live previews, CSV upload and the admin lists run their read-only use cases
on PostgreSQL's read-only transactions too. Expected values as in the single-database tests
(``test_pages_tumour``, ``test_pages_crs``, ``test_pages_ae``, ``test_pages_import``).
"""

from __future__ import annotations

import datetime as dt
import re

from service_support import treat
from test_pages_import import KINETICS
from web_support import Web

D1 = dt.date(2026, 1, 12)
SUBJECT = "S01-001"


def test_record_pages_previews_upload_and_admin_on_each_database(web_on_each_database: Web) -> None:
    web = web_on_each_database
    treat(web.trial.as_("coord1"), web.trial.as_("inv"), SUBJECT, "S01", D1)
    web.login("coord1")
    timeline = web.client.get(f"/subjects/{SUBJECT}").text
    infusion = re.search(r'href="(/audit/infusions/\d+)"', timeline)
    assert infusion is not None
    audit = web.client.get(infusion.group(1)).text
    assert "<td>coord1</td><td>insert</td>" in audit

    baseline = {
        "subject_id": SUBJECT,
        "assessment_date": (D1 - dt.timedelta(days=7)).isoformat(),
        "lesions-0-lesion_id": "T1",
        "lesions-0-category": "target",
        "lesions-0-organ": "liver",
        "lesions-0-diameter_mm": "50",
        "lesions-0-status": "present",
    }
    tumour = web.post("/forms/tumour/preview", baseline).text
    assert '<dd id="sum-of-diameters">50.0 mm</dd>' in tumour
    crs = {"subject_id": SUBJECT, "observed_date": "2026-01-14", "temperature_c": "38.5"}
    crs |= {f"ice-{item}": "on" for item in ("year", "month", "city", "hospital")}
    assert '<dd id="ice-score">4 / 10</dd>' in web.post("/forms/crs-icans/preview", crs).text
    ae = {
        "subject_id": SUBJECT,
        "term": "Nausea",
        "grade": "1",
        "onset_at": "2026-01-14T09:00",
        "attribution": "possible",
    }
    assert "<strong>not a DLT</strong>" in web.post("/forms/ae/preview", ae).text

    files = {"file": ("kinetics.csv", KINETICS.encode(), "text/csv")}
    uploaded = web.post("/import", {"family": "kinetics"}, files=files)
    assert uploaded.status_code == 200 and "Imported 2 row(s) of kinetics" in uploaded.text
    web.post("/logout")
    web.login("admin")
    assert "<tr><td>site_coordinator</td><td>coord1@S01, coord2@S02</td></tr>" in (
        web.client.get("/admin").text
    )
