"""``cartrial export sdtm|adam``: the study's CDISC datasets (XPT v5, Dataset-JSON v1.1, CSV)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

__all__ = ["register"]

export_app = typer.Typer(
    help="Write the study's CDISC datasets: SDTM tabulations or ADaM analysis datasets.",
    no_args_is_help=True,
)

_DB = typer.Option(
    None,
    "--db",
    help="SQLite file or database URL (default: $CARTRIAL_DATABASE_URL, else ./cartrial.db).",
)
_OUT = typer.Option(..., "--out", help="Folder to write the datasets into.")
_FORMAT = typer.Option(
    "xpt", "--format", help="xpt (SAS transport v5), json (Dataset-JSON 1.1) or csv."
)
_STUDY = typer.Option(None, "--study", help="Study identifier (default: the packaged protocol's).")
_CUTOFF = typer.Option(
    None, "--cutoff", help="Data cut-off YYYY-MM-DD (default: the latest record)."
)
_JSON = typer.Option(False, "--json", help="Print what was written as JSON.")


def register(app: typer.Typer) -> None:
    """Attach the ``export`` command group to the root app."""
    app.add_typer(export_app, name="export")


def _export(
    standard: str,
    out: Path,
    fmt: str,
    db: str | None,
    study: str | None,
    cutoff: str | None,
    as_json: bool,
) -> None:
    from rich.console import Console
    from rich.table import Table

    from cartrial import services
    from cartrial.errors import CartrialError
    from cartrial.exchange import write_package
    from cartrial.protocol import load_protocol
    from cartrial.store import database_url, make_engine, session_factory

    try:
        cutoff_date = dt.date.fromisoformat(cutoff) if cutoff else None
    except ValueError:
        raise typer.BadParameter(
            f"not a date (YYYY-MM-DD): {cutoff}", param_hint="--cutoff"
        ) from None
    engine = make_engine(database_url(db))
    try:
        data = services.trial_data(
            session_factory(engine), study or load_protocol().study_id, cutoff_date
        )
        report = write_package(data, standard, out, fmt)  # type: ignore[arg-type]
    except CartrialError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(code=2) from None
    finally:
        engine.dispose()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "out": str(report.out),
                    "files": [str(p) for p in report.files],
                    "records": report.records,
                    "findings": [f.__dict__ for f in report.findings],
                },
                indent=2,
            )
        )
    else:
        table = Table(title=f"{standard.upper()} datasets in {out} ({fmt})")
        table.add_column("dataset")
        table.add_column("records", justify="right")
        for name, count in report.records.items():
            table.add_row(name, str(count))
        console = Console()
        console.print(table)
        for finding in report.findings:
            console.print(str(finding), highlight=False)
    if report.errors:
        raise typer.Exit(code=1)


@export_app.command("sdtm")
def sdtm_command(
    out: Path = _OUT,
    fmt: str = _FORMAT,
    db: str | None = _DB,
    study: str | None = _STUDY,
    cutoff: str | None = _CUTOFF,
    as_json: bool = _JSON,
) -> None:
    """SDTM (SDTMIG 3.4): TS, DM, DS, EX, CM, AE, SUPPAE, LB, FA, TU, TR, RS, IS, PC, CP."""
    _export("sdtm", out, fmt, db, study, cutoff, as_json)


@export_app.command("adam")
def adam_command(
    out: Path = _OUT,
    fmt: str = _FORMAT,
    db: str | None = _DB,
    study: str | None = _STUDY,
    cutoff: str | None = _CUTOFF,
    as_json: bool = _JSON,
) -> None:
    """ADaM (ADaMIG 1.3): ADSL, ADAE, ADLB, ADRS, ADTTE, ADPC, ADPP, ADIS."""
    _export("adam", out, fmt, db, study, cutoff, as_json)
