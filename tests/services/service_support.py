"""Shared pieces of the service tests: a trial database with staff, and a typical subject."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import argon2.profiles
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from cartrial.services import (
    AddSite,
    AddUser,
    AssignDose,
    CreateStudy,
    EnrolSubject,
    Infuse,
    RecordLymphodepletion,
    ScreenSubject,
    ServiceContext,
    add_site,
    add_user,
    assign_dose,
    create_study,
    enrol_subject,
    infuse,
    record_lymphodepletion,
    screen_subject,
)
from cartrial.store import AuditedSession, AuditLog, auth, make_engine, session_factory
from cartrial.store.migrate import upgrade

STUDY = "CLDN18-PDL1-CART-01"
PASSWORD = "correct horse battery"
#: username -> (role, site code or None for study-wide)
STAFF: dict[str, tuple[str, str | None]] = {
    "inv": ("investigator", None),
    "coord1": ("site_coordinator", "S01"),
    "coord2": ("site_coordinator", "S02"),
    "dm": ("data_manager", None),
    "mon": ("monitor", None),
    "dsmc": ("safety_committee", None),
    "stat": ("statistician", None),
}


@dataclass
class Trial:
    """The database of one test: its engine, session factory and a context per user."""

    engine: Engine
    factory: sessionmaker[AuditedSession]

    def as_(self, user: str) -> ServiceContext:
        return ServiceContext(self.factory, user, STUDY)

    def audit_rows(self) -> int:
        with self.factory() as session:
            return int(session.scalar(select(func.count(AuditLog.id))) or 0)


def build_trial(url: str, protocol_yaml: str | None = None) -> Trial:
    """Create the study (packaged protocol unless given), sites S01/S02 and :data:`STAFF`."""
    engine = make_engine(url)
    factory = session_factory(engine)
    create_study(
        factory,
        CreateStudy(
            protocol_yaml=protocol_yaml,
            admin_username="admin",
            admin_full_name="Ada Admin",
            admin_password=PASSWORD,
        ),
    )
    admin = ServiceContext(factory, "admin", STUDY)
    add_site(admin, AddSite(code="S01", name="Site one", country="CN"))
    add_site(admin, AddSite(code="S02", name="Site two", country="CN"))
    for username, (role, site) in STAFF.items():
        add_user(
            admin,
            AddUser(
                username=username,
                full_name=username.title(),
                password=PASSWORD,
                role=role,
                site=site,
            ),
        )
    return Trial(engine=engine, factory=factory)


#: Eligible by every criterion of the packaged protocol (e.g. CLDN18.2 60% at 2+ vs >= 40% at 2+).
ELIGIBLE: dict[str, object] = {
    "age": 55,
    "sex": "F",
    "indication": "gastric",
    "ecog": 1,
    "cldn18_ihc_pct": 60.0,
    "cldn18_ihc_intensity": 2,
    "prior_lines": 2,
    "refractory_to_standard_therapy": True,
    "measurable_disease": True,
    "life_expectancy_weeks": 20,
    "anc_1e9_l": 2.0,
    "platelets_1e9_l": 150.0,
    "hemoglobin_g_dl": 11.0,
    "creatinine_clearance_ml_min": 80.0,
    "alt_x_uln": 1.0,
    "bilirubin_x_uln": 1.0,
}
#: Protocol regimen: fludarabine 25 mg/m2 and cyclophosphamide 250 mg/m2 on days -5, -4, -3.
REGIMEN = (("fludarabine", 25.0), ("cyclophosphamide", 250.0))


def screening(subject: str, site: str, day: dt.date, **changes: object) -> ScreenSubject:
    values = {**ELIGIBLE, **changes}
    return ScreenSubject(subject_id=subject, site_id=site, screening_date=day, **values)


def treat(
    coordinator: ServiceContext,
    investigator: ServiceContext,
    subject: str,
    site: str,
    infusion_day: dt.date,
    *,
    dose_level: str = "DL1",
    cells: float = 2.5e8,
    infused_at: dt.datetime | None = None,
) -> None:
    """Screen, enrol, assign, lymphodeplete (days -5..-3) and infuse one subject (at
    ``infused_at``; default 10:00 UTC on ``infusion_day``)."""
    screen_subject(coordinator, screening(subject, site, infusion_day - dt.timedelta(days=20)))
    enrol_subject(
        coordinator,
        EnrolSubject(subject_id=subject, enrolled_date=infusion_day - dt.timedelta(days=10)),
    )
    assign_dose(investigator, AssignDose(subject_id=subject, dose_level=dose_level))
    for day in (-5, -4, -3):
        for agent, dose in REGIMEN:
            record_lymphodepletion(
                coordinator,
                RecordLymphodepletion(
                    subject_id=subject,
                    agent=agent,
                    dose=dose,
                    unit="mg/m2",
                    day=day,
                    administered_date=infusion_day + dt.timedelta(days=day),
                ),
            )
    infuse(
        coordinator,
        Infuse(
            subject_id=subject,
            infused_at=infused_at
            or dt.datetime.combine(infusion_day, dt.time(10, 0), tzinfo=dt.UTC),
            actual_cells=cells,
        ),
    )


def template_database(directory: Path) -> Path:
    """A migrated SQLite file in ``directory`` holding :func:`build_trial`'s study and staff.

    Session-wide fixtures build it once and each test copies it; the passwords are hashed with
    argon2's cheapest profile (as tests/conftest.py does for every test).
    """
    path = directory / "trial.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "PASSWORD_PROFILE", argon2.profiles.CHEAPEST)
        trial = build_trial(url)
    trial.engine.dispose()
    return path
