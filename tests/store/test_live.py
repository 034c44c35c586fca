"""``live``: the one filter for rows that are not soft-deleted (``deleted_at IS NULL``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased, sessionmaker

from cartrial.store import AuditedSession, Site, Study, live, unit_of_work
from cartrial.store.audit import soft_delete

from .conftest import MiniTrial


def test_live_hides_soft_deleted_rows_alone_and_in_joins(
    sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    with unit_of_work(sessions, "dm", "second site") as session:
        session.add(Site(study_id=mini_trial.study_id, code="S02", name="Second site"))
    with unit_of_work(sessions, "dm", "site closed before initiation") as session:
        second = session.scalars(select(Site).where(Site.code == "S02")).one()
        soft_delete(session, second, "closed")
    with sessions() as session:
        every = session.scalars(select(Site.code).order_by(Site.code)).all()
        kept = session.scalars(select(Site.code).where(live(Site)).order_by(Site.code)).all()
        joined = session.scalars(
            select(Site.code).join(Study, Study.id == Site.study_id).where(live(Site, Study))
        ).all()
        alias = aliased(Site)
        via_alias = session.scalars(select(alias.code).where(live(alias))).all()
    assert every == ["S01", "S02"]
    assert kept == joined == via_alias == ["S01"]


def test_live_needs_an_entity() -> None:
    with pytest.raises(ValueError, match="at least one"):
        live()
