"""Benchmark and check: the in-silico demo study moved out as ODM, into a fresh database, and out.

Run: ``python benchmarks/bench_odm_demo.py [--seed 20260101]``

The demo (:func:`cartrial.demo.run_demo`, without its report) runs the whole study through the
use cases: screening, cohorts, signed dose decisions, the end of escalation, the RP2D, the
expansion opened, reviewed and stopped. Its data manager exports CDISC ODM 1.3
(:func:`cartrial.services.export_odm`); a fresh database with the same protocol, sites and one
study-wide investigator (``mover``) imports it with :func:`cartrial.services.import_odm`
(governance signed as imported copies); the copy's export is compared byte for byte with the
first, and the escalation and expansion states (doses, counts, recommendation, decisions, MTD,
RP2D) with the source's. Wall and CPU (process) seconds per step.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import argon2.profiles
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from cartrial.demo import run_demo
from cartrial.demo.study import DEFAULT_SEED, PASSWORD, SITES
from cartrial.protocol import default_protocol_path, load_protocol
from cartrial.services import (
    AddSite,
    AddUser,
    CreateStudy,
    ServiceContext,
    add_site,
    add_user,
    create_database,
    create_study,
    escalation_state,
    expansion_state,
    export_odm,
    import_odm,
    trusted_context,
)
from cartrial.store import auth, make_engine, session_factory

CREATED = dt.datetime(2026, 8, 1, 12, 0, tzinfo=dt.UTC)
T = TypeVar("T")


def timed(step: Callable[[], T]) -> tuple[T, float, float]:
    """``step()``, its wall and CPU (process) seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    auth.PASSWORD_PROFILE = argon2.profiles.CHEAPEST
    table = Table("step", "wall s", "CPU s", "result")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        _, wall, cpu = timed(lambda: run_demo(out, seed=args.seed, report=False, pdf=False))
        table.add_row("demo study through the use cases", f"{wall:.1f}", f"{cpu:.1f}", "")
        source_factory = session_factory(make_engine(f"sqlite:///{out / 'cartrial.db'}"))
        protocol_yaml = default_protocol_path().read_text(encoding="utf-8")  # the demo's
        study_id = load_protocol().study_id
        source = trusted_context(source_factory, "dm", study_id)
        first, wall, cpu = timed(lambda: export_odm(source, created=CREATED))
        table.add_row("ODM export", f"{wall:.2f}", f"{cpu:.2f}", f"{len(first):,} bytes")
        path = Path(tmp) / "study.xml"
        path.write_bytes(first)
        factory = create_database(Path(tmp) / "copy.db")
        create_study(
            factory,
            CreateStudy(
                protocol_yaml=protocol_yaml,
                admin_username="admin",
                admin_full_name="Administrator",
                admin_password=PASSWORD,
            ),
        )
        admin = trusted_context(factory, "admin", study_id)
        for code, name, country in SITES:
            add_site(admin, AddSite(code=code, name=name, country=country))
        add_user(
            admin,
            AddUser(username="mover", full_name="Mover", password=PASSWORD, role="investigator"),
        )
        mover = trusted_context(factory, "mover", study_id)
        reports, wall, cpu = timed(lambda: import_odm(mover, path, password=SecretStr(PASSWORD)))
        rows = sum(r.rows for r in reports)
        table.add_row("ODM import (fresh database)", f"{wall:.2f}", f"{cpu:.2f}", f"{rows} rows")
        again = export_odm(mover, created=CREATED)
        table.add_row("export again", "", "", "identical" if again == first else "DIFFERENT")
        differences = [
            f"{day}: {mine!r} != {theirs!r}"
            for day in (dt.date(2024, 6, 1), dt.date(2025, 1, 1), dt.date(2027, 1, 1))
            for part_mine, part_theirs in zip(_state(source, day), _state(mover, day), strict=True)
            for mine, theirs in zip(_items(part_mine), _items(part_theirs), strict=False)
            if mine != theirs
        ]
        same = not differences
        table.add_row("escalation and expansion state", "", "", "equal" if same else "DIFFERENT")
    Console().print(table)
    for line in differences:
        print(line)
    if again != first or not same:
        sys.exit(1)


def _items(part: object) -> list[object]:
    """A state part as a list (its elements for a list), to show the first that differ."""
    return list(part) if isinstance(part, list) else [part]


def _state(ctx: ServiceContext, as_of: dt.date) -> tuple[object, ...]:
    """What a dashboard draws of the escalation and the expansion on ``as_of``."""
    state = escalation_state(ctx, as_of=as_of)
    expansion = expansion_state(ctx, as_of=as_of)
    return (
        state.current_dose_level,
        state.recommended_action,
        state.recommended_next_dose_level,
        [(d.dose_level, d.treated, d.evaluable, d.dlts) for d in state.doses],
        [(d.cohort, d.dose_level, d.action, d.next_dose_level) for d in state.decisions],
        state.escalation_end and state.escalation_end.dose_level,
        state.rp2d and state.rp2d.dose_level,
        (expansion.is_open, expansion.stopped, expansion.rules.basis()),
        [(d.kind, d.dose_level, d.basis, d.decided_date) for d in expansion.decisions],
    )


if __name__ == "__main__":
    main()
