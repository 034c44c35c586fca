"""``cartrial db`` and ``cartrial audit`` commands, and how the database is chosen."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cartrial.cli import app
from cartrial.store import (
    Subject,
    database_url,
    head_revision,
    make_engine,
    session_factory,
    unit_of_work,
    upgrade,
)

from .conftest import add_study

runner = CliRunner()


def _populate(path: Path) -> int:
    engine = make_engine(database_url(path))
    factory = session_factory(engine)
    with unit_of_work(factory, "crc1") as session:
        study, site = add_study(session)
        subject = Subject(study_id=study.id, site_id=site.id, subject_code="001-001")
        session.add(subject)
        session.flush()
        subject_id = subject.id
    with unit_of_work(factory, "crc1", "age from source document") as session:
        loaded = session.get(Subject, subject_id)
        assert loaded is not None
        loaded.age_years = 57
    engine.dispose()
    return subject_id


def test_database_url_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CARTRIAL_DATABASE_URL", raising=False)
    assert database_url() == f"sqlite:///{tmp_path / 'cartrial.db'}"
    monkeypatch.setenv("CARTRIAL_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert database_url() == "postgresql+psycopg://u@h/db"  # read at call time
    assert database_url("x.db") == f"sqlite:///{tmp_path / 'x.db'}"  # --db wins
    assert database_url("sqlite:////abs/y.db") == "sqlite:////abs/y.db"


def test_upgrade_verify_log(tmp_path: Path) -> None:
    db = tmp_path / "trial.db"
    result = runner.invoke(app, ["db", "upgrade", "--db", str(db)])
    assert result.exit_code != 0 and "study init" in result.output  # only init creates one
    assert not db.exists()
    upgrade(f"sqlite:///{db}", "0003")  # an existing database at an older schema
    result = runner.invoke(app, ["db", "upgrade", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.output
    subject_id = _populate(db)

    result = runner.invoke(app, ["audit", "verify", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True and report["findings"] == []
    assert report["chain_authenticated"] is True and report["records"] == 3

    result = runner.invoke(
        app,
        ["audit", "log", "--db", str(db), "--table", "subjects", "--record", str(subject_id)],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0
    assert "age from source document" in result.output
    narrow = runner.invoke(
        app,
        ["audit", "log", "--db", str(db), "--table", "subjects", "--record", str(subject_id)],
        env={"COLUMNS": "80"},
    )
    assert narrow.exit_code == 0
    assert max(len(line) for line in narrow.output.splitlines()) <= 80  # readable at 80 columns
    assert "age from source document" in " ".join(narrow.output.split())
    result = runner.invoke(
        app, ["audit", "log", "--db", str(db), "--table", "subjects", "--limit", "1", "--json"]
    )
    [entry] = json.loads(result.output)
    assert (entry["field"], entry["old_value"], entry["new_value"]) == ("age_years", None, "57")
    assert entry["reason"] == "age from source document"


def test_verify_fails_on_a_tampered_trail(tmp_path: Path, _sqlite_template: Path) -> None:
    db = tmp_path / "trial.db"
    shutil.copyfile(_sqlite_template, db)
    _populate(db)
    with sqlite3.connect(db) as raw:
        raw.execute("DROP TRIGGER audit_log_no_update")
        raw.execute("UPDATE audit_log SET reason = 'nothing to see' WHERE field = 'age_years'")
    result = runner.invoke(app, ["audit", "verify", "--db", str(db)])
    assert result.exit_code == 1
    assert "does NOT verify" in result.output
    assert "content does not match its MAC" in result.output


PASSWORD = "correct horse battery"


def _study_with_a_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``cartrial study init`` (administrator ``ada``), then ``cartrial login`` as ada."""
    monkeypatch.setenv("CARTRIAL_SESSION_FILE", str(tmp_path / "config" / "session.json"))
    monkeypatch.delenv("CARTRIAL_TOKEN", raising=False)
    monkeypatch.delenv("CARTRIAL_USER", raising=False)
    db = tmp_path / "trial.db"
    init = ["study", "init", "--db", str(db), "--admin", "ada", "--admin-name", "Ada Admin"]
    result = runner.invoke(app, init, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    login = ["login", "--user", "ada", "--password-stdin", "--db", str(db)]
    result = runner.invoke(app, login, input=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    return db


def _add_site(db: Path, code: str) -> None:
    result = runner.invoke(app, ["study", "add-site", code, f"Site {code}", "--db", str(db)])
    assert result.exit_code == 0, result.output


def test_backup_and_restore_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _study_with_a_login(tmp_path, monkeypatch)
    _add_site(db, "S01")
    copy = tmp_path / "copy.db"
    result = runner.invoke(app, ["db", "backup", str(copy), "--db", str(db), "--user", "ada"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["db", "backup", str(copy), "--db", str(db)])
    assert again.exit_code == 2 and "exists" in again.output
    fresh = tmp_path / "fresh.db"
    result = runner.invoke(app, ["db", "restore", str(copy), "--db", str(fresh)], input="n\n")
    assert result.exit_code != 0 and not fresh.exists()  # declined
    result = runner.invoke(app, ["db", "restore", str(copy), "--db", str(fresh), "--yes"])
    assert result.exit_code == 0, result.output  # ada's session is in the backup
    with sqlite3.connect(fresh) as raw:
        assert raw.execute("SELECT code FROM sites").fetchall() == [("S01",)]
        kind, who = raw.execute("SELECT kind, created_by FROM database_events").fetchone()
    assert (kind, who) == ("restore", "ada")
    # the backup is in the live trail (who, file, hash) and a checkpoint was written
    with sqlite3.connect(db) as raw:
        kind, who, digest = raw.execute(
            "SELECT kind, created_by, sha256 FROM database_events"
        ).fetchone()
    assert (kind, who, len(digest)) == ("backup", "ada", 64)
    assert list((tmp_path / "checkpoints").glob("checkpoint-*.json"))
    # a write newer than the backup (the backup's own record does not count): refused, forced
    _add_site(db, "S02")
    result = runner.invoke(app, ["db", "restore", str(copy), "--db", str(db), "--yes"])
    assert result.exit_code == 2
    assert "1 audited writes newer than backup" in " ".join(result.output.split())
    forced = runner.invoke(app, ["db", "restore", str(copy), "--db", str(db), "--yes", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "1 newer writes discarded" in forced.output


@pytest.mark.parametrize(
    "command", [("db", "backup", "b2.db"), ("db", "restore", "b.db", "--yes")], ids=lambda c: c[1]
)
def test_backup_and_restore_refuse_user_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    db = _study_with_a_login(tmp_path, monkeypatch)
    result = runner.invoke(app, ["db", "backup", str(tmp_path / "b.db"), "--db", str(db)])
    assert result.exit_code == 0, result.output
    (tmp_path / "config" / "session.json").unlink()  # logged out: no credential left
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [*command, "--db", str(db), "--user", "ada"])
    assert result.exit_code == 2
    assert "--user ada alone is not a credential" in " ".join(result.output.split())
    result = runner.invoke(app, [*command, "--db", str(db)], env={"CARTRIAL_USER": "ada"})
    assert result.exit_code == 2 and "alone is not a credential" in result.output
    with sqlite3.connect(db) as raw:
        kinds = raw.execute("SELECT kind FROM database_events ORDER BY id").fetchall()
    assert kinds == [("backup",)]  # only the authenticated backup
    assert not (tmp_path / "b2.db").exists()


def test_checkpoint_then_truncation_is_reported(tmp_path: Path, _sqlite_template: Path) -> None:
    db = tmp_path / "trial.db"
    shutil.copyfile(_sqlite_template, db)
    _populate(db)
    marks = tmp_path / "marks"
    result = runner.invoke(app, ["audit", "checkpoint", "--db", str(db), "--out", str(marks)])
    assert result.exit_code == 0, result.output
    ok = runner.invoke(app, ["audit", "verify", "--db", str(db), "--checkpoints", str(marks)])
    assert ok.exit_code == 0 and "1 checkpoints" in ok.output
    with sqlite3.connect(db) as raw:  # the last audit row removed, the head moved back
        raw.execute("DROP TRIGGER audit_log_no_delete")
        raw.execute("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
        raw.execute(
            "UPDATE audit_chain_head SET last_id = last_id - 1, last_sha256 = "
            "(SELECT row_sha256 FROM audit_log ORDER BY id DESC LIMIT 1)"
        )
    result = runner.invoke(
        app, ["audit", "verify", "--db", str(db), "--checkpoints", str(marks), "--json"]
    )
    assert result.exit_code == 1
    findings = json.loads(result.output)["findings"]
    kinds = {(f["kind"], f["table"], f["field"]) for f in findings}
    assert ("checkpoint", None, None) in kinds  # truncation before the checkpoint
    assert ("edited", "subjects", "age_years") in kinds  # the data no longer matches the trail
    edited = next(f for f in findings if f["kind"] == "edited")
    assert (edited["expected"], edited["found"]) == (None, "57")


def test_verify_without_the_key_says_so(
    tmp_path: Path, _sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "trial.db"
    shutil.copyfile(_sqlite_template, db)
    _populate(db)
    monkeypatch.setenv("CARTRIAL_AUDIT_KEY_FILE", str(tmp_path / "nowhere.key"))
    result = runner.invoke(app, ["audit", "verify", "--db", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "chain NOT authenticated (no audit key available)" in result.output
