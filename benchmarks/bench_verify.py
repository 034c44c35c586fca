"""Benchmark ``cartrial audit verify``: the trail checked (keyed chain) AND every record against it.

Run: ``python benchmarks/bench_verify.py [--rows 1000000] [--demo] [--url URL]``

Two databases:

* a synthetic trail of ``--rows`` audit rows (default 1,000,000): subjects inserted through the
  audited ORM in batches (one insert row each), then nine rounds of ``age_years`` updates (one
  audit row per subject and round, see :func:`build_trail`);
* with ``--demo``, the in-silico study of ``cartrial demo --seed 1`` (no report).

For each, :func:`cartrial.store.integrity.verify_integrity` (chain MACs under the key, replay,
every regulated row compared) is timed; rows/s is audit rows per second of wall time (and of the
process's CPU time, which a loaded machine does not distort); the goal is >= 50,000. ``--url``
builds the synthetic trail in that database instead (e.g. PostgreSQL; ``$CARTRIAL_AUDIT_KEY_FILE``
must name a key file).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, text

from cartrial.store import Site, Study, Subject, make_engine, session_factory, unit_of_work
from cartrial.store.chain import append_rows
from cartrial.store.integrity import IntegrityReport, verify_integrity
from cartrial.store.keys import create_audit_key
from cartrial.store.migrate import upgrade

GOAL_ROWS_PER_S = 50_000
#: Update rounds per subject: the trail holds 1 insert + ROUNDS updates per subject.
ROUNDS = 9
_BATCH = 5_000


def build_trail(url: str, rows: int) -> None:
    """Write a trail of about ``rows`` audit rows (see the module docstring).

    The subjects are inserted through the audited ORM; the update rounds are appended with the
    audit writer itself (:func:`cartrial.store.chain.append_rows`, the same rows and MACs a flush
    writes: user, table, record, field, old and new value, reason) and the subjects' final age is
    then set in one statement, which is faster than flushing 900,000 ORM updates and gives the
    same database.
    """
    upgrade(url)
    create_audit_key(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    subjects = max(1, (rows - 2) // (1 + ROUNDS))
    with unit_of_work(factory, "bench") as session:
        study = Study(
            study_code="BENCH",
            title="benchmark",
            protocol_version="1",
            protocol_yaml="x",
            protocol_sha256="0" * 64,
        )
        session.add(study)
        session.flush()
        site = Site(study_id=study.id, code="S1", name="site")
        session.add(site)
        session.flush()
        study_id, site_id = study.id, site.id
    for start in range(0, subjects, _BATCH):
        with unit_of_work(factory, "crc1") as session:
            session.add_all(
                Subject(study_id=study_id, site_id=site_id, subject_code=f"{n:07d}")
                for n in range(start, min(subjects, start + _BATCH))
            )
    with engine.connect() as connection:
        ids = list(connection.scalars(select(Subject.id).order_by(Subject.id)))
    for age in range(31, 31 + ROUNDS):
        old = None if age == 31 else str(age - 1)
        for start in range(0, len(ids), _BATCH):
            with engine.begin() as connection:
                append_rows(
                    connection,
                    [
                        {
                            "username": "crc1",
                            "action": "update",
                            "table_name": "subjects",
                            "record_id": subject_id,
                            "field": "age_years",
                            "old_value": old,
                            "new_value": str(age),
                            "reason": "age from source",
                        }
                        for subject_id in ids[start : start + _BATCH]
                    ],
                )
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE subjects SET age_years = :age, version = version + :n"),
            {"age": 30 + ROUNDS, "n": ROUNDS},
        )
    engine.dispose()


def timed_verify(url: str) -> tuple[IntegrityReport, float, float]:
    """Verify the database at ``url``; return the report, wall time and CPU time (s)."""
    engine = make_engine(url)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        with engine.connect() as connection:
            report = verify_integrity(connection)
        return report, time.perf_counter() - t0, time.process_time() - c0
    finally:
        engine.dispose()


def _line(name: str, report: IntegrityReport, wall: float, cpu: float) -> str:
    rate, cpu_rate = report.audit_rows / wall, report.audit_rows / cpu
    verdict = "met" if rate >= GOAL_ROWS_PER_S else "NOT met"
    return (
        f"{name:<26}{report.audit_rows:>11,}{report.records:>9,}{wall:>8.2f}"
        f"{rate:>10,.0f}{cpu_rate:>11,.0f}  {verdict}{'' if report.ok else '  (FINDINGS!)'}"
    )


def main() -> None:
    """Build the databases, verify them, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="audit rows of the trail")
    parser.add_argument("--demo", action="store_true", help="also verify the demo database")
    parser.add_argument("--url", default=None, help="build the synthetic trail in this database")
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'trail.db'}"
        t0 = time.perf_counter()
        build_trail(url, args.rows)
        print(f"trail built in {time.perf_counter() - t0:.0f} s", flush=True)
        lines.append(_line(f"synthetic ({url.split(':')[0]})", *timed_verify(url)))
        print(lines[-1], flush=True)
        if args.demo:
            from cartrial.demo import run_demo

            run_demo(Path(tmp) / "demo", seed=1, report=False, pdf=False)
            demo = f"sqlite:///{Path(tmp) / 'demo' / 'cartrial.db'}"
            lines.append(_line("demo database (seed 1)", *timed_verify(demo)))
    print(
        f"{'database':<26}{'audit rows':>11}{'records':>9}{'wall s':>8}{'rows/s':>10}"
        f"{'rows/s CPU':>11}  goal (wall)"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
