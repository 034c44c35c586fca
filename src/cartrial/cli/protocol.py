"""``cartrial protocol``: show and validate a study protocol file (filled in by the foundation work)."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Attach the ``protocol`` command group to the root app."""
    group = typer.Typer(help="Show and validate study protocol files.", no_args_is_help=True)
    app.add_typer(group, name="protocol")
