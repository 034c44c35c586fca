"""Row schemas and the parser of bulk CSV imports (labs, lesions, kinetics).

Parsing is separate from writing: :func:`iter_row_chunks` streams a CSV file as chunks of
validated, typed rows, each with its line number in the file (the header is line 1, as a
spreadsheet and an editor show it), and records every bad cell in a :class:`RowErrors` report
(capped at :data:`MAX_ERRORS`, the rest counted); :func:`parse_rows` reads a whole file the same
way. The file is decoded strictly (:mod:`cartrial.textio`). Nothing touches the database here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cartrial.errors import ImportFailed, InputFileError
from cartrial.services.base import SubjectId
from cartrial.textio import CsvRows, iter_lines
from cartrial.vocab import KineticsUnit, LesionCategory, LesionStatus

__all__ = [
    "MAX_ERRORS",
    "MAX_IMPORT_BYTES",
    "KineticsRow",
    "LabRow",
    "LesionRow",
    "RowErrors",
    "iter_row_chunks",
    "parse_rows",
    "source_name",
]

#: Errors listed in an import report; further ones are only counted.
MAX_ERRORS = 100
#: Largest CSV file an import reads (about 4 million lab rows).
MAX_IMPORT_BYTES = 200_000_000


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
    write time, never imported. ``time`` (optional) is the local time in the study's time zone;
    without it the result is dated ``date`` in the study's time zone (stored at 12:00 local time
    there: :meth:`~cartrial.services.context.UseCase.study_time`).
    """

    subject_id: SubjectId
    date: dt.date
    time: dt.time | None = Field(
        default=None, description="local time of collection in the study's time zone (HH:MM)"
    )
    lbtestcd: str = Field(min_length=1, max_length=16)
    value: float = Field(ge=0, allow_inf_nan=False)
    unit: str = Field(min_length=1, max_length=32)
    lln: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    uln: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class LesionRow(_Row):
    """One lesion at one RECIST assessment (the long format of ``TrialData.lesions``).

    ``diameter_mm`` is the longest diameter (short axis for lymph nodes); empty for non-target and
    new lesions, which carry ``status`` instead. Status vocabulary of ``cartrial.rules.recist``:
    targets ``present``/``too_small``/``absent``/``NE``; non-targets ``present``/``absent``/
    ``unequivocal_progression``/``NE``; new lesions ``equivocal``/``unequivocal``.
    """

    subject_id: SubjectId
    assessment_date: dt.date
    lesion_id: str = Field(min_length=1, max_length=16)
    category: LesionCategory
    organ: str = Field(min_length=1, max_length=64)
    is_lymph_node: bool = False
    diameter_mm: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    status: LesionStatus = "present"


class KineticsRow(_Row):
    """One CAR-T level: qPCR transgene copies/µg gDNA or flow CAR+ cells/µL, with the assay's LLOQ.

    ``value`` may be empty when the sample was below the LLOQ (it is then stored as below LLOQ).
    """

    subject_id: SubjectId
    date: dt.date
    value: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    unit: KineticsUnit
    lloq: float = Field(gt=0, allow_inf_nan=False)


RowT = TypeVar("RowT", bound=_Row)


class RowErrors:
    """The errors of one import: ``(line, field, message)``, the first :data:`MAX_ERRORS` kept.

    Line 0 stands for the file as a whole.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.kept: list[tuple[int, str, str]] = []
        self.count = 0

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, line: int, field: str, message: str) -> None:
        """Record one error (kept while fewer than :data:`MAX_ERRORS` are)."""
        self.count += 1
        if len(self.kept) < MAX_ERRORS:
            self.kept.append((line, field, message))

    def failure(self, title: str = "") -> ImportFailed:
        """The :class:`ImportFailed` listing the kept errors by line and counting the rest."""
        return ImportFailed(
            self.source, sorted(self.kept), more=self.count - len(self.kept), title=title
        )


def source_name(source: str | Path) -> str:
    """How messages name ``source``: its path, or ``<csv text>`` for CSV given as text."""
    return "<csv text>" if isinstance(source, str) and "\n" in source else str(source)


def iter_row_chunks(
    source: str | Path,
    row_model: type[RowT],
    errors: RowErrors,
    *,
    encoding: str | None = None,
    chunk_size: int = 5000,
) -> Iterator[list[tuple[int, RowT]]]:
    """Stream a CSV file (or CSV text) as chunks of ``(line, row)`` validated by ``row_model``.

    Parameters
    ----------
    source
        A path to a CSV file with a header line, or the CSV text itself (when it contains a
        newline).
    row_model
        The row schema, e.g. :class:`LabRow`.
    errors
        Receives every bad cell and line (the chunk leaves those lines out).
    encoding
        The file's encoding when not UTF-8 (a UTF-8 byte-order mark is always accepted).
    chunk_size
        Rows per chunk: memory is bounded by one chunk of rows, not by the file.

    Raises
    ------
    ImportFailed
        At once, when the file cannot be read or decoded, or its header lacks a required column
        or has an unknown one (line 1); with no data line at all.
    """
    name = source_name(source)
    lines = (
        source
        if isinstance(source, str) and "\n" in source
        else iter_lines(source, max_bytes=MAX_IMPORT_BYTES, encoding=encoding)
    )
    rows = CsvRows(lines, name)
    chunk: list[tuple[int, RowT]] = []
    seen = 0
    try:
        for line, cells in rows:
            if seen == 0:
                _check_header(rows.header, row_model, name)
            seen += 1
            if cells is None:
                errors.add(line, "<row>", "more cells than header columns")
                continue
            try:
                chunk.append((line, row_model.model_validate(cells)))
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    field = ".".join(str(p) for p in err["loc"]) or "<row>"
                    errors.add(line, field, _cell_message(err["msg"], err.get("input")))
            if len(chunk) >= chunk_size:
                yield chunk
                chunk = []
    except InputFileError as exc:
        raise ImportFailed(name, [*errors.kept, (0, "<file>", exc.problem)]) from None
    if seen == 0:
        _check_header(rows.header, row_model, name)
        raise ImportFailed(name, [(0, "<file>", "no data rows after the header")])
    if chunk:
        yield chunk


def _cell_message(msg: str, value: object) -> str:
    shown = repr(value) if isinstance(value, str) and len(value) <= 40 else None
    return f"{msg}, got {shown}" if shown is not None else msg


def _check_header(header: list[str], row_model: type[_Row], name: str) -> None:
    expected = set(row_model.model_fields)
    required = [n for n, f in row_model.model_fields.items() if f.is_required()]
    problems = [(1, m, "required column is missing") for m in required if m not in header]
    problems += [(1, u, "unknown column") for u in header if u not in expected]
    duplicates = sorted({h for h in header if header.count(h) > 1})
    problems += [(1, d, "column appears twice") for d in duplicates]
    if problems:
        raise ImportFailed(name, problems)


def parse_rows(
    source: str | Path, row_model: type[RowT], *, encoding: str | None = None
) -> list[RowT]:
    """Read a whole CSV file (or CSV text) into validated rows of ``row_model``, in file order.

    Raises
    ------
    ImportFailed
        Listing ``(line, field, message)`` for every problem: missing or unknown columns (line 1)
        and every invalid cell. Line numbers count the header as line 1.
    """
    errors = RowErrors(source_name(source))
    rows = [
        row
        for chunk in iter_row_chunks(source, row_model, errors, encoding=encoding)
        for _, row in chunk
    ]
    if errors:
        raise errors.failure()
    return rows
