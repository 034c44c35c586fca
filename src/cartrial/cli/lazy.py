"""A command group that imports a command module only when one of its commands is used.

``cartrial --help`` lists every command from the one-line help written in the registry, and
``cartrial --version`` runs no command, so neither imports a command module (nor pandas, SciPy,
matplotlib or SQLAlchemy behind it). ``cartrial design next ...`` imports
``cartrial.cli.design`` only. Errors of every command are reported in one place
(:func:`cartrial.cli.errors.report_errors`), around the invocation of the chosen command.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup

from cartrial.cli.errors import JSON_KEY, report_errors, wants_json

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter

__all__ = ["LazyGroup"]


class LazyGroup(TyperGroup):
    """A Typer group whose command modules are imported on first use.

    Subclasses set :attr:`package` and :attr:`command_modules`: per module of ``package`` (which
    has ``register(app: typer.Typer)``), the top-level commands it registers, each with the
    one-line help that ``--help`` lists. A test checks that the one-line help matches the
    command's own.
    """

    package: ClassVar[str] = ""
    command_modules: ClassVar[Mapping[str, Mapping[str, str]]] = {}

    _listing = False

    def list_commands(self, ctx: Context) -> list[str]:
        """Every command: those already built, then the registry's, in registry order."""
        names = list(self.commands)
        for commands in self.command_modules.values():
            names += [name for name in commands if name not in names]
        return names

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """The command ``cmd_name``, importing its module on first use.

        While the group's own help is written, an unloaded command is shown from the registry
        (name and one-line help) without importing anything.
        """
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        module = self._module_of(cmd_name)
        if module is None:
            return None
        if self._listing:
            short_help = self.command_modules[module][cmd_name]
            return TyperCommand(cmd_name, help=short_help, short_help=short_help)
        self.load(module)
        return self.commands.get(cmd_name)

    def load(self, module: str) -> None:
        """Import ``module`` of :attr:`package` and add every command it registers."""
        staging = typer.Typer()
        importlib.import_module(f"{self.package}.{module}").register(staging)
        staging.callback()(_no_options)  # a callback makes get_command return a group
        built = typer.main.get_command(staging)
        assert isinstance(built, TyperGroup)
        for name, command in built.commands.items():
            self.commands.setdefault(name, command)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        """The group's help, listing unloaded commands from the registry."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        """Parse as usual; remember whether the command line asks for JSON (``--json``)."""
        ctx.meta[JSON_KEY] = wants_json(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Context) -> object:
        """Run the chosen command; every error it raises is reported by :func:`report_errors`."""
        with report_errors(as_json=bool(ctx.meta.get(JSON_KEY, False))):
            return super().invoke(ctx)

    def _module_of(self, cmd_name: str) -> str | None:
        for module, commands in self.command_modules.items():
            if cmd_name in commands:
                return module
        return None


def _no_options() -> None:
    """Placeholder callback of the staging app (never run)."""
