"""The ``cartrial`` command: a thin shell over the library and ``cartrial.services``.

Each command group lives in its own module of this package, with ``register(app)`` attaching its
commands to a Typer app. A module is imported only when one of its commands is used, so that
``cartrial --help`` and ``--version`` start in a fraction of a second.

Adding a command module: write ``cartrial/cli/NAME.py`` with ``register(app: typer.Typer)``, then
add one entry to :data:`COMMAND_MODULES`: the module name, and for each top-level command it
registers, the one-line help that ``cartrial --help`` lists (a test checks that it matches the
command's own help). Import heavy packages (pandas, SciPy, matplotlib, SQLAlchemy, the services)
inside command bodies or in modules only those commands import.

Errors: a command raises (a :class:`cartrial.errors.CartrialError`, an ``OSError``, a usage
error); it never catches to print. :func:`cartrial.cli.errors.report_errors` prints every error
the same way, exit code 2, JSON with ``--json``, never a traceback.
"""

from __future__ import annotations

import sys

import typer

from cartrial import __version__
from cartrial.cli import errors as _errors
from cartrial.cli.lazy import LazyGroup as _LazyGroup

__all__ = ["COMMAND_MODULES", "app", "main"]

#: Command modules of this package: per module, its top-level commands with their one-line help.
COMMAND_MODULES: dict[str, dict[str, str]] = {
    "demo": {
        "demo": "Conduct the CLDN18.2/PD-L1 CAR-T study with virtual patients, then write the "
        "report."
    },
    "protocol": {"protocol": "Show and validate study protocol files."},
    "design": {"design": "Dose-finding designs and expansion rules."},
    "simulate": {"simulate": "Simulate operating characteristics of dose-finding designs."},
    "grade": {"grade": "Grade labs (CTCAE v5.0), CRS and ICANS (ASTCT 2019) from CSV files."},
    "recist": {"recist": "Evaluate RECIST 1.1 responses; every row names the rule that fired."},
    "capture": {
        "study": "Create a study from its protocol; add sites and users.",
        "import": "Bulk CSV import, all or nothing, with a row-level error report.",
        "rederive": "Re-derive every derived value of the study (lab grades, CRS/ICANS, RECIST, "
        "DLT).",
        "decide": "Run the protocol's dose-finding design and record the next cohort's dose "
        "decision.",
    },
    "auth": {
        "login": "Log in: open a session for the commands that write (saved in a file only you "
        "can read).",
        "logout": "End the saved session and delete the session file.",
        "token": "Personal access tokens for scripts ($CARTRIAL_TOKEN).",
        "account": "Your password; unlock, deactivate accounts, revoke roles (administrators).",
    },
    "db": {
        "db": "Create, migrate, back up and restore the trial database.",
        "audit": "Verify and read the audit trail; write checkpoints.",
    },
    "report": {
        "report": "Analyse the trial as of the data cut-off and write report.html, report.pdf, "
        "tables/*.csv."
    },
    "export": {
        "export": "CDISC exchange files of the study: SDTM, ADaM, Define-XML and ODM.",
    },
    "serve": {"serve": "Serve the web application (log in with an account of the study)."},
}


class _Commands(_LazyGroup):
    package = __name__
    command_modules = COMMAND_MODULES


app = typer.Typer(
    name="cartrial",
    cls=_Commands,
    help="Run a first-in-human CAR-T trial: protocol, capture, rules, designs, analysis, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cartrial {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """cartrial: one system for the whole trial."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cartrial`` console script: run one command, return its exit code.

    Errors of a command are reported by the group (:func:`cartrial.cli.errors.report_errors`);
    this wrapper reports what happens outside a command (an unknown command, an interrupt), so
    that no traceback ever reaches the user.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = _errors.wants_json(args)
    try:
        command = typer.main.get_command(app)
        result = command.main(args=args, prog_name="cartrial", standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        return 130
    except Exception as exc:
        return _errors.report_error(exc, as_json=as_json)
    return result if isinstance(result, int) else 0
