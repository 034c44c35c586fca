"""``cartrial export sdtm|adam|define|odm``: the study's CDISC datasets, Define-XML and ODM."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cartrial.cli.records import export_odm_command

if TYPE_CHECKING:
    from cartrial.exchange import ExportReport

__all__ = ["register"]

export_app = typer.Typer(
    help="CDISC exchange files of the study: SDTM, ADaM, Define-XML and ODM.",
    no_args_is_help=True,
)

_DB = typer.Option(
    None,
    "--db",
    help="SQLite file or database URL (default: $CARTRIAL_DATABASE_URL, else ./cartrial.db).",
)
_OUT = typer.Option(..., "--out", help="Folder to write into.")
_FORMAT = typer.Option(
    "xpt", "--format", help="xpt (SAS transport v5), json (Dataset-JSON 1.1) or csv."
)
_STUDY = typer.Option(None, "--study", help="Study identifier (default: the packaged protocol's).")
_CUTOFF = typer.Option(
    None, "--cutoff", help="Data cut-off YYYY-MM-DD (default: today or the latest record)."
)
_JSON = typer.Option(False, "--json", help="Print what was written as JSON.")


def register(app: typer.Typer) -> None:
    """Attach the ``export`` command group to the root app."""
    app.add_typer(export_app, name="export")


def _print(reports: Sequence[ExportReport], as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "standard": r.standard,
                        "out": str(r.out),
                        "files": [str(p) for p in r.files],
                        "records": r.records,
                        "findings": [f.__dict__ for f in r.findings],
                    }
                    for r in reports
                ],
                indent=2,
            )
        )
        return
    console = Console()
    for report in reports:
        table = Table(title=f"{report.standard.upper()} in {report.out} ({report.format})")
        table.add_column("dataset")
        table.add_column("records", justify="right")
        for name, count in report.records.items():
            table.add_row(name, str(count))
        console.print(table)
        for finding in report.findings:
            console.print(str(finding), highlight=False)


def _export(
    standards: tuple[str, ...],
    out: Path,
    fmt: str,
    db: str | None,
    study: str | None,
    cutoff: str | None,
    as_json: bool,
    *,
    nested: bool = False,
) -> None:
    from cartrial.cli.report import trial_as_of
    from cartrial.exchange import write_packages

    data = trial_as_of(db, study, cutoff)
    outs = {standard: out / standard if nested else out for standard in standards}
    reports = write_packages(data, outs, fmt)  # type: ignore[arg-type]
    _print(reports, as_json)
    if any(report.errors for report in reports):
        raise typer.Exit(code=1)


def _command(standards: tuple[str, ...], doc: str, *, nested: bool = False) -> Callable[..., None]:
    """A command writing the packages of ``standards`` (into OUT/<standard> when ``nested``)."""

    def command(
        out: Path = _OUT,
        fmt: str = _FORMAT,
        db: str | None = _DB,
        study: str | None = _STUDY,
        cutoff: str | None = _CUTOFF,
        as_json: bool = _JSON,
    ) -> None:
        _export(standards, out, fmt, db, study, cutoff, as_json, nested=nested)

    command.__doc__ = doc
    return command


export_app.command("sdtm")(
    _command(
        ("sdtm",),
        "SDTM (SDTMIG 3.4): TS, TA, TE, TV, TD, TI, DM, DS, SV, EX, CM, AE, SUPPAE, IE, LB, FA,"
        " VS, TU, TR, RS, IS, PC, PP, CP, RELREC.",
    )
)
export_app.command("adam")(
    _command(("adam",), "ADaM (ADaMIG 1.3): ADSL, ADAE, ADLB, ADRS, ADTTE, ADPC, ADPP, ADIS.")
)
export_app.command("define")(
    _command(
        ("sdtm", "adam"),
        "Both packages with their Define-XML 2.1 (define.xml, define.html): OUT/sdtm, OUT/adam.",
        nested=True,
    )
)

export_app.command("odm")(export_odm_command)
