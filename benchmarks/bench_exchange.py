"""Benchmark of the CDISC export (plain python; prints a table).

    .venv/bin/python benchmarks/bench_exchange.py            # 29-subject study and 100,000 subjects
    .venv/bin/python benchmarks/bench_exchange.py --quick    # 29 and 10,000 subjects

For each trial size: building every SDTM and ADaM dataset from the read model, then writing the
SDTM and ADaM packages as SAS transport v5 (with Define-XML and the conformance checks), with the
CPU time and the peak resident memory of the process (``ru_maxrss``). Targets (issue "CDISC
exchange"): the study under 10 s, 100,000 subjects under 2 minutes on one core.

The 29-subject study and the large trial are the random but plausible in-silico trials of
``bench_analysis.synthetic_trial`` (fixed seed).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from bench_analysis import synthetic_trial
from cartrial.exchange import build_adam, build_sdtm, write_package


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _row(label: str, n: int) -> tuple[str, int, float, float, float, int]:
    trial = synthetic_trial(n)
    cpu = time.process_time()
    sdtm = build_sdtm(trial)
    adam = build_adam(trial, sdtm)
    built = time.process_time() - cpu
    records = sum(len(f) for f in (*sdtm.values(), *adam.values()))
    with tempfile.TemporaryDirectory() as folder:
        cpu = time.process_time()
        sdtm = build_sdtm(trial)
        write_package(trial, "sdtm", Path(folder) / "sdtm", "xpt", datasets=sdtm)
        write_package(trial, "adam", Path(folder) / "adam", "xpt", datasets=build_adam(trial, sdtm))
        written = time.process_time() - cpu
    return label, n, built, written, _peak_mib(), records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 subjects instead of 100,000")
    args = parser.parse_args()
    large = 10_000 if args.quick else 100_000
    rows = [_row("study (29 subjects)", 29), _row(f"in-silico ({large:,} subjects)", large)]
    print("CDISC export: build every dataset, then write SDTM + ADaM as XPT v5 with Define-XML")
    print(f"{'trial':<30} {'subjects':>9} {'records':>10} {'build CPU s':>12} "
          f"{'build+write CPU s':>18} {'peak RSS MiB':>13}")  # fmt: skip
    for label, n, built, written, peak, records in rows:
        print(f"{label:<30} {n:>9,} {records:>10,} {built:>12.2f} {written:>18.2f} {peak:>13.0f}")


if __name__ == "__main__":
    main()
