"""The pieces every import row shares: the CSV row base model and what a record family is.

A record family (:class:`RecordFamily`) names its row model (one CSV column, or one ODM item,
per field), how its rows become use cases, the field that dates a row (an import replays rows
in the order of their dates: :func:`cartrial.services.imports_records.apply_rows`) and its
stage: clinical records, DLT adjudications, or study-level decisions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator
from sqlalchemy import select

from cartrial.errors import ValidationFailed
from cartrial.services.context import ServiceContext, UseCase
from cartrial.store import AdverseEvent, live

__all__ = [
    "Actions",
    "CsvRow",
    "Lines",
    "RecordFamily",
    "Stage",
    "adverse_event_of",
    "date_of",
]

#: ``(line, row)``: a validated row and the line of its source it came from.
Lines = Sequence[tuple[int, BaseModel]]
#: ``(line, action)``: one use case to run, and the line its errors are reported on.
Actions = list[tuple[int, Callable[[], object]]]
#: ``record``: a subject's clinical record; ``adjudication``: a subject's signed DLT
#: adjudication; ``decision``: a signed study-level decision (no ``subject_id``).
Stage = Literal["record", "adjudication", "decision"]


class CsvRow(BaseModel):
    """Base of the row models: frozen, unknown columns refused, an empty cell means "not given"."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_not_given(cls, data: object) -> object:
        """Drop empty cells, so the field takes its default (or is reported as required).

        A cell of a field whose values are integer codes (``Literal[0, 1, 2, 3]``) is read as
        the integer it spells.
        """
        if not isinstance(data, Mapping):
            return data
        cells = {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        for name, value in cells.items():
            field = cls.model_fields.get(str(name))
            codes = get_args(field.annotation) if field is not None else ()
            if (
                isinstance(value, str)
                and codes
                and all(type(c) is int for c in codes)
                and value.strip().lstrip("-").isdigit()
            ):
                cells[name] = int(value)
        return cells


@dataclass(frozen=True)
class RecordFamily:
    """One record family: its name, CSV row model and how its rows become use cases.

    ``actions(ctx, lines, password)`` returns the use cases to run with the line each reports
    its error on; ``password`` is the importing user's, for the families whose records are
    signed (``signed``). ``dated_by`` names the row's date field (``None``: the subject's
    enrolment date in the same import).
    """

    name: str
    row: type[BaseModel]
    actions: Callable[[ServiceContext, Lines, SecretStr | None], Actions]
    dated_by: str | None
    stage: Stage = "record"
    signed: bool = False


def date_of(row: BaseModel, field: str) -> dt.date:
    """The calendar date of ``row``'s ``field`` (a time gives the date of its own offset)."""
    value = getattr(row, field)
    return value.date() if isinstance(value, dt.datetime) else value


def adverse_event_of(
    uc: UseCase, subject_id: str, term: str, onset_at: dt.date | dt.datetime, *roles: str
) -> AdverseEvent:
    """The live adverse event a file names by its subject, term and onset (as recorded).

    Raises
    ------
    ValidationFailed
        ``term``: no such adverse event.
    """
    subject = uc.subject(subject_id, *roles)
    ae = uc.session.scalar(
        select(AdverseEvent).where(
            AdverseEvent.subject_id == subject.id,
            AdverseEvent.term == term,
            AdverseEvent.onset_at == uc.study_time(onset_at),
            live(AdverseEvent),
        )
    )
    if ae is None:
        raise ValidationFailed(
            "term", f"no adverse event {term!r} of {subject_id} onset {onset_at}"
        )
    return ae
