"""The trial's controlled vocabularies, each defined once.

Every word list the protocol, the rule engines, the database, the use cases and the virtual
patients share lives here as a ``Literal`` type (for type hints and pydantic validation) and the
tuple of its values (for CHECK constraints, loops and error messages), derived from the type so the
two never drift. This module is the bottom layer: it imports nothing from cartrial.

Sources: attribution is the CTCAE/ICH E2A relatedness scale; response categories are RECIST 1.1
(Eisenhauer et al., Eur J Cancer 2009;45:228-247, §4.3-4.4, Tables 1-2); design names are the
protocol's ``escalation.design.name`` values (see :mod:`cartrial.designs.registry`).
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ADA_SCREEN_RESULTS",
    "AE_OUTCOMES",
    "ATTRIBUTIONS",
    "CAUSES",
    "DESIGN_NAMES",
    "GOVERNANCE_KINDS",
    "INDICATIONS",
    "KINETICS_UNITS",
    "LESION_CATEGORIES",
    "LESION_STATUSES",
    "NONTARGET_RESPONSES",
    "OBJECTIVE_RESPONSES",
    "OVERALL_RESPONSES",
    "PHASES",
    "QUERY_STATUSES",
    "RELATED_ATTRIBUTIONS",
    "ROLES",
    "SEXES",
    "SUBJECT_STATUSES",
    "SURVIVAL_STATUSES",
    "TARGET_RESPONSES",
    "AEOutcome",
    "AdaScreenResult",
    "Attribution",
    "Cause",
    "DesignName",
    "GovernanceKind",
    "Indication",
    "KineticsUnit",
    "LesionCategory",
    "LesionStatus",
    "NonTargetResponse",
    "OverallResponse",
    "Phase",
    "QueryStatus",
    "Role",
    "Sex",
    "SubjectStatus",
    "SurvivalStatus",
    "TargetResponse",
]

# --- adverse events -------------------------------------------------------------------------

Attribution = Literal["unrelated", "unlikely", "possible", "probable", "definite"]
"""Relatedness of an adverse event to the study treatment, least to most related."""
ATTRIBUTIONS: tuple[Attribution, ...] = get_args(Attribution)
RELATED_ATTRIBUTIONS: tuple[Attribution, ...] = ("possible", "probable", "definite")
"""The attributions that count an event as treatment-related."""

Cause = Literal["lymphodepletion", "disease_progression", "other"]
"""Alternative cause of an event that a DLT rule may exclude (protocol ``exclude_causes``)."""
CAUSES: tuple[Cause, ...] = get_args(Cause)

AEOutcome = Literal[
    "recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal", "unknown"
]
"""Outcome of an adverse event."""
AE_OUTCOMES: tuple[AEOutcome, ...] = get_args(AEOutcome)

# --- people and the study ----------------------------------------------------------------------

Role = Literal[
    "admin",
    "investigator",
    "site_coordinator",
    "data_manager",
    "monitor",
    "statistician",
    "safety_committee",
]
"""What a user may do in the study (checked by every use case)."""
ROLES: tuple[Role, ...] = get_args(Role)

Phase = Literal["escalation", "expansion"]
"""The two phases of the study."""
PHASES: tuple[Phase, ...] = get_args(Phase)

Indication = Literal["gastric", "gej", "pancreatic"]
"""Tumour type of a subject (GEJ = gastro-oesophageal junction adenocarcinoma)."""
INDICATIONS: tuple[Indication, ...] = get_args(Indication)

Sex = Literal["F", "M"]
SEXES: tuple[Sex, ...] = get_args(Sex)

SubjectStatus = Literal[
    "screening", "screen_failed", "enrolled", "infused", "completed", "withdrawn", "died"
]
"""Where a subject stands in the study."""
SUBJECT_STATUSES: tuple[SubjectStatus, ...] = get_args(SubjectStatus)

SurvivalStatus = Literal["alive", "dead", "lost_to_follow_up", "withdrew_consent"]
SURVIVAL_STATUSES: tuple[SurvivalStatus, ...] = get_args(SurvivalStatus)

QueryStatus = Literal["open", "answered", "closed"]
"""Life cycle of a data query."""
QUERY_STATUSES: tuple[QueryStatus, ...] = get_args(QueryStatus)

GovernanceKind = Literal[
    "escalation_end", "rp2d", "expansion_open", "expansion_review", "expansion_stop"
]
"""A signed governance decision: the end of escalation (with the MTD), the RP2D, and the expansion
opened, reviewed or stopped, in the order a study meets them."""
GOVERNANCE_KINDS: tuple[GovernanceKind, ...] = get_args(GovernanceKind)

# --- samples -------------------------------------------------------------------------------------

KineticsUnit = Literal["copies/ug gDNA", "cells/uL"]
"""Units of CAR-T kinetics: transgene copies per µg genomic DNA (qPCR), CAR+ cells per µL (flow)."""
KINETICS_UNITS: tuple[KineticsUnit, ...] = get_args(KineticsUnit)

AdaScreenResult = Literal["negative", "positive"]
"""Anti-drug (anti-CAR) antibody screening result."""
ADA_SCREEN_RESULTS: tuple[AdaScreenResult, ...] = get_args(AdaScreenResult)

# --- tumour response (RECIST 1.1) ---------------------------------------------------------------

LesionCategory = Literal["target", "non_target", "new"]
LESION_CATEGORIES: tuple[LesionCategory, ...] = get_args(LesionCategory)

LesionStatus = Literal[
    "present", "too_small", "absent", "NE", "unequivocal_progression", "equivocal", "unequivocal"
]
"""A lesion's status at one assessment (target, non-target and new lesions share the list)."""
LESION_STATUSES: tuple[LesionStatus, ...] = get_args(LesionStatus)

TargetResponse = Literal["CR", "PR", "SD", "PD", "NE", "NOT-APPLICABLE"]
"""Target-lesion response (RECIST 1.1 §4.3.1); the position is the engine's integer code."""
TARGET_RESPONSES: tuple[TargetResponse, ...] = get_args(TargetResponse)

NonTargetResponse = Literal["CR", "NON-CR/NON-PD", "PD", "NE", "NOT-APPLICABLE"]
"""Non-target response (RECIST 1.1 §4.3.2); ``NOT-APPLICABLE`` = no non-target lesions."""
NONTARGET_RESPONSES: tuple[NonTargetResponse, ...] = get_args(NonTargetResponse)

OverallResponse = Literal["CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE"]
"""Overall time-point response, best first (RECIST 1.1 §4.4: CR > PR > SD > NON-CR/NON-PD > PD >
NE)."""
OVERALL_RESPONSES: tuple[OverallResponse, ...] = get_args(OverallResponse)
OBJECTIVE_RESPONSES: tuple[OverallResponse, ...] = ("CR", "PR")
"""The responses that make an objective response (ORR numerator)."""

# --- dose finding --------------------------------------------------------------------------------

DesignName = Literal[
    "3+3", "boin", "tite-boin", "crm", "tite-crm", "mtpi2", "keyboard", "i3+3", "table"
]
"""Protocol names of the dose-escalation designs (``escalation.design.name``)."""
DESIGN_NAMES: tuple[DesignName, ...] = get_args(DesignName)
