"""Explicit unit conversion for CTCAE lab grading (``data/ctcae/lab_units.csv``).

Every absolute threshold of ``lab_criteria.csv`` is stated in one SI unit per test; a value in
any accepted unit is multiplied by the documented factor of ``lab_units.csv`` (each row names its
source: the unit definition or the molar mass). An unit not listed for the test is an error,
never a guess.

>>> from cartrial.rules.ctcae_units import unit_factor
>>> unit_factor("hemoglobin", "g/dL")
(10.0, 'g/L')
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cartrial.errors import RuleInputError
from cartrial.rules.ctcae_data import read_table

__all__ = ["UnitConversion", "accepted_units", "normalise_unit", "unit_factor"]


@dataclass(frozen=True)
class UnitConversion:
    """One accepted unit: ``value_si = value * factor``; ``source`` documents the factor."""

    unit_group: str
    unit: str
    factor: float
    si_unit: str
    source: str


def normalise_unit(unit: str) -> str:
    """Lower-case, drop spaces, write micro (``µ``/``μ``) as ``u``: ``"µmol/L"`` -> ``"umol/l"``."""
    return "".join(unit.split()).replace("µ", "u").replace("μ", "u").casefold()


@cache
def _conversions() -> dict[str, dict[str, UnitConversion]]:
    table: dict[str, dict[str, UnitConversion]] = {}
    for row in read_table("lab_units.csv"):
        conv = UnitConversion(
            unit_group=row["unit_group"],
            unit=row["unit"],
            factor=float(row["factor"]),
            si_unit=row["si_unit"],
            source=row["source"],
        )
        table.setdefault(conv.unit_group, {})[normalise_unit(conv.unit)] = conv
    return table


def accepted_units(unit_group: str) -> tuple[str, ...]:
    """Units accepted for a unit group, as spelled in the data file."""
    return tuple(c.unit for c in _conversions()[unit_group].values())


def unit_factor(unit_group: str, unit: str, *, what: str = "") -> tuple[float, str]:
    """Return ``(factor, si_unit)`` converting ``unit`` to the SI unit of ``unit_group``.

    Parameters
    ----------
    unit_group : str
        Row group of ``lab_units.csv`` (e.g. ``"cell_count"``, ``"enzyme"``).
    unit : str
        The unit as written in the source data.
    what : str
        Names the test in the error message (e.g. ``"ALT"``).

    Raises
    ------
    RuleInputError
        If the unit is not accepted for the group.
    """
    conv = _conversions()[unit_group].get(normalise_unit(unit))
    if conv is None:
        label = f" for {what}" if what else ""
        raise RuleInputError(
            f"unknown unit {unit!r}{label} (accepted: {', '.join(accepted_units(unit_group))})"
        )
    return conv.factor, conv.si_unit
