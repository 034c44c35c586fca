"""Read-only sessions: consistent reads that neither block nor wait for a writer."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from cartrial.errors import PermissionDenied
from cartrial.store import AuditedSession, Subject, read_only, unit_of_work

from .conftest import MiniTrial


def test_reads_while_a_writer_holds_its_transaction(
    sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    with unit_of_work(sessions, "crc1") as writer:
        writer.add(
            Subject(study_id=mini_trial.study_id, site_id=mini_trial.site_id, subject_code="002")
        )
        writer.flush()  # the writer holds the write lock (SQLite) and an uncommitted row
        with read_only(sessions) as reader:  # would wait 30 s for BEGIN IMMEDIATE on SQLite
            count = reader.scalar(select(func.count()).select_from(Subject))
    assert count == 1  # the committed snapshot only
    with read_only(sessions) as reader:
        assert reader.scalar(select(func.count()).select_from(Subject)) == 2


def test_read_only_session_refuses_writes(
    sessions: sessionmaker[AuditedSession], mini_trial: MiniTrial
) -> None:
    with read_only(sessions) as reader:
        subject = reader.get(Subject, mini_trial.subject_id)
        assert subject is not None
        subject.ecog = 1
        with pytest.raises(PermissionDenied, match="read-only"):
            reader.flush()
    with read_only(sessions) as reader:
        stored = reader.get(Subject, mini_trial.subject_id)
        assert stored is not None and stored.ecog is None
