"""Online, consistent backup and restore of the trial database.

SQLite uses the sqlite3 online backup API (a consistent snapshot while others keep writing); the
copy is switched to a self-contained rollback journal and checked with ``PRAGMA integrity_check``.
PostgreSQL uses ``pg_dump --format=custom`` / ``pg_restore --clean`` (consistent through a single
snapshot); when the client tools are missing a :class:`~cartrial.errors.BackupFailed` says so.
Restoring is :mod:`cartrial.store.restore`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from cartrial.errors import BackupFailed

__all__ = ["backup", "pg_command", "run_tool", "sqlite_check", "sqlite_path"]


def sqlite_path(url: URL) -> Path:
    """The file of the SQLite database ``url``; an in-memory database is refused
    (:class:`BackupFailed`): there is nothing to copy or replace."""
    if not url.database or url.database == ":memory:":
        raise BackupFailed("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def sqlite_check(connection: sqlite3.Connection, what: str) -> None:
    """Refuse (:class:`BackupFailed`, naming ``what``) a SQLite file that is not a readable,
    intact cartrial database: ``PRAGMA integrity_check`` must say ok and ``audit_log`` exist."""
    try:
        result = connection.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as exc:  # truncated, corrupt or not a SQLite file at all
        raise BackupFailed(f"{what} is not a readable SQLite database ({exc})") from None
    if result is None or result[0] != "ok":
        raise BackupFailed(f"{what} fails PRAGMA integrity_check: {result}")
    trail = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'"
    ).fetchone()
    if trail is None:  # an empty file is a valid, empty SQLite database
        raise BackupFailed(f"{what} holds no cartrial database (no audit trail)")


def _sqlite_backup(source: Path, destination: Path) -> None:
    if not source.exists():
        raise BackupFailed(f"database {source} does not exist")
    handle, tmp_name = tempfile.mkstemp(dir=destination.parent, suffix=".partial")
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        with sqlite3.connect(source) as src, sqlite3.connect(tmp) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            sqlite_check(dst, "the backup copy")
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)


def pg_command(tool: str, url: URL) -> tuple[list[str], dict[str, str]]:
    """The command line start and environment to run PostgreSQL client ``tool`` (``pg_dump``,
    ``pg_restore``) on the server of ``url``; the password goes in ``PGPASSWORD``, never in
    the arguments. :class:`BackupFailed` when the tool is not installed."""
    path = shutil.which(tool)
    if path is None:
        raise BackupFailed(
            f"{tool} is not installed: install the PostgreSQL client tools "
            "(Debian: apt-get install postgresql-client) to back up or restore PostgreSQL"
        )
    args = [path, "--no-owner"]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _pg_schema(url: URL) -> str | None:
    options = url.query.get("options")
    text = options if isinstance(options, str) else " ".join(options or ())
    for part in text.replace("-c ", "-c").split():
        if part.startswith("-csearch_path="):
            return part.split("=", 1)[1].split(",")[0]
    return None


def run_tool(args: list[str], env: dict[str, str], what: str) -> None:
    """Run ``args`` in ``env``; a non-zero exit is :class:`BackupFailed` naming ``what`` with
    the tool's error output."""
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupFailed(f"{what} failed ({done.returncode}): {done.stderr.strip()}")


def backup(url: str, destination: str | Path, *, overwrite: bool = False) -> Path:
    """Write a consistent backup of the database at ``url`` to ``destination``.

    Parameters
    ----------
    url
        The database (SQLAlchemy URL).
    destination
        Backup file: a SQLite database file, or a ``pg_dump`` custom-format archive.
    overwrite
        Replace an existing file (refused otherwise).

    Returns
    -------
    pathlib.Path
        The backup file.
    """
    target = Path(destination).expanduser().resolve()
    if target.exists() and not overwrite:
        raise BackupFailed(f"{target} exists; choose another file or allow overwriting")
    target.parent.mkdir(parents=True, exist_ok=True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_backup(sqlite_path(parsed), target)
        return target
    args, env = pg_command("pg_dump", parsed)
    args += ["--format=custom", "--file", str(target)]
    schema = _pg_schema(parsed)
    if schema:
        args += ["--schema", schema]
    run_tool([*args, str(parsed.database)], env, "pg_dump")
    return target
