"""Helpers of the CLI tests: run ``cartrial`` as a real process, build a small study database."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cartrial
from cartrial.services import CreateStudy, LogIn, create_database, create_study, login

PASSWORD = "correct horse battery"
#: The ``src`` directory of the cartrial under test, so that the child process imports it.
SRC = str(Path(cartrial.__file__).resolve().parents[1])


@dataclass(frozen=True)
class Run:
    """A finished ``cartrial`` process."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def cartrial_process(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> Run:
    """Run ``python -m cartrial.cli ARGS`` (the console script's ``main``) in ``cwd``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CARTRIAL_")}
    environ["PYTHONPATH"] = os.pathsep.join([SRC, environ.get("PYTHONPATH", "")])
    environ["COLUMNS"] = "80"
    environ |= env or {}
    done = subprocess.run(
        [sys.executable, "-m", "cartrial.cli", *args],
        cwd=cwd,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def new_study(db: str) -> str:
    """Create a cartrial database at ``db`` (a path or URL) with the packaged study and ``ada``.

    Returns a session token of ``ada``: the credential a writing command needs
    (``$CARTRIAL_TOKEN``).
    """
    factory = create_database(db)
    create_study(
        factory,
        CreateStudy(admin_username="ada", admin_full_name="Ada", admin_password=PASSWORD),
    )
    token = login(factory, LogIn(username="ada", password=PASSWORD, source="test")).token
    factory.kw["bind"].dispose()  # SQLite: checkpoints the WAL into the file
    return token


def snapshot(directory: Path) -> dict[str, str]:
    """Every file under ``directory`` with the SHA-256 of its bytes (directories as ``dir``)."""
    out: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        key = str(path.relative_to(directory))
        out[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out
