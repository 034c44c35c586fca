"""Benchmark of moving a study in: CSV import of every record family, ODM export and ODM import.

Run: ``python benchmarks/bench_import_records.py [--screened 1000] [--labs 300]``

A study of ``--screened`` screened subjects, three of them enrolled at DL1 (one cohort: the
packaged protocol enrols three before a dose decision), lymphodepleted, infused and followed with
``--labs`` lab results and 14 CRS/ICANS days each, plus AEs, RECIST assessments and samples, is
imported from CSV with :func:`cartrial.services.import_study` (every row through its use case,
one transaction), exported as CDISC ODM 1.3 and imported from ODM into a fresh database, whose
export is then compared byte for byte. Users are created with argon2-cffi's cheapest profile.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import argon2.profiles
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from bench_services import PASSWORD, STUDY, fresh_study
from cartrial.services import (
    AddUser,
    ServiceContext,
    add_user,
    export_odm,
    import_odm,
    import_study,
)
from cartrial.store import auth

D0 = dt.date(2026, 3, 2)
ELIGIBLE = "55,F,gastric,1,60.0,2,2,true,true,20,2.0,150.0,11.0,80.0,1.0,1.0"
SCREEN_COLS = (
    "subject_id,site_id,screening_date,age,sex,indication,ecog,cldn18_ihc_pct,"
    "cldn18_ihc_intensity,prior_lines,refractory_to_standard_therapy,measurable_disease,"
    "life_expectancy_weeks,anc_1e9_l,platelets_1e9_l,hemoglobin_g_dl,"
    "creatinine_clearance_ml_min,alt_x_uln,bilirubin_x_uln"
)


def study_files(screened: int, labs: int) -> dict[str, str]:
    """CSV text per record family (see the module docstring)."""
    treated = [f"S01-{i:04d}" for i in range(3)]
    day = lambda n: (D0 + dt.timedelta(days=n)).isoformat()  # noqa: E731
    files = {
        "screening": SCREEN_COLS
        + "\n"
        + "".join(f"S01-{i:04d},S01,{day(-20)},{ELIGIBLE}\n" for i in range(screened)),
        "enrolment": "subject_id,enrolled_date\n" + "".join(f"{s},{day(-10)}\n" for s in treated),
        "dose_assignment": "subject_id,dose_level\n" + "".join(f"{s},DL1\n" for s in treated),
        "lymphodepletion": "subject_id,agent,dose,unit,day,administered_date\n"
        + "".join(
            f"{s},{agent},{dose},mg/m2,{d},{day(d)}\n"
            for s in treated
            for d in (-5, -4, -3)
            for agent, dose in (("fludarabine", 25), ("cyclophosphamide", 250))
        ),
        "infusion": "subject_id,infused_at,actual_cells\n"
        + "".join(f"{s},{day(0)}T10:00:00+00:00,2.5e8\n" for s in treated),
        "adverse_events": "subject_id,term,grade,onset_at,attribution\n"
        + "".join(f"{s},Nausea,1,{day(2)},unlikely\n" for s in treated),
        "crs_icans_days": "subject_id,observed_date,temperature_c,ice_orientation,ice_naming,"
        "ice_commands,ice_writing,ice_attention\n"
        + "".join(f"{s},{day(d)},38.2,4,3,1,1,1\n" for s in treated for d in range(1, 15)),
        "tumour_assessments": "subject_id,assessment_date,lesion_id,category,organ,diameter_mm\n"
        + "".join(
            f"{s},{day(d)},T{k},target,liver,{mm}\n"
            for s in treated
            for d, mm in ((-8, 40), (42, 30), (84, 25))
            for k in (1, 2)
        ),
        "labs": "subject_id,collected_at,lbtestcd,value,unit,lln,uln\n"
        + "".join(
            f"{s},{day(1 + n // 4)}T{8 + n % 4:02d}:00:00+00:00,NEUT,{0.3 + n % 20 / 10},"
            "10^9/L,1.8,7.5\n"
            for s in treated
            for n in range(labs)
        ),
        "kinetics": "subject_id,collected_at,unit,value,lloq\n"
        + "".join(
            f"{s},{day(d)},copies/ug gDNA,{50000 // d},50\n"
            for s in treated
            for d in (1, 4, 7, 14, 28)
        ),
    }
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screened", type=int, default=1000)
    parser.add_argument("--labs", type=int, default=300)
    args = parser.parse_args()
    auth.PASSWORD_PROFILE = argon2.profiles.CHEAPEST
    files = study_files(args.screened, args.labs)
    n_rows = sum(text.count("\n") - 1 for text in files.values())
    table = Table("step", "rows", "wall s", "rows/s")
    with tempfile.TemporaryDirectory() as tmp:
        contexts = []
        for name in ("source.db", "target.db"):
            admin = fresh_study(Path(tmp), name)
            add_user(
                admin,
                AddUser(username="inv", full_name="inv", password=PASSWORD, role="investigator"),
            )
            contexts.append(ServiceContext(admin.session_factory, "inv", STUDY))
        source, target = contexts
        start = time.perf_counter()
        import_study(source, list(files.items()))
        wall = time.perf_counter() - start
        table.add_row(
            "CSV import (import_study)", str(n_rows), f"{wall:.2f}", f"{n_rows / wall:,.0f}"
        )
        created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        start = time.perf_counter()
        document = export_odm(source, created=created)
        wall = time.perf_counter() - start
        table.add_row(
            f"ODM export ({len(document) / 1e6:.1f} MB)", str(n_rows), f"{wall:.2f}",
            f"{n_rows / wall:,.0f}",
        )  # fmt: skip
        path = Path(tmp) / "study.xml"
        path.write_bytes(document)
        start = time.perf_counter()
        import_odm(target, path)
        wall = time.perf_counter() - start
        table.add_row(
            "ODM import (import_odm)", str(n_rows), f"{wall:.2f}", f"{n_rows / wall:,.0f}"
        )
        same = export_odm(target, created=created) == document
        table.caption = f"round trip export -> import -> export identical: {same}"
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
