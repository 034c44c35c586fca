"""Data capture: ``cartrial study``, ``import``, ``rederive`` and ``decide`` commands.

Thin shells over :mod:`cartrial.services`: each parses its options, calls one use case as the
person of the credential (``cartrial login`` session or ``$CARTRIAL_TOKEN``,
:func:`cartrial.cli.auth.write_context`; ``--user`` alone is refused) on ``--study`` (default: the
packaged protocol's study)
in ``--db`` (a SQLite file or URL; default ``$CARTRIAL_DATABASE_URL``, else ``./cartrial.db``)
and prints the result. Passwords are always prompted, never taken from the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cartrial.cli.layout import print_record

if TYPE_CHECKING:
    from cartrial.services import ImportReport, ServiceContext

__all__ = ["register", "writer_context"]

DB_OPT = typer.Option(
    None,
    "--db",
    help="SQLite file or database URL (default: $CARTRIAL_DATABASE_URL, else ./cartrial.db).",
)
USER_OPT = typer.Option(
    None,
    "--user",
    envvar="CARTRIAL_USER",
    help="Check that the credential (login session or $CARTRIAL_TOKEN) is this user's.",
)
STUDY_OPT = typer.Option(None, "--study", help="Study id (default: the packaged protocol's).")
JSON_OPT = typer.Option(False, "--json", help="Print machine-readable JSON.")


def register(app: typer.Typer) -> None:
    """Attach ``study``, ``import``, ``rederive`` and ``decide`` to the root app."""
    study = typer.Typer(help="Create a study from its protocol; add sites and users.")
    study.command("init")(init_command)
    study.command("add-site")(add_site_command)
    study.command("add-user")(add_user_command)
    app.add_typer(study, name="study", no_args_is_help=True)
    imports = typer.Typer(help="Bulk CSV import, all or nothing, with a row-level error report.")
    for kind in ("labs", "lesions", "kinetics"):
        imports.command(kind)(_import_command(kind))
    from cartrial.cli.records import add_record_imports  # records.py builds on this module

    add_record_imports(imports)
    app.add_typer(imports, name="import", no_args_is_help=True)
    app.command("rederive")(rederive_command)
    app.command("decide")(decide_command)


def writer_context(db: str | None, user: str | None, study: str | None) -> ServiceContext:
    """The caller of a use case: the person of the credential present (``cartrial login``)."""
    from cartrial.cli.auth import write_context

    return write_context(db, user, study)


def init_command(
    admin: str = typer.Option(..., "--admin", help="Username of the first administrator."),
    admin_name: str = typer.Option(..., "--admin-name", help="Full name of the administrator."),
    protocol: Path | None = typer.Option(
        None, "--protocol", help="Protocol YAML (default: packaged)."
    ),
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Create the database (or migrate it) and load the protocol as a study.

    The only command that creates a database: every other one refuses a path that does not
    hold a cartrial database.
    """
    from cartrial.services import CreateStudy, create_database, create_study

    password = typer.prompt("Administrator password", hide_input=True, confirmation_prompt=True)
    created = create_study(
        create_database(db),
        CreateStudy(
            protocol_path=protocol,
            admin_username=admin,
            admin_full_name=admin_name,
            admin_password=password,
        ),
    )
    print_record(created.model_dump(), "study created", as_json)


def add_site_command(
    code: str = typer.Argument(..., help="Site code, e.g. S01."),
    name: str = typer.Argument(..., help="Site name."),
    country: str | None = typer.Option(None, "--country", help="ISO 3166 alpha-2 code."),
    user: str | None = USER_OPT,
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Add a clinical site (administrators)."""
    from cartrial.services import AddSite, add_site

    added = add_site(
        writer_context(db, user, study), AddSite(code=code, name=name, country=country)
    )
    print_record(added.model_dump(), "site added", as_json)


def add_user_command(
    username: str = typer.Argument(..., help="Login name."),
    full_name: str = typer.Argument(..., help="The person's name."),
    role: str = typer.Option(..., "--role", help="admin, investigator, site_coordinator, ..."),
    site: str | None = typer.Option(None, "--site", help="Site code (default: study-wide)."),
    user: str | None = USER_OPT,
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Add a user with a role, or a further role to an existing user (administrators)."""
    from cartrial.services import AddUser, add_user

    ctx = writer_context(db, user, study)
    password = typer.prompt(f"Password for {username}", hide_input=True, confirmation_prompt=True)
    added = add_user(
        ctx,
        AddUser.parse(
            {
                "username": username,
                "full_name": full_name,
                "password": password,
                "role": role,
                "site": site,
            }
        ),
    )
    print_record(added.model_dump(), "user added", as_json)


def _importer(kind: str) -> Callable[..., ImportReport]:
    from cartrial import services

    importers: dict[str, Callable[..., ImportReport]] = {
        "labs": services.import_labs,
        "lesions": services.import_lesions,
        "kinetics": services.import_kinetics,
    }
    return importers[kind]


def _import_command(kind: str) -> Callable[..., None]:
    def command(
        file: Path = typer.Argument(
            ..., exists=True, dir_okay=False, help="CSV file with a header."
        ),
        user: str | None = USER_OPT,
        study: str | None = STUDY_OPT,
        db: str | None = DB_OPT,
        as_json: bool = JSON_OPT,
        encoding: str | None = typer.Option(
            None, "--encoding", help="The file's encoding when not UTF-8 (e.g. latin-1)."
        ),
    ) -> None:
        report = _importer(kind)(writer_context(db, user, study), file, encoding=encoding)
        print_record(report.model_dump(), f"{kind} imported", as_json)

    command.__doc__ = f"Import {kind} from FILE.csv in one transaction (all or nothing)."
    return command


def rederive_command(
    reason: str = typer.Option(..., "--reason", help="Why (recorded with every change)."),
    user: str | None = USER_OPT,
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Re-derive every derived value of the study (lab grades, CRS/ICANS, RECIST, DLT)."""
    from cartrial.services import RederiveStudy, rederive_study

    result = rederive_study(writer_context(db, user, study), RederiveStudy(reason=reason))
    print_record(result.model_dump(), "re-derivation", as_json)


def decide_command(
    as_of: str | None = typer.Option(
        None, "--as-of", help="Date (YYYY-MM-DD) the windows count to."
    ),
    next_dose: str | None = typer.Option(None, "--next-dose", help="Override: a lower dose level."),
    action: str | None = typer.Option(
        None, "--action", help="Override: escalate/stay/de-escalate/stop."
    ),
    rationale: str | None = typer.Option(None, "--rationale", help="Required for an override."),
    sign: bool = typer.Option(False, "--sign", help="Sign the decision now (password prompted)."),
    user: str | None = USER_OPT,
    study: str | None = STUDY_OPT,
    db: str | None = DB_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Run the protocol's dose-finding design and record the next cohort's dose decision."""
    from cartrial.services import DecideNextDose, SignRecord, decide_next_dose, sign_record

    ctx = writer_context(db, user, study)
    decided = decide_next_dose(
        ctx,
        DecideNextDose.parse(
            {
                "as_of": as_of,
                "action": action,
                "next_dose_level": next_dose,
                "rationale": rationale,
            }
        ),
    )
    record = decided.model_dump()
    if sign:
        password = typer.prompt("Password (e-signature)", hide_input=True)
        signed = sign_record(
            ctx,
            SignRecord(
                record="dose_decision",
                record_id=decided.decision_id,
                meaning="approval",
                password=password,
            ),
        )
        record["signature"] = signed.manifestation
    print_record(record, f"dose decision (design {decided.design})", as_json)
