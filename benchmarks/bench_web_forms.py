"""Latency of the web forms' live fragments and record pages (in process; prints a table).

    .venv/bin/python benchmarks/bench_web_forms.py            # 30 subjects, 40 requests each
    .venv/bin/python benchmarks/bench_web_forms.py --quick    # 10 subjects, 10 requests each

Each htmx preview runs a read-only use case on every change of a form, so it should answer well
within a typing pause (the form's trigger waits 600 ms): the tumour form's RECIST evaluation, the
CRS/ICANS grading with the ICE items, the AE form's DLT adjudication, the CTCAE term search, a
form page with its dose/site/subject lists, a subject timeline with its records, and one record's
audit trail. The study is built by ``bench_services`` (infused subjects with raw data); the
client is Starlette's TestClient in this process, so the figures include no network.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import argon2.profiles
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

from bench_services import PASSWORD, STUDY, fresh_study, populate
from cartrial.store import auth
from cartrial.web import create_app

SUBJECT = "S01-0000"


def _timed(call: Callable[[], int], n: int) -> tuple[float, float, float]:
    """p50, p95 and max in ms of ``n`` calls (each must answer 200)."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        status = call()
        times.append((time.perf_counter() - start) * 1000)
        assert status == 200, status
    times.sort()
    return statistics.median(times), times[max(0, round(0.95 * n) - 1)], times[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="10 subjects, 10 requests each")
    args = parser.parse_args()
    subjects, n = (10, 10) if args.quick else (30, 40)
    auth.PASSWORD_PROFILE = argon2.profiles.CHEAPEST
    with tempfile.TemporaryDirectory() as tmp:
        admin = fresh_study(Path(tmp), "web-forms.db")
        populate(admin, subjects)
        with TestClient(create_app(admin.session_factory, STUDY)) as client:
            client.get("/login")
            csrf = client.cookies["cartrial_csrf"]
            client.post(
                "/login", data={"csrf_token": csrf, "username": "coord", "password": PASSWORD}
            )

            def post(path: str, data: dict[str, str]) -> Callable[[], int]:
                def call() -> int:  # a preview that could not derive counts as a failure
                    response = client.post(path, data={"csrf_token": csrf, **data})
                    return 0 if "Not " in response.text else response.status_code

                return call

            def get(path: str) -> Callable[[], int]:
                return lambda: client.get(path).status_code

            tumour = {
                "subject_id": SUBJECT,
                "assessment_date": "2025-02-20",
                "lesions-0-lesion_id": "T9",
                "lesions-0-category": "new",
                "lesions-0-organ": "liver",
                "lesions-0-status": "unequivocal",
            }
            crs = {"subject_id": SUBJECT, "observed_date": "2025-01-30", "temperature_c": "38.4"}
            crs |= {f"ice-{i}": "on" for i in ("year", "month", "city", "hospital")}
            ae = {
                "subject_id": SUBJECT,
                "term": "Gastritis",
                "grade": "3",
                "onset_at": "2025-01-16T09:00",
                "attribution": "probable",
            }
            cases = [
                ("AE form page (lists of doses, sites, subjects)", get("/forms/ae")),
                ("CTCAE term search with grade texts", get("/terms/ctcae?term=gastritis")),
                ("tumour preview (RECIST 1.1)", post("/forms/tumour/preview", tumour)),
                ("CRS/ICANS preview (ICE, ASTCT)", post("/forms/crs-icans/preview", crs)),
                ("AE preview (grade text, DLT rules)", post("/forms/ae/preview", ae)),
                ("subject timeline with its records", get(f"/subjects/{SUBJECT}")),
                ("audit trail of one record", get("/audit/infusions/1")),
            ]
            table = Table(title=f"web forms and record pages, {subjects} subjects, {n} requests")
            for column in ("request", "p50 ms", "p95 ms", "max ms"):
                table.add_column(column, justify="left" if column == "request" else "right")
            for name, call in cases:
                call()  # warm up (protocol parse, templates)
                p50, p95, top = _timed(call, n)
                table.add_row(name, f"{p50:.0f}", f"{p95:.0f}", f"{top:.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
