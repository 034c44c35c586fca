"""Benchmark of the governance reading use cases a dashboard calls, on a whole in-silico study.

Run: ``.venv/bin/python benchmarks/bench_governance.py [--db demo-output/cartrial.db]
[--repeat 20]``

The database is a demo study (``cartrial demo --out demo-output``: 32 subjects, the escalation, the
expansion with its signed reviews, about 9,500 records). Each reading use case is called
``--repeat`` times through :mod:`cartrial.services` (one read-only transaction per call, as a web
page would) and the median and the slowest call are printed; the first ``expansion_state`` call
also finds the Simon design (an exhaustive search, kept for the process): the slowest call.
Reference row: ``trial_data`` (the whole analysis read model), which a dashboard must not need.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cartrial.protocol import default_protocol_path, load_protocol
from cartrial.services import (
    ServiceContext,
    escalation_state,
    expansion_state,
    open_database,
    rp2d_record,
    trial_data,
)


def _time(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), max(seconds)


def main() -> None:
    """Time the reading use cases and print a table (milliseconds per call)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=Path("demo-output/cartrial.db"))
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    if not args.db.is_file():
        raise SystemExit(f"{args.db}: run `cartrial demo --out {args.db.parent}` first")
    study = load_protocol(default_protocol_path()).study_id
    ctx = ServiceContext(open_database(args.db, migrate=False), "dsmb", study)
    state = escalation_state(ctx)
    cases: list[tuple[str, Callable[[], object], int]] = [
        ("escalation_state", lambda: escalation_state(ctx), args.repeat),
        ("expansion_state", lambda: expansion_state(ctx), args.repeat),
        ("rp2d_record", lambda: rp2d_record(ctx), args.repeat),
        ("trial_data (reference)", lambda: trial_data(ctx.session_factory, study), 3),
    ]
    table = Table(title=f"Governance reading use cases on {args.db} (ms per call)")
    for column in ("use case", "calls", "median ms", "slowest ms"):
        table.add_column(column, justify="right" if column != "use case" else "left")
    for name, call, repeat in cases:
        median, slowest = _time(call, repeat)
        table.add_row(name, str(repeat), f"{1000 * median:.1f}", f"{1000 * slowest:.1f}")
    console = Console()
    console.print(table)
    console.print(
        f"decisions: {len(state.decisions)} dose decisions, MTD {state.mtd_level}, "
        f"RP2D {state.rp2d.dose_level if state.rp2d else None}"
    )


if __name__ == "__main__":
    main()
