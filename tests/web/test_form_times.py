"""Times typed in a form without an offset are the study's local clock (protocol ``time_zone``).

Independent source: the IANA time zone database through :mod:`zoneinfo` — Asia/Shanghai is
UTC+08:00 all year; Europe/London skips 01:00-02:00 on 2026-03-29 and repeats 01:00-02:00 on
2026-10-25 (EU summer time, Directive 2000/84/EC: last Sunday of March / October at 01:00 UTC).
"""

from __future__ import annotations

import datetime as dt

import pytest
from web_support import Web, dlt_ae_form

from cartrial.errors import ValidationFailed
from cartrial.web.forms import FORMS, parse_form


def _onset(values: dict[str, str], zone: str) -> dt.datetime:
    model = parse_form(FORMS["ae"].model, values, zone)
    onset = model.onset_at  # type: ignore[attr-defined]
    assert isinstance(onset, dt.datetime)
    return onset.astimezone(dt.UTC)


def test_a_typed_time_is_read_in_the_study_time_zone() -> None:
    values = dlt_ae_form("S01-001") | {"onset_at": "2026-01-14T09:00"}
    assert _onset(values, "Asia/Shanghai") == dt.datetime(2026, 1, 14, 1, 0, tzinfo=dt.UTC)
    assert _onset(values, "Europe/London") == dt.datetime(2026, 1, 14, 9, 0, tzinfo=dt.UTC)
    # an explicit offset is kept whatever the study's zone
    explicit = values | {"onset_at": "2026-01-14T09:00+02:00"}
    assert _onset(explicit, "Asia/Shanghai") == dt.datetime(2026, 1, 14, 7, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("typed", "why"),
    [("2026-03-29T01:30", "does not exist"), ("2026-10-25T01:30", "happens twice")],
)
def test_a_local_time_a_clock_change_skips_or_repeats_is_refused(typed: str, why: str) -> None:
    values = dlt_ae_form("S01-001") | {"onset_at": typed}
    with pytest.raises(ValidationFailed) as refused:
        parse_form(FORMS["ae"].model, values, "Europe/London")
    assert refused.value.field == "onset_at"
    assert why in str(refused.value) and "local-time" in str(refused.value)


def test_the_form_names_the_study_time_zone(web: Web) -> None:
    """The packaged protocol's sites keep Beijing time: the time fields say so."""
    web.login("coord1")
    page = web.client.get("/forms/ae")
    assert page.status_code == 200
    assert "YYYY-MM-DDTHH:MM (Asia/Shanghai)" in page.text
