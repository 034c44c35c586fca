"""Benchmark of authentication: what a credential costs a request.

Run: ``.venv/bin/python benchmarks/bench_auth.py [--calls 2000]``

On a SQLite file (WAL, default ``synchronous``):

1. ``login`` with the production argon2id profile (RFC 9106 low memory: t=3, m=64 MiB, p=4), the
   cost of one password check (also paid by every e-signature);
2. ``authenticate`` of a session and of a personal access token, called back to back (their last
   use is written at most once per ``touch_interval``, 60 s: these calls read only);
3. ``authenticate`` with a touch on every call (``touch_interval`` 0): a read plus an audited
   update, the worst case for a client that calls once a minute.

Reference for 2 and 3: one read-only use case (``list_tokens``), the floor of any service call.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import argon2.profiles
from rich.console import Console
from rich.table import Table

from cartrial.services import (
    AddUser,
    AuthSettings,
    CreateStudy,
    CreateToken,
    LogIn,
    add_user,
    authenticate,
    create_study,
    create_token,
    list_tokens,
    login,
    trusted_context,
)
from cartrial.store import auth, make_engine, session_factory
from cartrial.store.migrate import upgrade

PASSWORD = "correct horse battery"
STUDY = "CLDN18-PDL1-CART-01"


def _per_call(run: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - start) / calls


def main() -> None:
    """Print the table of timings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        factory = session_factory(engine)
        production = auth.PASSWORD_PROFILE
        auth.PASSWORD_PROFILE = argon2.profiles.CHEAPEST
        create_study(
            factory,
            CreateStudy(admin_username="admin", admin_full_name="A", admin_password=PASSWORD),
        )
        auth.PASSWORD_PROFILE = production
        admin = trusted_context(factory, "admin", STUDY)
        add_user(
            admin,
            AddUser(username="dm", full_name="D", password=PASSWORD, role="data_manager"),
        )
        settings = AuthSettings()
        rows: list[tuple[str, float, int]] = []
        logins = 5
        per_login = _per_call(
            lambda: login(factory, LogIn(username="dm", password=PASSWORD), settings=settings),
            logins,
        )
        rows.append(("login (argon2id t=3, m=64 MiB, p=4)", per_login, logins))
        session = login(factory, LogIn(username="dm", password=PASSWORD), settings=settings)
        token = create_token(
            trusted_context(factory, "dm", STUDY),
            CreateToken(name="bench", expires_on=dt.date.today() + dt.timedelta(days=30)),
        ).token
        for label, credential in (("session", session.token), ("access token", token)):
            per = _per_call(
                lambda c=credential: authenticate(factory, c, source="bench", settings=settings),
                args.calls,
            )
            rows.append((f"authenticate, {label} (read only)", per, args.calls))
        always = AuthSettings(touch_interval=dt.timedelta(0))
        per = _per_call(
            lambda: authenticate(factory, session.token, source="bench", settings=always),
            args.calls // 4,
        )
        rows.append(("authenticate, session, last use written every call", per, args.calls // 4))
        ctx = trusted_context(factory, "dm", STUDY)
        per = _per_call(lambda: list_tokens(ctx), args.calls)
        rows.append(("reference: list_tokens (one read-only use case)", per, args.calls))
        engine.dispose()
    table = Table(title="Authentication on SQLite (per call)")
    for name in ("measure", "ms per call", "calls per s", "calls"):
        table.add_column(name)
    for name, seconds, n in rows:
        table.add_row(name, f"{seconds * 1000:.2f}", f"{1 / seconds:,.0f}", str(n))
    Console().print(table)


if __name__ == "__main__":
    main()
