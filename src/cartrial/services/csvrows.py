"""Row schemas and the parser of bulk CSV imports (labs, lesions, kinetics).

Parsing is separate from writing: :func:`parse_rows` turns a CSV file into validated, typed rows or
raises :class:`~cartrial.errors.ImportFailed` listing every bad row and field (row numbers count the
header as row 1, as a spreadsheet shows them). Nothing touches the database here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cartrial.errors import ImportFailed
from cartrial.vocab import KineticsUnit, LesionCategory, LesionStatus

__all__ = [
    "KineticsRow",
    "LabRow",
    "LesionRow",
    "parse_rows",
]


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: object) -> object:
        """An empty CSV cell means "not given" (``None``), never an empty string."""
        return None if isinstance(value, str) and value.strip() == "" else value


class LabRow(_Row):
    """One laboratory result: ``subject_id, date, lbtestcd, value, unit, lln, uln``.

    ``value``, ``lln`` and ``uln`` are in ``unit`` (e.g. ``10^9/L``); the CTCAE grade is derived at
    write time, never imported.
    """

    subject_id: str = Field(min_length=1)
    date: dt.date
    lbtestcd: str = Field(min_length=1)
    value: float
    unit: str = Field(min_length=1)
    lln: float | None = None
    uln: float | None = None


class LesionRow(_Row):
    """One lesion at one RECIST assessment (the long format of ``TrialData.lesions``).

    ``diameter_mm`` is the longest diameter (short axis for lymph nodes); empty for non-target and
    new lesions, which carry ``status`` instead. Status vocabulary of ``cartrial.rules.recist``:
    targets ``present``/``too_small``/``absent``/``NE``; non-targets ``present``/``absent``/
    ``unequivocal_progression``/``NE``; new lesions ``equivocal``/``unequivocal``.
    """

    subject_id: str = Field(min_length=1)
    assessment_date: dt.date
    lesion_id: str = Field(min_length=1)
    category: LesionCategory
    organ: str = Field(min_length=1)
    is_lymph_node: bool = False
    diameter_mm: float | None = Field(default=None, ge=0)
    status: LesionStatus = "present"


class KineticsRow(_Row):
    """One CAR-T level: qPCR transgene copies/µg gDNA or flow CAR+ cells/µL, with the assay's LLOQ.

    ``value`` may be empty when the sample was below the LLOQ (it is then stored as below LLOQ).
    """

    subject_id: str = Field(min_length=1)
    date: dt.date
    value: float | None = Field(default=None, ge=0)
    unit: KineticsUnit
    lloq: float = Field(gt=0)


RowT = TypeVar("RowT", bound=_Row)


def parse_rows(source: str | Path, row_model: type[RowT]) -> list[RowT]:
    """Read a CSV file (or CSV text) into validated rows of ``row_model``.

    Parameters
    ----------
    source
        A path to a UTF-8 CSV file with a header row, or the CSV text itself (when it contains a
        newline).
    row_model
        The row schema, e.g. :class:`LabRow`.

    Returns
    -------
    list
        One validated row per data line, in file order.

    Raises
    ------
    ImportFailed
        Listing ``(row, field, message)`` for every problem: missing or unknown columns (row 1) and
        every invalid cell. Row numbers count the header as row 1.
    """
    name, text = _read(source)
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    expected = set(row_model.model_fields)
    required = {n for n, f in row_model.model_fields.items() if f.is_required()}
    errors: list[tuple[int, str, str]] = []
    for missing in sorted(required - set(header)):
        errors.append((1, missing, "required column is missing"))
    for unknown in sorted(set(header) - expected):
        errors.append((1, unknown, "unknown column"))
    if errors:
        raise ImportFailed(name, errors)
    rows: list[RowT] = []
    for line_no, raw in enumerate(reader, start=2):
        if None in raw:
            errors.append((line_no, "<row>", "more cells than header columns"))
            continue
        cells = {k.strip(): v for k, v in raw.items() if k is not None and v is not None}
        try:
            rows.append(row_model.model_validate(cells))
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "<row>"
                errors.append((line_no, field, err["msg"]))
    if errors:
        raise ImportFailed(name, errors)
    if not rows:
        raise ImportFailed(name, [(1, "<file>", "no data rows")])
    return rows


def _read(source: str | Path) -> tuple[str, str]:
    if isinstance(source, str) and "\n" in source:
        return "<csv text>", source
    path = Path(source)
    try:
        return str(path), path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ImportFailed(str(path), [(0, "<file>", f"cannot read: {exc.strerror}")]) from exc
