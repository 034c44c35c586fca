"""Benchmark of the CDISC export (plain python; prints a table).

    .venv/bin/python benchmarks/bench_exchange.py            # 29, 10,000 and 100,000 subjects
    .venv/bin/python benchmarks/bench_exchange.py --quick    # 29 and 10,000 subjects
    .venv/bin/python benchmarks/bench_exchange.py --format json --quick

Each trial size runs in a fresh process (so that its peak memory is its own): the in-silico trial
is made, then ``write_packages`` builds, checks and writes the SDTM and ADaM packages (XPT v5 by
default, with Define-XML and the conformance checks) chunk by chunk of subjects. Columns: the
records written, the wall and CPU time of the export, the resident memory once the trial is in
memory (``ru_maxrss`` before the export) and the peak during the export. Targets (issue "CDISC
exchange"): the study under 10 s, 100,000 subjects under 2 minutes on one core, memory bounded
(the export adds about one chunk of datasets to the trial it reads).

The trials are the random but plausible in-silico trials of ``bench_analysis.synthetic_trial``
(fixed seed).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_analysis import synthetic_trial
from cartrial.exchange.chunks import DEFAULT_CHUNK_SUBJECTS
from cartrial.exchange.package import write_packages


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _one(n: int, fmt: str, chunk: int) -> dict[str, float]:
    """Export one trial of ``n`` subjects in this process; its figures."""
    trial = synthetic_trial(n)
    before = _peak_mib()
    with tempfile.TemporaryDirectory() as folder:
        outs = {"sdtm": Path(folder) / "sdtm", "adam": Path(folder) / "adam"}
        wall, cpu = time.perf_counter(), time.process_time()
        reports = write_packages(trial, outs, fmt, chunk_subjects=chunk)  # type: ignore[arg-type]
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        size = sum(p.stat().st_size for r in reports for p in r.files) / 2**20
    records = sum(sum(r.records.values()) for r in reports)
    return {
        "n": n,
        "records": records,
        "wall": wall,
        "cpu": cpu,
        "trial_mib": before,
        "peak_mib": _peak_mib(),
        "size_mib": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="29 and 10,000 subjects only")
    parser.add_argument("--format", default="xpt", choices=("xpt", "json", "csv"))
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK_SUBJECTS, help="subjects")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(_one(args.one, args.format, args.chunk)))
        return
    sizes = [29, 10_000] if args.quick else [29, 10_000, 100_000]
    print(
        f"CDISC export: SDTM + ADaM as {args.format} with Define-XML and conformance checks, "
        f"chunks of {args.chunk:,} subjects"
    )
    print(f"{'subjects':>9} {'records':>11} {'wall s':>8} {'CPU s':>8} {'µs/record':>10} "
          f"{'trial MiB':>10} {'peak MiB':>9} {'files MiB':>10}")  # fmt: skip
    for n in sizes:
        command = [sys.executable, __file__, "--one", str(n), "--format", args.format]
        done = subprocess.run(
            [*command, "--chunk", str(args.chunk)], capture_output=True, text=True, check=True
        )
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{row['n']:>9,} {row['records']:>11,} {row['wall']:>8.1f} {row['cpu']:>8.1f} "
              f"{1e6 * row['cpu'] / row['records']:>10.1f} {row['trial_mib']:>10.0f} "
              f"{row['peak_mib']:>9.0f} {row['size_mib']:>10.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
