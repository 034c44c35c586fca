"""Load benchmark of the web application: a real server on loopback, many users (prints a table).

    python benchmarks/bench_web.py                                  # SQLite, 50 users for 60 s
    bash scripts/with-postgres.sh python benchmarks/bench_web.py --database postgresql --workers 2
    python benchmarks/bench_web.py --users 10 --seconds 15          # a shorter run

The study is seeded through the services (:func:`cartrial.services.import_study` with the CSV
files of ``bench_import_records.study_files``: ``--screened`` screened subjects, three infused at
DL1 with ``--labs`` laboratory values each, AEs, CRS days, tumour assessments, kinetics). The
server is ``cartrial serve`` in its own process (uvicorn, ``--workers N``) on 127.0.0.1; the
clients are threads of this process, one per user, each with its own login session (half of
them data managers, half site coordinators of site S01, whose pages are filtered to S01).

After a warm-up (each request kind ``3 x workers`` times, not measured), each user, until the
time is up, waits a think time (uniform, mean ``--think`` seconds; 0 = a closed loop) then, by a
fixed seed per user, does one of:

* 55 % a page view: overview, escalation dashboard, expansion dashboard, subject list, a
  subject's timeline;
* 20 % an API call with the user's personal access token: ``/api/study`` or ``/api/subjects``;
* 25 % a write: a laboratory value (``/forms/lab``: a new record of the read model, which every
  worker's cache must then show) or, for data managers, a data query (``/forms/raise-query``);
  one write in three goes through the JSON API (``POST /api/forms/...``) instead of the form.

Targets (issue 13, on SQLite): p95 under 100 ms for page views and under 200 ms for writes; zero
failed requests and zero lost writes. After the run every acknowledged write (its record id) is
looked up in its table and in the audit trail (an ``insert`` row for that record), and the whole
audit chain is verified (ids, links and MACs). The clients share the CPU with the server, so the
figures are upper bounds on a machine of their own; the server's CPU time per request
(all its processes, from /proc) is printed too, a figure the other load on the machine does not
inflate as much.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import argon2.profiles
import httpx
import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parent))
from bench_import_records import study_files
from cartrial.services import (
    AddSite,
    AddUser,
    CreateStudy,
    CreateToken,
    ServiceContext,
    add_site,
    add_user,
    create_study,
    create_token,
    import_study,
)
from cartrial.store import AuditLog, DataQuery, LabResult, auth, make_engine, session_factory
from cartrial.store.audit import verify_chain
from cartrial.store.keys import AUDIT_KEY_FILE_ENV, create_audit_key
from cartrial.store.migrate import upgrade

PASSWORD = "correct horse battery"
STUDY = "CLDN18-PDL1-CART-01"
D0 = dt.date(2026, 3, 2)  # the infusion day of bench_import_records.study_files
TREATED = ("S01-0000", "S01-0001", "S01-0002")
PAGES = ("/", "/escalation", "/expansion", "/subjects", "/subjects/{subject}")
#: What an acknowledged write returns as its record id, and the table it must be in.
WRITES = {"lab": ("lab_id", LabResult), "raise-query": ("query_id", DataQuery)}


def seed(url: str, n_users: int, screened: int, labs: int) -> dict[str, tuple[str, str]]:
    """Create the study and the users; return username -> (role, personal access token)."""
    upgrade(url)
    create_audit_key(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    auth.PASSWORD_PROFILE = argon2.profiles.CHEAPEST  # logins are not what is measured
    create_study(
        factory, CreateStudy(admin_username="admin", admin_full_name="A", admin_password=PASSWORD)
    )
    admin = ServiceContext(factory, "admin", STUDY)
    for code in ("S01", "S02"):
        add_site(admin, AddSite(code=code, name=f"Site {code}"))
    add_user(admin, AddUser(username="inv", full_name="I", password=PASSWORD, role="investigator"))
    import_study(ServiceContext(factory, "inv", STUDY), list(study_files(screened, labs).items()))
    users = {}
    for i in range(n_users):
        name = f"u{i:02d}"
        role, site = ("data_manager", None) if i % 2 == 0 else ("site_coordinator", "S01")
        add_user(
            admin, AddUser(username=name, full_name=name, password=PASSWORD, role=role, site=site)
        )
        token = create_token(
            ServiceContext(factory, name, STUDY),
            CreateToken(name="bench", expires_on=dt.date.today() + dt.timedelta(days=2)),
        ).token
        users[name] = (role, token)
    engine.dispose()
    return users


def start_server(url: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    """``cartrial serve`` in its own process; returns once it answers."""
    command = [sys.executable, "-m", "cartrial.cli", "serve", "--db", url, "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", str(workers), "--study", STUDY],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"the server did not start: {log.read_text()[-2000:]}")


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system, s) used so far by process ``pid`` and its live children."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: parent pid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


class Results:
    """Latencies per request kind, failures and acknowledged writes (shared by the user threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.failed: list[tuple[str, int, str]] = []
        self.written: list[tuple[str, int]] = []

    def add(self, kind: str, seconds: float, failure: tuple[int, str] | None) -> None:
        with self.lock:
            self.times[kind].append(seconds)
            if failure is not None:
                self.failed.append((kind, *failure))


API_PATHS = ("/api/study", "/api/subjects")
#: Every request kind, as (kind, page, API path or form), for the table and the sequential pass.
KINDS = (
    *(("page view", page) for page in PAGES),
    *(("API call", path) for path in API_PATHS),
    *(("write (form)", form) for form in WRITES),
    *(("write (API)", form) for form in WRITES),
)


def pick(rng: random.Random, role: str) -> tuple[str, str]:
    """The next request of a user (the mix of the module docstring)."""
    x = rng.random()
    if x < 0.55:
        return "page view", rng.choice(PAGES)
    if x < 0.75:
        return "API call", rng.choice(API_PATHS)
    form = "raise-query" if role == "data_manager" and rng.random() < 0.5 else "lab"
    return ("write (API)" if rng.random() < 1 / 3 else "write (form)"), form


#: Minutes of follow-up a laboratory value may be dated in: days 1 to 60 after the infusion.
FOLLOW_UP_MINUTES = 60 * 24 * 60


def _values(rng: random.Random, form: str, slot: int) -> dict[str, str]:
    """The input of a write: a data query, or a plausible neutrophil count of a treated subject.

    ``slot`` numbers the writer's laboratory values (unique across writers): each is taken at a
    minute of its own, so that no value repeats a stored one (the duplicate rules would refuse
    it, rightly). The value (0.2-6.0 x 10^9/L, limits 1.8-7.5) is inside the physiological
    range of ``data/plausibility``; a refusal of such a value is a real failure.
    """
    subject = rng.choice(TREATED)
    if form == "raise-query":
        return {"subject_id": subject, "question": "Please check the source."}
    if slot >= FOLLOW_UP_MINUTES:
        raise SystemExit("more laboratory values than minutes of follow-up: a shorter run")
    when = dt.datetime.combine(D0, dt.time(), dt.UTC) + dt.timedelta(days=1, minutes=slot)
    return {
        "subject_id": subject,
        "collected_at": when.isoformat(),
        "lbtestcd": "NEUT",
        "value": f"{rng.uniform(0.2, 6.0):.2f}",
        "unit": "10^9/L",
        "lln": "1.8",
        "uln": "7.5",
    }


def _problem(response: httpx.Response) -> str:
    """What a failed response says: a form's error message, the API's detail, else its end."""
    alert = re.search(r'role="alert">([^<]*)<', response.text)
    if alert:
        return alert.group(1)
    if response.headers.get("content-type", "").startswith("application/json"):
        return str(response.json().get("detail", response.text))[:300]
    return re.sub(r"\s+", " ", response.text)[-300:]


class User:
    """A logged-in user: its HTTP client (own session cookie), CSRF token and access token."""

    def __init__(self, base: str, name: str, token: str, writer: int, writers: int) -> None:
        self.writer, self.writers, self.labs = writer, writers, 0  # slots of its lab values
        self.client = httpx.Client(base_url=base, timeout=60)
        self.client.get("/login")
        self.csrf = self.client.cookies["cartrial_csrf"]
        form = {"csrf_token": self.csrf, "username": name, "password": PASSWORD}
        self.client.post("/login", data=form)
        self.bearer = {"Authorization": f"Bearer {token}"}

    def send(self, rng: random.Random, kind: str, what: str, out: Results) -> None:
        """One request; its time, failure or acknowledged write go to ``out``."""
        began = time.perf_counter()
        if kind == "page view":
            r = self.client.get(what.format(subject=rng.choice(TREATED)))
            ok = r.status_code == 200
        elif kind == "API call":
            r = self.client.get(what, headers=self.bearer)
            ok = r.status_code == 200
        else:
            id_field = WRITES[what][0]
            values = _values(rng, what, self.writer + self.writers * self.labs)
            self.labs += what == "lab"
            if kind == "write (API)":
                r = self.client.post(f"/api/forms/{what}", json=values, headers=self.bearer)
                found = r.json().get(id_field) if r.status_code == 200 else None
            else:
                r = self.client.post(f"/forms/{what}", data={"csrf_token": self.csrf, **values})
                match = re.search(rf"<dt>{id_field.replace('_', ' ')}</dt><dd>(\d+)<", r.text)
                found = match.group(1) if r.status_code == 200 and match else None
            ok = found is not None
            if ok:
                with out.lock:
                    out.written.append((what, int(str(found))))
        elapsed = time.perf_counter() - began
        failure = None if ok else (r.status_code, _problem(r))
        out.add(f"{kind} {what}", elapsed, failure)


def run_user(
    base: str,
    name: str,
    role: str,
    token: str,
    think: float,
    start: threading.Barrier,
    until: list[float],
    seed_: int,
    out: Results,
    writers: int,
) -> None:
    """One user: log in, then requests until the time is up (see the module docstring).

    ``seed_`` seeds its choices and numbers it among the ``writers`` (its lab values' slots).
    """
    rng = random.Random(seed_)
    user = User(base, name, token, seed_, writers)
    start.wait()
    while True:
        time.sleep(rng.uniform(0, 2 * think))
        if time.perf_counter() >= until[0]:
            break
        user.send(rng, *pick(rng, role), out)
    user.client.close()


def server_cost(
    base: str, name: str, token: str, pid: int, repeats: int, out: Results, writer: tuple[int, int]
) -> dict[str, float]:
    """Server CPU ms per request of each kind, one request at a time (no queueing).

    ``writer``: this pass's number among the writers and their number (its lab values' slots).
    """
    rng = random.Random(0)
    user = User(base, name, token, *writer)
    cost = {}
    for kind, what in KINDS:
        before = server_cpu_seconds(pid)
        for _ in range(repeats):
            user.send(rng, kind, what, out)
        cost[f"{kind} {what}"] = (server_cpu_seconds(pid) - before) / repeats * 1000
    user.client.close()
    return cost


def check_writes(url: str, written: list[tuple[str, int]]) -> tuple[int, str]:
    """Acknowledged writes missing from their table or from the audit trail; the chain check."""
    engine = make_engine(url)
    lost = 0
    with engine.connect() as connection:
        for form, (_, model) in WRITES.items():
            ids = {i for f, i in written if f == form}
            stored = set(connection.scalars(select(model.id).where(model.id.in_(ids))))
            audited = set(
                connection.scalars(
                    select(AuditLog.record_id).where(
                        AuditLog.table_name == model.__tablename__,
                        AuditLog.action == "insert",
                        AuditLog.record_id.in_(ids),
                    )
                )
            )
            lost += len(ids - (stored & audited))
        report = verify_chain(connection)
    engine.dispose()
    chain = f"{report.rows} rows, {'intact' if report.ok else 'BROKEN'}"
    return lost, chain


def main() -> None:
    """Seed, serve, load, check and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=1.0, help="mean think time (s)")
    parser.add_argument("--screened", type=int, default=200)
    parser.add_argument("--labs", type=int, default=600, help="lab values per treated subject")
    parser.add_argument("--port", type=int, default=8797)
    parser.add_argument("--repeats", type=int, default=20, help="requests per kind, sent alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.database == "postgresql":
            url = os.environ.get("CARTRIAL_TEST_POSTGRES_URL", "")
            if not url:
                raise SystemExit("run under scripts/with-postgres.sh (CARTRIAL_TEST_POSTGRES_URL)")
            os.environ[AUDIT_KEY_FILE_ENV] = str(Path(tmp) / "audit.key")
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        users = seed(url, args.users, args.screened, args.labs)
        server = start_server(url, args.port, args.workers, Path(tmp) / "server.log")
        out = Results()
        base = f"http://127.0.0.1:{args.port}"
        first = next(iter(users))  # a data manager
        # warm-up, not measured: each kind a few times, so that each worker has imported what
        # its pages use and read the model once (a server runs for days; the load is its life)
        warm = Results()
        writers = len(users) + 2  # the users, the warm-up and the pass of one kind at a time
        server_cost(
            base, first, users[first][1], server.pid, 3 * args.workers, warm, (writers - 2, writers)
        )
        barrier = threading.Barrier(len(users) + 1)
        until = [float("inf")]
        threads = [
            threading.Thread(
                target=run_user,
                args=(base, name, role, token, args.think, barrier, until, i, out, writers),
            )
            for i, (name, (role, token)) in enumerate(users.items())
        ]
        for thread in threads:
            thread.start()
        barrier.wait()  # every user logged in
        cpu = server_cpu_seconds(server.pid)
        until[0] = time.perf_counter() + args.seconds
        for thread in threads:
            thread.join()
        cpu = server_cpu_seconds(server.pid) - cpu
        alone = Results()
        cost = server_cost(
            base, first, users[first][1], server.pid, args.repeats, alone, (writers - 1, writers)
        )
        server.terminate()
        server.wait(timeout=60)
        lost, chain = check_writes(url, out.written + alone.written + warm.written)
    title = (
        f"Web load on {args.database} ({args.workers} worker(s)): {args.users} users for "
        f"{args.seconds:.0f} s, think time {args.think:g} s"
    )
    table = Table(title=title)
    columns = ("request", "count", "per s", "p50 ms", "p95 ms", "max ms", "server CPU ms")
    for column in columns:
        table.add_column(column, justify="left" if column == "request" else "right")
    groups: dict[str, list[float]] = defaultdict(list)
    for kind, times in out.times.items():
        groups[kind.split(" /")[0].split(" lab")[0].split(" raise")[0] + " (all)"] += times
    for kind, times in [*sorted(out.times.items()), *sorted(groups.items())]:
        ms = np.array(times) * 1000
        table.add_row(
            kind,
            str(len(ms)),
            f"{len(ms) / args.seconds:.1f}",
            f"{np.percentile(ms, 50):.0f}",
            f"{np.percentile(ms, 95):.0f}",
            f"{ms.max():.0f}",
            f"{cost[kind]:.1f}" if kind in cost else "",
        )
    console = Console(width=120)
    console.print(table)
    n_requests = sum(len(times) for times in out.times.values())
    console.print(
        f"server CPU: {cpu:.1f} s for {n_requests} requests = {cpu / n_requests * 1000:.1f} ms "
        f"per request; machine load average (1 min) at the end: {os.getloadavg()[0]:.1f}"
    )
    console.print(
        f"server CPU ms: of one request of the kind sent alone ({args.repeats} each, after the "
        "load)"
    )
    written = len(out.written) + len(alone.written) + len(warm.written)
    failed = len(out.failed) + len(alone.failed) + len(warm.failed)
    console.print(
        f"failed requests: {failed}; acknowledged writes: {written}; "
        f"lost writes (not in their table or not in the audit trail): {lost}; audit chain: {chain}"
    )
    for failure in (warm.failed + out.failed + alone.failed)[:5]:
        console.print(f"  {failure}")


if __name__ == "__main__":
    main()
