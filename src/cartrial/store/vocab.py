"""Controlled vocabularies of the trial database (each enforced by a CHECK constraint)."""

from __future__ import annotations

from typing import Literal, get_args

from sqlalchemy import CheckConstraint

__all__ = [
    "ADA_SCREEN_RESULTS",
    "AE_OUTCOMES",
    "ALTERNATIVE_CAUSES",
    "ATTRIBUTIONS",
    "GOVERNANCE_KINDS",
    "INDICATIONS",
    "KINETICS_UNITS",
    "LESION_CATEGORIES",
    "PHASES",
    "QUERY_STATUSES",
    "RESPONSES",
    "ROLES",
    "SEXES",
    "SUBJECT_STATUSES",
    "SURVIVAL_STATUSES",
    "GovernanceKind",
    "Role",
    "choice",
]

Role = Literal[
    "admin",
    "investigator",
    "site_coordinator",
    "data_manager",
    "monitor",
    "statistician",
    "safety_committee",
]
ROLES: tuple[str, ...] = get_args(Role)
PHASES = ("escalation", "expansion")
INDICATIONS = ("gastric", "gej", "pancreatic")
SEXES = ("F", "M")
SUBJECT_STATUSES = (
    "screening",
    "screen_failed",
    "enrolled",
    "infused",
    "completed",
    "withdrawn",
    "died",
)
#: CTCAE attribution scale, least to most related.
ATTRIBUTIONS = ("unrelated", "unlikely", "possible", "probable", "definite")
#: Alternative causes a DLT rule may exclude (protocol ``exclude_causes``/``causes`` vocabulary).
ALTERNATIVE_CAUSES = ("lymphodepletion", "disease_progression", "other")
AE_OUTCOMES = (
    "recovered",
    "recovering",
    "not_recovered",
    "recovered_with_sequelae",
    "fatal",
    "unknown",
)
LESION_CATEGORIES = ("target", "non_target", "new")
#: RECIST 1.1 time-point responses.
RESPONSES = ("CR", "PR", "SD", "PD", "NE", "NON-CR/NON-PD")
SURVIVAL_STATUSES = ("alive", "dead", "lost_to_follow_up", "withdrew_consent")
KINETICS_UNITS = ("copies/ug gDNA", "cells/uL")
ADA_SCREEN_RESULTS = ("negative", "positive")
QUERY_STATUSES = ("open", "answered", "closed")
#: Signed governance decisions (:class:`cartrial.store.models.GovernanceRecord`), in the order a
#: study meets them.
GovernanceKind = Literal[
    "escalation_end", "rp2d", "expansion_open", "expansion_review", "expansion_stop"
]
GOVERNANCE_KINDS: tuple[str, ...] = get_args(GovernanceKind)


def choice(column: str, values: tuple[str, ...], *, nullable: bool = False) -> CheckConstraint:
    """Return a named CHECK constraint restricting ``column`` to ``values``."""
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    condition = f"{column} IN ({quoted})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=f"{column}_valid")
