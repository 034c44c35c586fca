"""``cartrial serve`` on PostgreSQL with several processes: every write lands, every read is fresh.

Real servers (``python -m cartrial.cli serve``) in their own processes on loopback, on one
PostgreSQL database. Each worker keeps its own cache of the read model
(:mod:`cartrial.services.read_cache`); a write through one process must be on the next page any
other process serves, and every acknowledged write must be in the database and its audit trail.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from service_support import screening, treat
from sqlalchemy import func, select
from web_support import PASSWORD, STUDY, build_trial

from cartrial.services import EnrolSubject, enrol_subject, screen_subject
from cartrial.store import AuditLog, LabResult, make_engine
from cartrial.store.audit import verify_chain

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("db_url", ["postgresql"], indirect=True),
]

D0 = dt.date(2026, 3, 2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(url: str, workers: int, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``cartrial serve`` on a free port; yields its base URL and process once it answers."""
    port = _free_port()
    command = [sys.executable, "-m", "cartrial.cli", "serve", "--db", url, "--study", STUDY]
    server = subprocess.Popen(
        [*command, "--port", str(port), "--workers", str(workers)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/login", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=60)


def _session(base: str, user: str) -> dict[str, str]:
    """Cookies of a logged-in session (sessions live in the database: valid on every process)."""
    with httpx.Client(base_url=base) as client:
        client.get("/login")
        csrf = client.cookies["cartrial_csrf"]
        done = client.post(
            "/login", data={"csrf_token": csrf, "username": user, "password": PASSWORD}
        )
        assert done.status_code in (200, 303), done.text[-500:]
        return dict(client.cookies)


def _post_lab(base: str, cookies: dict[str, str], value: float) -> None:
    """Record a neutrophil count through the form, on a new connection."""
    with httpx.Client(base_url=base, cookies=cookies) as client:
        saved = client.post(
            "/forms/lab",
            data={
                "csrf_token": cookies["cartrial_csrf"],
                "subject_id": "S01-001",
                "collected_at": f"{D0 + dt.timedelta(days=1)}T08:00:00+00:00",
                "lbtestcd": "NEUT",
                "value": str(value),
                "unit": "10^9/L",
                "lln": "1.8",
                "uln": "7.5",
            },
        )
    assert saved.status_code == 200 and "Saved." in saved.text, saved.text[-800:]


def _page(base: str, cookies: dict[str, str], path: str) -> str:
    with httpx.Client(base_url=base, cookies=cookies) as client:  # a new connection each time
        page = client.get(path)
    assert page.status_code == 200, page.text[-500:]
    return page.text


def _worker_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """The worker processes uvicorn spawned for ``server``."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if ppid == server.pid and b"spawn_main" in command:
            pids.append(int(stat.parent.name))
    return pids


def _connected_to(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a TCP connection to local port ``port`` (PostgreSQL)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                return True
    return False


def _labs_in_database(url: str) -> tuple[int, int, bool]:
    engine = make_engine(url)
    with engine.connect() as connection:
        labs = connection.scalar(select(func.count(LabResult.id)))
        audited = connection.scalar(
            select(func.count(AuditLog.id)).where(
                AuditLog.table_name == LabResult.__tablename__, AuditLog.action == "insert"
            )
        )
        intact = verify_chain(connection).ok
    engine.dispose()
    return int(labs or 0), int(audited or 0), intact


def test_two_workers_serve_and_every_write_lands(migrated_db_url: str, tmp_path: Path) -> None:
    trial = build_trial(migrated_db_url)
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", D0)
    trial.engine.dispose()
    port = trial.engine.url.port
    with _serve(migrated_db_url, 2, tmp_path / "serve.log") as (base, server):
        workers = _worker_pids(server)
        assert len(workers) == 2, workers
        cookies = _session(base, "coord1")
        for n in range(16):  # each write, then a read, on new connections: either worker
            value = 1.0 + n / 100
            _post_lab(base, cookies, value)
            assert f"<td>{value}</td>" in _page(base, cookies, "/subjects/S01-001")
        assert all(_connected_to(pid, int(port or 5432)) for pid in workers)  # both served
    assert _labs_in_database(migrated_db_url) == (16, 16, True)


def test_a_write_through_one_process_is_read_fresh_through_another(
    migrated_db_url: str, tmp_path: Path
) -> None:
    trial = build_trial(migrated_db_url)
    treat(trial.as_("coord1"), trial.as_("inv"), "S01-001", "S01", D0)
    with (
        _serve(migrated_db_url, 1, tmp_path / "a.log") as (a, _),
        _serve(migrated_db_url, 1, tmp_path / "b.log") as (b, _),
    ):
        cookies = _session(a, "coord1")
        before = _page(b, cookies, "/subjects/S01-001")  # B reads (and caches) the model
        assert "<td>4.25</td>" not in before
        _post_lab(a, cookies, 4.25)  # written through A
        assert "<td>4.25</td>" in _page(b, cookies, "/subjects/S01-001")  # fresh through B
        # a subject enrolled by a third process (the services here) is on B's list and dashboard
        assert "S01-002" not in _page(b, cookies, "/subjects")
        screen_subject(trial.as_("coord1"), screening("S01-002", "S01", D0))
        enrol_subject(trial.as_("coord1"), EnrolSubject(subject_id="S01-002", enrolled_date=D0))
        assert re.search(r">S01-002<", _page(b, cookies, "/subjects"))
    trial.engine.dispose()
    assert _labs_in_database(migrated_db_url)[2]
