"""The trial database: one typed SQLAlchemy 2.0 class per table.

Every class except the audit tables mixes in :class:`~cartrial.store.base.Regulated` (``id``,
``version``, ``created_at/by``, ``deleted_at/by/reason``). Conventions:

* times are timezone-aware UTC datetimes (``*_at``), calendar days are dates (``*_date``);
* "derived" columns are written by the services from ``cartrial.rules``/``cartrial.designs`` and can
  be re-derived from the input columns next to them;
* vocabularies (roles, attribution, outcomes, ...) live in :mod:`cartrial.vocab` and are
  enforced by CHECK constraints;
* subjects are pseudonymous: a ``subject_code`` and demographics needed by the analysis, no names.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cartrial.store.base import Base, Regulated
from cartrial.store.vocab import choice
from cartrial.vocab import (
    ADA_SCREEN_RESULTS,
    AE_OUTCOMES,
    ATTRIBUTIONS,
    CAUSES,
    GOVERNANCE_KINDS,
    INDICATIONS,
    KINETICS_UNITS,
    LESION_CATEGORIES,
    OVERALL_RESPONSES,
    PHASES,
    QUERY_STATUSES,
    ROLES,
    SEXES,
    SUBJECT_STATUSES,
    SURVIVAL_STATUSES,
)

__all__ = [
    "AdaResult",
    "AdverseEvent",
    "AeGradeChange",
    "AuditChainHead",
    "AuditLog",
    "CrsIcansObservation",
    "DataLock",
    "DataQuery",
    "DoseAssignment",
    "DoseDecision",
    "EligibilityAssessment",
    "EligibilityCriterion",
    "Enrolment",
    "GovernanceRecord",
    "Infusion",
    "KineticsSample",
    "LabResult",
    "LesionMeasurement",
    "Lymphodepletion",
    "PhenotypePanel",
    "PhenotypeValue",
    "RoleAssignment",
    "Signature",
    "Site",
    "Study",
    "Subject",
    "SubsequentTherapy",
    "SurvivalFollowUp",
    "TimepointResponse",
    "TumourLesion",
    "User",
]


def _subject_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("subjects.id"), nullable=False, index=True)


# --------------------------------------------------------------------------- study, sites, users


class Study(Regulated, Base):
    """A loaded protocol version: its YAML text and SHA-256, plus the current phase."""

    __tablename__ = "studies"
    __table_args__ = (
        UniqueConstraint("study_code", "protocol_version"),
        choice("phase", PHASES),
    )

    study_code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    protocol_version: Mapped[str] = mapped_column(String(32))
    protocol_yaml: Mapped[str] = mapped_column(Text)
    protocol_sha256: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str] = mapped_column(String(16), default="escalation")

    sites: Mapped[list[Site]] = relationship(back_populates="study")


class Site(Regulated, Base):
    """A clinical site of a study."""

    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2), default=None)

    study: Mapped[Study] = relationship(back_populates="sites")


class User(Regulated, Base):
    """A person who logs in: staff name, argon2 password hash, active flag."""

    __tablename__ = "users"
    __audit_redact__ = frozenset({"password_hash"})

    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)

    roles: Mapped[list[RoleAssignment]] = relationship(back_populates="user")


class RoleAssignment(Regulated, Base):
    """A role held by a user, at one site (``site_id``) or study-wide (``site_id`` NULL)."""

    __tablename__ = "role_assignments"
    __table_args__ = (choice("role", ROLES),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), default=None)

    user: Mapped[User] = relationship(back_populates="roles")


# --------------------------------------------------------------------------- subjects, screening


class Subject(Regulated, Base):
    """A pseudonymous trial subject at one site (no names or direct identifiers)."""

    __tablename__ = "subjects"
    __table_args__ = (
        UniqueConstraint("study_id", "subject_code"),
        choice("status", SUBJECT_STATUSES),
        choice("phase", PHASES, nullable=True),
        choice("indication", INDICATIONS, nullable=True),
        choice("sex", SEXES, nullable=True),
    )

    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    subject_code: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="screening")
    phase: Mapped[str | None] = mapped_column(String(16), default=None)
    indication: Mapped[str | None] = mapped_column(String(16), default=None)
    sex: Mapped[str | None] = mapped_column(String(1), default=None)
    age_years: Mapped[int | None] = mapped_column(default=None)
    ecog: Mapped[int | None] = mapped_column(default=None)
    screened_date: Mapped[date | None] = mapped_column(default=None)
    withdrawn_date: Mapped[date | None] = mapped_column(default=None)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text, default=None)

    site: Mapped[Site] = relationship()
    adverse_events: Mapped[list[AdverseEvent]] = relationship(back_populates="subject")


class EligibilityAssessment(Regulated, Base):
    """A screening assessment: the CLDN18.2 IHC result and the overall (derived) eligibility."""

    __tablename__ = "eligibility_assessments"
    __data_date__ = "assessed_date"

    subject_id: Mapped[int] = _subject_fk()
    assessed_date: Mapped[date]
    cldn18_ihc_pct: Mapped[float | None] = mapped_column(default=None)
    """Percent of tumour cells with moderate-to-strong (2+/3+) membranous CLDN18.2 staining."""
    cldn18_ihc_assay: Mapped[str | None] = mapped_column(String(100), default=None)
    pdl1_cps: Mapped[float | None] = mapped_column(default=None)
    histology: Mapped[str | None] = mapped_column(String(100), default=None)
    eligible: Mapped[bool | None] = mapped_column(default=None)
    """Derived: every criterion met."""

    criteria: Mapped[list[EligibilityCriterion]] = relationship(back_populates="assessment")


class EligibilityCriterion(Regulated, Base):
    """One inclusion/exclusion criterion of an assessment, with its value and evidence."""

    __tablename__ = "eligibility_criteria"
    __table_args__ = (CheckConstraint("kind IN ('inclusion', 'exclusion')", name="kind_valid"),)

    assessment_id: Mapped[int] = mapped_column(ForeignKey("eligibility_assessments.id"), index=True)
    criterion_code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    value: Mapped[str | None] = mapped_column(Text, default=None)
    met: Mapped[bool]
    evidence: Mapped[str] = mapped_column(Text)
    """Source of the value (document, report number, date)."""

    assessment: Mapped[EligibilityAssessment] = relationship(back_populates="criteria")


# --------------------------------------------------------------------------- treatment


class Enrolment(Regulated, Base):
    """Enrolment of an eligible subject into a phase (and cohort in escalation)."""

    __tablename__ = "enrolments"
    __data_date__ = "enrolled_date"
    __table_args__ = (choice("phase", PHASES),)

    subject_id: Mapped[int] = _subject_fk()
    enrolled_date: Mapped[date]
    phase: Mapped[str] = mapped_column(String(16))
    cohort: Mapped[int | None] = mapped_column(default=None)


class DoseAssignment(Regulated, Base):
    """The dose level assigned to a subject, under the dose decision that allowed it."""

    __tablename__ = "dose_assignments"
    __data_date__ = "assigned_at"

    subject_id: Mapped[int] = _subject_fk()
    dose_level: Mapped[str] = mapped_column(String(16))
    dose_index: Mapped[int]
    target_cells: Mapped[float]
    """Total CAR+ T cells (flat dose) of the dose level."""
    assigned_at: Mapped[datetime]
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("dose_decisions.id"), default=None)


class Lymphodepletion(Regulated, Base):
    """One lymphodepleting chemotherapy administration (e.g. fludarabine 30 mg/m2 on day -5)."""

    __tablename__ = "lymphodepletions"
    __data_date__ = "administered_date"

    subject_id: Mapped[int] = _subject_fk()
    agent: Mapped[str] = mapped_column(String(64))
    dose: Mapped[float]
    unit: Mapped[str] = mapped_column(String(32))
    day: Mapped[int]
    """Day relative to the planned infusion (negative before infusion)."""
    administered_date: Mapped[date]


class Infusion(Regulated, Base):
    """The CAR-T infusion: dose level, target and actual CAR+ cells, date and time."""

    __tablename__ = "infusions"
    __data_date__ = "infused_at"
    __table_args__ = (CheckConstraint("actual_cells > 0", name="actual_cells_positive"),)

    subject_id: Mapped[int] = _subject_fk()
    dose_level: Mapped[str] = mapped_column(String(16))
    dose_index: Mapped[int]
    target_cells: Mapped[float]
    actual_cells: Mapped[float]
    infused_at: Mapped[datetime]
    product_lot: Mapped[str | None] = mapped_column(String(64), default=None)


# --------------------------------------------------------------------------- safety


class AdverseEvent(Regulated, Base):
    """An adverse event (CTCAE 5.0 term and worst grade) with its DLT adjudication.

    ``grade`` is the worst grade so far; its course over time is in :class:`AeGradeChange`.
    ``is_dlt``/``dlt_rule_id``/``dlt_reason`` are derived by ``cartrial.rules.dlt``;
    ``dlt_adjudicated_*`` record the (signed) adjudication.
    """

    __tablename__ = "adverse_events"
    __data_date__ = "onset_at"
    __table_args__ = (
        CheckConstraint("grade BETWEEN 1 AND 5", name="grade_range"),
        CheckConstraint(
            "resolved_at IS NULL OR resolved_at >= onset_at", name="resolved_after_onset"
        ),
        choice("attribution", ATTRIBUTIONS),
        choice("alternative_cause", CAUSES, nullable=True),
        choice("outcome", AE_OUTCOMES, nullable=True),
    )

    subject_id: Mapped[int] = _subject_fk()
    term: Mapped[str] = mapped_column(String(200))
    soc: Mapped[str] = mapped_column(String(200))
    verbatim: Mapped[str | None] = mapped_column(Text, default=None)
    grade: Mapped[int]
    onset_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    serious: Mapped[bool] = mapped_column(default=False)
    attribution: Mapped[str] = mapped_column(String(16))
    alternative_cause: Mapped[str | None] = mapped_column(String(32), default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    is_dlt: Mapped[bool | None] = mapped_column(default=None)
    dlt_rule_id: Mapped[str | None] = mapped_column(String(64), default=None)
    dlt_reason: Mapped[str | None] = mapped_column(Text, default=None)
    dlt_adjudicated_at: Mapped[datetime | None] = mapped_column(default=None)
    dlt_adjudicated_by: Mapped[str | None] = mapped_column(String(64), default=None)

    subject: Mapped[Subject] = relationship(back_populates="adverse_events")
    grade_changes: Mapped[list[AeGradeChange]] = relationship(
        back_populates="adverse_event", order_by="AeGradeChange.changed_at"
    )


class AeGradeChange(Regulated, Base):
    """The grade of an AE from ``changed_at`` on (the first row is the onset grade)."""

    __tablename__ = "ae_grade_changes"
    __data_date__ = "changed_at"
    __table_args__ = (CheckConstraint("grade BETWEEN 0 AND 5", name="grade_range"),)

    adverse_event_id: Mapped[int] = mapped_column(ForeignKey("adverse_events.id"), index=True)
    grade: Mapped[int]
    """0 means resolved to baseline."""
    changed_at: Mapped[datetime]

    adverse_event: Mapped[AdverseEvent] = relationship(back_populates="grade_changes")


class LabResult(Regulated, Base):
    """A laboratory result (CDISC LBTESTCD) with its derived CTCAE term and grade."""

    __tablename__ = "lab_results"
    __data_date__ = "collected_at"
    __table_args__ = (Index("ix_lab_results_subject_test", "subject_id", "lbtestcd"),)

    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), nullable=False)
    collected_at: Mapped[datetime]
    lbtestcd: Mapped[str] = mapped_column(String(16))
    value: Mapped[float]
    unit: Mapped[str] = mapped_column(String(32))
    lln: Mapped[float | None] = mapped_column(default=None)
    uln: Mapped[float | None] = mapped_column(default=None)
    baseline: Mapped[float | None] = mapped_column(default=None)
    term: Mapped[str | None] = mapped_column(String(200), default=None)
    grade: Mapped[int | None] = mapped_column(default=None)
    grade_criterion: Mapped[str | None] = mapped_column(Text, default=None)


class CrsIcansObservation(Regulated, Base):
    """A daily CRS/ICANS assessment: ASTCT inputs, derived grades and treatments given."""

    __tablename__ = "crs_icans_observations"
    __data_date__ = "observed_date"

    subject_id: Mapped[int] = _subject_fk()
    observed_date: Mapped[date]
    temperature_c: Mapped[float | None] = mapped_column(default=None)
    hypotension: Mapped[bool] = mapped_column(default=False)
    vasopressors: Mapped[int] = mapped_column(default=0)
    """Number of vasopressors (vasopressin not counted, ASTCT)."""
    oxygen_device: Mapped[str | None] = mapped_column(String(32), default=None)
    oxygen_flow_l_min: Mapped[float | None] = mapped_column(default=None)
    ice_orientation: Mapped[int | None] = mapped_column(default=None)
    ice_naming: Mapped[int | None] = mapped_column(default=None)
    ice_commands: Mapped[int | None] = mapped_column(default=None)
    ice_writing: Mapped[int | None] = mapped_column(default=None)
    ice_attention: Mapped[int | None] = mapped_column(default=None)
    consciousness: Mapped[str | None] = mapped_column(String(32), default=None)
    seizure: Mapped[str | None] = mapped_column(String(32), default=None)
    motor: Mapped[str | None] = mapped_column(String(32), default=None)
    icp: Mapped[str | None] = mapped_column(String(32), default=None)
    ice_score: Mapped[int | None] = mapped_column(default=None)
    crs_grade: Mapped[int | None] = mapped_column(default=None)
    crs_driver: Mapped[str | None] = mapped_column(String(64), default=None)
    icans_grade: Mapped[int | None] = mapped_column(default=None)
    icans_driver: Mapped[str | None] = mapped_column(String(64), default=None)
    tocilizumab: Mapped[bool] = mapped_column(default=False)
    steroids: Mapped[bool] = mapped_column(default=False)


# --------------------------------------------------------------------------- efficacy


class TumourLesion(Regulated, Base):
    """A RECIST 1.1 lesion identified at baseline (target/non-target) or later (new)."""

    __tablename__ = "tumour_lesions"
    __table_args__ = (
        UniqueConstraint("subject_id", "lesion_code"),
        choice("category", LESION_CATEGORIES),
    )

    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), nullable=False)
    lesion_code: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    organ: Mapped[str] = mapped_column(String(64))
    is_lymph_node: Mapped[bool] = mapped_column(default=False)
    location: Mapped[str | None] = mapped_column(Text, default=None)

    measurements: Mapped[list[LesionMeasurement]] = relationship(back_populates="lesion")


class LesionMeasurement(Regulated, Base):
    """A lesion at one assessment: diameter (mm; short axis for nodes) and/or status."""

    __tablename__ = "lesion_measurements"
    __data_date__ = "assessment_date"

    lesion_id: Mapped[int] = mapped_column(ForeignKey("tumour_lesions.id"), index=True)
    assessment_date: Mapped[date]
    diameter_mm: Mapped[float | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(32))
    method: Mapped[str | None] = mapped_column(String(16), default=None)

    lesion: Mapped[TumourLesion] = relationship(back_populates="measurements")


class TimepointResponse(Regulated, Base):
    """Derived RECIST 1.1 response at one assessment date."""

    __tablename__ = "timepoint_responses"
    __data_date__ = "assessment_date"
    __table_args__ = (choice("overall_response", OVERALL_RESPONSES),)

    subject_id: Mapped[int] = _subject_fk()
    assessment_date: Mapped[date]
    target_response: Mapped[str | None] = mapped_column(String(16), default=None)
    nontarget_response: Mapped[str | None] = mapped_column(String(16), default=None)
    new_lesions: Mapped[bool] = mapped_column(default=False)
    overall_response: Mapped[str] = mapped_column(String(16))
    sum_of_diameters_mm: Mapped[float | None] = mapped_column(default=None)
    pct_change_from_baseline: Mapped[float | None] = mapped_column(default=None)
    pct_change_from_nadir: Mapped[float | None] = mapped_column(default=None)


class SurvivalFollowUp(Regulated, Base):
    """A survival follow-up contact (alive, dead with date and cause, lost)."""

    __tablename__ = "survival_followups"
    __data_date__ = "contact_date"
    __table_args__ = (choice("status", SURVIVAL_STATUSES),)

    subject_id: Mapped[int] = _subject_fk()
    contact_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(32))
    death_date: Mapped[date | None] = mapped_column(default=None)
    death_cause: Mapped[str | None] = mapped_column(Text, default=None)


class SubsequentTherapy(Regulated, Base):
    """An anticancer therapy started after the CAR-T infusion."""

    __tablename__ = "subsequent_therapies"
    __data_date__ = "start_date"

    subject_id: Mapped[int] = _subject_fk()
    therapy: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[date]


# --------------------------------------------------------------------------- translational


class KineticsSample(Regulated, Base):
    """A CAR-T kinetics result: transgene copies/ug gDNA (qPCR) or CAR+ cells/uL (flow)."""

    __tablename__ = "kinetics_samples"
    __data_date__ = "collected_at"
    __table_args__ = (
        choice("unit", KINETICS_UNITS),
        CheckConstraint("below_lloq OR value IS NOT NULL", name="value_or_below_lloq"),
    )

    subject_id: Mapped[int] = _subject_fk()
    collected_at: Mapped[datetime]
    unit: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(default=None)
    lloq: Mapped[float]
    below_lloq: Mapped[bool] = mapped_column(default=False)
    assay: Mapped[str | None] = mapped_column(String(64), default=None)


class AdaResult(Regulated, Base):
    """Anti-CAR antibody result: screen, confirmation and titer (tiered ADA testing)."""

    __tablename__ = "ada_results"
    __data_date__ = "sample_date"
    __table_args__ = (choice("screen", ADA_SCREEN_RESULTS),)

    subject_id: Mapped[int] = _subject_fk()
    sample_date: Mapped[date]
    screen: Mapped[str] = mapped_column(String(16))
    confirmed: Mapped[bool | None] = mapped_column(default=None)
    titer: Mapped[float | None] = mapped_column(default=None)


class PhenotypePanel(Regulated, Base):
    """An immunophenotype flow panel run on one sample."""

    __tablename__ = "phenotype_panels"
    __data_date__ = "sample_date"

    subject_id: Mapped[int] = _subject_fk()
    sample_date: Mapped[date]
    panel: Mapped[str] = mapped_column(String(64))

    values: Mapped[list[PhenotypeValue]] = relationship(back_populates="panel_run")


class PhenotypeValue(Regulated, Base):
    """One marker of a phenotype panel: percent of parent gate, or a ratio (``cd4_cd8_ratio``)."""

    __tablename__ = "phenotype_values"

    panel_id: Mapped[int] = mapped_column(ForeignKey("phenotype_panels.id"), index=True)
    marker: Mapped[str] = mapped_column(String(64))
    value: Mapped[float]
    unit: Mapped[str] = mapped_column(String(16), default="percent")

    panel_run: Mapped[PhenotypePanel] = relationship(back_populates="values")


# --------------------------------------------------------------------------- governance


class DoseDecision(Regulated, Base):
    """A dose-escalation decision: the design's recommendation and the committee's decision."""

    __tablename__ = "dose_decisions"
    __data_date__ = "data_cutoff_date"

    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    cohort: Mapped[int]
    dose_level: Mapped[str] = mapped_column(String(16))
    dose_index: Mapped[int]
    n_treated: Mapped[int]
    n_dlt: Mapped[int]
    design: Mapped[str] = mapped_column(String(32))
    recommended_action: Mapped[str] = mapped_column(String(32))
    recommended_next_dose_index: Mapped[int | None] = mapped_column(default=None)
    recommendation_reason: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    next_dose_index: Mapped[int | None] = mapped_column(default=None)
    next_dose_level: Mapped[str | None] = mapped_column(String(16), default=None)
    rationale: Mapped[str | None] = mapped_column(Text, default=None)
    decided_at: Mapped[datetime]
    #: The study date whose data the decision counted (DLT windows closed by then); the data
    #: cut-off of an analysis compares with this date, not with the wall-clock ``decided_at``.
    data_cutoff_date: Mapped[date]


class GovernanceRecord(Regulated, Base):
    """A signed governance decision: the end of escalation (with the MTD), the RP2D, and the
    expansion opened, reviewed or stopped.

    ``basis`` states what the decision rests on (the counts and the rule or design that gave the
    result, e.g. ``"3+3 select_mtd on n=(0, 6, 6, 0) dlt=(0, 1, 3, 0): DL1"``); ``rationale`` is
    the decider's own words. ``dose_level``/``dose_index`` name the dose the decision is about
    (``None``: escalation ended without an MTD). ``decided_date`` is the study date of the data.
    """

    __tablename__ = "governance_records"
    __table_args__ = (choice("kind", GOVERNANCE_KINDS),)

    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    dose_level: Mapped[str | None] = mapped_column(String(16), default=None)
    dose_index: Mapped[int | None] = mapped_column(default=None)
    method: Mapped[str] = mapped_column(String(64))
    basis: Mapped[str] = mapped_column(Text)
    n_evaluable: Mapped[int | None] = mapped_column(default=None)
    n_dlt: Mapped[int | None] = mapped_column(default=None)
    rationale: Mapped[str] = mapped_column(Text)
    decided_date: Mapped[date]
    decided_at: Mapped[datetime]


class Signature(Regulated, Base):
    """An electronic signature: signer, meaning and time, bound to a record by a content hash."""

    __tablename__ = "signatures"
    __table_args__ = (
        Index("ix_signatures_record", "record_table", "record_id"),
        # one signature per signer and meaning per record version (migration 0007)
        Index(
            "uq_signatures_signer_meaning_record_version",
            "user_id",
            "meaning",
            "record_table",
            "record_id",
            "record_version",
            unique=True,
        ),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signer: Mapped[str] = mapped_column(String(64))
    signer_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(64))
    record_table: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int]
    record_version: Mapped[int]
    record_sha256: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime]
    #: An imported record's signature in its source system (migration 0008), kept as data: the
    #: signature above is the importing user's (meaning ``imported_copy``). All ``None`` for a
    #: signature made in cartrial.
    source_system: Mapped[str | None] = mapped_column(String(200), default=None)
    source_signer: Mapped[str | None] = mapped_column(String(64), default=None)
    source_signer_name: Mapped[str | None] = mapped_column(String(200), default=None)
    source_meaning: Mapped[str | None] = mapped_column(String(64), default=None)
    source_signed_at: Mapped[datetime | None] = mapped_column(default=None)


class DataQuery(Regulated, Base):
    """A data query raised by a monitor or data manager and answered by the site."""

    __tablename__ = "data_queries"
    __table_args__ = (choice("status", QUERY_STATUSES),)

    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subjects.id"), default=None)
    record_table: Mapped[str | None] = mapped_column(String(64), default=None)
    record_id: Mapped[int | None] = mapped_column(default=None)
    field: Mapped[str | None] = mapped_column(String(64), default=None)
    question: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    raised_by: Mapped[str] = mapped_column(String(64))
    raised_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    answered_by: Mapped[str | None] = mapped_column(String(64), default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)


class DataLock(Regulated, Base):
    """A data lock: data up to ``data_cutoff`` frozen for an analysis (signed)."""

    __tablename__ = "data_locks"

    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    data_cutoff: Mapped[date]
    locked_at: Mapped[datetime]
    locked_by: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[datetime | None] = mapped_column(default=None)
    released_by: Mapped[str | None] = mapped_column(String(64), default=None)


class DatabaseEvent(Regulated, Base):
    """A backup or restore of the database, recorded in its own trail (who: ``created_by``).

    ``file`` is the backup file as named by the operator, ``sha256`` its SHA-256 (hex), and
    ``audit_rows`` the length of the trail the backup (or the restored copy) held.
    """

    __tablename__ = "database_events"

    kind: Mapped[str] = mapped_column(String(16))
    file: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    audit_rows: Mapped[int]
    occurred_at: Mapped[datetime]
    detail: Mapped[str | None] = mapped_column(Text, default=None)

    __table_args__ = (CheckConstraint("kind IN ('backup', 'restore')", name="kind_valid"),)


# --------------------------------------------------------------------------- audit trail


class AuditLog(Base):
    """One append-only audit record: who changed which field of which record, when and why.

    ``row_sha256`` = HMAC-SHA256 under the audit key (kept outside the database) of
    ``prev_sha256`` + the canonical JSON of the other columns (see :mod:`cartrial.store.chain`;
    the column names predate the key); UPDATE and DELETE on this table are rejected by a trigger.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime]
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(8))
    table_name: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int]
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_sha256: Mapped[str] = mapped_column(String(64))
    row_sha256: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("action IN ('insert', 'update', 'delete')", name="action_valid"),
        Index("ix_audit_log_record", "table_name", "record_id"),
    )


class AuditChainHead(Base):
    """The single row holding the last audit id and MAC; writers lock it to append in order.

    ``key_id`` is the public fingerprint of the key the chain is MAC'd under
    (:func:`cartrial.store.keys.key_id`): a writer holding another key is refused.
    """

    __tablename__ = "audit_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_id: Mapped[int]
    last_sha256: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16), default=None)
