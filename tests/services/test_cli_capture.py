"""The capture CLI is a thin shell: it calls the services and prints their results or errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cartrial.cli import app

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _session_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test keeps its login session in its own file, with no access token set."""
    monkeypatch.setenv("CARTRIAL_SESSION_FILE", str(tmp_path / "session.json"))
    monkeypatch.delenv("CARTRIAL_TOKEN", raising=False)


def run(*args: str, password: str | None = None) -> tuple[int, str]:
    entered = f"{password}\n{password}\n" if password else None
    result = CliRunner().invoke(app, list(args), input=entered)
    return result.exit_code, result.output


def log_in(user: str, db: str) -> None:
    code, out = run("login", "--user", user, "--password-stdin", "--db", db, password=PASSWORD)
    assert code == 0, out


def test_study_set_up_import_rederive_and_decide(tmp_path: Path) -> None:
    db = str(tmp_path / "trial.db")
    code, out = run(
        "study",
        "init",
        "--db",
        db,
        "--admin",
        "ada",
        "--admin-name",
        "Ada",
        "--json",
        password=PASSWORD,
    )
    assert code == 0, out
    assert '"study_id": "CLDN18-PDL1-CART-01"' in out
    log_in("ada", db)
    code, out = run("study", "add-site", "S01", "Site one", "--user", "ada", "--db", db)
    assert code == 0, out
    new_user = ("study", "add-user", "dm", "Dana Manager", "--role", "data_manager")
    code, out = run(*new_user, "--db", db, password=PASSWORD)
    assert code == 0, out
    log_in("dm", db)
    labs = tmp_path / "labs.csv"
    labs.write_text(
        "subject_id,date,lbtestcd,value,unit\nS01-404,2026-03-03,NEUT,0.4,10^9/L\n",
        encoding="utf-8",
    )
    code, out = run("import", "labs", str(labs), "--db", db)
    assert code == 2
    assert "nothing written" in out and "S01-404" in out
    code, out = run("rederive", "--reason", "rule table fix", "--db", db, "--json")
    assert code == 0, out
    assert json.loads(out[out.index("{") :])["labs_checked"] == 0
    code, out = run("decide", "--db", db)
    assert code == 2
    assert "needs one of the roles safety_committee, investigator" in out


def test_unknown_user_cannot_log_in(tmp_path: Path) -> None:
    db = str(tmp_path / "trial.db")
    run("study", "init", "--db", db, "--admin", "ada", "--admin-name", "Ada", password=PASSWORD)
    code, out = run("login", "--user", "mallory", "--password-stdin", "--db", db, password="x")
    assert code == 2
    assert "unknown user, wrong password or inactive account" in out
    code, out = run("rederive", "--reason", "x", "--user", "mallory", "--db", db)
    assert code == 2
    assert "--user mallory alone is not a credential" in out
