"""The ``cartrial`` command: a thin shell over the library and ``cartrial.services``.

Each command group lives in its own module of this package and is registered in
:func:`_register`; commands parse arguments, call one library or service function and print.
"""

from __future__ import annotations

import importlib

import typer

from cartrial import __version__

__all__ = ["app", "main"]

app = typer.Typer(
    name="cartrial",
    help="Run a first-in-human CAR-T trial: protocol, capture, rules, designs, analysis, report.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
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


#: The modules of this package that add commands, each with ``register(app)``.
COMMAND_MODULES = (
    "demo",
    "protocol",
    "design",
    "simulate",
    "grade",
    "recist",
    "capture",
    "auth",
    "db",
    "report",
    "serve",
)


def _register() -> None:
    """Attach every command group: each module of :data:`COMMAND_MODULES` has ``register(app)``."""
    for name in COMMAND_MODULES:
        importlib.import_module(f"cartrial.cli.{name}").register(app)


_register()


def main() -> None:
    """Entry point of the ``cartrial`` console script."""
    app()
