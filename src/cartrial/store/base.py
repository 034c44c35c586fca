"""Declarative base, the regulated-record mixin and the UTC timestamp type of the trial database.

Every regulated table mixes in :class:`Regulated`: an integer ``id``, an optimistic-locking
``version`` (SQLAlchemy ``version_id_col``: an UPDATE carries ``WHERE version = <read version>``),
``created_at``/``created_by`` and the soft-delete triple ``deleted_at``/``deleted_by``/
``deleted_reason``. Rows are never deleted; :func:`cartrial.store.audit.soft_delete` marks them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import ColumnElement, DateTime, Dialect, MetaData, String, Text, and_
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.orm.util import AliasedClass
from sqlalchemy.types import TypeDecorator

__all__ = ["Base", "Regulated", "UTCDateTime", "live", "utcnow"]

#: Constraint names are deterministic so that Alembic migrations and autogenerate agree.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (UTC).

    Naive datetimes are refused (``ValueError``): the audit trail needs unambiguous times.
    PostgreSQL stores ``timestamp with time zone``; SQLite stores the UTC wall time as text.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC (naive UTC for SQLite); refuse naive datetimes."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give a timezone-aware datetime")
        as_utc = value.astimezone(UTC)
        return as_utc.replace(tzinfo=None) if dialect.name == "sqlite" else as_utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every cartrial table (naming convention, UTC timestamps)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[type, object]] = {
        datetime: UTCDateTime(),
        str: String(),
    }


class Regulated:
    """Columns every regulated record carries: identity, version, authorship and soft delete.

    ``version`` starts at 1 and is incremented by SQLAlchemy on every UPDATE; a stale UPDATE matches
    no row and is reported as :class:`cartrial.errors.Conflict` by the unit of work.
    ``created_by``/``deleted_by`` hold usernames, filled in from the session's audit context.
    """

    #: Columns whose values never enter the audit trail in clear (e.g. password hashes).
    __audit_redact__: ClassVar[frozenset[str]] = frozenset()
    #: The column that dates the record's DATA (a date, or a UTC time read in the study's time
    #: zone): a record dated on or before an active data lock's cut-off cannot change. ``None``:
    #: the table holds no dated trial data (users, sites, signatures, queries, the locks).
    __data_date__: ClassVar[str | None] = None

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(nullable=False)
    created_at: Mapped[datetime] = mapped_column(nullable=False, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_by: Mapped[str | None] = mapped_column(String(64), default=None)
    deleted_reason: Mapped[str | None] = mapped_column(Text, default=None)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, object]:
        """Turn ``version`` into SQLAlchemy's optimistic-locking counter."""
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]

    @property
    def is_deleted(self) -> bool:
        """True once the record has been soft-deleted."""
        return self.deleted_at is not None


def live(*entities: type[Regulated] | AliasedClass[Regulated]) -> ColumnElement[bool]:
    """The condition that the rows of every entity given are live (not soft-deleted).

    ``select(Enrolment).where(live(Enrolment))`` keeps rows whose ``deleted_at`` is NULL; with
    several entities (a join) all of them must be live. Every read of regulated records goes
    through this one helper, so "current data" means the same thing everywhere.
    """
    if not entities:
        raise ValueError("live() needs at least one entity")
    conditions = [entity.deleted_at.is_(None) for entity in entities]
    return conditions[0] if len(conditions) == 1 else and_(*conditions)
