"""The subject timeline in pages: each section shows one page of rows, the others a link away.

Expected rows come from what the test wrote (thirty laboratory values, each its own value) and
from the services' full listing of the subject's records (:func:`subject_records` without a
page), so each assertion fails if a page loses, repeats or reorders a row.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from service_support import treat
from web_support import Web

from cartrial.errors import ValidationFailed
from cartrial.services import RecordLab, record_lab, subject_records
from cartrial.web.routes.study import RECORD_ROWS, SECTION_ROWS

D1 = dt.date(2026, 1, 12)
SUBJECT = "S01-001"
LABS = 30  # more than a page of the laboratory section (SECTION_ROWS = 25)


def _treated_with_labs(web: Web) -> list[str]:
    """Treat the subject and record LABS neutrophil counts, one a day; their values as shown."""
    coord = web.trial.as_("coord1")
    treat(coord, web.trial.as_("inv"), SUBJECT, "S01", D1)
    values = [str(round(2.0 + n / 100, 2)) for n in range(LABS)]  # as a page shows them
    for n, value in enumerate(values):
        record_lab(
            coord,
            RecordLab(
                subject_id=SUBJECT,
                collected_at=dt.datetime(2026, 1, 13, 8, tzinfo=dt.UTC) + dt.timedelta(days=n),
                lbtestcd="NEUT",
                value=float(value),
                unit="10^9/L",
                lln=1.8,
                uln=7.5,
            ),
        )
    return values


def _section(page: str, key: str) -> str:
    start = page.index(f'<section id="timeline-{key}">')
    return page[start : page.index("</section>", start)]


def test_the_laboratory_section_opens_on_its_latest_rows_and_pages_back(web: Web) -> None:
    values = _treated_with_labs(web)
    assert SECTION_ROWS < LABS <= 2 * SECTION_ROWS
    web.login("coord1")
    latest = _section(web.client.get(f"/subjects/{SUBJECT}").text, "labs")
    earlier = LABS - SECTION_ROWS  # rows on the first page only (pages counted from the end)
    assert f"Rows {earlier + 1}–{LABS} of {LABS} (page 2 of 2)" in latest
    assert all(f"<td>{v}</td>" in latest for v in values[earlier:])
    assert not any(f"<td>{v}</td>" in latest for v in values[:earlier])
    link = f"/subjects/{SUBJECT}?section=labs&amp;page=1"
    assert f'href="{link}#labs"' in latest and f'hx-get="{link}"' in latest
    first = web.client.get(f"/subjects/{SUBJECT}", params={"section": "labs", "page": 1}).text
    shown = _section(first, "labs")
    assert f"Rows 1–{earlier} of {LABS} (page 1 of 2)" in shown
    assert [f"<td>{v}</td>" in shown for v in values] == [n < earlier for n in range(LABS)]
    assert "<h1>Subject S01-001</h1>" in first  # without htmx: the whole page


def test_htmx_gets_the_section_alone(web: Web) -> None:
    values = _treated_with_labs(web)
    web.login("coord1")
    r = web.client.get(
        f"/subjects/{SUBJECT}",
        params={"section": "labs", "page": 1},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<section id="timeline-labs">')
    assert "<h1>" not in r.text and "timeline-records" not in r.text
    assert f"<td>{values[0]}</td>" in r.text
    for bad in ({"section": "nothing"}, {"section": "labs", "page": "x"}):
        assert web.client.get(f"/subjects/{SUBJECT}", params=bad).status_code in (404, 422)


def test_the_record_listing_pages_cover_every_record_once(web: Web) -> None:
    _treated_with_labs(web)
    every = subject_records(web.trial.as_("dm"), SUBJECT)
    assert every.total == len(every.records) > RECORD_ROWS  # the listing needs two pages
    web.login("coord1")
    links = []
    for page in (1, 2, 3):  # page 3 does not exist: the last page is shown
        text = web.client.get(
            f"/subjects/{SUBJECT}", params={"section": "records", "page": page}
        ).text
        links.append(re.findall(r'href="/audit/([a-z_]+)/(\d+)"', _section(text, "records")))
    assert links[2] == links[1]
    expected = [(r.table, str(r.record_id)) for r in every.records]
    assert links[0] + links[1] == expected


@pytest.mark.parametrize("limit", [1, 7, 50])
def test_a_page_of_records_is_the_slice_of_the_full_listing(web: Web, limit: int) -> None:
    _treated_with_labs(web)
    dm = web.trial.as_("dm")
    every = subject_records(dm, SUBJECT).records
    for offset in range(0, len(every) + limit, limit):
        page = subject_records(dm, SUBJECT, offset=offset, limit=limit)
        assert page.total == len(every) and page.offset == offset
        assert page.records == every[offset : offset + limit]
    with pytest.raises(ValidationFailed, match="offset"):
        subject_records(dm, SUBJECT, offset=-1, limit=5)
    with pytest.raises(ValidationFailed, match="limit"):
        subject_records(dm, SUBJECT, limit=0)
