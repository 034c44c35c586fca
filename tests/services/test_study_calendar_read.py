"""The read model, the DLT window clock and the CDISC dates read stored times in the study's zone.

Every expected date below is worked out by hand from the zone's UTC offset on that day (IANA tz
database, files ``northamerica`` and ``asia``): America/New_York is EST = UTC-5 until the
spring-forward night of 2026-03-08 (02:00 EST -> 03:00 EDT), then EDT = UTC-4; Asia/Tokyo is
JST = UTC+9 all year (no daylight saving since 1951). Each test also checks its hand-made
offsets against ``zoneinfo`` (:func:`_local`), so a wrong hand computation fails loudly.
Before, the read model took the UTC date of every stored time and ended the cut-off day at
23:59:59 UTC: each case below was wrong then.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from service_support import STUDY, Trial, build_trial, treat
from sqlalchemy import select

from cartrial.exchange.sdtm import build_dm
from cartrial.exchange.sdtm_findings import build_lb
from cartrial.protocol import default_protocol_path
from cartrial.services import (
    RecordAE,
    RecordLab,
    escalation_state,
    record_ae,
    record_lab,
    trial_data,
)
from cartrial.services.study_calendar import day_end, day_start, study_today
from cartrial.store import AdverseEvent
from cartrial.store.migrate import upgrade

UTC = dt.UTC


def _study_in(zone: str, tmp_path: Path) -> Trial:
    """The packaged study with ``study.time_zone`` set to ``zone`` (no subject yet)."""
    text = default_protocol_path().read_text(encoding="utf-8")
    text = text.replace("time_zone: Asia/Shanghai", f"time_zone: {zone}")
    url = f"sqlite:///{tmp_path / 'zoned.db'}"
    upgrade(url)
    return build_trial(url, protocol_yaml=text)


def _local(when: dt.datetime, zone: str, expected: dt.date) -> dt.datetime:
    """``when``, after checking by ``zoneinfo`` that its day in ``zone`` is ``expected``."""
    assert when.astimezone(ZoneInfo(zone)).date() == expected
    return when


def _infused_study_in(zone: str, tmp_path: Path, infused: dt.datetime, day0: dt.date) -> Trial:
    """The study in ``zone`` with S01-001 infused at ``infused`` (checked to fall on ``day0``)."""
    trial = _study_in(zone, tmp_path)
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", day0,
          infused_at=_local(infused, zone, day0))  # fmt: skip
    return trial


def _lab(trial: Trial, at: dt.datetime, value: float = 3.1) -> int:
    lab = RecordLab(
        subject_id="S01-001", collected_at=at, lbtestcd="NEUT", value=value, unit="10^9/L", lln=1.8
    )
    return record_lab(trial.as_("coord1"), lab).lab_id


def test_new_york_evening_times_are_that_local_day(tmp_path: Path) -> None:
    """New York (EST, UTC-5): the infusion at 02:30 UTC on 2026-02-02 is 21:30 EST on 02-01
    (study day 0); a lab at 04:00 UTC on 02-10 is 23:00 EST on 02-09 (day 8, SDTM LBDY 9); on the
    cut-off day 02-15 a lab at 04:30 UTC on 02-16 (23:30 EST on 02-15) is in, one at 05:30 UTC
    (00:30 EST on 02-16) is out."""
    zone = "America/New_York"
    trial = _infused_study_in(
        zone, tmp_path, dt.datetime(2026, 2, 2, 2, 30, tzinfo=UTC), dt.date(2026, 2, 1)
    )
    _lab(trial, _local(dt.datetime(2026, 2, 10, 4, 0, tzinfo=UTC), zone, dt.date(2026, 2, 9)))
    late = _local(dt.datetime(2026, 2, 16, 4, 30, tzinfo=UTC), zone, dt.date(2026, 2, 15))
    _lab(trial, late, value=2.9)
    _lab(trial, _local(dt.datetime(2026, 2, 16, 5, 30, tzinfo=UTC), zone, dt.date(2026, 2, 16)),
         value=2.7)  # fmt: skip
    ae = RecordAE(subject_id="S01-001", term="Fatigue", grade=2, onset_at=late,
                  attribution="possible")  # fmt: skip
    record_ae(trial.as_("coord1"), ae)

    data = trial_data(trial.factory, STUDY, dt.date(2026, 2, 15))
    subject = data.subjects.set_index("subject_id").loc["S01-001"]
    assert subject["infusion_date"] == pd.Timestamp("2026-02-01")
    labs = data.labs.sort_values("date")
    assert list(labs["date"]) == [pd.Timestamp("2026-02-09"), pd.Timestamp("2026-02-15")]
    assert list(labs["day"]) == [8, 14]
    assert list(labs["value"]) == [3.1, 2.9]  # the lab 30 minutes into 02-16 is after the cut-off
    assert list(data.adverse_events["onset_date"]) == [pd.Timestamp("2026-02-15")]

    lb = build_lb(data).sort_values("LBDTC")
    assert list(lb["LBDTC"]) == ["2026-02-09", "2026-02-15"]
    assert list(lb["LBDY"]) == [9.0, 15.0]  # SDTMIG 4.4.4: day 1 = RFSTDTC (the infusion)
    assert build_dm(data).set_index("USUBJID").loc[f"{STUDY}-S01-001", "RFSTDTC"] == "2026-02-01"
    trial.engine.dispose()


def test_tokyo_early_morning_times_are_that_local_day(tmp_path: Path) -> None:
    """Tokyo (JST, UTC+9): the infusion at 16:00 UTC on 2026-02-01 is 01:00 JST on 02-02
    (day 0); on the cut-off day 02-15 a lab at 14:30 UTC (23:30 JST) is in, one at 15:30 UTC on
    the same UTC date (00:30 JST on 02-16) is out."""
    zone = "Asia/Tokyo"
    trial = _infused_study_in(
        zone, tmp_path, dt.datetime(2026, 2, 1, 16, 0, tzinfo=UTC), dt.date(2026, 2, 2)
    )
    _lab(trial, _local(dt.datetime(2026, 2, 15, 14, 30, tzinfo=UTC), zone, dt.date(2026, 2, 15)))
    _lab(trial, _local(dt.datetime(2026, 2, 15, 15, 30, tzinfo=UTC), zone, dt.date(2026, 2, 16)),
         value=2.7)  # fmt: skip

    data = trial_data(trial.factory, STUDY, dt.date(2026, 2, 15))
    assert data.subjects.loc[0, "infusion_date"] == pd.Timestamp("2026-02-02")
    assert list(data.labs["date"]) == [pd.Timestamp("2026-02-15")]
    assert list(data.labs["day"]) == [13]
    assert list(data.labs["value"]) == [3.1]
    # the DLT window (28 days, protocol dlt.window_days) ends 28 days after the local day 0
    state = escalation_state(trial.as_("inv"), as_of=dt.date(2026, 2, 15))
    (treated,) = [s for d in state.doses for s in d.subjects]
    assert treated.infusion_date == dt.date(2026, 2, 2)
    assert treated.window_end == dt.date(2026, 3, 2)
    assert treated.days_left == 15  # 2026-02-15 -> 2026-03-02
    trial.engine.dispose()


def test_the_cut_off_day_ends_at_local_midnight_after_spring_forward(tmp_path: Path) -> None:
    """New York, cut-off 2026-03-08, the spring-forward day (23 hours): it starts at 00:00 EST =
    05:00 UTC and ends at 00:00 EDT on 03-09 = 04:00 UTC. A lab at 03:30 UTC on 03-09 (23:30 EDT
    on 03-08) is in; one at 04:30 UTC (00:30 EDT on 03-09) is out, though it is before midnight
    EST."""
    zone = "America/New_York"
    assert day_start(dt.date(2026, 3, 8), zone) == dt.datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert day_end(dt.date(2026, 3, 8), zone) == dt.datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    trial = _study_in(zone, tmp_path)
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", dt.date(2026, 3, 1))
    _lab(trial, _local(dt.datetime(2026, 3, 9, 3, 30, tzinfo=UTC), zone, dt.date(2026, 3, 8)))
    _lab(trial, _local(dt.datetime(2026, 3, 9, 4, 30, tzinfo=UTC), zone, dt.date(2026, 3, 9)),
         value=2.7)  # fmt: skip

    data = trial_data(trial.factory, STUDY, dt.date(2026, 3, 8))
    assert list(data.labs["date"]) == [pd.Timestamp("2026-03-08")]
    assert list(data.labs["value"]) == [3.1]
    assert list(data.labs["day"]) == [7]  # infused 10:00 UTC = 05:00 EST on 03-01
    trial.engine.dispose()


def test_the_dlt_window_counts_local_days(tmp_path: Path) -> None:
    """New York: infused 15:00 EST on 2026-02-01 (20:00 UTC, the same date), a grade 3 AE at
    03:00 UTC on 2026-03-02, i.e. 22:00 EST on 03-01: local day 28, the last day of the 28-day
    window (days 0-28, protocol ``dlt.window_days``). Read as UTC dates it was day 29, outside
    the window."""
    zone = "America/New_York"
    trial = _infused_study_in(
        zone, tmp_path, dt.datetime(2026, 2, 1, 20, 0, tzinfo=UTC), dt.date(2026, 2, 1)
    )
    onset = _local(dt.datetime(2026, 3, 2, 3, 0, tzinfo=UTC), zone, dt.date(2026, 3, 1))
    ae = RecordAE(subject_id="S01-001", term="Nausea", grade=3, onset_at=onset,
                  attribution="probable")  # fmt: skip
    ae_id = record_ae(trial.as_("coord1"), ae).ae_id
    with trial.factory() as session:
        stored = session.scalars(select(AdverseEvent).where(AdverseEvent.id == ae_id)).one()
        assert stored.dlt_rule_id != "window"
        assert "outside the DLT window" not in (stored.dlt_reason or "")
    trial.engine.dispose()


@pytest.mark.parametrize(
    ("zone", "cutoff", "first_after"),
    [
        # EST: 00:00 on 02-16 is 05:00 UTC
        ("America/New_York", dt.date(2026, 2, 15), dt.datetime(2026, 2, 16, 5, 0, tzinfo=UTC)),
        # JST: 00:00 on 02-16 is 15:00 UTC on 02-15
        ("Asia/Tokyo", dt.date(2026, 2, 15), dt.datetime(2026, 2, 15, 15, 0, tzinfo=UTC)),
        # fall back, 2026-11-01 is 25 hours long in New York: 00:00 EST on 11-02 is 05:00 UTC
        ("America/New_York", dt.date(2026, 11, 1), dt.datetime(2026, 11, 2, 5, 0, tzinfo=UTC)),
    ],
)
def test_day_end_is_the_next_local_midnight(
    zone: str, cutoff: dt.date, first_after: dt.datetime
) -> None:
    assert day_end(cutoff, zone) == first_after


@pytest.mark.parametrize(
    ("zone", "today"),
    [
        ("America/New_York", dt.date(2026, 2, 15)),  # 03:00 UTC = 22:00 EST the day before
        ("Asia/Tokyo", dt.date(2026, 2, 16)),  # 03:00 UTC = 12:00 JST
    ],
)
def test_today_is_the_study_zone_date(zone: str, today: dt.date) -> None:
    """The default ``as_of`` of the decisions and the default cut-off start from this day."""
    assert study_today(zone, now=dt.datetime(2026, 2, 16, 3, 0, tzinfo=UTC)) == today
