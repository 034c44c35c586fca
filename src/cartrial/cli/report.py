"""``cartrial report``: write the trial report (HTML, PDF, CSV tables) from the study database."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from cartrial.analysis import TrialData

__all__ = ["register", "report_command", "trial_as_of"]


def register(app: typer.Typer) -> None:
    """Attach the ``report`` command to the root app."""
    app.command("report")(report_command)


def trial_as_of(db: str | None, study: str | None, cutoff: str | None) -> TrialData:
    """The read model of ``study`` (default: the packaged protocol's) in ``db`` as of ``cutoff``
    (``YYYY-MM-DD``; default: today or the latest record), for the commands that read the trial."""
    from cartrial import services
    from cartrial.protocol import load_protocol

    try:
        cutoff_date = dt.date.fromisoformat(cutoff) if cutoff else None
    except ValueError:
        raise typer.BadParameter(
            f"not a date (YYYY-MM-DD): {cutoff}", param_hint="--cutoff"
        ) from None
    factory = services.open_database(db)
    return services.trial_data(factory, study or load_protocol().study_id, cutoff_date)


def report_command(
    out: Path = typer.Option(..., "--out", help="Directory to write the report into."),
    db: str | None = typer.Option(
        None,
        "--db",
        help="SQLite file or database URL (default: $CARTRIAL_DATABASE_URL, else ./cartrial.db).",
    ),
    study: str | None = typer.Option(
        None, "--study", help="Study identifier (default: the packaged protocol's study id)."
    ),
    cutoff: str | None = typer.Option(
        None, "--cutoff", help="Data cut-off date YYYY-MM-DD (default: today or the latest record)."
    ),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also print the report to PDF."),
    as_json: bool = typer.Option(False, "--json", help="Print the written paths as JSON."),
) -> None:
    """Analyse the trial as of the data cut-off and write report.html, report.pdf, tables/*.csv."""
    from cartrial.report import build_report

    data = trial_as_of(db, study, cutoff)
    result = build_report(data, out, pdf=pdf)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "html": str(result.html_path),
                    "pdf": str(result.pdf_path) if result.pdf_path else None,
                    "tables": [str(p) for p in result.csv_paths],
                    "docx": str(result.docx_path) if result.docx_path else None,
                    "figure_files": [str(p) for p in result.figure_paths],
                    "numbered_tables": list(result.tables),
                    "figures": list(result.figures),
                    "notes": list(result.notes),
                },
                indent=2,
            )
        )
        return
    console = Console()
    table = Table(
        title=f"Report of {data.protocol.study_id}, data cut-off {data.data_cutoff:%Y-%m-%d}"
    )
    table.add_column("output")
    table.add_column("path")
    table.add_row("HTML", str(result.html_path))
    table.add_row("PDF", str(result.pdf_path) if result.pdf_path else "not written (--no-pdf)")
    table.add_row("tables", f"{len(result.csv_paths)} CSV files in {out / 'tables'}")
    table.add_row("DOCX", str(result.docx_path) if result.docx_path else "not written")
    table.add_row(
        "figures",
        f"{len(result.figures)} drawn (PNG + SVG in {out / 'figures'}),"
        f" {len(result.missing_figures)} without data",
    )
    console.print(table)
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
