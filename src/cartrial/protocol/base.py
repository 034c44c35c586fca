"""Shared building blocks of the protocol models: strict, frozen, no unknown keys."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

__all__ = [
    "Days",
    "Fraction",
    "Grade",
    "NonNegativeInt",
    "Number",
    "PositiveInt",
    "ProtocolModel",
    "StrictBool",
    "Text",
]


class ProtocolModel(BaseModel):
    """Base of every protocol model: frozen, unknown keys rejected, no type coercion.

    Scalars use pydantic's strict types (``"3"`` is not a number, ``true`` is not ``1``) and a
    misspelt key is an error, never ignored: that is what makes "nothing is silently defaulted"
    hold. YAML lists become tuples so that the models stay immutable.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


Text = Annotated[StrictStr, Field(min_length=1)]
Grade = Annotated[StrictInt, Field(ge=1, le=5, description="CTCAE grade, 1-5")]
PositiveInt = Annotated[StrictInt, Field(gt=0)]
NonNegativeInt = Annotated[StrictInt, Field(ge=0)]
Days = Annotated[StrictInt, Field(description="days relative to infusion (day 0)")]
Number = StrictFloat
Fraction = Annotated[StrictFloat, Field(gt=0.0, lt=1.0)]
