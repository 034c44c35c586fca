"""Clinical criteria tables shipped as package data, each row validated by a pydantic schema.

A table is a CSV file under ``cartrial/data/<folder>/`` whose leading ``#`` lines state its source;
every data row is checked against the table's row model, so a mistyped grade, an unknown operator
or a missing source is an error naming the file, the line and the field, raised the first time the
table is read (and by the test suite), never a wrong grade later.
"""

from __future__ import annotations

import csv
from importlib.resources import files
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from cartrial.errors import RuleInputError

__all__ = ["NonEmpty", "TableRow", "load_table", "parse_rows", "read_rows", "validate_rows"]

NonEmpty = Annotated[str, StringConstraints(min_length=1)]
"""A text cell that must not be blank."""


class TableRow(BaseModel):
    """Base of every row schema: frozen, no unknown columns; cells are coerced from CSV text."""

    model_config = ConfigDict(frozen=True, extra="forbid")


RowT = TypeVar("RowT", bound=TableRow)


def parse_rows(text: str) -> tuple[tuple[int, dict[str, str]], ...]:
    """The data rows of a CSV text with their line numbers (1-based).

    Comment lines (``#``) and blank lines are skipped; fields may not span lines.
    """
    kept = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.startswith("#")
    ]
    rows = csv.DictReader(line for _, line in kept)
    return tuple((number, dict(row)) for (number, _), row in zip(kept[1:], rows, strict=True))


def read_rows(folder: str, name: str) -> tuple[tuple[int, dict[str, str]], ...]:
    """The data rows of ``data/<folder>/<name>`` with their line numbers in the file."""
    text = files("cartrial").joinpath("data", folder, name).read_text(encoding="utf-8")
    return parse_rows(text)


def validate_rows(
    where: str, rows: tuple[tuple[int, dict[str, str]], ...], schema: type[RowT]
) -> tuple[RowT, ...]:
    """Each row validated by ``schema``; ``where`` names the file in the error.

    Raises
    ------
    RuleInputError
        For a row that breaks the schema: ``<where>, line N, field F: ...``.
    """
    loaded = []
    for number, row in rows:
        try:
            loaded.append(schema.model_validate(row))
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(part) for part in error["loc"]) or "row"
            raise RuleInputError(f"{where}, line {number}, field {field}: {error['msg']}") from None
    return tuple(loaded)


def load_table(folder: str, name: str, schema: type[RowT]) -> tuple[RowT, ...]:
    """The rows of ``data/<folder>/<name>``, each validated by ``schema``.

    Raises
    ------
    RuleInputError
        For a row that breaks the schema: ``data/<folder>/<name>, line N, field F: ...``.
    """
    return validate_rows(f"data/{folder}/{name}", read_rows(folder, name), schema)
