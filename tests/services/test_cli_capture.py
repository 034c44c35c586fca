"""The capture CLI is a thin shell: it calls the services and prints their results or errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cartrial.cli import app

PASSWORD = "correct horse battery"


def run(*args: str, password: str | None = None) -> tuple[int, str]:
    entered = f"{password}\n{password}\n" if password else None
    result = CliRunner().invoke(app, list(args), input=entered)
    return result.exit_code, result.output


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
    code, out = run("study", "add-site", "S01", "Site one", "--user", "ada", "--db", db)
    assert code == 0, out
    new_user = ("study", "add-user", "dm", "Dana Manager", "--role", "data_manager")
    code, out = run(*new_user, "--user", "ada", "--db", db, password=PASSWORD)
    assert code == 0, out
    labs = tmp_path / "labs.csv"
    labs.write_text(
        "subject_id,date,lbtestcd,value,unit\nS01-404,2026-03-03,NEUT,0.4,10^9/L\n",
        encoding="utf-8",
    )
    code, out = run("import", "labs", str(labs), "--user", "dm", "--db", db)
    assert code == 2
    assert "nothing written" in out and "S01-404" in out
    code, out = run("rederive", "--reason", "rule table fix", "--user", "dm", "--db", db, "--json")
    assert code == 0, out
    assert json.loads(out[out.index("{") :])["labs_checked"] == 0
    code, out = run("decide", "--user", "dm", "--db", db)
    assert code == 2
    assert "needs one of the roles safety_committee, investigator" in out


def test_unknown_user_is_refused(tmp_path: Path) -> None:
    db = str(tmp_path / "trial.db")
    run("study", "init", "--db", db, "--admin", "ada", "--admin-name", "Ada", password=PASSWORD)
    code, out = run("rederive", "--reason", "x", "--user", "mallory", "--db", db)
    assert code == 2
    assert "no active user 'mallory'" in out
