"""Bulk CSV imports: graded and derived like single records; all-or-nothing with row errors."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import time
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest
from service_support import STUDY, Trial, treat
from sqlalchemy import event, func, select

from cartrial.errors import ImportFailed
from cartrial.services import (
    ServiceContext,
    import_kinetics,
    import_labs,
    import_lesions,
    trial_data,
)
from cartrial.store import AuditedSession, KineticsSample, LabResult, make_engine, session_factory
from cartrial.store.audit import verify_chain

D0 = dt.date(2026, 3, 2)


@pytest.fixture
def infused(trial: Trial) -> Trial:
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", D0)
    treat(trial.as_("coord2"), trial.as_("inv"), "S02-001", "S02", D0)
    return trial


def count(trial: Trial, model: type[LabResult] | type[KineticsSample]) -> int:
    with trial.factory() as session:
        return int(session.scalar(select(func.count(model.id))) or 0)


def test_labs_are_graded_on_import(infused: Trial, tmp_path: Path) -> None:
    path = tmp_path / "labs.csv"
    # CTCAE v5.0 (ctcae-5.0 reference §2.1): NEUT 0.4 -> grade 4; PLAT 60 -> grade 2 (<75-50)
    path.write_text(
        "subject_id,date,lbtestcd,value,unit,lln,uln\n"
        "S01-001,2026-03-03,NEUT,0.4,10^9/L,1.8,7.5\n"
        "S02-001,2026-03-03,PLAT,60,10^9/L,150,400\n",
        encoding="utf-8",
    )
    report = import_labs(infused.as_("dm"), path)
    assert (report.rows, report.subjects) == (2, 2)
    labs = trial_data(infused.factory, STUDY).labs.set_index("lbtestcd")
    assert labs.loc["NEUT", "grade"] == 4 and labs.loc["PLAT", "grade"] == 2
    assert labs.loc["NEUT", "day"] == 1


def test_every_bad_row_is_reported_and_nothing_written(infused: Trial) -> None:
    text = (
        "subject_id,date,lbtestcd,value,unit,lln\n"
        "S01-001,2026-03-03,NEUT,0.4,10^9/L,\n"  # no LLN: the grade 1 criterion needs it
        "S09-999,2026-03-03,PLAT,60,10^9/L,150\n"  # unknown subject
        "S01-001,2026-01-01,PLAT,60,10^9/L,150\n"  # before screening (20 days before D0)
        "S01-001,2026-03-04,PLAT,60,bananas,150\n"  # unknown unit
    )
    before = infused.audit_rows()
    with pytest.raises(ImportFailed) as info:
        import_labs(infused.as_("dm"), text)
    assert [(row, field) for row, field, _ in info.value.errors] == [
        (2, "lln"),
        (3, "subject_id"),
        (4, "date"),  # the CSV column (rule before-screening)
        (5, "unit"),
    ]
    assert count(infused, LabResult) == 0
    assert infused.audit_rows() == before


def test_site_staff_import_only_their_site(infused: Trial) -> None:
    text = "subject_id,date,value,unit,lloq\nS02-001,2026-03-09,120,cells/uL,1\n"
    with pytest.raises(ImportFailed) as info:
        import_kinetics(infused.as_("coord1"), text)
    assert info.value.errors[0][:2] == (2, "subject_id")


def test_lesion_import_derives_recist_responses(infused: Trial) -> None:
    text = (
        "subject_id,assessment_date,lesion_id,category,organ,is_lymph_node,diameter_mm,status\n"
        "S01-001,2026-02-25,T1,target,liver,false,40,present\n"
        "S01-001,2026-02-25,T2,target,lung,false,20,present\n"
        "S01-001,2026-04-13,T1,target,liver,false,25,present\n"
        "S01-001,2026-04-13,T2,target,lung,false,15,present\n"
        "S01-001,2026-05-25,T1,target,liver,false,20,present\n"
        "S01-001,2026-05-25,T2,target,lung,false,10,present\n"
    )
    report = import_lesions(infused.as_("dm"), text)
    assert (report.rows, report.subjects) == (6, 1)
    points = trial_data(infused.factory, STUDY).tumour_timepoints
    # RECIST 1.1: 60 -> 40 mm (-33 %) and 60 -> 30 mm (-50 %) are PR (recist-1.1 reference §3)
    assert points["overall_response"].tolist() == ["PR", "PR"]
    assert points["pct_change_from_baseline"].round(1).tolist() == [-33.3, -50.0]


def test_lesion_import_errors_name_the_assessment_row(infused: Trial) -> None:
    text = (
        "subject_id,assessment_date,lesion_id,category,organ,is_lymph_node,diameter_mm,status\n"
        "S01-001,2026-02-25,T1,target,liver,false,40,present\n"
        "S01-001,2026-04-13,T9,target,liver,false,25,present\n"  # a target after baseline
    )
    with pytest.raises(ImportFailed) as info:
        import_lesions(infused.as_("dm"), text)
    assert info.value.errors[0][:2] == (3, "lesions.0.category")


def _rows(n: int) -> str:
    start = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
    lines = ["subject_id,date,value,unit,lloq"]
    for i in range(n):
        when = (start + dt.timedelta(hours=i)).date().isoformat()
        lines.append(f"S01-001,{when},{100 + i},copies/ug gDNA,50")
    return "\n".join(lines) + "\n"


def _import_and_hang(url: str, path: str, written: Event, done: Event) -> None:
    """Child process: run the import; once rows and audit rows are written, hang uncommitted."""

    def hang(_session: object, _context: object) -> None:
        written.set()
        time.sleep(120)  # killed here: after the writes, before the commit

    event.listen(AuditedSession, "after_flush_postexec", hang)
    factory = session_factory(make_engine(url))
    import_kinetics(ServiceContext(factory, "dm", STUDY), Path(path))
    done.set()


def test_killed_import_is_wholly_absent_then_wholly_there(infused: Trial, tmp_path: Path) -> None:
    n = 600
    path = tmp_path / "kinetics.csv"
    path.write_text(_rows(n), encoding="utf-8")
    url = str(infused.engine.url)
    audit_before = infused.audit_rows()
    context = multiprocessing.get_context("fork")
    written, done = context.Event(), context.Event()
    child = context.Process(target=_import_and_hang, args=(url, str(path), written, done))
    child.start()
    assert written.wait(timeout=60), "the import never wrote its rows"
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL and not done.is_set()
    infused.engine.dispose()
    assert count(infused, KineticsSample) == 0  # wholly absent
    assert infused.audit_rows() == audit_before
    with infused.engine.connect() as connection:
        assert verify_chain(connection).ok
    report = import_kinetics(infused.as_("dm"), path)
    assert report.rows == n
    assert count(infused, KineticsSample) == n  # wholly there
