"""Use cases: the one API through which the CLI, the demo and every user writes to the trial.

Each use case takes a :class:`ServiceContext` (database, acting user, study) and one frozen,
typed input; it checks the user's role and site, validates against the protocol, writes in one
audited transaction and returns a frozen result. Bad input raises
:class:`~cartrial.errors.ValidationFailed` naming the field, and nothing is written.
"""

from __future__ import annotations

from cartrial.services.admin import (
    AddSite,
    AddUser,
    CreateStudy,
    SiteAdded,
    StudyCreated,
    UserAdded,
    add_site,
    add_user,
    create_study,
)
from cartrial.services.context import ServiceContext
from cartrial.services.eligibility import CriterionResult, ScreenSubject
from cartrial.services.enrolment import (
    AssignDose,
    DoseAssigned,
    EnrolSubject,
    Screened,
    SubjectEnrolled,
    assign_dose,
    enrol_subject,
    screen_subject,
)
from cartrial.services.treatment import (
    Infuse,
    Infused,
    LymphodepletionRecorded,
    RecordLymphodepletion,
    infuse,
    record_lymphodepletion,
)

__all__ = [
    "AddSite",
    "AddUser",
    "AssignDose",
    "CreateStudy",
    "CriterionResult",
    "DoseAssigned",
    "EnrolSubject",
    "Infuse",
    "Infused",
    "LymphodepletionRecorded",
    "RecordLymphodepletion",
    "ScreenSubject",
    "Screened",
    "ServiceContext",
    "SiteAdded",
    "StudyCreated",
    "SubjectEnrolled",
    "UserAdded",
    "add_site",
    "add_user",
    "assign_dose",
    "create_study",
    "enrol_subject",
    "infuse",
    "record_lymphodepletion",
    "screen_subject",
]
