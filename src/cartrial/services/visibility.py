"""Read access: which sites' subjects the acting user may see (the policy layer's answer).

Readers of whole-study data (the web application's lists and dashboards) ask
:func:`visible_sites` once and keep only those sites' subjects; a page about one subject asks
:func:`subject_site`, which refuses a subject of another site like any use case does.
"""

from __future__ import annotations

from sqlalchemy import select

from cartrial.services.base import ServiceResult, SubjectId
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.store import Site, live
from cartrial.vocab import ROLES

__all__ = ["Visibility", "subject_site", "visibility_in", "visible_sites"]


class Visibility(ServiceResult):
    """The sites whose subjects the user may read: every site (a study-wide role) or ``sites``."""

    every_site: bool
    sites: tuple[str, ...]

    def allows(self, site_code: str) -> bool:
        """Whether a subject of ``site_code`` may be shown."""
        return self.every_site or site_code in self.sites


def visible_sites(ctx: ServiceContext) -> Visibility:
    """The sites whose subjects ``ctx.user`` may read (any role in the study; none refused)."""
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True) as uc:
        return visibility_in(uc)


def visibility_in(uc: UseCase) -> Visibility:
    """:func:`visible_sites` inside a use case that already checked the user's role."""
    if any(scope is None for _, scope in uc.roles):
        codes = uc.session.scalars(
            select(Site.code).where(Site.study_id == uc.study.id, live(Site)).order_by(Site.code)
        ).all()
        return Visibility(every_site=True, sites=tuple(codes))
    return Visibility(
        every_site=False,
        sites=tuple(sorted({uc.site_code(scope) for _, scope in uc.roles if scope is not None})),
    )


def subject_site(ctx: ServiceContext, subject_id: SubjectId) -> str:
    """The site code of ``subject_id``, if the user holds a role at its site.

    Raises
    ------
    NotFound
        No such subject in the study.
    PermissionDenied
        The user holds no role at the subject's site.
    """
    with use_case(ctx, *ROLES, site_scoped=True, read_only=True, subjects=[subject_id]) as uc:
        subject = uc.subject(subject_id, *ROLES)
        return uc.site_code(subject.site_id)
