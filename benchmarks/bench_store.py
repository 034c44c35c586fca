"""Benchmark the trial database: adverse-event writes per second with the audit trail on SQLite.

Run: ``.venv/bin/python benchmarks/bench_store.py [--events N] [--url URL]``
(``CARTRIAL_SQLITE_SYNCHRONOUS=FULL`` measures with an fsync at every commit).

Each adverse event is written as one use case (``unit_of_work``: one transaction, ``BEGIN
IMMEDIATE``, WAL journal, ``synchronous=NORMAL`` by default): an ORM insert of the AE, its audit row
(hash-chained, same transaction; the chain head advanced by trigger) and the commit.
Target: >= 1,000 AE per second.

Reference implementations, same database settings, one transaction per AE:
* ``sqlite3 raw``: a hand-written INSERT through the standard-library driver (no ORM, no audit);
* ``ORM, no audit``: the same ORM insert through a plain SQLAlchemy session (no audit rows).
The audit-chain verification speed (rows per second) is reported too.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartrial.store import (
    AdverseEvent,
    AuditLog,
    Site,
    Study,
    Subject,
    make_engine,
    session_factory,
    unit_of_work,
    verify_chain,
)
from cartrial.store.engine import sqlite_synchronous
from cartrial.store.keys import create_audit_key
from cartrial.store.migrate import upgrade

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _fields(i: int, subject_id: int) -> dict[str, object]:
    return {
        "subject_id": subject_id,
        "term": "Cytokine release syndrome" if i % 3 == 0 else "Neutrophil count decreased",
        "soc": "Immune system disorders" if i % 3 == 0 else "Investigations",
        "grade": 1 + i % 4,
        "onset_at": START + timedelta(hours=i),
        "serious": i % 5 == 0,
        "attribution": ("possible", "probable", "definite")[i % 3],
        "outcome": "recovering",
    }


def _setup(url: str) -> int:
    upgrade(url)
    create_audit_key(url)  # $CARTRIAL_AUDIT_KEY_FILE, else <file>.audit-key
    engine = make_engine(url)
    factory = session_factory(engine)
    with unit_of_work(factory, "bench") as session:
        study = Study(
            study_code=f"BENCH-{time.time_ns()}",  # unique: --url may hold earlier runs
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
        subject = Subject(study_id=study.id, site_id=site.id, subject_code="001")
        session.add(subject)
        session.flush()
        subject_id = subject.id
    engine.dispose()
    return subject_id


Rates = tuple[float, float]


def _timed(n: int, write: Callable[[int], None]) -> Rates:
    """Writes per second by wall clock and by CPU time of this process (user + system)."""
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        write(i)
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def bench_audited(url: str, subject_id: int, n: int) -> tuple[Rates, float]:
    """AE/s through ``unit_of_work`` with the audit trail; also audit rows per AE."""
    engine = make_engine(url)
    factory = session_factory(engine)
    with engine.connect() as c:
        before = c.scalar(select(func.count()).select_from(AuditLog)) or 0

    def write(i: int) -> None:
        with unit_of_work(factory, "crc1") as session:
            session.add(AdverseEvent(**_fields(i, subject_id)))

    rate = _timed(n, write)
    with engine.connect() as c:
        after = c.scalar(select(func.count()).select_from(AuditLog)) or 0
    engine.dispose()
    return rate, (after - before) / n


def bench_orm_no_audit(url: str, subject_id: int, n: int) -> Rates:
    """AE/s with the same ORM insert in a plain (non-audited) session."""
    engine = make_engine(url)

    def write(i: int) -> None:
        with Session(engine) as session, session.begin():
            session.add(AdverseEvent(**_fields(i, subject_id), created_by="crc1", version=1))

    rate = _timed(n, write)
    engine.dispose()
    return rate


def bench_sqlite_raw(path: Path, subject_id: int, n: int) -> Rates:
    """AE/s with a hand-written INSERT through sqlite3 (same pragmas, one transaction per AE)."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={sqlite_synchronous()}")
    connection.execute("PRAGMA foreign_keys=ON")
    sql = (
        "INSERT INTO adverse_events (subject_id, term, soc, grade, onset_at, serious, attribution,"
        " outcome, version, created_at, created_by) VALUES (?,?,?,?,?,?,?,?,1,?,?)"
    )

    def write(i: int) -> None:
        f = _fields(i, subject_id)
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            sql,
            (
                f["subject_id"],
                f["term"],
                f["soc"],
                f["grade"],
                str(f["onset_at"]),
                f["serious"],
                f["attribution"],
                f["outcome"],
                str(datetime.now(UTC)),
                "crc1",
            ),
        )
        connection.execute("COMMIT")

    rate = _timed(n, write)
    connection.close()
    return rate


def bench_verify(url: str) -> tuple[int, float]:
    """Rows and rows/s of a full audit-chain verification."""
    engine = make_engine(url)
    t0 = time.perf_counter()
    with engine.connect() as c:
        report = verify_chain(c)
    elapsed = time.perf_counter() - t0
    engine.dispose()
    assert report.ok, report.problems
    return report.rows, report.rows / elapsed


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="AEs per measurement")
    parser.add_argument("--url", default=None, help="also measure this database URL (e.g. PG)")
    args = parser.parse_args()
    n = args.events
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        url = f"sqlite:///{path}"
        subject_id = _setup(url)
        raw = bench_sqlite_raw(path, subject_id, n)
        plain = bench_orm_no_audit(url, subject_id, n)
        audited, per_ae = bench_audited(url, subject_id, n)
        rows, verify_rate = bench_verify(url)
    level = sqlite_synchronous()
    print(f"SQLite (WAL, synchronous={level}), {n} adverse events, one transaction each")
    print(f"{'implementation':<34}{'AE/s wall':>11}{'AE/s CPU':>11}{'wall vs audited':>17}")
    for name, (wall, cpu) in (
        ("sqlite3 raw INSERT (reference)", raw),
        ("ORM, no audit (reference)", plain),
        ("ORM + audit trail (cartrial)", audited),
    ):
        print(f"{name:<34}{wall:>11,.0f}{cpu:>11,.0f}{wall / audited[0]:>16.2f}x")
    print(f"audit rows per AE: {per_ae:.1f}")
    print(f"audit chain verification: {rows:,} rows at {verify_rate:,.0f} rows/s")
    print(f"target >= 1,000 AE/s with audit (wall): {'met' if audited[0] >= 1000 else 'NOT met'}")
    if args.url:
        subject_id = _setup(args.url)
        (pg_wall, pg_cpu), _ = bench_audited(args.url, subject_id, n)
        where = args.url.split("@")[-1]
        print(f"{where}: ORM + audit trail {pg_wall:,.0f} AE/s wall, {pg_cpu:,.0f} AE/s client CPU")


if __name__ == "__main__":
    main()
