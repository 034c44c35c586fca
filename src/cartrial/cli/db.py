"""``cartrial db`` and ``cartrial audit``: migrate, back up and restore; verify and read the trail.

The database is ``--db PATH`` (a SQLite file, or a full SQLAlchemy URL), else
``$CARTRIAL_DATABASE_URL``, else ``./cartrial.db``. Every command goes through
:mod:`cartrial.services.database`.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console

from cartrial.services.database import (
    IntegrityReport,
    audit_log,
    backup_database,
    harden_database,
    restore_database_with,
    upgrade_database,
    verify_database,
    write_checkpoint,
)

__all__ = ["register"]

DB_OPT = typer.Option(
    None,
    "--db",
    help="SQLite file or database URL (default: $CARTRIAL_DATABASE_URL, else ./cartrial.db).",
)
JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON.")
USER_OPT = typer.Option(
    None,
    "--user",
    envvar="CARTRIAL_USER",
    help="Who acts: must name the person of the credential (a login session or $CARTRIAL_TOKEN).",
)
STUDY_OPT = typer.Option(None, "--study", help="Study id (default: the packaged protocol's).")
CHECKPOINTS_OPT = typer.Option(
    None, "--checkpoints", help="Directory of checkpoints the trail must agree with."
)
#: Findings printed before "... and N more".
_SHOWN = 50


def register(app: typer.Typer) -> None:
    """Attach the ``db`` and ``audit`` command groups to the root app."""
    db = typer.Typer(help="Create, migrate, back up and restore the trial database.")
    db.command("upgrade")(upgrade_command)
    db.command("backup")(backup_command)
    db.command("restore")(restore_command)
    db.command("harden")(harden_command)
    app.add_typer(db, name="db", no_args_is_help=True)
    audit = typer.Typer(help="Verify and read the audit trail; write checkpoints.")
    audit.command("verify")(verify_command)
    audit.command("checkpoint")(checkpoint_command)
    audit.command("log")(log_command)
    app.add_typer(audit, name="audit", no_args_is_help=True)


def upgrade_command(db: str | None = DB_OPT) -> None:
    """Create the database or migrate it to the newest schema."""
    ready = upgrade_database(db)
    Console().print(
        f"{ready.location}: schema at revision {ready.revision} (newest {ready.newest})",
        highlight=False,
    )


def backup_command(
    file: Path = typer.Argument(..., help="Backup file to write."),
    db: str | None = DB_OPT,
    user: str | None = USER_OPT,
    study: str | None = STUDY_OPT,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing backup file."),
) -> None:
    """Write an online, consistent backup to FILE; record it in the trail; write a checkpoint.

    Needs a credential (``cartrial login`` or ``$CARTRIAL_TOKEN``) of a study-wide administrator
    or data manager.
    """
    from cartrial.cli.auth import write_context

    ctx = write_context(db, user, study)
    done = backup_database(ctx, file, overwrite=force)
    where = f"; checkpoint {done.checkpoint}" if done.checkpoint else ""
    Console().print(
        f"backup written to {done.file} (SHA-256 {done.sha256}, {done.audit_rows} audit rows)"
        f"{where}",
        highlight=False,
    )


def restore_command(
    file: Path = typer.Argument(..., help="Backup file made by `cartrial db backup`."),
    db: str | None = DB_OPT,
    user: str | None = USER_OPT,
    study: str | None = STUDY_OPT,
    checkpoints: Path | None = CHECKPOINTS_OPT,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    force: bool = typer.Option(
        False, "--force", help="Discard audited writes newer than the backup (refused otherwise)."
    ),
) -> None:
    """Replace the content of the database with the verified backup FILE (the restore is audited).

    Needs a credential (``cartrial login`` or ``$CARTRIAL_TOKEN``) of a study-wide
    administrator; restoring into a SQLite file that does not exist yet authenticates against
    the accounts the backup holds.
    """
    from cartrial.cli.auth import context_on

    if not yes:
        typer.confirm(f"Replace the content of the database with {file}?", abort=True)
    done = restore_database_with(
        db,
        file,
        lambda factory: context_on(factory, user, study),
        force=force,
        checkpoints=checkpoints,
    )
    discarded = f"; {done.discarded_writes} newer writes discarded" if done.discarded_writes else ""
    Console().print(
        f"restored {file}: backup verified ({done.backup.audit_rows} audit rows, "
        f"{done.backup.records} records){discarded}; restore recorded in the trail",
        highlight=False,
    )


def harden_command(
    app_role: str = typer.Option(
        ..., "--app-role", help="The role the application connects as (created if missing)."
    ),
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """PostgreSQL: let the application role append to the audit trail, never rewrite it.

    Run as the tables' owner. Grants SELECT/INSERT/UPDATE on the trial tables, only SELECT/INSERT
    on audit_log, no DELETE/TRUNCATE anywhere; the role cannot disable or drop the triggers.
    """
    done = harden_database(db, app_role)
    if as_json:
        typer.echo(json.dumps(asdict(done), indent=2))
        return
    from cartrial.cli.layout import print_table

    created = " (created: set its password with ALTER ROLE ... PASSWORD)" if done.created else ""
    Console().print(
        f"role {done.role}{created}: privileges in schema {done.schema} (owner {done.owner})",
        highlight=False,
    )
    lines = [(table, ", ".join(held) or "-") for table, held in done.tables.items()]
    print_table(Console(), "Application role", ("table", "privileges"), lines)


def _report_json(report: IntegrityReport) -> str:
    return json.dumps(
        {
            "ok": report.ok,
            "audit_rows": report.audit_rows,
            "records": report.records,
            "chain_authenticated": report.authenticated,
            "checkpoints": report.checkpoints,
            "findings": [asdict(f) for f in report.findings],
        },
        indent=2,
    )


def verify_command(
    db: str | None = DB_OPT, checkpoints: Path | None = CHECKPOINTS_OPT, as_json: bool = JSON_OPT
) -> None:
    """Check every record against the audit trail, the chain under the key, and checkpoints.

    Lists every finding (table, record, field, the trail's value and the database's) and exits 1
    when anything is found.
    """
    report = verify_database(db, checkpoints=checkpoints)
    if as_json:
        typer.echo(_report_json(report))
    else:
        console = Console(stderr=not report.ok)
        chain = (
            "chain authenticated under the audit key"
            if report.authenticated
            else "[yellow]chain NOT authenticated (no audit key available)[/yellow]"
        )
        summary = (
            f"{report.audit_rows} audit rows, {report.records} records, "
            f"{report.checkpoints} checkpoints; {chain}"
        )
        if report.ok:
            console.print(f"[green]audit trail and data verified[/green]: {summary}")
        else:
            console.print(f"[red]audit trail does NOT verify[/red] ({summary}):")
            for finding in report.findings[:_SHOWN]:
                console.print(f"  {finding}", highlight=False, soft_wrap=True)
            if len(report.findings) > _SHOWN:
                console.print(f"  ... and {len(report.findings) - _SHOWN} more findings")
    if not report.ok:
        raise typer.Exit(code=1)


def checkpoint_command(
    db: str | None = DB_OPT,
    out: Path | None = typer.Option(
        None, "--out", help="Directory (default: $CARTRIAL_CHECKPOINT_DIR, else beside the file)."
    ),
) -> None:
    """Write the chain head (sequence, MAC, time) to a checkpoint file outside the database."""
    path = write_checkpoint(db, out)
    Console().print(f"checkpoint written to {path}", highlight=False)


def log_command(
    db: str | None = DB_OPT,
    table: str | None = typer.Option(None, "--table", help="Only this table."),
    record: int | None = typer.Option(None, "--record", help="Only this record id."),
    limit: int = typer.Option(50, "--limit", min=1, help="Show the newest N rows."),
    as_json: bool = JSON_OPT,
) -> None:
    """Show the audit trail: who changed what, when (UTC), old -> new, and why."""
    entries = audit_log(db, table=table, record=record, limit=limit)
    if as_json:
        rows = [asdict(e) | {"occurred_at": e.occurred_at.isoformat()} for e in entries]
        typer.echo(json.dumps(rows, indent=2))
        return
    from cartrial.cli.layout import print_table

    columns = ("#", "when (UTC)", "user", "action", "record", "field", "old", "new", "reason")
    lines = [
        (
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
        for e in entries
    ]
    print_table(Console(), "Audit trail", columns, lines, justify=["right", *["left"] * 8])
