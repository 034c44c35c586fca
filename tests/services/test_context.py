"""The policy layer reads what a use case needs in as few statements as it can.

Expected values: the statements the code issues by construction (one SELECT for the user with
their roles, the study with its data lock and the named subject with its dates, one for the
record's plausibility checks), and the
services' own results for the same subject read with and without the prefetch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from service_support import Trial, treat
from sqlalchemy import event
from sqlalchemy.engine import Connection

from cartrial.errors import NotFound
from cartrial.services import RecordAE, record_ae
from cartrial.services.context import use_case

D0 = dt.date(2026, 3, 2)
STAFF = ("investigator", "site_coordinator")


@contextmanager
def selects(trial: Trial) -> Iterator[list[str]]:
    """Collect the SELECT statements run on ``trial``'s engine inside the block."""
    seen: list[str] = []

    def log(_c: Connection, _cur: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(trial.engine, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(trial.engine, "before_cursor_execute", log)


def test_record_ae_reads_once(trial: Trial) -> None:
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", D0)
    ae = RecordAE(
        subject_id="S01-001",
        term="Nausea",
        grade=1,
        onset_at=dt.datetime(2026, 3, 4, 8, tzinfo=dt.UTC),
        attribution="possible",
    )
    with selects(trial) as seen:
        record_ae(trial.as_("coord1"), ae)
    # one for the user, study and subject; one for the plausibility checks (the subject's death
    # and the stored AEs of the same term and onset, services.record_checks)
    assert len(seen) == 2


def test_prefetched_subject_equals_queried_and_is_used_once(trial: Trial) -> None:
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", D0)
    ctx = trial.as_("coord1")
    with use_case(ctx, *STAFF, site_scoped=True) as uc:
        queried = uc.subject("S01-001", *STAFF)
        queried_dates = uc.dates[queried.id]
    with use_case(ctx, *STAFF, site_scoped=True, subjects=["S01-001", "S01-999"]) as uc:
        with selects(trial) as seen:
            prefetched = uc.subjects(["S01-001", "S01-999"], *STAFF)
            again = uc.subject("S01-001", *STAFF)
        assert list(prefetched) == ["S01-001"]
        assert (prefetched["S01-001"].id, uc.dates[queried.id]) == (queried.id, queried_dates)
        assert again is prefetched["S01-001"]
        assert len(seen) == 1  # the second fetch reads the current rows
        with pytest.raises(NotFound, match="S01-999"):
            uc.subject("S01-999", *STAFF)
