"""ReadCache: the read model is rebuilt exactly when the audit trail shows a change to what it read.

Each writer below uses its own engine on the same database, as another web worker or a CLI
command in another process would: the cache must see its writes at the next read (the expected
value is always a fresh :func:`trial_data` built without the cache).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pandas as pd
import pytest
from service_support import STUDY, Trial, build_trial, screening, treat

from cartrial.services import (
    AddUser,
    RaiseQuery,
    ReadCache,
    RecordLab,
    ServiceContext,
    add_user,
    raise_query,
    read_cache,
    record_lab,
    screen_subject,
    trial_data,
)
from cartrial.services.context import find_study
from cartrial.services.read_cache import _Check, _Mark
from cartrial.services.read_model import PARTS, read_part
from cartrial.store import LabResult, make_engine, read_only, session_factory, unit_of_work
from cartrial.store.audit import soft_delete

D0 = dt.date(2026, 3, 2)


@pytest.fixture
def two_processes(migrated_db_url: str) -> Iterator[tuple[Trial, Trial]]:
    """The same new trial opened twice, through two engines (two processes' connection pools)."""
    first = build_trial(migrated_db_url)
    engine = make_engine(migrated_db_url)
    second = Trial(engine=engine, factory=session_factory(engine))
    yield first, second
    engine.dispose()
    first.engine.dispose()


def _same_as_fresh(cache: ReadCache, trial: Trial) -> None:
    cached = cache.trial_data(STUDY)
    fresh = trial_data(trial.factory, STUDY)
    pd.testing.assert_frame_equal(cached.subjects, fresh.subjects)
    pd.testing.assert_frame_equal(cached.adverse_events, fresh.adverse_events)
    pd.testing.assert_frame_equal(cached.labs, fresh.labs)
    assert cached.data_cutoff == fresh.data_cutoff


def test_a_write_from_another_process_is_read_at_once(two_processes: tuple[Trial, Trial]) -> None:
    reader, writer = two_processes
    cache = ReadCache(reader.factory)
    first = cache.trial_data(STUDY)
    assert first.subjects.empty and cache.builds == 1 + len(PARTS)  # the cut-off and each part
    assert cache.trial_data(STUDY) is first and cache.builds == 1 + len(PARTS)  # no change

    treat(writer.as_("coord1"), writer.as_("inv"), "S01-001", "S01", D0)
    assert list(cache.trial_data(STUDY).subjects["subject_id"]) == ["S01-001"]
    _same_as_fresh(cache, reader)


def test_writes_to_tables_the_model_does_not_read_keep_it(
    two_processes: tuple[Trial, Trial],
) -> None:
    reader, writer = two_processes
    treat(writer.as_("coord1"), writer.as_("inv"), "S01-001", "S01", D0)
    cache = ReadCache(reader.factory)
    before = cache.trial_data(STUDY)
    # a data query and a new user: audited writes to data_queries, users, role_assignments
    raise_query(writer.as_("mon"), RaiseQuery(subject_id="S01-001", question="Onset time?"))
    add_user(
        ServiceContext(writer.factory, "admin", STUDY),
        AddUser(username="coord3", full_name="C", password="correct horse battery",
                role="site_coordinator", site="S02"),
    )  # fmt: skip
    builds = cache.builds
    assert cache.trial_data(STUDY) is before and cache.builds == builds
    _same_as_fresh(cache, reader)
    # a laboratory value: the cut-off is read again and the value alone appended, nothing else
    record_lab(
        writer.as_("coord1"),
        RecordLab(subject_id="S01-001", collected_at=D0 + dt.timedelta(days=1),
                  lbtestcd="NEUT", value=0.4, unit="10^9/L", lln=1.8, uln=7.5),
    )  # fmt: skip
    after = cache.trial_data(STUDY)
    assert cache.builds == builds + 1 and cache.extensions == 1
    assert len(after.labs) == len(before.labs) + 1
    _same_as_fresh(cache, reader)
    # a screening writes a subject (read by the model): the parts reading subjects are read again
    screen_subject(writer.as_("coord2"), screening("S02-001", "S02", D0))
    cache.trial_data(STUDY)
    assert cache.builds > builds + 1
    _same_as_fresh(cache, reader)


def test_the_tables_a_build_read_are_recorded(two_processes: tuple[Trial, Trial]) -> None:
    reader, _ = two_processes
    cache = ReadCache(reader.factory)
    cache.trial_data(STUDY)
    tables = {key[-1]: entry.tables for key, entry in cache._entries.items()}
    assert {"subjects", "enrolments", "infusions", "adverse_events"} <= tables["subjects"]
    assert "lab_results" in tables["labs"] and "lab_results" not in tables["subjects"]
    assert {"dose_decisions", "signatures"} <= tables["dose_decisions"]
    every = set().union(*tables.values())
    assert not {"data_queries", "users", "login_sessions", "audit_log"} & every


def test_each_database_has_one_cache_per_process(two_processes: tuple[Trial, Trial]) -> None:
    reader, writer = two_processes
    assert read_cache(reader.factory) is read_cache(reader.factory)
    assert read_cache(reader.factory) is not read_cache(writer.factory)


def test_an_entry_read_on_another_trail_is_read_again(two_processes: tuple[Trial, Trial]) -> None:
    """A restored backup: the audit row at the entry's mark is not the one it saw (its MAC)."""
    reader, writer = two_processes
    treat(writer.as_("coord1"), writer.as_("inv"), "S01-001", "S01", D0)
    cache = ReadCache(reader.factory)
    cache.trial_data(STUDY)
    raise_query(writer.as_("mon"), RaiseQuery(subject_id="S01-001", question="Onset time?"))
    entry = cache._entries[next(iter(cache._entries))]
    forged = dataclasses.replace(entry, mark=_Mark(entry.mark.last_id, "0" * 64))
    with read_only(reader.factory) as session:
        check = _Check(session)
        assert check.mark.last_id > entry.mark.last_id  # the data query moved the mark
        assert check.current(entry)  # ... but wrote no table the entry read
        assert not check.current(forged)
        expired = dataclasses.replace(entry, day=entry.day - dt.timedelta(days=1))
        assert not check.current(expired)  # read on another day (UTC)


def test_an_entry_found_current_later_takes_the_later_mark(
    two_processes: tuple[Trial, Trial],
) -> None:
    """Each check then reads the audit trail from the last request's mark, not from the build."""
    reader, writer = two_processes
    treat(writer.as_("coord1"), writer.as_("inv"), "S01-001", "S01", D0)
    cache = ReadCache(reader.factory)
    cache.trial_data(STUDY)
    built = {key: entry.mark for key, entry in cache._entries.items()}
    raise_query(writer.as_("mon"), RaiseQuery(subject_id="S01-001", question="Onset time?"))
    builds = cache.builds
    cache.trial_data(STUDY)  # nothing read again, every part stamped with the new mark
    with read_only(reader.factory) as session:
        now = _Check(session).mark
    assert cache.builds == builds and now.last_id > max(m.last_id for m in built.values())
    assert {entry.mark for entry in cache._entries.values()} == {now}
    # a laboratory value after the stamp: the laboratory part still takes it
    record_lab(
        writer.as_("coord1"),
        RecordLab(subject_id="S01-001", collected_at=D0 + dt.timedelta(days=1),
                  lbtestcd="NEUT", value=0.4, unit="10^9/L", lln=1.8, uln=7.5),
    )  # fmt: skip
    assert len(cache.trial_data(STUDY).labs) == 1 and cache.builds == builds + 1
    assert cache.extensions == 1
    _same_as_fresh(cache, reader)


def _lab(trial: Trial, day: int, value: float) -> int:
    return record_lab(
        trial.as_("coord1"),
        RecordLab(subject_id="S01-001", collected_at=D0 + dt.timedelta(days=day),
                  lbtestcd="NEUT", value=value, unit="10^9/L", lln=1.8, uln=7.5),
    ).lab_id  # fmt: skip


def test_new_laboratory_values_are_appended_and_anything_else_read_again(
    two_processes: tuple[Trial, Trial],
) -> None:
    """Appended rows give the frame a fresh read gives (values, order, dtypes, study days)."""
    reader, writer = two_processes
    treat(writer.as_("coord1"), writer.as_("inv"), "S01-001", "S01", D0)
    cache = ReadCache(reader.factory)
    assert cache.trial_data(STUDY).labs.empty
    for n in range(3):  # into an empty part, then after rows
        _lab(writer, n + 1, 0.5 + n)
        _same_as_fresh(cache, reader)
    assert cache.extensions == 3
    past = cache.trial_data(STUDY, data_cutoff=D0 + dt.timedelta(days=5))
    _lab(writer, 30, 4.0)  # after that cut-off: appended to nothing
    cached = cache.trial_data(STUDY, data_cutoff=D0 + dt.timedelta(days=5))
    pd.testing.assert_frame_equal(cached.labs, past.labs)
    pd.testing.assert_frame_equal(
        cached.labs, trial_data(reader.factory, STUDY, D0 + dt.timedelta(days=5)).labs
    )
    # a deleted value is an update of the table: the part is read again
    lab_id = _lab(writer, 6, 2.5)
    cache.trial_data(STUDY)
    builds = cache.builds
    with unit_of_work(writer.factory, "coord1", "entered twice") as session:
        lab = session.get(LabResult, lab_id)
        assert lab is not None
        soft_delete(session, lab, "entered twice")
    assert len(cache.trial_data(STUDY).labs) == 4 and cache.builds > builds  # 5 written
    _same_as_fresh(cache, reader)


def test_ids_committed_out_of_order_read_the_part_again(
    two_processes: tuple[Trial, Trial],
) -> None:
    """PostgreSQL hands out ids before commit: a smaller id may be committed after a larger."""
    reader, writer = two_processes
    treat(writer.as_("coord1"), writer.as_("inv"), "S01-001", "S01", D0)
    first, second = _lab(writer, 1, 1.0), _lab(writer, 2, 2.0)
    cache = ReadCache(reader.factory)
    cutoff = D0 + dt.timedelta(days=10)
    with read_only(reader.factory) as session:
        study = find_study(session, STUDY)
        appender = cache._appender(session, study, cutoff, "labs")
        assert appender is not None and appender[0] == "lab_results"
        append = appender[1]
        part = read_part(session, study, cutoff, "labs")
        assert list(part.index) == [first, second]
        # the second value read before the first was committed: not appended
        assert append(part.loc[[second]], frozenset({first})) is None
        pd.testing.assert_frame_equal(append(part.loc[[first]], frozenset({second})), part)
