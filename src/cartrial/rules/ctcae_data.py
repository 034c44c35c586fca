"""Read the CTCAE v5.0 package data tables (``cartrial/data/ctcae/*.csv``), schema-checked.

Each table is a CSV file whose leading ``#`` lines state its source; every row is validated by the
table's row model in :data:`CTCAE_SCHEMAS` (grades 1-5, known operators and bases, positive
conversion factors, a source where the table has one), then returned as the text row. It is the
only place the CTCAE rules touch a file.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from cartrial.errors import RuleInputError
from cartrial.rules.package_tables import NonEmpty, TableRow, load_table, read_rows

__all__ = [
    "CTCAE_SCHEMAS",
    "CTCAE_VERSION",
    "LabCriterionRow",
    "LabTestRow",
    "LabUnitRow",
    "TermRow",
    "read_table",
]

CTCAE_VERSION = "5.0"

Grade = Annotated[int, Field(ge=1, le=5)]


class TermRow(TableRow):
    """``terms.csv``: a CTCAE v5.0 term, its SOC and the grades it defines."""

    term: NonEmpty
    soc: NonEmpty
    grades: Annotated[str, StringConstraints(pattern=r"^[1-5](\|[1-5])*$")]
    hematologic: Literal["true", "false"]
    source: NonEmpty


class LabCriterionRow(TableRow):
    """``lab_criteria.csv``: one numeric criterion ``value <op> factor * reference``."""

    criterion_id: NonEmpty
    term: NonEmpty
    grade: Grade
    basis: Literal["abs", "lln", "uln", "baseline"]
    op: Literal["<", "<=", ">", ">="]
    factor: float
    applies_when: Literal[
        "always", "baseline_normal", "baseline_abnormal", "baseline_known", "symptomatic"
    ]
    text: NonEmpty

    @field_validator("factor")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value) or value < 0:
            raise ValueError("must be a finite number >= 0")
        return value


class LabTestRow(TableRow):
    """``lab_tests.csv``: a lab test code, its unit group and its low/high CTCAE terms."""

    lbtestcd: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]+$")]
    test: NonEmpty
    unit_group: NonEmpty
    low_term: str
    high_term: str


class LabUnitRow(TableRow):
    """``lab_units.csv``: a reported unit and its factor to the group's SI unit."""

    unit_group: NonEmpty
    unit: NonEmpty
    factor: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    si_unit: NonEmpty
    source: NonEmpty


CTCAE_SCHEMAS: dict[str, type[TableRow]] = {
    "terms.csv": TermRow,
    "lab_criteria.csv": LabCriterionRow,
    "lab_tests.csv": LabTestRow,
    "lab_units.csv": LabUnitRow,
}
"""Row schema of each CTCAE table."""


@cache
def read_table(name: str) -> tuple[dict[str, str], ...]:
    """Return the rows of the package data table ``data/ctcae/<name>`` as dictionaries.

    Parameters
    ----------
    name : str
        File name inside ``cartrial/data/ctcae`` (e.g. ``"terms.csv"``).

    Returns
    -------
    tuple of dict
        One mapping per data row, keyed by the header; comment lines (``#``) are skipped.

    Raises
    ------
    RuleInputError
        An unknown table, or a row that breaks the table's schema (file, line and field named).
    """
    schema = CTCAE_SCHEMAS.get(name)
    if schema is None:
        raise RuleInputError(f"no CTCAE table {name!r} (one of {', '.join(CTCAE_SCHEMAS)})")
    load_table("ctcae", name, schema)
    return tuple(row for _, row in read_rows("ctcae", name))
