"""Database helpers for the controlled vocabularies of :mod:`cartrial.vocab`.

The words themselves are defined once in :mod:`cartrial.vocab`; the store enforces each list with a
named CHECK constraint built by :func:`choice`.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint

__all__ = ["choice"]


def choice(column: str, values: tuple[str, ...], *, nullable: bool = False) -> CheckConstraint:
    """Return a named CHECK constraint restricting ``column`` to ``values``."""
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    condition = f"{column} IN ({quoted})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=f"{column}_valid")
