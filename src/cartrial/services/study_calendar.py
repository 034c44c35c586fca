"""The study's calendar: every trial date is a day in the protocol's ``study.time_zone``.

Times are stored in UTC (:class:`cartrial.store.base.UTCDateTime`); a date given without a time
is stored as 12:00 local time in the study's zone (:meth:`UseCase.study_time`). Whatever reads a
stored time as a calendar day (the study day of a record, the DLT window, the data cut-off, the
dates of the analysis tables and of the CDISC datasets built from them) reads it in the study's
zone with these functions, never as the UTC date: 2026-03-02T23:30-05:00 (04:30 UTC on
2026-03-03) is 2026-03-02 in America/New_York.

A day in the zone runs from its local midnight (inclusive) to the next local midnight
(exclusive): 23 or 25 hours on a daylight-saving change. The data cut-off day ends at
:func:`day_end` of that day, compared with ``<``.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd

__all__ = [
    "day_end",
    "day_start",
    "study_date",
    "study_dates",
    "study_today",
]


def study_date(when: dt.datetime, time_zone: str) -> dt.date:
    """The calendar day of the aware time ``when`` in ``time_zone`` (an IANA name).

    Examples
    --------
    >>> study_date(dt.datetime(2026, 3, 3, 4, 30, tzinfo=dt.UTC), "America/New_York")
    datetime.date(2026, 3, 2)
    """
    return when.astimezone(ZoneInfo(time_zone)).date()


def day_start(day: dt.date, time_zone: str) -> dt.datetime:
    """The first instant (UTC) of ``day`` in ``time_zone``: its local midnight.

    A local midnight skipped by a daylight-saving change starts the day at the instant the
    clocks jump (the skipped wall time read with the offset before the change).
    """
    midnight = dt.datetime.combine(day, dt.time(0, 0), tzinfo=ZoneInfo(time_zone))
    return midnight.astimezone(dt.UTC)


def day_end(day: dt.date, time_zone: str) -> dt.datetime:
    """The first instant (UTC) after ``day`` in ``time_zone``: a time ``t`` is on or before
    ``day`` there when ``t < day_end(day, time_zone)``.

    Examples
    --------
    >>> day_end(dt.date(2026, 3, 2), "Asia/Tokyo")
    datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.timezone.utc)
    """
    return day_start(day + dt.timedelta(days=1), time_zone)


def study_today(time_zone: str, now: dt.datetime | None = None) -> dt.date:
    """Today's date in ``time_zone`` (``now`` = the current time unless given)."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(time_zone)).date()


def study_dates(values: pd.Series, time_zone: str) -> pd.Series:
    """Times (aware ``datetime`` objects, UTC or not) as their calendar day in ``time_zone``.

    Returns ``datetime64[ns]`` dates at midnight, without a zone (the analysis tables' date
    columns, :data:`cartrial.analysis.DATE_COLUMNS`); a missing time stays ``NaT``.
    """
    utc = pd.to_datetime(values, utc=True)
    return utc.dt.tz_convert(time_zone).dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")
