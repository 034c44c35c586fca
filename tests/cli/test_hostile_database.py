"""A careless or hostile database setting: a clear error, exit 2, no traceback, nothing written.

Cases run the console script's entry point, ``cartrial.cli.main``: in this process
(``run_main``) or as a real process (``cartrial_process``) where stdin or the whole start-up
matters.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cartrial.cli import app

from .conftest import RunMain
from .support import PASSWORD, cartrial_process, new_study, snapshot

ADD_SITE = ("study", "add-site", "S09", "Site nine", "--user", "ada")


def _refused(run_output: str, code: int, *fragments: str) -> None:
    assert code == 2, run_output
    assert "Traceback" not in run_output
    for fragment in fragments:
        assert fragment in run_output, run_output


def _make(target: Path, kind: str | None) -> None:
    """Put at ``target`` what a careless ``--db`` may name: nothing, a directory, a file..."""
    if kind == "dir":
        target.mkdir()
    elif kind == "text":
        target.write_text("hello\n", encoding="utf-8")
    elif kind == "empty":
        target.touch()
    elif kind == "sqlite":
        with sqlite3.connect(target) as connection:
            connection.execute("CREATE TABLE patients (id INTEGER)")


def _site_and_audit_rows(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as connection:
        sites = connection.execute("SELECT count(*) FROM sites").fetchone()[0]
        audit = connection.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    return sites, audit


@pytest.mark.parametrize(
    ("make", "db", "fragments"),
    [
        (None, "no/such/dir/trial.db", ("does not exist",)),
        (None, "trial.db", ("no database at this path", "cartrial study init")),
        ("dir", "adir", ("is a directory",)),
        ("text", "notes.txt", ("not a SQLite database", "hello")),
        ("empty", "empty.db", ("empty file",)),
        ("sqlite", "other.db", ("not a cartrial database", "patients")),
    ],
    ids=["missing-directory", "missing-file", "directory", "text-file", "empty-file", "foreign"],
)
def test_db_path_that_holds_no_cartrial_database_is_refused(
    run_main: RunMain, tmp_path: Path, make: str | None, db: str, fragments: tuple[str, ...]
) -> None:
    target = tmp_path / db
    _make(target, make)
    before = snapshot(tmp_path)
    run = run_main(*ADD_SITE, "--db", db, cwd=tmp_path)
    _refused(run.output, run.code, str(target), *fragments)
    assert snapshot(tmp_path) == before  # no empty database file left behind


def test_the_json_error_names_the_database_and_the_reason(tmp_path: Path) -> None:
    run = cartrial_process("rederive", "--reason", "x", "--user", "ada", "--json", cwd=tmp_path)
    assert run.code == 2 and "Traceback" not in run.output
    payload = json.loads(run.stdout)
    assert payload["type"] == "DatabaseUnavailable"
    assert "no database at this path" in payload["error"]
    assert payload["details"] == [{"database": str(tmp_path / "cartrial.db"), "reason": "missing"}]
    assert snapshot(tmp_path) == {}


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        ("garbage", ("cannot parse the database URL", "garbage")),
        ("mysql://clerk:s3cret@db.example/trial", ("SQLite or PostgreSQL, not 'mysql'",)),
        ("postgresql://clerk@127.0.0.1:1/trial", ("driver", "postgresql+psycopg")),
        ("postgresql+psycopg://clerk:s3cret@127.0.0.1:1/trial", ("cannot reach the database",)),
        ("oracle+cx://x@y/z", ("not 'oracle'",)),
    ],
    ids=["garbage", "mysql", "psycopg2-missing", "unreachable", "oracle"],
)
def test_bad_database_url_is_refused(
    run_main: RunMain, tmp_path: Path, url: str, fragments: tuple[str, ...]
) -> None:
    env = {"CARTRIAL_DATABASE_URL": url, "PGCONNECT_TIMEOUT": "5"}
    run = run_main(*ADD_SITE, cwd=tmp_path, env=env)
    _refused(run.output, run.code, *fragments)
    assert "s3cret" not in run.output  # the password never appears in a message
    assert snapshot(tmp_path) == {}


@pytest.mark.parametrize("value", ["OFF", "fast", "0"])
def test_bad_sqlite_synchronous_setting_is_refused(
    run_main: RunMain, tmp_path: Path, value: str
) -> None:
    db = tmp_path / "trial.db"
    new_study(str(db))
    before = _site_and_audit_rows(db)
    env = {"CARTRIAL_SQLITE_SYNCHRONOUS": value}
    run = run_main(*ADD_SITE, "--db", str(db), cwd=tmp_path, env=env)
    _refused(run.output, run.code, "CARTRIAL_SQLITE_SYNCHRONOUS", "NORMAL or FULL", repr(value))
    assert _site_and_audit_rows(db) == before


@pytest.mark.parametrize(
    ("make", "db", "fragment"),
    [
        (None, "no/such/dir/trial.db", "does not exist"),
        ("dir", "adir", "is a directory"),
        ("text", "notes.txt", "not a SQLite database"),
    ],
    ids=["missing-directory", "directory", "text-file"],
)
def test_study_init_refuses_a_path_it_cannot_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: str | None, db: str, fragment: str
) -> None:
    target = tmp_path / db
    _make(target, make)
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = ["study", "init", "--admin", "ada", "--admin-name", "Ada", "--db", db]
    result = CliRunner().invoke(app, args, input=f"{PASSWORD}\n{PASSWORD}\n")
    _refused(result.output, result.exit_code, fragment)
    assert snapshot(tmp_path) == before


def test_study_init_is_the_one_command_that_creates_a_database(tmp_path: Path) -> None:
    args = ("study", "init", "--admin", "ada", "--admin-name", "Ada", "--db", "trial.db")
    run = cartrial_process(*args, "--json", cwd=tmp_path, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert run.code == 0, run.output
    session = {"CARTRIAL_SESSION_FILE": str(tmp_path / "session.json")}
    login = ("login", "--user", "ada", "--password-stdin", "--db", "trial.db")
    run = cartrial_process(*login, cwd=tmp_path, env=session, stdin=f"{PASSWORD}\n")
    assert run.code == 0, run.output
    run = cartrial_process(*ADD_SITE, "--db", "trial.db", "--json", cwd=tmp_path, env=session)
    assert run.code == 0, run.output
    assert json.loads(run.stdout) == {"code": "S09", "name": "Site nine"}


def test_immutable_database_file_is_refused_and_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "trial.db"
    token = new_study(str(db))
    for leftover in (tmp_path / "trial.db-wal", tmp_path / "trial.db-shm"):
        leftover.unlink(missing_ok=True)
    before = _site_and_audit_rows(db)
    if subprocess.run(["chattr", "+i", str(db)], capture_output=True, check=False).returncode:
        pytest.skip("chattr +i is not permitted here (needs CAP_LINUX_IMMUTABLE)")
    try:
        env = {"CARTRIAL_TOKEN": token}
        run = cartrial_process(*ADD_SITE, "--db", str(db), cwd=tmp_path, env=env)
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)
    _refused(run.output, run.code, str(db))
    assert "read-only" in run.output or "cannot write" in run.output, run.output
    assert _site_and_audit_rows(db) == before


def test_an_empty_database_is_refused_on_both_backends(run_main: RunMain, db_url: str) -> None:
    # SQLite: the file does not exist yet; PostgreSQL: a schema without any table.
    run = run_main(*ADD_SITE, "--db", db_url, "--json", cwd=Path.cwd())
    assert run.code == 2 and "Traceback" not in run.output
    payload = json.loads(run.stdout)
    assert payload["type"] == "DatabaseUnavailable"
    if db_url.startswith("sqlite"):
        assert payload["details"][0]["reason"] == "missing"
        assert not Path(db_url.removeprefix("sqlite:///")).exists()
    else:
        assert payload["details"][0]["reason"] == "not-a-database"
        assert "found: no tables at all" in payload["error"]
