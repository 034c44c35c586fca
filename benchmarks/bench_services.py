"""Benchmark of the services: AE writes per second with the audit trail, and study re-derivation.

Run: ``.venv/bin/python benchmarks/bench_services.py [--subjects 1000] [--aes 1000]``

1. AE writes on a SQLite file (WAL, ``synchronous`` from ``$CARTRIAL_SQLITE_SYNCHRONOUS``, default
   NORMAL; audit trail on): ``record_ae`` one call = one transaction, and ``record_aes`` (the same
   checks, one transaction for the batch). Reference for ``record_ae``: the same rows (AE, its two
   grade-course rows, their audit rows) written through ``unit_of_work`` without any read or
   check, one transaction per AE: the floor the store sets for this write.
2. ``rederive_study`` on a study of N subjects (each: 12 labs, 6 CRS/ICANS days, 3 RECIST
   assessments of 3 lesions, 4 AEs with grade courses) created with every derived value missing:
   the first run derives and writes everything, the second finds nothing to change.
   Reference: grading the same labs one ``ctcae.grade_lab`` call per row instead of one
   vectorised ``grade_labs`` call (the speed-up column).

Users are created with argon2-cffi's cheapest profile: password hashing is not what is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import argon2.profiles
import pandas as pd
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from cartrial.rules import ctcae
from cartrial.services import (
    AddSite,
    AddUser,
    CreateStudy,
    RecordAE,
    RederiveStudy,
    ServiceContext,
    add_site,
    add_user,
    create_study,
    record_ae,
    record_aes,
    rederive_study,
)
from cartrial.store import (
    AdverseEvent,
    AeGradeChange,
    AuditedSession,
    CrsIcansObservation,
    Enrolment,
    Infusion,
    LabResult,
    LesionMeasurement,
    Site,
    Study,
    Subject,
    TumourLesion,
    auth,
    make_engine,
    session_factory,
    unit_of_work,
)
from cartrial.store.engine import sqlite_synchronous
from cartrial.store.keys import create_audit_key
from cartrial.store.migrate import upgrade

T = TypeVar("T")
STUDY = "CLDN18-PDL1-CART-01"
PASSWORD = "benchmark password"
D0 = dt.date(2025, 1, 6)
#: (lbtestcd, value, unit, lln, uln): CTCAE-gradable results after lymphodepletion.
LABS = (
    ("NEUT", 0.4, "10^9/L", 1.8, 7.5),
    ("PLAT", 60.0, "10^9/L", 150.0, 400.0),
    ("HGB", 95.0, "g/L", 120.0, 160.0),
    ("ALT", 90.0, "U/L", 0.0, 40.0),
)


def fresh_study(directory: Path, name: str) -> ServiceContext:
    """A migrated SQLite file with the study, one site and the staff the benchmark uses."""
    url = f"sqlite:///{directory / name}"
    upgrade(url)
    create_audit_key(url)  # $CARTRIAL_AUDIT_KEY_FILE, else <file>.audit-key
    factory = session_factory(make_engine(url))
    create_study(
        factory,
        CreateStudy(admin_username="admin", admin_full_name="Admin", admin_password=PASSWORD),
    )
    admin = ServiceContext(factory, "admin", STUDY)
    add_site(admin, AddSite(code="S01", name="Site one"))
    for user, role in (("coord", "site_coordinator"), ("dm", "data_manager")):
        add_user(
            admin, AddUser(username=user, full_name=user, password=PASSWORD, role=role, site=None)
        )
    return admin


def populate(admin: ServiceContext, n_subjects: int) -> None:
    """Infused subjects with raw data and no derived values (store API, audited)."""
    start = dt.datetime.combine(D0, dt.time(9), tzinfo=dt.UTC)
    with unit_of_work(admin.session_factory, "coord") as session:
        study = session.scalars(select(Study)).one()
        site = session.scalars(select(Site)).one()
        for i in range(n_subjects):
            subject = Subject(
                study_id=study.id,
                site_id=site.id,
                subject_code=f"S01-{i:04d}",
                status="infused",
                phase="escalation",
                indication="gastric",
                sex="F",
                age_years=60,
                ecog=1,
                screened_date=D0 - dt.timedelta(days=30),
            )
            session.add(subject)
            session.flush()
            sid = subject.id
            session.add(
                Enrolment(
                    subject_id=sid,
                    enrolled_date=D0 - dt.timedelta(days=20),
                    phase="escalation",
                    cohort=1,
                )
            )
            session.add(
                Infusion(
                    subject_id=sid,
                    dose_level="DL1",
                    dose_index=1,
                    target_cells=2.5e8,
                    actual_cells=2.5e8,
                    infused_at=start,
                )
            )
            for k in range(12):
                code, value, unit, lln, uln = LABS[k % len(LABS)]
                session.add(
                    LabResult(
                        subject_id=sid,
                        collected_at=start + dt.timedelta(days=k),
                        lbtestcd=code,
                        value=value * (1 + 0.1 * (k % 3)),
                        unit=unit,
                        lln=lln,
                        uln=uln,
                    )
                )
            for k in range(6):
                session.add(
                    CrsIcansObservation(
                        subject_id=sid,
                        observed_date=D0 + dt.timedelta(days=k),
                        temperature_c=38.0 + 0.3 * k,
                        hypotension=k == 3,
                        vasopressors=1 if k == 4 else 0,
                        oxygen_device="room_air",
                        ice_orientation=4,
                        ice_naming=3,
                        ice_commands=1,
                        ice_writing=1,
                        ice_attention=1 if k < 5 else 0,
                        consciousness="awake",
                        seizure="none",
                        motor="none",
                        icp="none",
                        tocilizumab=k == 4,
                    )
                )
            lesions = [
                TumourLesion(subject_id=sid, lesion_code=code, category=cat, organ=organ)
                for code, cat, organ in (
                    ("T1", "target", "liver"),
                    ("T2", "target", "lung"),
                    ("N1", "non_target", "peritoneum"),
                )
            ]
            session.add_all(lesions)
            session.flush()
            for week, shrink in ((-1, 1.0), (6, 0.8 - 0.1 * (i % 3)), (12, 0.7)):
                for lesion, size in zip(lesions, (40.0, 20.0, None), strict=True):
                    session.add(
                        LesionMeasurement(
                            lesion_id=lesion.id,
                            assessment_date=D0 + dt.timedelta(weeks=week),
                            diameter_mm=None if size is None else size * shrink,
                            status="present",
                        )
                    )
            for k, (term, grade) in enumerate(
                (
                    ("Cytokine release syndrome", 2),
                    ("Neutrophil count decreased", 4),
                    ("Nausea", 1),
                    ("Gastritis", 3 if i % 10 == 0 else 1),
                )
            ):
                onset = start + dt.timedelta(days=1 + k)
                ae = AdverseEvent(
                    subject_id=sid,
                    term=term,
                    soc="-",
                    grade=grade,
                    onset_at=onset,
                    resolved_at=onset + dt.timedelta(days=5),
                    attribution="possible",
                )
                AeGradeChange(adverse_event=ae, grade=grade, changed_at=onset)
                AeGradeChange(adverse_event=ae, grade=0, changed_at=onset + dt.timedelta(days=5))
                session.add(ae)


def ae_inputs(n: int, subjects: int) -> list[RecordAE]:
    """``n`` valid AEs spread over ``subjects`` subjects."""
    start = dt.datetime.combine(D0, dt.time(9), tzinfo=dt.UTC)
    return [
        RecordAE(
            subject_id=f"S01-{i % subjects:04d}",
            term=("Nausea", "Fatigue", "Diarrhea", "Headache")[i % 4],
            grade=1 + i % 2,
            onset_at=start + dt.timedelta(hours=i),
            resolved_at=start + dt.timedelta(hours=i + 30),
            attribution="possible",
        )
        for i in range(n)
    ]


def subject_ids(admin: ServiceContext) -> dict[str, int]:
    """Database id of every subject, by code."""
    with unit_of_work(admin.session_factory, "admin") as session:
        return dict(session.execute(select(Subject.subject_code, Subject.id)).tuples().all())


def store_only(
    factory: sessionmaker[AuditedSession], subjects: dict[str, int], item: RecordAE
) -> None:
    """Reference: the rows ``record_ae`` writes (the AE, its grade course, their audit rows) in
    one audited transaction, without reading the user, study or subject and without any check."""
    with unit_of_work(factory, "coord") as session:
        ae = AdverseEvent(
            subject_id=subjects[item.subject_id],
            term=item.term,
            soc=ctcae.term_info(item.term).soc,
            grade=item.grade,
            onset_at=item.onset_at,
            resolved_at=item.resolved_at,
            attribution=item.attribution,
            is_dlt=False,
            dlt_rule_id="no_criterion",
            dlt_reason="reference",
        )
        AeGradeChange(adverse_event=ae, grade=item.grade, changed_at=item.onset_at)
        AeGradeChange(adverse_event=ae, grade=0, changed_at=item.resolved_at)
        session.add(ae)
        session.flush()


def timed(action: Callable[[], T]) -> tuple[T, float, float]:
    """Run ``action``; return its result, wall-clock seconds and CPU seconds of this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--aes", type=int, default=1000)
    args = parser.parse_args()
    auth.PASSWORD_PROFILE = argon2.profiles.CHEAPEST
    rows: list[tuple[str, str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        admin = fresh_study(directory, "aes.db")
        populate(admin, 100)
        coord = ServiceContext(admin.session_factory, "coord", STUDY)
        single = ae_inputs(args.aes + 1, 100)
        record_ae(coord, single.pop())  # warm-up: protocol parsed, statements compiled
        reference = partial(store_only, admin.session_factory, subject_ids(admin))
        _, ref_wall, ref_cpu = timed(lambda: [reference(item) for item in single])
        _, wall, cpu = timed(lambda: [record_ae(coord, item) for item in single])
        n = len(single)
        rows.append(
            ("reference: the same rows through the store, no checks", str(n),
             f"{n / ref_wall:,.0f} AE/s", f"{n / ref_cpu:,.0f} AE/s", "")
        )  # fmt: skip
        rows.append(
            ("record_ae: 1 transaction per AE", str(n), f"{n / wall:,.0f} AE/s",
             f"{n / cpu:,.0f} AE/s", f"x{wall / ref_wall:.2f} the reference's time")
        )  # fmt: skip
        batch = ae_inputs(args.aes, 100)
        _, wall, cpu = timed(lambda: record_aes(coord, batch))
        n = len(batch)
        rows.append(
            ("record_aes: 1 transaction", str(n), f"{n / wall:,.0f} AE/s", f"{n / cpu:,.0f} AE/s",
             "")
        )  # fmt: skip

        admin = fresh_study(directory, "study.db")
        _, setup, _ = timed(lambda: populate(admin, args.subjects))
        dm = ServiceContext(admin.session_factory, "dm", STUDY)
        for label, why in (
            ("all derived values missing", "benchmark: derive everything"),
            ("nothing to change", "benchmark: nothing to change"),
        ):
            done, wall, cpu = timed(partial(rederive_study, dm, RederiveStudy(reason=why)))
            checked = done.labs_checked + done.crs_icans_checked + done.adverse_events_checked
            written = (
                done.labs_changed
                + done.crs_icans_changed
                + done.timepoints_changed
                + done.adverse_events_changed
            )
            rows.append(
                (f"rederive_study: {args.subjects} subjects, {label}", str(checked),
                 f"{wall:.2f} s", f"{cpu:.2f} s", f"{written} rows written")
            )  # fmt: skip
        n_labs = 12 * min(args.subjects, 200)
        values = [LABS[k % len(LABS)] for k in range(n_labs)]
        frame = pd.DataFrame(values, columns=["lbtestcd", "value", "unit", "lln", "uln"])
        _, loop, _ = timed(lambda: [grade_one(*v) for v in values])
        _, vectorised, _ = timed(lambda: ctcae.grade_labs(frame))
        rows.append(
            ("lab grades: grade_labs vs grade_lab per row", str(n_labs),
             f"{vectorised * 1000:.1f} ms vs {loop * 1000:.0f} ms", "",
             f"speed-up x{loop / vectorised:.0f}")
        )  # fmt: skip
    table = Table(
        title=f"cartrial services (SQLite file, synchronous={sqlite_synchronous()}, audit on; "
        f"set-up {setup:.0f} s)"
    )
    for column in ("case", "records", "wall clock", "CPU of this process", "note"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)


def grade_one(code: str, value: float, unit: str, lln: float, uln: float) -> int:
    """The worse CTCAE grade of one lab value, one ``grade_lab`` call per direction."""
    grades = [
        ctcae.grade_lab(term, value, unit=unit, lln=lln, uln=uln).grade
        for term in (ctcae.term_for_testcd(code, "low"), ctcae.term_for_testcd(code, "high"))
        if term is not None
    ]
    return max(grades)


if __name__ == "__main__":
    main()
