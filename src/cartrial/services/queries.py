"""Data queries: a monitor or data manager asks, the site answers, the asker closes.

A query points at a subject and optionally at one field of one record. Its life is
``open`` -> ``answered`` -> ``closed``; a further question is a new query. Every query must be
closed before a data lock.
"""

from __future__ import annotations

from pydantic import Field

from cartrial.errors import NotFound, ValidationFailed
from cartrial.services.base import ServiceInput, ServiceResult, SubjectId
from cartrial.services.context import ServiceContext, UseCase, use_case
from cartrial.store import DataQuery, Subject, check_version, utcnow

__all__ = [
    "AnswerQuery",
    "CloseQuery",
    "QueryState",
    "RaiseQuery",
    "answer_query",
    "close_query",
    "raise_query",
]

REVIEWERS = ("monitor", "data_manager")
SITE_STAFF = ("investigator", "site_coordinator")


class RaiseQuery(ServiceInput):
    """A question about a subject's data (optionally one field of one record)."""

    subject_id: SubjectId
    question: str = Field(min_length=1, max_length=2000)
    record_table: str | None = Field(default=None, max_length=64)
    record_id: int | None = Field(default=None, gt=0)
    field: str | None = Field(default=None, max_length=64)


class AnswerQuery(ServiceInput):
    """The site's answer; ``expected_version`` is the query version the user read."""

    query_id: int = Field(gt=0)
    answer: str = Field(min_length=1, max_length=2000)
    expected_version: int = Field(gt=0)


class CloseQuery(ServiceInput):
    """Close an answered query; ``expected_version`` is the query version the user read."""

    query_id: int = Field(gt=0)
    expected_version: int = Field(gt=0)


class QueryState(ServiceResult):
    """A query's id, status and version after the use case."""

    query_id: int
    subject_id: str
    status: str
    version: int


def raise_query(ctx: ServiceContext, data: RaiseQuery) -> QueryState:
    """Open a query on a subject's data (monitors and data managers)."""
    with use_case(ctx, *REVIEWERS, site_scoped=True, subjects=[data.subject_id]) as uc:
        subject = uc.subject(data.subject_id, *REVIEWERS)
        query = DataQuery(
            study_id=uc.study.id,
            subject_id=subject.id,
            record_table=data.record_table,
            record_id=data.record_id,
            field=data.field,
            question=data.question,
            status="open",
            raised_by=uc.user.username,
            raised_at=utcnow(),
        )
        uc.session.add(query)
        uc.session.flush()
        return QueryState(
            query_id=query.id, subject_id=data.subject_id, status="open", version=query.version
        )


def _query(uc: UseCase, query_id: int, expected_version: int, *roles: str) -> tuple[DataQuery, str]:
    query = uc.session.get(DataQuery, query_id)
    if query is None or query.study_id != uc.study.id or query.deleted_at is not None:
        raise NotFound(f"query_id: no query {query_id} in this study")
    subject = uc.session.get(Subject, query.subject_id) if query.subject_id else None
    code = subject.subject_code if subject is not None else ""
    if subject is not None:
        uc.subject(code, *roles)
    check_version(query, expected_version)
    return query, code


def answer_query(ctx: ServiceContext, data: AnswerQuery) -> QueryState:
    """Answer an open query (site staff of the subject's site)."""
    with use_case(ctx, *SITE_STAFF, site_scoped=True, reason="query answered") as uc:
        query, code = _query(uc, data.query_id, data.expected_version, *SITE_STAFF)
        if query.status != "open":
            raise ValidationFailed("query_id", f"query {query.id} is {query.status}, not open")
        query.status = "answered"
        query.answer = data.answer
        query.answered_by = uc.user.username
        query.answered_at = utcnow()
        uc.session.flush()
        return QueryState(
            query_id=query.id, subject_id=code, status=query.status, version=query.version
        )


def close_query(ctx: ServiceContext, data: CloseQuery) -> QueryState:
    """Close an answered query (monitors and data managers)."""
    with use_case(ctx, *REVIEWERS, site_scoped=True, reason="query closed") as uc:
        query, code = _query(uc, data.query_id, data.expected_version, *REVIEWERS)
        if query.status != "answered":
            raise ValidationFailed("query_id", f"query {query.id} is {query.status}, not answered")
        query.status = "closed"
        query.closed_by = uc.user.username
        query.closed_at = utcnow()
        uc.session.flush()
        return QueryState(
            query_id=query.id, subject_id=code, status=query.status, version=query.version
        )
