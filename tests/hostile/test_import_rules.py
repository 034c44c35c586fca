"""Import rules end to end: duplicates, near-duplicate queries, protocol-allowed queries,
all-or-nothing across chunks, local times in the study's zone, files too large to read.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hostile_support import HERE, HostileDb
from service_support import STUDY, build_trial, treat
from sqlalchemy import select

from cartrial.errors import ImportFailed, ProtocolError
from cartrial.protocol import default_protocol_path, load_protocol, parse_protocol
from cartrial.services import csvrows, import_labs, trial_data
from cartrial.store import DataQuery, LabResult, make_engine, session_factory

HEADER = "subject_id,date,lbtestcd,value,unit,lln,uln\n"


def queries(db: HostileDb) -> list[DataQuery]:
    with session_factory(make_engine(db.url))() as session:
        return list(session.scalars(select(DataQuery)))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reimporting_a_file_is_refused_as_already_imported(hostile_db: HostileDb) -> None:
    before = hostile_db.counts()
    with pytest.raises(ImportFailed, match="already imported: all 2 line"):
        import_labs(hostile_db.context("dm"), HERE / "baseline_labs.csv")
    assert hostile_db.counts() == before


def test_a_near_duplicate_is_stored_with_a_data_query(
    hostile_db: HostileDb, tmp_path: Path
) -> None:
    # baseline: S01-001 NEUT 3.1 on 2026-03-03 (00:00 UTC); same time, another value
    path = write(tmp_path, "labs.csv", HEADER + "S01-001,2026-03-03,NEUT,2.9,10^9/L,1.8,7.5\n")
    report = import_labs(hostile_db.context("dm"), path)
    assert (report.rows, report.queries) == (1, 1)
    (query,) = queries(hostile_db)
    assert query.status == "open" and query.record_table == "lab_results"
    assert "rule: near-duplicate" in query.question and "3.1 10^9/L" in query.question


def test_exact_duplicates_are_found_across_chunks(hostile_db: HostileDb, tmp_path: Path) -> None:
    line = "S01-001,2026-03-20,NEUT,3.1,10^9/L,1.8,7.5\n"
    other = "S01-001,2026-03-21,NEUT,3.1,10^9/L,1.8,7.5\n"
    path = write(tmp_path, "labs.csv", HEADER + line + other + line)
    before = hostile_db.counts()
    with pytest.raises(ImportFailed) as info:
        import_labs(hostile_db.context("dm"), path, chunk_size=1)
    assert [(r, f) for r, f, _ in info.value.errors] == [(4, "<row>")]
    assert "exact duplicate of lab result" in info.value.errors[0][2]  # line 2 was flushed
    assert hostile_db.counts() == before


def test_a_bad_line_in_the_last_chunk_writes_nothing(hostile_db: HostileDb, tmp_path: Path) -> None:
    good = "".join(f"S01-001,2026-03-{d:02d},PLAT,210,10^9/L,150,400\n" for d in range(4, 29))
    path = write(tmp_path, "labs.csv", HEADER + good + "S01-001,2026-03-29,PLAT,1e9,10^9/L,,\n")
    before = hostile_db.counts()
    with pytest.raises(ImportFailed) as info:
        import_labs(hostile_db.context("dm"), path, chunk_size=5)
    assert [(r, f) for r, f, _ in info.value.errors] == [(27, "value")]
    assert hostile_db.counts() == before


def test_the_protocol_may_turn_a_finding_into_a_query(tmp_path: Path) -> None:
    text = default_protocol_path().read_text(encoding="utf-8")
    text += "\ndata_checks:\n  query_instead_of_refusal: [physiological-range]\n"
    assert parse_protocol(text).data_checks.query_instead_of_refusal == ("physiological-range",)
    url = f"sqlite:///{tmp_path / 'trial.db'}"
    from cartrial.store.migrate import upgrade

    upgrade(url)
    trial = build_trial(url, protocol_yaml=text)
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", dt.date(2026, 3, 2))
    path = write(tmp_path, "labs.csv", HEADER + "S01-001,2026-03-03,NEUT,2000,10^9/L,1.8,7.5\n")
    report = import_labs(trial.as_("dm"), path)
    assert report.queries == 1
    labs = trial_data(trial.factory, STUDY).labs
    assert labs["value"].tolist() == [2000.0]
    # a rule the protocol did not list still refuses
    path = write(tmp_path, "bili.csv", HEADER + "S01-001,2026-03-04,BILI,1.1,mg/dL,3,21\n")
    with pytest.raises(ImportFailed, match="rule: reference-limits"):
        import_labs(trial.as_("dm"), path)


def test_a_rule_that_cannot_be_queried_is_a_protocol_error() -> None:
    text = default_protocol_path().read_text(encoding="utf-8")
    text += "\ndata_checks:\n  query_instead_of_refusal: [date-in-future]\n"
    with pytest.raises(ProtocolError, match=r"data_checks\.query_instead_of_refusal"):
        parse_protocol(text)


def test_local_times_are_read_in_the_study_time_zone(tmp_path: Path) -> None:
    # Europe/London, 2026: BST from 29 March 01:00 UTC (clocks 01:00 -> 02:00)
    text = default_protocol_path().read_text(encoding="utf-8")
    text = text.replace("time_zone: Asia/Shanghai", "time_zone: Europe/London")
    assert load_protocol(default_protocol_path()).study.time_zone == "Asia/Shanghai"
    url = f"sqlite:///{tmp_path / 'trial.db'}"
    from cartrial.store.migrate import upgrade

    upgrade(url)
    trial = build_trial(url, protocol_yaml=text)
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", dt.date(2026, 3, 2))
    head = "subject_id,date,time,lbtestcd,value,unit,lln,uln\n"
    gap = write(tmp_path, "gap.csv", head + "S01-001,2026-03-29,01:30,NEUT,3.1,10^9/L,1.8,7.5\n")
    with pytest.raises(ImportFailed) as info:
        import_labs(trial.as_("dm"), gap)
    (error,) = info.value.errors
    assert error[:2] == (2, "time") and "rule: local-time" in error[2]
    fine = write(tmp_path, "ok.csv", head + "S01-001,2026-03-29,12:00,NEUT,3.1,10^9/L,1.8,7.5\n")
    import_labs(trial.as_("dm"), fine)
    with trial.factory() as session:  # the export keeps the date only: read the stored time
        stored = list(session.scalars(select(LabResult.collected_at)))
    assert stored == [dt.datetime(2026, 3, 29, 11, 0, tzinfo=dt.UTC)]


def test_an_import_file_over_the_size_limit_is_refused_before_reading(
    hostile_db: HostileDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvrows, "MAX_IMPORT_BYTES", 1_000_000)
    line = "S01-001,2026-03-10,NEUT,3.1,10^9/L,1.8,7.5\n"
    path = write(tmp_path, "huge.csv", HEADER + line * 30_000)  # about 1.3 MB
    before = hostile_db.counts()
    with pytest.raises(ImportFailed, match="larger than the limit of 1,000,000 bytes"):
        import_labs(hostile_db.context("dm"), path)
    assert hostile_db.counts() == before


def test_a_protocol_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("# padding\n" * 120_000, encoding="utf-8")  # 1.2 MB
    with pytest.raises(ProtocolError, match="larger than the limit of 1,000,000 bytes"):
        load_protocol(path)


def test_protocol_errors_are_capped_with_the_count_of_the_rest() -> None:
    text = default_protocol_path().read_text(encoding="utf-8")
    text += "".join(f"\nunknown_{i}: 1" for i in range(130))
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text)
    assert len(info.value.issues) == 101
    assert info.value.issues[-1][2] == "... and 30 more error(s) not shown"
