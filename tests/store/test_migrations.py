"""Alembic migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from cartrial.store import Base, make_engine
from cartrial.store.migrate import alembic_config, current_revision, head_revision, upgrade


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_gives_the_models_schema(db_url: str) -> None:
    assert _diff(db_url) != []  # an empty database differs: the comparison is not vacuous
    assert upgrade(db_url) == head_revision()
    assert _diff(db_url) == []
    assert upgrade(db_url) == head_revision()  # idempotent: nothing left to apply


def test_downgrade_to_base_and_back(db_url: str) -> None:
    upgrade(db_url)
    command.downgrade(alembic_config(db_url), "base")
    engine = make_engine(db_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert current_revision(engine) is None
    finally:
        engine.dispose()
    upgrade(db_url)
    assert _diff(db_url) == []
