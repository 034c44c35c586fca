"""``cartrial db`` and ``cartrial audit``: migrate, back up and restore; verify and read the trail.

The database is ``--db PATH`` (a SQLite file, or a full SQLAlchemy URL), else
``$CARTRIAL_DATABASE_URL``, else ``./cartrial.db``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cartrial.errors import CartrialError
from cartrial.store import (
    backup,
    database_url,
    display_url,
    head_revision,
    read_database_log,
    restore,
    upgrade,
    verify_database,
)

__all__ = ["register"]

DB_OPT = typer.Option(
    None,
    "--db",
    help="SQLite file or database URL (default: $CARTRIAL_DATABASE_URL, else ./cartrial.db).",
)
JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON.")


def register(app: typer.Typer) -> None:
    """Attach the ``db`` and ``audit`` command groups to the root app."""
    db = typer.Typer(help="Create, migrate, back up and restore the trial database.")
    db.command("upgrade")(upgrade_command)
    db.command("backup")(backup_command)
    db.command("restore")(restore_command)
    app.add_typer(db, name="db", no_args_is_help=True)
    audit = typer.Typer(help="Verify and read the audit trail.")
    audit.command("verify")(verify_command)
    audit.command("log")(log_command)
    app.add_typer(audit, name="audit", no_args_is_help=True)


@contextmanager
def _errors_exit() -> Iterator[None]:
    try:
        yield
    except CartrialError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(code=1) from None


def upgrade_command(db: str | None = DB_OPT) -> None:
    """Create the database or migrate it to the newest schema."""
    url = database_url(db)
    with _errors_exit():
        revision = upgrade(url)
    Console().print(f"{display_url(url)}: schema at revision {revision} (newest {head_revision()})")


def backup_command(
    file: Path = typer.Argument(..., help="Backup file to write."),
    db: str | None = DB_OPT,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing backup file."),
) -> None:
    """Write an online, consistent backup of the database to FILE."""
    url = database_url(db)
    with _errors_exit():
        target = backup(url, file, overwrite=force)
    Console().print(f"backup of {display_url(url)} written to {target}")


def restore_command(
    file: Path = typer.Argument(..., help="Backup file made by `cartrial db backup`."),
    db: str | None = DB_OPT,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Replace the database's content with the backup FILE (its audit trail must verify)."""
    url = database_url(db)
    if not yes:
        typer.confirm(f"Replace the content of {display_url(url)} with {file}?", abort=True)
    with _errors_exit():
        report = restore(url, file)
    Console().print(
        f"restored {file} into {display_url(url)}; audit trail verified ({report.rows} rows)"
    )


def verify_command(db: str | None = DB_OPT, as_json: bool = JSON_OPT) -> None:
    """Check the audit trail's hash chain; list every problem and exit 1 if it does not verify."""
    with _errors_exit():
        report = verify_database(database_url(db))
    if as_json:
        typer.echo(
            json.dumps({"rows": report.rows, "ok": report.ok, "problems": list(report.problems)})
        )
    elif report.ok:
        Console().print(f"[green]audit trail verified[/green]: {report.rows} rows, chain intact")
    else:
        console = Console(stderr=True)
        console.print(f"[red]audit trail does NOT verify[/red] ({report.rows} rows):")
        for problem in report.problems:
            console.print(f"  {problem}", highlight=False)
    if not report.ok:
        raise typer.Exit(code=1)


def log_command(
    db: str | None = DB_OPT,
    table: str | None = typer.Option(None, "--table", help="Only this table."),
    record: int | None = typer.Option(None, "--record", help="Only this record id."),
    limit: int = typer.Option(50, "--limit", min=1, help="Show the newest N rows."),
    as_json: bool = JSON_OPT,
) -> None:
    """Show the audit trail: who changed what, when (UTC), old -> new, and why."""
    with _errors_exit():
        entries = read_database_log(
            database_url(db), table_name=table, record_id=record, limit=limit
        )
    if as_json:
        rows = [asdict(e) | {"occurred_at": e.occurred_at.isoformat()} for e in entries]
        typer.echo(json.dumps(rows, indent=2))
        return
    grid = Table(title="Audit trail")
    for name in ("#", "when (UTC)", "user", "action", "record", "field", "old", "new", "reason"):
        grid.add_column(name)
    for e in entries:
        grid.add_row(
            str(e.id),
            e.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.username,
            e.action,
            f"{e.table_name} {e.record_id}",
            e.field,
            e.old_value or "",
            e.new_value or "",
            e.reason or "",
        )
    Console().print(grid)
