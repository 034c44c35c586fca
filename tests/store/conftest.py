"""Store test fixtures: a minimal trial (study, site, subject) and a full one (every table)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cartrial.store import (
    AccessToken,
    AccountLock,
    AdaResult,
    AdverseEvent,
    AeGradeChange,
    AuditedSession,
    AuthFailure,
    CrsIcansObservation,
    DatabaseEvent,
    DataLock,
    DataQuery,
    DoseAssignment,
    DoseDecision,
    EligibilityAssessment,
    EligibilityCriterion,
    Enrolment,
    GovernanceRecord,
    Infusion,
    KineticsSample,
    LabResult,
    LesionMeasurement,
    LoginSession,
    Lymphodepletion,
    PhenotypePanel,
    PhenotypeValue,
    Regulated,
    RoleAssignment,
    Signature,
    Site,
    Study,
    Subject,
    SubsequentTherapy,
    SurvivalFollowUp,
    TimepointResponse,
    TumourLesion,
    User,
    make_engine,
    session_factory,
    unit_of_work,
)

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class MiniTrial:
    """Ids of a study with one site and one subject."""

    study_id: int
    site_id: int
    subject_id: int


def add_study(session: Session, code: str = "CLDN18-PDL1-CART-01") -> tuple[Study, Site]:
    """Add a study and one site, flushed."""
    study = Study(
        study_code=code,
        title="CLDN18.2/PD-L1 dual-targeting CAR-T, phase I",
        protocol_version="1.0",
        protocol_yaml="study_id: CLDN18-PDL1-CART-01\n",
        protocol_sha256="a" * 64,
    )
    session.add(study)
    session.flush()
    site = Site(study_id=study.id, code="S01", name="University Hospital", country="DE")
    session.add(site)
    session.flush()
    return study, site


def _add_mini_trial(sessions: sessionmaker[AuditedSession]) -> MiniTrial:
    with unit_of_work(sessions, "setup") as session:
        study, site = add_study(session)
        subject = Subject(study_id=study.id, site_id=site.id, subject_code="001-001")
        session.add(subject)
        session.flush()
        return MiniTrial(study.id, site.id, subject.id)


@pytest.fixture
def mini_trial(sessions: sessionmaker[AuditedSession]) -> MiniTrial:
    """A study, a site and subject ``001-001`` (status screening)."""
    return _add_mini_trial(sessions)


@pytest.fixture
def sqlite_sessions(
    tmp_path: Path, _sqlite_template: Path
) -> Iterator[tuple[str, sessionmaker[AuditedSession], MiniTrial]]:
    """For SQLite-only behaviour: URL, session factory and mini trial of a migrated SQLite file."""
    path = tmp_path / "sqlite-only.db"
    shutil.copyfile(_sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    factory = session_factory(engine)
    yield url, factory, _add_mini_trial(factory)
    engine.dispose()


def build_every_table(session: Session) -> list[Regulated]:
    """Add one fully populated record of every regulated table; return them (flushed)."""
    study, site = add_study(session)
    user = User(
        username="inv1", full_name="Dr A. Investigator", email="a@example.org", password_hash="x"
    )
    session.add(user)
    session.flush()
    subject = Subject(
        study_id=study.id,
        site_id=site.id,
        subject_code="001-001",
        status="infused",
        phase="escalation",
        indication="gastric",
        sex="F",
        age_years=61,
        ecog=1,
        screened_date=date(2026, 2, 1),
    )
    session.add(subject)
    session.flush()
    assessment = EligibilityAssessment(
        subject_id=subject.id,
        assessed_date=date(2026, 2, 3),
        cldn18_ihc_pct=82.5,
        cldn18_ihc_assay="VENTANA CLDN18 (43-14A)",
        pdl1_cps=5.0,
        histology="adenocarcinoma",
        eligible=True,
    )
    session.add(assessment)
    session.flush()
    decision = DoseDecision(
        study_id=study.id,
        cohort=1,
        dose_level="DL1",
        dose_index=1,
        n_treated=3,
        n_dlt=0,
        design="3+3",
        recommended_action="escalate",
        recommended_next_dose_index=2,
        recommendation_reason="0/3 DLT",
        action="escalate",
        next_dose_index=2,
        next_dose_level="DL2",
        rationale="as recommended",
        decided_at=T0,
        data_cutoff_date=T0.date(),
    )
    session.add(decision)
    session.flush()
    ae = AdverseEvent(
        subject_id=subject.id,
        term="Cytokine release syndrome",
        soc="Immune system disorders",
        verbatim="CRS",
        grade=3,
        onset_at=T0,
        resolved_at=datetime(2026, 3, 5, 12, 0, tzinfo=UTC),
        serious=True,
        attribution="definite",
        alternative_cause=None,
        outcome="recovered",
        is_dlt=False,
        dlt_rule_id="crs-g3-72h",
        dlt_reason="improved to grade <= 2 within 72 h",
        dlt_adjudicated_at=T0,
        dlt_adjudicated_by="inv1",
    )
    session.add(ae)
    lesion = TumourLesion(
        subject_id=subject.id,
        lesion_code="T1",
        category="target",
        organ="liver",
        is_lymph_node=False,
        location="segment VI",
    )
    panel = PhenotypePanel(subject_id=subject.id, sample_date=date(2026, 3, 9), panel="memory")
    session.add_all([lesion, panel])
    session.flush()
    records: list[Regulated] = [
        study,
        site,
        user,
        RoleAssignment(user_id=user.id, role="investigator", site_id=site.id),
        subject,
        assessment,
        EligibilityCriterion(
            assessment_id=assessment.id,
            criterion_code="IN-03",
            kind="inclusion",
            description="CLDN18.2 >= 40% tumour cells 2+/3+",
            value="82.5",
            met=True,
            evidence="pathology report P-123, 2026-01-28",
        ),
        Enrolment(subject_id=subject.id, enrolled_date=date(2026, 2, 10), phase="escalation"),
        decision,
        GovernanceRecord(
            study_id=study.id,
            kind="escalation_end",
            dose_level="DL1",
            dose_index=1,
            method="3+3 select_mtd",
            basis="3+3 select_mtd on DL1 0/6, DL2 2/3: DL1",
            n_evaluable=9,
            n_dlt=2,
            rationale="DL2 exceeds the MTD",
            decided_date=T0.date(),
            decided_at=T0,
        ),
        DoseAssignment(
            subject_id=subject.id,
            dose_level="DL1",
            dose_index=1,
            target_cells=1.0e8,
            assigned_at=T0,
            decision_id=decision.id,
        ),
        Lymphodepletion(
            subject_id=subject.id,
            agent="fludarabine",
            dose=30.0,
            unit="mg/m2",
            day=-5,
            administered_date=date(2026, 2, 25),
        ),
        Infusion(
            subject_id=subject.id,
            dose_level="DL1",
            dose_index=1,
            target_cells=1.0e8,
            actual_cells=0.97e8,
            infused_at=T0,
            product_lot="LOT-7",
        ),
        ae,
        AeGradeChange(adverse_event_id=ae.id, grade=3, changed_at=T0),
        LabResult(
            subject_id=subject.id,
            collected_at=T0,
            lbtestcd="NEUT",
            value=0.4,
            unit="10^9/L",
            lln=1.8,
            uln=7.5,
            baseline=3.1,
            term="Neutrophil count decreased",
            grade=4,
            grade_criterion="<0.5 x 10e9/L",
        ),
        CrsIcansObservation(
            subject_id=subject.id,
            observed_date=date(2026, 3, 3),
            temperature_c=39.4,
            hypotension=True,
            vasopressors=1,
            oxygen_device="nasal_cannula",
            oxygen_flow_l_min=4.0,
            ice_orientation=4,
            ice_naming=3,
            ice_commands=1,
            ice_writing=1,
            ice_attention=1,
            consciousness="awake",
            seizure="none",
            motor="none",
            icp="none",
            ice_score=10,
            crs_grade=3,
            crs_driver="hypotension",
            icans_grade=0,
            icans_driver=None,
            tocilizumab=True,
            steroids=False,
        ),
        lesion,
        LesionMeasurement(
            lesion_id=lesion.id,
            assessment_date=date(2026, 4, 1),
            diameter_mm=23.0,
            status="present",
            method="CT",
        ),
        TimepointResponse(
            subject_id=subject.id,
            assessment_date=date(2026, 4, 1),
            target_response="PR",
            nontarget_response="NON-CR/NON-PD",
            new_lesions=False,
            overall_response="PR",
            sum_of_diameters_mm=23.0,
            pct_change_from_baseline=-34.3,
            pct_change_from_nadir=-34.3,
        ),
        SurvivalFollowUp(
            subject_id=subject.id,
            contact_date=date(2026, 9, 1),
            status="dead",
            death_date=date(2026, 8, 30),
            death_cause="disease progression",
        ),
        SubsequentTherapy(subject_id=subject.id, therapy="FOLFIRI", start_date=date(2026, 7, 1)),
        KineticsSample(
            subject_id=subject.id,
            collected_at=T0,
            unit="copies/ug gDNA",
            value=15300.0,
            lloq=50.0,
            below_lloq=False,
            assay="qPCR transgene",
        ),
        AdaResult(
            subject_id=subject.id,
            sample_date=date(2026, 4, 1),
            screen="positive",
            confirmed=True,
            titer=160.0,
        ),
        panel,
        PhenotypeValue(panel_id=panel.id, marker="cd4_cd8_ratio", value=1.7, unit="ratio"),
        Signature(
            user_id=user.id,
            signer="inv1",
            signer_name="Dr A. Investigator",
            meaning="approval",
            record_table="dose_decisions",
            record_id=decision.id,
            record_version=1,
            record_sha256="b" * 64,
            signed_at=T0,
        ),
        DataQuery(
            study_id=study.id,
            subject_id=subject.id,
            record_table="adverse_events",
            record_id=ae.id,
            field="onset_at",
            question="Onset before infusion?",
            status="answered",
            raised_by="mon1",
            raised_at=T0,
            answer="Corrected",
            answered_by="inv1",
            answered_at=T0,
        ),
        DatabaseEvent(
            kind="backup",
            file="trial-2026-04-02.db",
            sha256="c" * 64,
            audit_rows=120,
            occurred_at=T0,
            detail="before the DLT lock",
        ),
        DataLock(
            study_id=study.id,
            name="DLT escalation cohort 1",
            data_cutoff=date(2026, 4, 2),
            locked_at=T0,
            locked_by="dm1",
        ),
        LoginSession(
            user_id=user.id,
            token_sha256="a" * 64,
            source="cli:host/inv1",
            started_at=T0,
            last_seen_at=T0,
            last_seen_from="cli:host/inv1",
            expires_at=T0,
            ended_at=T0,
            ended_reason="logout",
        ),
        AccessToken(
            user_id=user.id,
            name="nightly import",
            token_sha256="b" * 64,
            expires_on=date(2026, 12, 31),
            last_used_at=T0,
            last_used_from="10.0.0.7",
            revoked_at=T0,
            revoked_by="admin",
            revoked_reason="left the study",
        ),
        AuthFailure(
            username="inv1", user_id=user.id, kind="login", source="10.0.0.7", occurred_at=T0
        ),
        AccountLock(
            user_id=user.id,
            locked_at=T0,
            lock_reason="5 failed password checks in a row",
            unlocked_at=T0,
            unlocked_by="admin",
            unlock_reason="identity confirmed",
        ),
    ]
    session.add_all(records)
    session.flush()
    return records


@pytest.fixture
def every_table(sessions: sessionmaker[AuditedSession]) -> dict[type[Regulated], dict[str, object]]:
    """One committed record of every regulated table: class -> column values as written."""
    with unit_of_work(sessions, "setup") as session:
        records = build_every_table(session)
        return {
            type(r): {c.key: getattr(r, c.key) for c in r.__mapper__.column_attrs} for r in records
        }
