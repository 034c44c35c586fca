"""Use cases: the one API through which the CLI, the demo and every user writes to the trial.

Each use case takes a :class:`ServiceContext` (database, acting user, study) and one frozen,
typed input; it checks the user's role and site, validates against the protocol, writes in one
audited transaction and returns a frozen result. Bad input raises
:class:`~cartrial.errors.ValidationFailed` naming the field, and nothing is written.

Families: set-up (:mod:`~cartrial.services.admin`), screening and enrolment
(:mod:`~cartrial.services.enrolment`), treatment (:mod:`~cartrial.services.treatment`), safety
(:mod:`~cartrial.services.safety`, :mod:`~cartrial.services.toxicity`), efficacy
(:mod:`~cartrial.services.efficacy`), governance (:mod:`~cartrial.services.decisions`),
follow-up and samples (:mod:`~cartrial.services.followup`), queries
(:mod:`~cartrial.services.queries`), bulk imports (:mod:`~cartrial.services.imports`),
re-derivation (:mod:`~cartrial.services.rederive`) and the analysis export
(:func:`trial_data`).
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
from cartrial.services.decisions import (
    AdjudicateDLT,
    DataLocked,
    DecideNextDose,
    DLTAdjudicated,
    DLTOverride,
    DoseDecided,
    ExpansionOpened,
    LockData,
    OpenExpansion,
    Signed,
    SignRecord,
    adjudicate_dlt,
    decide_next_dose,
    lock_data,
    open_expansion,
    sign_record,
)
from cartrial.services.efficacy import (
    LesionInput,
    RecordTumourAssessment,
    TumourAssessed,
    record_tumour_assessment,
)
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
from cartrial.services.export import trial_data
from cartrial.services.followup import (
    FollowUpRecorded,
    RecordAda,
    RecordFollowUp,
    RecordKinetics,
    RecordPhenotype,
    RecordSubsequentTherapy,
    SampleRecorded,
    WithdrawSubject,
    record_ada,
    record_follow_up,
    record_kinetics,
    record_phenotype,
    record_subsequent_therapy,
    withdraw_subject,
)
from cartrial.services.imports import ImportReport, import_kinetics, import_labs, import_lesions
from cartrial.services.queries import (
    AnswerQuery,
    CloseQuery,
    QueryState,
    RaiseQuery,
    answer_query,
    close_query,
    raise_query,
)
from cartrial.services.rederive import RederiveStudy, StudyRederived, rederive_study
from cartrial.services.safety import (
    AERecorded,
    GradeChangeRecorded,
    LabRecorded,
    RecordAE,
    RecordGradeChange,
    RecordLab,
    record_ae,
    record_aes,
    record_grade_change,
    record_lab,
)
from cartrial.services.toxicity import CrsIcansRecorded, RecordCrsIcansDay, record_crs_icans_day
from cartrial.services.treatment import (
    Infuse,
    Infused,
    LymphodepletionRecorded,
    RecordLymphodepletion,
    infuse,
    record_lymphodepletion,
)

__all__ = [
    "AERecorded",
    "AddSite",
    "AddUser",
    "AdjudicateDLT",
    "AnswerQuery",
    "AssignDose",
    "CloseQuery",
    "CreateStudy",
    "CriterionResult",
    "CrsIcansRecorded",
    "DLTAdjudicated",
    "DLTOverride",
    "DataLocked",
    "DecideNextDose",
    "DoseAssigned",
    "DoseDecided",
    "EnrolSubject",
    "ExpansionOpened",
    "FollowUpRecorded",
    "GradeChangeRecorded",
    "ImportReport",
    "Infuse",
    "Infused",
    "LabRecorded",
    "LesionInput",
    "LockData",
    "LymphodepletionRecorded",
    "OpenExpansion",
    "QueryState",
    "RaiseQuery",
    "RecordAE",
    "RecordAda",
    "RecordCrsIcansDay",
    "RecordFollowUp",
    "RecordGradeChange",
    "RecordKinetics",
    "RecordLab",
    "RecordLymphodepletion",
    "RecordPhenotype",
    "RecordSubsequentTherapy",
    "RecordTumourAssessment",
    "RederiveStudy",
    "SampleRecorded",
    "ScreenSubject",
    "Screened",
    "ServiceContext",
    "SignRecord",
    "Signed",
    "SiteAdded",
    "StudyCreated",
    "StudyRederived",
    "SubjectEnrolled",
    "TumourAssessed",
    "UserAdded",
    "WithdrawSubject",
    "add_site",
    "add_user",
    "adjudicate_dlt",
    "answer_query",
    "assign_dose",
    "close_query",
    "create_study",
    "decide_next_dose",
    "enrol_subject",
    "import_kinetics",
    "import_labs",
    "import_lesions",
    "infuse",
    "lock_data",
    "open_expansion",
    "raise_query",
    "record_ada",
    "record_ae",
    "record_aes",
    "record_crs_icans_day",
    "record_follow_up",
    "record_grade_change",
    "record_kinetics",
    "record_lab",
    "record_lymphodepletion",
    "record_phenotype",
    "record_subsequent_therapy",
    "record_tumour_assessment",
    "rederive_study",
    "screen_subject",
    "sign_record",
    "trial_data",
    "withdraw_subject",
]
