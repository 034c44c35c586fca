"""Load benchmark of the web application on loopback (SQLite; prints a table).

    .venv/bin/python benchmarks/bench_web.py                         # 50 users for 60 s
    .venv/bin/python benchmarks/bench_web.py --users 10 --seconds 15  # a shorter run

Each virtual user logs in with its own session and, until the time is up, picks (fixed seed per
user) a page view (60 %: overview, escalation dashboard, subject list), an API call with its
personal access token (20 %: ``/api/study``) or a form post (20 %: ``/forms/add-site`` with a
new site code, one audited write). Targets (issue 13): p95 under 100 ms for page views and under
200 ms for writes; zero failed or lost writes: afterwards every site whose post was acknowledged
must be in the study (``services.load_study``). The server is uvicorn in this process (one
worker); the machine's load shares the CPU with the clients, so figures are upper bounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import tempfile
import threading
import time
from pathlib import Path

import argon2.profiles
import httpx
import numpy as np
import uvicorn
from rich.console import Console
from rich.table import Table

from cartrial.services import (
    AddUser,
    CreateStudy,
    CreateToken,
    add_user,
    create_study,
    create_token,
    load_study,
    trusted_context,
)
from cartrial.store import auth, make_engine, session_factory
from cartrial.store.migrate import upgrade
from cartrial.web import create_app

PASSWORD = "correct horse battery"
STUDY = "CLDN18-PDL1-CART-01"
PAGES = ("/", "/escalation", "/subjects")


def _user(base: str, name: str, token: str, until: float, seed: int, out: dict) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=30) as client:
        client.get("/login")
        csrf = client.cookies["cartrial_csrf"]
        client.post("/login", data={"csrf_token": csrf, "username": name, "password": PASSWORD})
        n = 0
        while time.perf_counter() < until:
            pick = rng.random()
            start = time.perf_counter()
            if pick < 0.6:
                kind, r = "page view", client.get(rng.choice(PAGES))
            elif pick < 0.8:
                kind = "API call"
                r = client.get("/api/study", headers={"Authorization": f"Bearer {token}"})
            else:
                kind, n = "form post (write)", n + 1
                code = f"{name}-{n}"
                r = client.post(
                    "/forms/add-site", data={"csrf_token": csrf, "code": code, "name": code}
                )
                if r.status_code == 200 and "Saved." in r.text:
                    out["written"].append(code)
            elapsed = time.perf_counter() - start
            ok = r.status_code == 200 and (kind != "form post (write)" or "Saved." in r.text)
            out["times"].setdefault(kind, []).append(elapsed)
            if not ok:
                out["failed"].append((kind, r.status_code, re.sub(r"\s+", " ", r.text)[:120]))


def main() -> None:
    """Run the load and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--port", type=int, default=8797)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        factory = session_factory(engine)
        auth.PASSWORD_PROFILE = argon2.profiles.CHEAPEST  # logins are not what is measured
        create_study(
            factory,
            CreateStudy(admin_username="admin", admin_full_name="A", admin_password=PASSWORD),
        )
        admin = trusted_context(factory, "admin", STUDY)
        names = [f"u{i:02d}" for i in range(args.users)]
        tokens = {}
        for name in names:
            add_user(admin, AddUser(username=name, full_name=name, password=PASSWORD, role="admin"))
            tokens[name] = create_token(
                trusted_context(factory, name, STUDY),
                CreateToken(name="bench", expires_on=dt.date.today() + dt.timedelta(days=2)),
            ).token
        server = uvicorn.Server(
            uvicorn.Config(create_app(factory, STUDY), port=args.port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        out: dict = {"times": {}, "failed": [], "written": []}
        until = time.perf_counter() + args.seconds
        base = f"http://127.0.0.1:{args.port}"
        users = [
            threading.Thread(target=_user, args=(base, n, tokens[n], until, i, out))
            for i, n in enumerate(names)
        ]
        for user in users:
            user.start()
        for user in users:
            user.join()
        server.should_exit = True
        thread.join(timeout=30)
        stored = set(load_study(admin).sites)
        lost = [code for code in out["written"] if code not in stored]
        engine.dispose()
    table = Table(title=f"Web load on SQLite: {args.users} users for {args.seconds:.0f} s")
    for column in ("request", "count", "per s", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column)
    for kind, times in sorted(out["times"].items()):
        ms = np.array(times) * 1000
        table.add_row(
            kind,
            str(len(ms)),
            f"{len(ms) / args.seconds:.1f}",
            f"{np.percentile(ms, 50):.0f}",
            f"{np.percentile(ms, 95):.0f}",
            f"{ms.max():.0f}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"failed requests: {len(out['failed'])}; acknowledged writes: {len(out['written'])}; "
        f"lost writes (acknowledged, not in the study): {len(lost)}"
    )
    for failure in out["failed"][:5]:
        console.print(f"  {failure}")


if __name__ == "__main__":
    main()
