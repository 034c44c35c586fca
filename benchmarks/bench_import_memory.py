"""Benchmark of the bulk lab import: peak memory and throughput (plain python; prints a table).

    python benchmarks/bench_import_memory.py              # 1,000,000 lines (SQLite)
    python benchmarks/bench_import_memory.py --rows 100000 --cases whole,bad

Builds a study (packaged protocol, ``bench_services.fresh_study``) with 20 screened subjects in
a temporary SQLite database, writes a lab CSV of ``--rows`` distinct, plausible results (20
tests, times of day in the study's time zone), then, each in a fresh child process so that its
peak resident memory is its own:

"rows/s" is per second of wall clock, "CPU/s" per second of the child's CPU time (user + system;
the figure that does not depend on other jobs sharing the machine). Peak MB is the child's peak
resident set size (``getrusage``), "before" the same just before the
import (the interpreter with cartrial, pandas and SQLAlchemy loaded).

* ``whole``: the import of the whole file (one transaction; target: peak RSS < 500 MB);
* ``again``: the re-import of the imported file: "already imported", nothing written;
* ``bad``: the import of the same lines with one bad line at the end (into the database without
  them): refused, nothing written (the all-or-nothing guarantee), and how long it takes to find
  out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench_services import STUDY, fresh_study
from cartrial.errors import ImportFailed
from cartrial.services import ServiceContext, import_labs
from cartrial.store import (
    AuditLog,
    LabResult,
    Site,
    Study,
    Subject,
    make_engine,
    session_factory,
    unit_of_work,
)

SUBJECTS = 20
SCREENED = dt.date(2024, 1, 2)
#: (LBTESTCD, unit, LLN, ULN, typical value): adult reference limits in SI units
TESTS = (
    ("NEUT", "10^9/L", 1.8, 7.5, 3.1),
    ("PLAT", "10^9/L", 150, 400, 210),
    ("WBC", "10^9/L", 4.0, 11.0, 6.2),
    ("LYM", "10^9/L", 1.0, 4.8, 1.9),
    ("HGB", "g/L", 120, 175, 131),
    ("ALT", "U/L", 7, 56, 30),
    ("AST", "U/L", 10, 40, 25),
    ("ALP", "U/L", 40, 150, 90),
    ("GGT", "U/L", 5, 85, 40),
    ("BILI", "umol/L", 3, 21, 11),
    ("CREAT", "umol/L", 53, 115, 80),
    ("K", "mmol/L", 3.5, 5.1, 4.2),
    ("SODIUM", "mmol/L", 136, 145, 140),
    ("MG", "mmol/L", 0.66, 1.07, 0.85),
    ("PHOS", "mmol/L", 0.81, 1.45, 1.1),
    ("ALB", "g/L", 35, 52, 41),
    ("GLUC", "mmol/L", 3.9, 6.1, 5.0),
    ("CA", "mmol/L", 2.15, 2.55, 2.3),
    ("LDH", "U/L", 100, 250, 180),
    ("CK", "U/L", 30, 200, 90),
)


def build_study(directory: Path, name: str) -> str:
    """A study (``bench_services.fresh_study``) with :data:`SUBJECTS` screened subjects; its URL."""
    admin = fresh_study(directory, name)
    with unit_of_work(admin.session_factory, "admin") as session:
        study = session.scalars(select(Study)).one()
        site = session.scalars(select(Site)).one()
        session.add_all(
            Subject(
                study_id=study.id,
                site_id=site.id,
                subject_code=f"S01-{i + 1:03d}",
                status="screening",
                screened_date=SCREENED,
            )
            for i in range(SUBJECTS)
        )
    return f"sqlite:///{directory / name}"


def write_labs(path: Path, rows: int, *, bad_last_line: bool = False) -> None:
    """``rows`` distinct lab lines: subject x test x (day, time of day) from the screening on."""
    times = ("08:00", "14:00", "20:00")
    per_series = -(-rows // (SUBJECTS * len(TESTS)))
    with path.open("w", encoding="utf-8") as out:
        out.write("subject_id,date,time,lbtestcd,value,unit,lln,uln\n")
        written = 0
        for k in range(per_series):
            day = SCREENED + dt.timedelta(days=1 + k // len(times))
            clock = times[k % len(times)]
            for i in range(SUBJECTS):
                for test, unit, lln, uln, value in TESTS:
                    if written == rows:
                        break
                    last = bad_last_line and written == rows - 1
                    shown = "1e308" if last else f"{value * (1 + (k % 7) / 50):.4g}"
                    out.write(f"S01-{i + 1:03d},{day},{clock},{test},{shown},{unit},{lln},{uln}\n")
                    written += 1


def counts(url: str) -> tuple[int, int]:
    with session_factory(make_engine(url))() as session:
        labs = session.scalar(select(func.count(LabResult.id))) or 0
        audit = session.scalar(select(func.count(AuditLog.id))) or 0
    return int(labs), int(audit)


def child(url: str, path: str) -> None:
    """Run one import; print JSON with its outcome, seconds, peak RSS before and after (MB)."""
    context = ServiceContext(session_factory(make_engine(url)), "dm", STUDY)
    before = resource.getrusage(resource.RUSAGE_SELF)
    baseline_mb, cpu_before = before.ru_maxrss / 1024, before.ru_utime + before.ru_stime
    start = time.perf_counter()
    try:
        report = import_labs(context, path)
        outcome = f"imported {report.rows:,} rows"
    except ImportFailed as exc:
        first = exc.errors[0] if exc.errors else (0, "", "")
        outcome = f"refused: {str(exc).splitlines()[0].split(': ', 1)[1]}; first: line {first[0]}"
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    peak_mb = usage.ru_maxrss / 1024
    result = {
        "outcome": outcome,
        "seconds": seconds,
        "cpu_s": cpu,
        "peak_mb": peak_mb,
        "baseline_mb": baseline_mb,
    }
    print(json.dumps(result))


def run_child(url: str, path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", url, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cases", default="whole,again,bad", help="comma-separated cases")
    parser.add_argument("--child", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = build_study(Path(tmp), "trial.db")
        fresh = build_study(Path(tmp), "fresh.db")
        good, bad = Path(tmp) / "labs.csv", Path(tmp) / "labs-bad.csv"
        write_labs(good, args.rows)
        write_labs(bad, args.rows, bad_last_line=True)
        size_mb = good.stat().st_size / 1e6
        print(f"lab import of {args.rows:,} lines ({size_mb:.0f} MB CSV), SQLite, one transaction")
        print(
            f"{'case':<26} {'outcome':<62} {'s':>6} {'CPU s':>6} {'rows/s':>7} {'CPU/s':>7} "
            f"{'peak MB':>7} {'before':>6}",
            flush=True,
        )
        cases = {
            "whole": ("whole file", good, url),
            "again": ("same file again", good, url),
            "bad": ("one bad line at the end", bad, fresh),
        }
        for key in args.cases.split(","):
            case, path, url = cases[key]
            before = counts(url)
            result = run_child(url, path)
            after = counts(url)
            seconds = float(str(result["seconds"]))
            cpu = float(str(result.get("cpu_s", seconds)))
            print(
                f"{case:<26} {str(result['outcome'])[:62]:<62} {seconds:>6.0f} {cpu:>6.0f} "
                f"{args.rows / seconds:>7,.0f} {args.rows / cpu:>7,.0f} "
                f"{float(str(result['peak_mb'])):>7.0f} "
                f"{float(str(result.get('baseline_mb', 0))):>6.0f}",
                flush=True,
            )
            print(
                f"{'':<26} lab rows {before[0]:,} -> {after[0]:,}, audit rows "
                f"{before[1]:,} -> {after[1]:,}",
                flush=True,
            )


if __name__ == "__main__":
    main()
