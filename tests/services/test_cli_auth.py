"""The CLI writes only for a credential: a login session (file 0600) or $CARTRIAL_TOKEN."""

from __future__ import annotations

import ast
import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cartrial.cli
from cartrial.cli import app

PASSWORD = "correct horse battery"
CLI = Path(cartrial.cli.__file__).parent


@pytest.fixture
def session_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config" / "session.json"
    monkeypatch.setenv("CARTRIAL_SESSION_FILE", str(path))
    monkeypatch.delenv("CARTRIAL_TOKEN", raising=False)
    monkeypatch.delenv("CARTRIAL_USER", raising=False)
    return path


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=stdin, env=env)
    return result.exit_code, result.output


@pytest.fixture
def db(tmp_path: Path, session_path: Path) -> str:
    """A study whose first administrator is ``ada``."""
    path = str(tmp_path / "trial.db")
    code, out = run(
        "study", "init", "--db", path, "--admin", "ada", "--admin-name", "Ada Admin",
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert code == 0, out
    return path


def login(user: str, db: str, password: str = PASSWORD) -> tuple[int, str]:
    return run("login", "--user", user, "--password-stdin", "--db", db, stdin=f"{password}\n")


def _json(out: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(out[out.index("{") : out.rindex("}") + 1])
    return loaded


WRITES = [
    ("study", "add-site", "S01", "Site one"),
    ("study", "add-user", "dm", "Dana Manager", "--role", "data_manager"),
    ("rederive", "--reason", "rule fix"),
    ("decide",),
]


@pytest.mark.parametrize("command", WRITES, ids=lambda c: " ".join(c[:2]))
def test_user_alone_is_refused_for_writes(db: str, command: tuple[str, ...]) -> None:
    code, out = run(*command, "--user", "ada", "--db", db, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 2
    assert "--user ada alone is not a credential" in out
    assert "cartrial login" in out
    code, out = run(*command, "--db", db, env={"CARTRIAL_USER": "ada"}, stdin="x\nx\n")
    assert code == 2 and "alone is not a credential" in out


def test_import_with_user_alone_is_refused(db: str, tmp_path: Path) -> None:
    labs = tmp_path / "labs.csv"
    labs.write_text("subject_id,date,lbtestcd,value,unit\n", encoding="utf-8")
    code, out = run("import", "labs", str(labs), "--user", "ada", "--db", db)
    assert code == 2 and "alone is not a credential" in out


def test_login_session_file_is_private_and_allows_writes(db: str, session_path: Path) -> None:
    code, out = login("ada", db, password="wrong password")
    assert code == 2 and "wrong password" in out
    assert not session_path.exists()
    code, out = login("ada", db)
    assert code == 0, out
    assert stat.S_IMODE(session_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(session_path.parent.stat().st_mode) == 0o700
    assert json.loads(session_path.read_text())["username"] == "ada"
    code, out = run("study", "add-site", "S01", "Site one", "--db", db, "--json")
    assert code == 0, out
    assert _json(out)["code"] == "S01"
    # --user must name the credential's person
    code, out = run("study", "add-site", "S02", "Site two", "--user", "bob", "--db", db)
    assert code == 2 and "belongs to 'ada', not 'bob'" in out
    code, out = run("logout", "--db", db)
    assert code == 0 and "logged out" in out
    assert not session_path.exists()
    code, out = run("study", "add-site", "S02", "Site two", "--db", db)
    assert code == 2 and "writing needs a credential" in out


def test_access_token_allows_writes_until_revoked(db: str, session_path: Path) -> None:
    login("ada", db)
    code, out = run(
        "token", "create", "nightly", "--expires-on", "2099-01-01", "--db", db, "--json"
    )
    assert code == 2 and "expires_on" in out  # beyond the longest lifetime (366 days)
    code, out = run("token", "create", "nightly", "--db", db, "--json")
    assert code == 0, out
    created = _json(out)
    token = str(created["token"])
    code, out = run("token", "list", "--db", db, "--json")
    assert code == 0 and token not in out and "nightly" in out
    run("logout", "--db", db)
    code, out = run(
        "study", "add-site", "S02", "Site two", "--db", db, env={"CARTRIAL_TOKEN": token}
    )
    assert code == 0, out
    code, out = run(
        "token", "revoke", str(created["token_id"]), "--db", db, env={"CARTRIAL_TOKEN": token}
    )
    assert code == 0, out
    code, out = run(
        "study", "add-site", "S03", "Site three", "--db", db, env={"CARTRIAL_TOKEN": token}
    )
    assert code == 2 and "revoked" in out


def test_lockout_and_unlock_from_the_cli(
    db: str, session_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CARTRIAL_AUTH_MAX_FAILURES", "2")
    login("ada", db)
    code, out = run(
        "study", "add-user", "dm", "Dana Manager", "--role", "data_manager", "--db", db,
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert code == 0, out
    for _ in range(2):
        code, out = login("dm", db, password="guessing wrong")
        assert code == 2
    assert "now locked" in out
    code, out = login("dm", db)
    assert code == 2 and "locked" in out
    code, out = run("account", "unlock", "dm", "--reason", "called the help desk", "--db", db)
    assert code == 0, out
    code, out = login("dm", db)
    assert code == 0, out


def test_the_cli_never_builds_a_context_without_a_credential() -> None:
    """Only services.context_for (through cli.auth.write_context) makes the CLI's contexts."""
    offenders = []
    for path in sorted(CLI.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in ("ServiceContext", "trusted_context"):
                    offenders.append(f"{path.name}:{node.lineno} calls {name}")
    assert not offenders, offenders


def test_an_administrator_deactivates_reactivates_and_revokes_from_the_cli(
    db: str, session_path: Path
) -> None:
    login("ada", db)
    for args in (
        ("study", "add-site", "S01", "Site one"),
        ("study", "add-user", "cora", "Cora Coordinator", "--role", "site_coordinator",
         "--site", "S01"),
    ):  # fmt: skip
        code, out = run(*args, "--db", db, stdin=f"{PASSWORD}\n{PASSWORD}\n")
        assert code == 0, out
    code, out = run("account", "deactivate", "cora", "--reason", "left the site", "--db", db)
    assert code == 0 and "account deactivated" in out, out
    code, out = run("account", "deactivate", "ada", "--reason", "x", "--db", db, "--json")
    assert code == 2 and "your own account" in out, out
    code, out = run("account", "reactivate", "cora", "--reason", "back", "--db", db)
    assert code == 0, out
    code, out = run(
        "account", "revoke-role", "cora", "--role", "site_coordinator", "--site", "S01",
        "--reason", "moved to another study", "--db", db, "--json",
    )  # fmt: skip
    assert code == 0 and _json(out)["remaining"] == [], out
    code, out = run("account", "revoke-role", "cora", "--role", "chief", "--reason", "x",
                    "--db", db)  # fmt: skip
    assert code == 2 and "role" in out
