"""The DLT definition as data: which adverse events count as dose-limiting, and which never do.

The protocol states the rules; :mod:`cartrial.rules.dlt` applies them to a subject's adverse
events. Every number of a typical CAR-T DLT definition (grades, 72-hour improvement windows,
cytopenia recovery days) is a field here, so a protocol amendment is an edit of the YAML file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cartrial.protocol.base import Grade, Number, PositiveInt, ProtocolModel, Text
from cartrial.vocab import Attribution, Cause

__all__ = [
    "AESelector",
    "DLTCriterion",
    "DLTDefinition",
    "DLTExclusion",
]


class AESelector(ProtocolModel):
    """Which adverse events a rule is about; an AE matches when every given selector matches.

    ``terms`` and ``socs`` are CTCAE v5.0 terms and system organ classes (empty = any);
    ``category`` splits haematological from non-haematological terms.
    """

    id: Text = Field(description="short identifier, named in every adjudication it decides")
    description: Text = Field(description="the rule in the protocol's own words")
    terms: tuple[Text, ...] = Field(default=(), description="CTCAE terms; empty means any term")
    socs: tuple[Text, ...] = Field(default=(), description="system organ classes; empty = any")
    exclude_terms: tuple[Text, ...] = Field(default=(), description="terms this rule never covers")
    category: Literal["any", "hematologic", "non_hematologic"] = Field(
        default="any", description="restrict to haematological or non-haematological terms"
    )
    min_grade: Grade = Field(default=1, description="lowest CTCAE grade the rule covers")
    max_grade: Grade = Field(default=5, description="highest CTCAE grade the rule covers")

    @model_validator(mode="after")
    def _grades_ordered(self) -> AESelector:
        if self.min_grade > self.max_grade:
            raise ValueError(f"min_grade {self.min_grade} is above max_grade {self.max_grade}")
        return self


class DLTCriterion(AESelector):
    """An event matching the selector is a DLT when every given timing condition also holds."""

    lasting_more_than_hours: Number | None = Field(
        default=None, gt=0, description="fires only if the event stayed at >= min_grade longer"
    )
    not_improved_to_grade: Grade | None = Field(
        default=None,
        description="fires only if the grade did not fall to <= this grade within within_hours",
    )
    within_hours: Number | None = Field(
        default=None, gt=0, description="hours after reaching min_grade, with not_improved_to_grade"
    )
    persisting_beyond_day: PositiveInt | None = Field(
        default=None, description="fires only if still >= min_grade after this day after infusion"
    )
    exclude_causes: tuple[Cause, ...] = Field(
        default=(), description="an event with one of these alternative causes never fires"
    )

    @model_validator(mode="after")
    def _improvement_pair(self) -> DLTCriterion:
        if (self.not_improved_to_grade is None) != (self.within_hours is None):
            raise ValueError("not_improved_to_grade and within_hours must be given together")
        if self.not_improved_to_grade is not None and self.not_improved_to_grade >= self.min_grade:
            raise ValueError("not_improved_to_grade must be below min_grade")
        return self


class DLTExclusion(AESelector):
    """An event matching the selector is NOT a DLT when any given exemption holds."""

    resolved_to_grade: Grade | None = Field(
        default=None, description="exempt if improved to <= this grade (with a time limit below)"
    )
    within_hours: Number | None = Field(
        default=None, gt=0, description="hours after onset for resolved_to_grade"
    )
    recovered_by_day: PositiveInt | None = Field(
        default=None, description="day after infusion by which resolved_to_grade must be reached"
    )
    causes: tuple[Cause, ...] = Field(
        default=(), description="exempt if the event's alternative cause is one of these"
    )

    @model_validator(mode="after")
    def _has_exemption(self) -> DLTExclusion:
        timed = self.within_hours is not None or self.recovered_by_day is not None
        if self.resolved_to_grade is not None and not timed:
            raise ValueError("resolved_to_grade needs within_hours or recovered_by_day")
        if timed and self.resolved_to_grade is None:
            raise ValueError("within_hours/recovered_by_day need resolved_to_grade")
        if (
            self.resolved_to_grade is None
            and not self.causes
            and self.min_grade == 1
            and self.max_grade == 5
            and not self.terms
        ):
            raise ValueError("an exclusion must name terms, grades, causes or a recovery rule")
        return self


class DLTDefinition(ProtocolModel):
    """The protocol's dose-limiting toxicity definition.

    A DLT is an adverse event with onset within ``window_days`` after infusion, attributed at least
    ``min_attribution`` to the CAR-T product, that matches a criterion and no exclusion.
    """

    window_days: PositiveInt = Field(description="DLT observation window after infusion, days")
    min_attribution: Attribution = Field(
        description="lowest attribution to the product that counts"
    )
    criteria: tuple[DLTCriterion, ...] = Field(min_length=1)
    exclusions: tuple[DLTExclusion, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> DLTDefinition:
        seen: set[str] = set()
        for rule in (*self.criteria, *self.exclusions):
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self
