"""PostgreSQL: the application role of docs/audit.md cannot rewrite the trail, by privilege.

The triggers reject UPDATE/DELETE/TRUNCATE on ``audit_log``, but a table's owner may disable
them; an application connecting as a role with the grants of docs/audit.md can append (audited
writes work) and can neither change audit rows nor disable the triggers.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from cartrial.errors import DatabaseUnavailable
from cartrial.store import Site, Study, make_engine, session_factory, unit_of_work
from cartrial.store.integrity import verify_integrity


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_the_application_role_cannot_rewrite_the_trail(
    migrated_db_url: str, engine: Engine
) -> None:
    role = f"cartrial_app_{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        schema = connection.scalar(text("SELECT current_schema()"))
        for statement in (
            f"CREATE ROLE {role} LOGIN",
            f'GRANT USAGE ON SCHEMA "{schema}" TO {role}',
            f'GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA "{schema}" TO {role}',
            f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role}',
            f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {role}",
            f'REVOKE DELETE, TRUNCATE ON ALL TABLES IN SCHEMA "{schema}" FROM {role}',
        ):
            connection.execute(text(statement))
    app_url = make_url(migrated_db_url).set(username=role).render_as_string(hide_password=False)
    app = make_engine(app_url)
    try:
        with unit_of_work(session_factory(app), "admin") as session:
            study = Study(
                study_code="S",
                title="t",
                protocol_version="1",
                protocol_yaml="x",
                protocol_sha256="0",
            )
            session.add(study)
            session.flush()
            session.add(Site(study_id=study.id, code="S01", name="one"))
        for attack in (
            "ALTER TABLE audit_log DISABLE TRIGGER USER",
            "UPDATE audit_log SET username = 'mallory'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "DELETE FROM sites",
        ):
            with (
                # the driver's error arrives translated (store.failures): the privilege is named
                pytest.raises(DatabaseUnavailable, match=r"must be owner|permission denied"),
                app.begin() as connection,
            ):
                connection.execute(text(attack))
        with app.connect() as connection:
            report = verify_integrity(connection)
        assert report.ok and report.audit_rows == 2
    finally:
        app.dispose()
        with engine.begin() as connection:
            connection.execute(text(f"DROP OWNED BY {role}"))
            connection.execute(text(f"DROP ROLE {role}"))
