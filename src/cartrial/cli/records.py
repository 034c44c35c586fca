"""``cartrial import records|study|odm``: move a study in (``cartrial export odm`` moves it out).

Thin shells over :mod:`cartrial.services.imports_records` and :mod:`cartrial.services.odm`: every
row goes through the use cases as the person of the credential, all in one transaction; a
rejected import raises :class:`~cartrial.errors.ImportFailed`, which
:func:`cartrial.cli.errors.report_errors` prints by file line (nothing is written). Files holding
signed governance records (DLT adjudications, dose and governance decisions) need ``--sign``:
the importing user's password, prompted once, signs each imported record as a copy.
"""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import SecretStr

from cartrial.cli.capture import DB_OPT, JSON_OPT, STUDY_OPT, USER_OPT, writer_context
from cartrial.cli.layout import print_record

__all__ = ["add_record_imports", "export_odm_command"]

_FAMILIES_HELP = "Record family (the headings of docs/import.md), e.g. screening, labs."
SIGN_OPT = typer.Option(
    False,
    "--sign",
    help="Sign the imported governance records as copies (your password is prompted).",
)


def _signing_password(sign: bool) -> SecretStr | None:
    """The importing user's password when ``--sign`` was given (prompted, never echoed)."""
    if not sign:
        return None
    return SecretStr(typer.prompt("Password (e-signature of the imported copies)", hide_input=True))


def add_record_imports(imports: typer.Typer) -> None:
    """Add ``records``, ``study`` and ``odm`` to the ``import`` command group."""
    imports.command("records")(records_command)
    imports.command("study")(study_command)
    imports.command("odm")(odm_command)


def _print_all(reports: list[dict[str, object]], as_json: bool) -> None:
    for report in reports:
        print_record(report, f"{report['kind']} imported", as_json)


def records_command(
    family: str = typer.Argument(..., help=_FAMILIES_HELP),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV file with a header."),
    user: str | None = USER_OPT,
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
    sign: bool = SIGN_OPT,
) -> None:
    """Import one record family from CSV (columns: docs/import.md), all or nothing."""
    from cartrial.services import import_records

    password = _signing_password(sign)
    report = import_records(writer_context(db, user, study), family, file, password=password)
    _print_all([report.model_dump()], as_json)


def study_command(
    files: list[str] = typer.Argument(..., help="FAMILY=FILE pairs, e.g. screening=s.csv."),
    user: str | None = USER_OPT,
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
    sign: bool = SIGN_OPT,
) -> None:
    """Import CSV files of several record families in ONE transaction, all or nothing."""
    from cartrial.services import import_study

    sources: list[tuple[str, str | Path]] = []
    for pair in files:
        family, sep, path = pair.partition("=")
        if not sep or not path:
            raise typer.BadParameter(f"{pair!r} is not FAMILY=FILE", param_hint="FILES")
        sources.append((family.strip(), Path(path)))
    password = _signing_password(sign)
    reports = import_study(writer_context(db, user, study), sources, password=password)
    _print_all([r.model_dump() for r in reports], as_json)


def odm_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CDISC ODM 1.3 XML."),
    user: str | None = USER_OPT,
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
    sign: bool = SIGN_OPT,
) -> None:
    """Import a CDISC ODM 1.3 clinical data file (every record family), all or nothing."""
    from cartrial.services import import_odm

    password = _signing_password(sign)
    reports = import_odm(writer_context(db, user, study), file, password=password)
    _print_all([r.model_dump() for r in reports], as_json)


def export_odm_command(
    out: Path = typer.Option(..., "--out", help="ODM XML file to write."),
    user: str | None = USER_OPT,
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
) -> None:
    """Write every record of the study as CDISC ODM 1.3 clinical data."""
    from cartrial.services import export_odm

    document = export_odm(writer_context(db, user, study))
    out.write_bytes(document)
    typer.echo(f"wrote {out} ({len(document)} bytes)")
