"""Two processes change the same AE from the same version: one wins, the other gets Conflict."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from service_support import STUDY, Trial, treat

from cartrial.errors import Conflict
from cartrial.services import (
    RecordAE,
    RecordGradeChange,
    ServiceContext,
    record_ae,
    record_grade_change,
)
from cartrial.store import make_engine, session_factory

D0 = dt.date(2026, 3, 2)


def _edit(url: str, ae_id: int, grade: int, start: Barrier, results: Queue[str]) -> None:
    ctx = ServiceContext(session_factory(make_engine(url)), "coord1", STUDY)
    change = RecordGradeChange(
        ae_id=ae_id,
        grade=grade,
        changed_at=dt.datetime(2026, 3, 5, 8, tzinfo=dt.UTC),
        expected_version=1,  # both read the AE at version 1
    )
    start.wait()
    try:
        done = record_grade_change(ctx, change)
        results.put(f"ok grade {done.worst_grade} version {done.version}")
    except Conflict as exc:
        results.put(f"conflict {exc.expected_version}->{exc.actual_version}")


def test_no_lost_update_between_processes(trial: Trial) -> None:
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", D0)
    ae = record_ae(
        trial.as_("coord1"),
        RecordAE(
            subject_id="S01-001",
            term="Nausea",
            grade=1,
            onset_at=dt.datetime(2026, 3, 3, 8, tzinfo=dt.UTC),
            attribution="possible",
        ),
    )
    context = multiprocessing.get_context("fork")
    start = context.Barrier(2)
    results: Queue[str] = context.Queue()
    url = str(trial.engine.url)
    workers = [
        context.Process(target=_edit, args=(url, ae.ae_id, grade, start, results))
        for grade in (2, 3)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=120) for _ in workers)  # generous: a loaded machine
    for worker in workers:
        worker.join(timeout=30)
    assert outcomes[0] == "conflict 1->2"
    assert outcomes[1] in {"ok grade 2 version 2", "ok grade 3 version 2"}
