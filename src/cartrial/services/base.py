"""Typed inputs and results shared by every use case.

A use case takes one frozen :class:`ServiceInput` and returns one frozen :class:`ServiceResult`.
Building an input with a value of the wrong type raises :class:`~cartrial.errors.ValidationFailed`
naming the field (never pydantic's own error), so a caller catches one exception for bad input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cartrial.errors import ValidationFailed

__all__ = [
    "Reason",
    "ServiceInput",
    "ServiceResult",
    "SubjectId",
    "check_order",
    "field_error",
]

#: Pseudonymous subject identifier: letters, digits and dashes, no names (e.g. ``"S01-003"``).
SubjectId = Annotated[
    str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
]
#: Why the record is written or changed (21 CFR Part 11 audit trail), never empty.
Reason = Annotated[str, Field(min_length=1, max_length=500)]
#: The largest integer the trial database's integer columns hold (SQL ``INTEGER``, 32 bits:
#: record ids and versions on PostgreSQL).
MAX_STORED_INTEGER = 2**31 - 1


def _check_storable(field: str, value: object) -> None:
    """Refuse what no database column can hold, before it reaches one (never a server error).

    An integer beyond 32 bits overflows PostgreSQL's integer columns, and PostgreSQL refuses a NUL
    character in text; both are refused here as :class:`ValidationFailed` naming the field.
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_STORED_INTEGER:
        raise ValidationFailed(field, f"{value} is out of range (at most {MAX_STORED_INTEGER})")
    if isinstance(value, str) and "\x00" in value:
        raise ValidationFailed(field, "must not contain a NUL character")
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _check_storable(f"{field}.{name}", getattr(value, name))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_storable(f"{field}.{key}", key)
            _check_storable(f"{field}.{key}", item)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_storable(f"{field}.{index}", item)


def field_error(exc: ValidationError) -> ValidationFailed:
    """Turn pydantic's error into :class:`ValidationFailed` naming the first bad field.

    A model validator names its field by raising :class:`ValidationFailed` itself.
    """
    first = exc.errors()[0]
    raised = first.get("ctx", {}).get("error")
    if isinstance(raised, ValidationFailed):
        return raised
    return ValidationFailed(_field_path(first["loc"]), first["msg"])


def _field_path(loc: tuple[int | str, ...]) -> str:
    """``("lesions", 0, "category")`` -> ``lesions.0.category``; union tags are dropped.

    pydantic appends the union member tried (``("onset_at", "datetime")``); only a list index
    and the field after it continue the path.
    """
    if not loc:
        return "<input>"
    parts = [str(loc[0])]
    i = 1
    while i < len(loc) and isinstance(loc[i], int):
        parts.append(str(loc[i]))
        if i + 1 < len(loc):
            parts.append(str(loc[i + 1]))
        i += 2
    return ".".join(parts)


class ServiceInput(BaseModel):
    """Base of every use-case input: frozen, unknown fields rejected, whitespace stripped.

    Raises :class:`ValidationFailed` (not pydantic's ``ValidationError``) on a bad value.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    def __init__(self, **data: object) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise field_error(exc) from None
        for name in type(self).model_fields:
            _check_storable(name, getattr(self, name))

    @classmethod
    def parse(cls, data: Mapping[str, object]) -> Self:
        """Build the input from untyped data (CLI options, JSON); bad values -> ValidationFailed."""
        return cls(**data)


class ServiceResult(BaseModel):
    """Base of every use-case result: a frozen record of what was written or derived."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def check_order(
    earlier: dt.date | dt.datetime | None,
    later: dt.date | dt.datetime | None,
    *,
    field: str,
    earlier_name: str,
    allow_equal: bool = True,
) -> None:
    """Raise :class:`ValidationFailed` on ``field`` when ``later`` comes before ``earlier``.

    Dates and datetimes are compared as dates when the two differ in kind. ``None`` on either side
    means "not known" and passes.
    """
    if earlier is None or later is None:
        return
    a: dt.date | dt.datetime = earlier
    b: dt.date | dt.datetime = later
    if isinstance(a, dt.datetime) != isinstance(b, dt.datetime):
        a = a.date() if isinstance(a, dt.datetime) else a
        b = b.date() if isinstance(b, dt.datetime) else b
    if b < a or (not allow_equal and b == a):
        relation = "before" if allow_equal else "on or before"
        raise ValidationFailed(field, f"{later} is {relation} {earlier_name} ({earlier})")
