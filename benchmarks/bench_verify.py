"""Benchmark ``cartrial audit verify``: the trail checked (keyed chain) AND every record against it.

Run: ``python benchmarks/bench_verify.py [--rows 1000000] [--demo] [--url URL]``

Two databases:

* a synthetic trail of ``--rows`` audit rows (default 1,000,000): subjects inserted through the
  audited ORM in batches (one insert row each), then their ``age_years`` updated round after round
  (one audit row per subject and round) until the trail holds the requested rows;
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

from sqlalchemy import select

from cartrial.store import Site, Study, Subject, make_engine, session_factory, unit_of_work
from cartrial.store.integrity import IntegrityReport, verify_integrity
from cartrial.store.keys import create_audit_key
from cartrial.store.migrate import upgrade

GOAL_ROWS_PER_S = 50_000
_BATCH = 5_000


def build_trail(url: str, rows: int) -> None:
    """Write a trail of about ``rows`` audit rows through the audited ORM (see module doc)."""
    upgrade(url)
    create_audit_key(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    subjects = max(1, rows // 10)
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
    written = 2
    for start in range(0, subjects, _BATCH):
        with unit_of_work(factory, "crc1") as session:
            session.add_all(
                Subject(study_id=study_id, site_id=site_id, subject_code=f"{n:07d}")
                for n in range(start, min(subjects, start + _BATCH))
            )
        written += min(_BATCH, subjects - start)
    age = 30
    while written < rows:
        age += 1
        last = 0
        while written < rows:
            with unit_of_work(factory, "crc1", "age from source") as session:
                batch = session.scalars(
                    select(Subject).where(Subject.id > last).order_by(Subject.id).limit(_BATCH)
                ).all()
                if not batch:
                    break
                for subject in batch[: rows - written]:
                    subject.age_years = age
                written += min(len(batch), rows - written)
                last = batch[-1].id
        if last == 0:
            break
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
        f"{rate:>10,.0f}{cpu_rate:>10,.0f}  {verdict}{'' if report.ok else '  (FINDINGS!)'}"
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
        print(f"trail built in {time.perf_counter() - t0:.0f} s")
        lines.append(_line(f"synthetic ({url.split(':')[0]})", *timed_verify(url)))
        if args.demo:
            from cartrial.virtual.trial import run_demo

            run_demo(Path(tmp) / "demo", seed=1, report=False, pdf=False)
            demo = f"sqlite:///{Path(tmp) / 'demo' / 'cartrial.db'}"
            lines.append(_line("demo database (seed 1)", *timed_verify(demo)))
    print(
        f"{'database':<26}{'audit rows':>11}{'records':>9}{'wall s':>8}{'rows/s':>10}"
        f"{'rows/s CPU':>10}  goal (wall)"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
