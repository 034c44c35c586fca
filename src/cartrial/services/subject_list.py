"""The subjects a user may pick in a form: every subject of the sites they may read.

Unlike the analysis read model (enrolled subjects only, as of the data cut-off), this lists
screened subjects too, so that the enrolment form can offer them.
"""

from __future__ import annotations

from sqlalchemy import select

from cartrial.services.base import ServiceResult
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.services.visibility import visibility_in
from cartrial.store import Site, Subject, live
from cartrial.vocab import ROLES

__all__ = ["StudyPicks", "SubjectListing", "study_picks", "visible_subjects"]


class SubjectListing(ServiceResult):
    """One subject as a form lists it: code, site code and status."""

    subject_id: str
    site_id: str
    status: str


def visible_subjects(ctx: ServiceContext) -> tuple[SubjectListing, ...]:
    """The subjects of the sites where ``ctx.user`` holds a role (every site if study-wide)."""
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True) as uc:
        return _listing(uc)


def _listing(uc: UseCase) -> tuple[SubjectListing, ...]:
    every = any(scope is None for _, scope in uc.roles)
    query = (
        select(Subject.subject_code, Site.code, Subject.status)
        .join(Site, Site.id == Subject.site_id)
        .where(Subject.study_id == uc.study.id, live(Subject))
        .order_by(Subject.subject_code)
    )
    if not every:
        query = query.where(Subject.site_id.in_([s for _, s in uc.roles if s is not None]))
    return tuple(
        SubjectListing(subject_id=code, site_id=site, status=status)
        for code, site, status in uc.session.execute(query).tuples()
    )


class StudyPicks(ServiceResult):
    """What a form offers the acting user to pick: the protocol's dose levels (DL-1, DL1, ...),
    the sites and the subjects they may read, and the study's time zone (protocol
    ``study.time_zone``: typed times are local times there)."""

    dose_levels: tuple[str, ...]
    sites: tuple[str, ...]
    subjects: tuple[str, ...]
    time_zone: str


def study_picks(ctx: ServiceContext) -> StudyPicks:
    """The choices of a form for ``ctx.user``, read in one use case (one transaction)."""
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True) as uc:
        return StudyPicks(
            dose_levels=tuple(level.name for level in uc.protocol.dose_levels),
            sites=visibility_in(uc).sites,
            subjects=tuple(row.subject_id for row in _listing(uc)),
            time_zone=uc.protocol.study.time_zone,
        )
